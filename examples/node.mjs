// simdbert in Node (the same file runs in Deno: `deno run --allow-read`, and Bun).
//
//   node examples/node.mjs MODEL_DIR
//
// MODEL_DIR holds config.json and model.safetensors (a Hugging Face BERT checkpoint), and for
// text also vocab.txt or tokenizer.json. With a tokenizer (and a simdbert that has the
// feature-extraction pipeline) it embeds a few sentences; without one it embeds token-id
// sequences with BertModel, mean-pooling last_hidden_state over the attention mask as
// sentence-transformers does. Either way it prints the embeddings' cosine similarities.
import * as simdbert from "simdbert";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node examples/node.mjs MODEL_DIR   (config.json + model.safetensors)");
  process.exit(2);
}

const SENTENCES = [
  "A man is eating food.",
  "A man is eating a piece of bread.",
  "The new movie is awesome.",
];
const exists = (f) => import("node:fs").then((fs) => fs.existsSync(`${dir}/${f}`));
const hasTokenizer = (await exists("vocab.txt")) || (await exists("tokenizer.json"));
const cos = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);

if (typeof simdbert.pipeline === "function" && hasTokenizer) {
  // text in, embeddings out: tokenization, batching, pooling and normalisation by simdbert
  let t0 = performance.now();
  const extractor = await simdbert.pipeline("feature-extraction", dir);
  console.log(`loaded ${dir} (${(performance.now() - t0).toFixed(0)} ms)`);
  t0 = performance.now();
  const emb = await extractor(SENTENCES, { pooling: "mean", normalize: true });
  console.log(
    `embedded ${SENTENCES.length} sentences -> [${emb.shape}] in ${(performance.now() - t0).toFixed(1)} ms`,
  );
  const hidden = emb.shape[1];
  const rows = SENTENCES.map((_, i) => emb.data.subarray(i * hidden, (i + 1) * hidden));
  SENTENCES.forEach((s, i) =>
    console.log(
      `${JSON.stringify(s)}: [${Array.from(rows[i].slice(0, 4), (x) => x.toFixed(4)).join(", ")}, ...]`,
    ),
  );
  console.log(
    `cosine(0, 1) = ${cos(rows[0], rows[1]).toFixed(4)}, cosine(0, 2) = ${cos(rows[0], rows[2]).toFixed(4)}`,
  );
  process.exit(0);
}

let t0 = performance.now();
const model = await simdbert.BertModel.fromPretrained(dir);
const { hidden_size, vocab_size, num_hidden_layers } = model.config;
console.log(
  `loaded ${dir}: ${num_hidden_layers} layers, hidden ${hidden_size}, vocab ${vocab_size} (${(performance.now() - t0).toFixed(0)} ms)`,
);

// No tokenizer: the sentences above, pre-tokenized with bert-base-uncased's vocabulary ([CLS] =
// 101, [SEP] = 102), clipped to this model's vocabulary so the example runs on any checkpoint.
const sentences = [
  [101, 1037, 2158, 2003, 5983, 2833, 1012, 102],
  [101, 1037, 2158, 2003, 5983, 1037, 3538, 1997, 7852, 1012, 102],
  [101, 1996, 2047, 3185, 2003, 12476, 1012, 102],
].map((ids) => ids.map((id) => id % vocab_size));

// one padded batch: attention_mask marks the real tokens
const seq = Math.max(...sentences.map((s) => s.length));
const input_ids = sentences.map((s) => [...s, ...Array(seq - s.length).fill(0)]);
const attention_mask = sentences.map((s) => s.map(() => 1).concat(Array(seq - s.length).fill(0)));

t0 = performance.now();
const out = await model.forward({ input_ids, attention_mask });
const ms = performance.now() - t0;
const [n, , hidden] = out.last_hidden_state.shape;
console.log(
  `forward [${n}, ${seq}] -> last_hidden_state [${out.last_hidden_state.shape}] in ${ms.toFixed(1)} ms`,
);

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
for (let i = 0; i < n; i++) {
  console.log(
    `embedding ${i}: [${Array.from(embeddings[i].slice(0, 4), (x) => x.toFixed(4)).join(", ")}, ...]`,
  );
}
console.log(
  `cosine(0, 1) = ${cos(embeddings[0], embeddings[1]).toFixed(4)}, cosine(0, 2) = ${cos(embeddings[0], embeddings[2]).toFixed(4)}`,
);
