// simdbert in Node (the same file runs in Deno: `deno run --allow-read`, and Bun).
//
//   node examples/node.mjs MODEL_DIR
//
// MODEL_DIR holds config.json and model.safetensors (a Hugging Face BERT checkpoint). The
// example embeds a few token-id sequences: it runs the model once on a padded batch and
// mean-pools last_hidden_state over the attention mask, as sentence-transformers does.
//
// TODO(pipeline): when simdbert's feature-extraction pipeline and tokenizer land (MODEL_DIR then
// also holds vocab.txt or tokenizer.json), the whole example becomes:
//   const extractor = await pipeline("feature-extraction", dir);
//   const embeddings = await extractor(["A man is eating food.", ...], { pooling: "mean", normalize: true });
import * as simdbert from "simdbert";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node examples/node.mjs MODEL_DIR   (config.json + model.safetensors)");
  process.exit(2);
}

let t0 = performance.now();
const model = await simdbert.BertModel.fromPretrained(dir);
const { hidden_size, vocab_size, num_hidden_layers } = model.config;
console.log(`loaded ${dir}: ${num_hidden_layers} layers, hidden ${hidden_size}, vocab ${vocab_size} (${(performance.now() - t0).toFixed(0)} ms)`);

// Pre-tokenized "sentences" (token ids; [CLS] = 101 and [SEP] = 102 in BERT vocabularies),
// clipped to this model's vocabulary so the example runs on any checkpoint.
const sentences = [
  [101, 1037, 2158, 2003, 5983, 2833, 1012, 102],
  [101, 1037, 2158, 2003, 5983, 1037, 3538, 1997, 7852, 1012, 102],
  [101, 1996, 2047, 3185, 2003, 6429, 1012, 102],
].map((ids) => ids.map((id) => id % vocab_size));

// one padded batch: attention_mask marks the real tokens
const seq = Math.max(...sentences.map((s) => s.length));
const input_ids = sentences.map((s) => [...s, ...Array(seq - s.length).fill(0)]);
const attention_mask = sentences.map((s) => s.map(() => 1).concat(Array(seq - s.length).fill(0)));

t0 = performance.now();
const out = await model.forward({ input_ids, attention_mask });
const ms = performance.now() - t0;
const [n, , hidden] = out.last_hidden_state.shape;
console.log(`forward [${n}, ${seq}] -> last_hidden_state [${out.last_hidden_state.shape}] in ${ms.toFixed(1)} ms`);

// mean pooling over the mask, then L2 normalisation
const h = out.last_hidden_state.data;
const embeddings = attention_mask.map((mask, b) => {
  const v = new Float64Array(hidden);
  const count = mask.reduce((a, m) => a + m, 0);
  mask.forEach((m, t) => {
    if (m) for (let k = 0; k < hidden; k++) v[k] += h[(b * seq + t) * hidden + k] / count;
  });
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
});
const cos = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
for (let i = 0; i < n; i++) {
  console.log(`embedding ${i}: [${Array.from(embeddings[i].slice(0, 4), (x) => x.toFixed(4)).join(", ")}, ...]`);
}
console.log(`cosine(0, 1) = ${cos(embeddings[0], embeddings[1]).toFixed(4)}, cosine(0, 2) = ${cos(embeddings[0], embeddings[2]).toFixed(4)}`);
