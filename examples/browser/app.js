// Semantic search in the browser with simdbert: embed sentences and a query, rank by cosine.
//
// Text needs a tokenizer. When simdbert exports the feature-extraction pipeline and the model
// folder has tokenizer.json or vocab.txt, the page embeds text with the pipeline; otherwise it
// takes pre-tokenized input: each line is the token ids of a sentence ("101 7592 2088 102"),
// embedded with BertModel + mean pooling. Everything model-specific is in makeEmbedder().
import * as simdbert from "simdbert";

const $ = (id) => document.getElementById(id);
const hasPipeline = typeof simdbert.pipeline === "function";

const SAMPLE_TEXT = [
  "A man is eating food.",
  "A man is eating a piece of bread.",
  "The girl is carrying a baby.",
  "A man is riding a horse.",
  "A woman is playing violin.",
  "Two men pushed carts through the woods.",
];
const SAMPLE_IDS = [
  "101 1037 2158 2003 5983 2833 1012 102",
  "101 1037 2158 2003 5983 1037 3538 1997 7852 1012 102",
  "101 1996 2611 2003 4755 1037 3336 1012 102",
  "101 1037 2158 2003 5559 1037 3586 1012 102",
  "101 1037 2450 2003 2652 6710 1012 102",
];

const TOKENIZER_FILES = ["tokenizer.json", "vocab.txt"];

/** Whether the model folder at url has a tokenizer (HEAD requests). */
async function hasTokenizer(url) {
  const found = await Promise.all(
    TOKENIZER_FILES.map((f) =>
      fetch(`${url.replace(/\/+$/, "")}/${f}`, { method: "HEAD" }).then(
        (r) => r.ok,
        () => false,
      ),
    ),
  );
  return found.some(Boolean);
}

/**
 * The hook for text: returns { mode, embed(lines) -> Float32Array[] (unit vectors) }.
 * mode "text": simdbert's pipeline (tokenizer, batching, pooling, normalisation);
 * mode "ids": no pipeline in this build or no tokenizer files in the model folder, so each line
 * holds token ids, embedded with BertModel + mean pooling here.
 */
async function makeEmbedder(url) {
  if (hasPipeline && (await hasTokenizer(url))) {
    const extractor = await simdbert.pipeline("feature-extraction", url);
    return {
      mode: "text",
      embed: async (texts) => {
        const t = await extractor(texts, { pooling: "mean", normalize: true });
        const [n, hidden] = t.shape;
        return Array.from({ length: n }, (_, i) => t.data.subarray(i * hidden, (i + 1) * hidden));
      },
    };
  }
  const model = await simdbert.BertModel.fromPretrained(url);
  const vocab = model.config.vocab_size;
  const embed = async (lines) => {
    const seqs = lines.map((line, i) => {
      const ids = line
        .trim()
        .split(/[\s,]+/)
        .map(Number);
      if (!ids.length || ids.some((x) => !Number.isInteger(x) || x < 0 || x >= vocab)) {
        throw new Error(
          `line ${i + 1}: expected token ids in [0, ${vocab}) separated by spaces (no tokenizer here): "${line}"`,
        );
      }
      return ids;
    });
    const seq = Math.max(...seqs.map((s) => s.length));
    const input_ids = seqs.map((s) => s.concat(Array(seq - s.length).fill(0)));
    const attention_mask = seqs.map((s) => s.map(() => 1).concat(Array(seq - s.length).fill(0)));
    const out = await model.forward({ input_ids, attention_mask });
    const [n, , hidden] = out.last_hidden_state.shape;
    const h = out.last_hidden_state.data;
    return Array.from({ length: n }, (_, b) => {
      const v = new Float32Array(hidden);
      for (let t = 0; t < seqs[b].length; t++)
        for (let k = 0; k < hidden; k++) v[k] += h[(b * seq + t) * hidden + k];
      let norm = 0;
      for (let k = 0; k < hidden; k++) norm += v[k] * v[k];
      norm = Math.sqrt(norm) || 1;
      for (let k = 0; k < hidden; k++) v[k] /= norm;
      return v;
    });
  };
  return { mode: "ids", embed };
}

const HINTS = {
  text: "Text is tokenized by simdbert's pipeline with the model's tokenizer.",
  ids: hasPipeline
    ? "This model folder has no tokenizer.json / vocab.txt: enter token ids, one sentence per line."
    : "This build of simdbert has no tokenizer yet: enter token ids (e.g. from the model's vocab.txt), one sentence per line.",
};

const sample = hasPipeline ? SAMPLE_TEXT : SAMPLE_IDS;
$("sentences").value = sample.join("\n");
$("query").value = hasPipeline ? "Someone is having a meal." : SAMPLE_IDS[1];
$("mode-hint").textContent = hasPipeline
  ? "Text is tokenized by simdbert's pipeline when the model folder has a tokenizer."
  : HINTS.ids;

let embedder = null;
let embedderUrl = null;

$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const status = $("status");
  const results = $("results");
  results.replaceChildren();
  $("search").disabled = true;
  try {
    const url = new URL($("model").value, location.href).href;
    if (embedderUrl !== url) {
      status.textContent = `loading ${url} …`;
      const t0 = performance.now();
      embedder = await makeEmbedder(url);
      embedderUrl = url;
      document.body.dataset.mode = embedder.mode;
      $("mode-hint").textContent = HINTS[embedder.mode];
      status.textContent = `loaded in ${(performance.now() - t0).toFixed(0)} ms`;
    }
    const sentences = $("sentences")
      .value.split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
    const t0 = performance.now();
    const [q, ...docs] = await embedder.embed([$("query").value, ...sentences]);
    const ms = performance.now() - t0;
    const ranked = docs
      .map((d, i) => ({ i, score: d.reduce((s, x, k) => s + x * q[k], 0) }))
      .sort((a, b) => b.score - a.score);
    for (const { i, score } of ranked) {
      const li = document.createElement("li");
      const s = document.createElement("span");
      s.className = "score";
      s.textContent = score.toFixed(4);
      li.append(s, sentences[i]);
      li.dataset.index = String(i);
      results.append(li);
    }
    status.textContent = `embedded ${sentences.length + 1} inputs in ${ms.toFixed(1)} ms`;
  } catch (e) {
    status.textContent = `error: ${e.message ?? e}`;
    console.error(e);
  } finally {
    $("search").disabled = false;
  }
});
