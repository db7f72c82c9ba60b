// Tiny random checkpoints for the fuzzers, and float64 oracles for what the models must answer:
// BertModel through test/support/reference_bert.mjs, task heads as their defining identity on top
// of the encoder's own outputs (as test/heads.test.mjs states them).
import {
  TINY,
  checkpoint,
  encoderShapes,
  headShapes,
  randomTensors,
} from "../support/random_model.mjs";
import { bertForward64, ACT64, linear64, layerNorm64 } from "../support/reference_bert.mjs";
export { linear64 };

export { TINY, checkpoint, encoderShapes, headShapes, randomTensors, bertForward64 };

export const quiet = { warn: () => {} };

export const HEADS = [
  "BertForSequenceClassification",
  "BertForTokenClassification",
  "BertForQuestionAnswering",
  "BertForNextSentencePrediction",
  "BertForMultipleChoice",
  "BertForMaskedLM",
  "BertForPreTraining",
  "BertLMHeadModel",
];

/** Config + tensors + file map of a model of class `cls` (BertModel tensors unprefixed). */
export function fixture(cls, config = {}, seed = 5) {
  const c = { ...TINY, ...config };
  const prefix = cls === "BertModel" ? "" : "bert.";
  const shapes = {
    ...encoderShapes(c, prefix, { pooler: true, cross: !!c.add_cross_attention }),
    ...(cls === "BertModel" ? {} : headShapes(cls, c)),
  };
  const tensors = randomTensors(shapes, seed);
  return {
    cls,
    config: c,
    tensors,
    files: checkpoint(c, tensors),
    encoder: encoderTensors(tensors),
  };
}

/** The encoder's tensors without the "bert." prefix (what bertForward64 reads). */
export function encoderTensors(tensors) {
  const m = new Map();
  for (const [k, v] of tensors) {
    if (k.startsWith("bert.")) m.set(k.slice(5), v);
    else if (!k.startsWith("cls.") && !k.startsWith("classifier.") && !k.startsWith("qa_outputs."))
      m.set(k, v);
  }
  return m;
}

/** MLM logits from hidden states [rows, H]: decoder(LayerNorm(act(dense(h)))) + bias, tied decoder. */
export function mlm64(fx, hidden, rows) {
  const c = fx.config,
    H = c.hidden_size,
    V = c.vocab_size;
  const t = (n) => fx.tensors.get(n).data;
  let x = linear64(
    hidden,
    rows,
    t("cls.predictions.transform.dense.weight"),
    t("cls.predictions.transform.dense.bias"),
    H,
    H,
  );
  x = x.map(ACT64[c.hidden_act ?? "gelu"]);
  x = layerNorm64(
    x,
    rows,
    H,
    t("cls.predictions.transform.LayerNorm.weight"),
    t("cls.predictions.transform.LayerNorm.bias"),
    c.layer_norm_eps ?? 1e-12,
  );
  return linear64(
    x,
    rows,
    t("bert.embeddings.word_embeddings.weight"),
    t("cls.predictions.bias"),
    V,
    H,
  );
}

/** mean cross entropy over rows whose label is not `ignore` (NaN when none). */
export function crossEntropy64(logits, c, labels, ignore = -100) {
  let s = 0,
    n = 0;
  for (let r = 0; r < labels.length; r++) {
    const y = labels[r];
    if (y === ignore) continue;
    let mx = -Infinity;
    for (let j = 0; j < c; j++) mx = Math.max(mx, logits[r * c + j]);
    let z = 0;
    for (let j = 0; j < c; j++) z += Math.exp(logits[r * c + j] - mx);
    s += Math.log(z) + mx - logits[r * c + y];
    n++;
  }
  return s / n;
}
