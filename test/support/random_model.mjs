// Random BERT checkpoints written by the tests themselves (HF names, F32 safetensors), as an
// in-memory file map { "config.json", "model.safetensors" } that fromPretrained accepts.
import { writeSafetensors } from "../../dist/index.js";

import { rng } from "./numeric.mjs";
export { rng };

export function randn(r, n, scale = 1) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // Box-Muller, never exactly 0
    const u = 1 - r(),
      v = r();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v) + 1e-3;
  }
  return out;
}

export const TINY = {
  vocab_size: 37,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 24,
  max_position_embeddings: 40,
  type_vocab_size: 3,
  hidden_act: "gelu",
  layer_norm_eps: 1e-12,
};

/** The state_dict names and shapes of BertModel (prefix "" or "bert."). */
export function encoderShapes(c, prefix = "", { pooler = true, cross = false } = {}) {
  const H = c.hidden_size,
    I = c.intermediate_size;
  const s = {};
  const p = (n) => prefix + n;
  s[p("embeddings.word_embeddings.weight")] = [c.vocab_size, H];
  s[p("embeddings.position_embeddings.weight")] = [c.max_position_embeddings, H];
  s[p("embeddings.token_type_embeddings.weight")] = [c.type_vocab_size, H];
  s[p("embeddings.LayerNorm.weight")] = [H];
  s[p("embeddings.LayerNorm.bias")] = [H];
  const attn = (q) => {
    for (const m of ["query", "key", "value"]) {
      s[`${q}.self.${m}.weight`] = [H, H];
      s[`${q}.self.${m}.bias`] = [H];
    }
    if (
      c.position_embedding_type &&
      c.position_embedding_type !== "absolute" &&
      !q.endsWith("crossattention")
    ) {
      s[`${q}.self.distance_embedding.weight`] = [
        2 * c.max_position_embeddings - 1,
        H / c.num_attention_heads,
      ];
    }
    s[`${q}.output.dense.weight`] = [H, H];
    s[`${q}.output.dense.bias`] = [H];
    s[`${q}.output.LayerNorm.weight`] = [H];
    s[`${q}.output.LayerNorm.bias`] = [H];
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const L = p(`encoder.layer.${l}`);
    attn(`${L}.attention`);
    if (cross) attn(`${L}.crossattention`);
    s[`${L}.intermediate.dense.weight`] = [I, H];
    s[`${L}.intermediate.dense.bias`] = [I];
    s[`${L}.output.dense.weight`] = [H, I];
    s[`${L}.output.dense.bias`] = [H];
    s[`${L}.output.LayerNorm.weight`] = [H];
    s[`${L}.output.LayerNorm.bias`] = [H];
  }
  if (pooler) {
    s[p("pooler.dense.weight")] = [H, H];
    s[p("pooler.dense.bias")] = [H];
  }
  return s;
}

/** Head weights of each task class (HF names). */
export function headShapes(cls, c) {
  const H = c.hidden_size,
    V = c.vocab_size,
    n = c.num_labels ?? (c.id2label ? Object.keys(c.id2label).length : 2);
  const mlm = {
    "cls.predictions.transform.dense.weight": [H, H],
    "cls.predictions.transform.dense.bias": [H],
    "cls.predictions.transform.LayerNorm.weight": [H],
    "cls.predictions.transform.LayerNorm.bias": [H],
    "cls.predictions.bias": [V],
  };
  const nsp = { "cls.seq_relationship.weight": [2, H], "cls.seq_relationship.bias": [2] };
  switch (cls) {
    case "BertForPreTraining":
      return { ...mlm, ...nsp };
    case "BertForMaskedLM":
    case "BertLMHeadModel":
      return mlm;
    case "BertForNextSentencePrediction":
      return nsp;
    case "BertForSequenceClassification":
    case "BertForTokenClassification":
      return { "classifier.weight": [n, H], "classifier.bias": [n] };
    case "BertForMultipleChoice":
      return { "classifier.weight": [1, H], "classifier.bias": [1] };
    case "BertForQuestionAnswering":
      return { "qa_outputs.weight": [2, H], "qa_outputs.bias": [2] };
    default:
      return {};
  }
}

/** Random tensors for the given shapes; LayerNorm weights around 1, everything else ~N(0, 0.3²). */
export function randomTensors(shapes, seed = 1) {
  const r = rng(seed);
  const m = new Map();
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = randn(r, n, 0.3);
    if (/LayerNorm\.weight$/.test(name)) for (let i = 0; i < n; i++) data[i] = 1 + data[i] * 0.3;
    m.set(name, { shape, data });
  }
  return m;
}

/** A file map for fromPretrained. */
export function checkpoint(config, tensors) {
  return { "config.json": JSON.stringify(config), "model.safetensors": writeSafetensors(tensors) };
}

export function randomIds(r, B, S, vocab) {
  return Array.from({ length: B }, () => Array.from({ length: S }, () => Math.floor(r() * vocab)));
}
