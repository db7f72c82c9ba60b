// The dtype option end to end (fromPretrained({ dtype })): fp16 and q8 weights through
// PackedLinear and the engine's GEMM dispatch, on random checkpoints written here.
// - fp16 on a checkpoint whose weights are exactly representable in binary16 gives the fp32
//   model's bits (the widening is exact and the f32 micro-kernel is the same);
// - q8 stays close to fp32 (per-token cosine of the last hidden state) and uses int8 memory for
//   its Linears and word embeddings; every Linear of the model is q8;
// - two threads give one thread's bits, for fp16 and q8;
// - an unknown dtype is a ConfigError listing the choices; a non-finite weight cannot be quantized.
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as simdbert from "../dist/index.js";
import { BertModel, BertForSequenceClassification } from "../dist/index.js";
import {
  TINY,
  checkpoint,
  encoderShapes,
  headShapes,
  randomIds,
  randomTensors,
  rng,
} from "./support/random_model.mjs";

const quiet = { warn: () => {} };
const C = {
  ...TINY,
  vocab_size: 300,
  hidden_size: 64,
  num_attention_heads: 4,
  intermediate_size: 100, // odd sizes: 100 and 13 labels
  max_position_embeddings: 80,
  num_labels: 13,
};

/** x rounded to the nearest binary16 value (ties to even), as an f32 */
function toHalf(x) {
  if (x === 0 || !Number.isFinite(x)) return x;
  const e = Math.floor(Math.log2(Math.abs(x)));
  const q = 2 ** Math.max(e - 10, -24);
  let v = x / q;
  const r = Math.round(v);
  v = r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return Math.fround(v * q);
}

function cosine(a, b) {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

function identical(a, b, what) {
  assert.equal(a.shape, b.shape, what);
  for (let i = 0; i < a.data.length; i++)
    if (!Object.is(a.data[i], b.data[i]))
      assert.unreachable(`${what}: element ${i}: ${a.data[i]} vs ${b.data[i]}`);
}

const inputs = () => {
  const r = rng(3);
  return { input_ids: randomIds(r, 3, 37, C.vocab_size) };
};

test("fp16: a binary16-exact checkpoint gives the fp32 model's bits (every output)", async () => {
  const t = randomTensors(encoderShapes(C), 11);
  for (const v of t.values()) for (let i = 0; i < v.data.length; i++) v.data[i] = toHalf(v.data[i]);
  const files = checkpoint(C, t);
  const f32 = await BertModel.fromPretrained(files, quiet);
  const f16 = await BertModel.fromPretrained(files, { ...quiet, dtype: "fp16" });
  const a = await f32.forward(inputs()),
    b = await f16.forward(inputs());
  identical(a.last_hidden_state, b.last_hidden_state, "last_hidden_state");
  identical(a.pooler_output, b.pooler_output, "pooler_output");
  // the Linear weights and the word embeddings take half the bytes (biases, LayerNorm and the small
  // tables stay f32)
  assert.ok(
    f16.engine.weightBytes < f32.engine.weightBytes * 0.55,
    `fp16 weights ${f16.engine.weightBytes} B vs f32 ${f32.engine.weightBytes} B`,
  );
});

test("q8: close to fp32 (per-token cosine), int8 weights and word embeddings, head included", async () => {
  const shapes = {
    ...encoderShapes(C, "bert."),
    ...headShapes("BertForSequenceClassification", C),
  };
  const files = checkpoint(C, randomTensors(shapes, 12));
  const f32 = await BertForSequenceClassification.fromPretrained(files, quiet);
  const q8 = await BertForSequenceClassification.fromPretrained(files, { ...quiet, dtype: "q8" });
  const x = { ...inputs(), output_hidden_states: true };
  const a = await f32.forward(x),
    b = await q8.forward(x);
  const H = C.hidden_size;
  const last = a.hidden_states.length - 1;
  let worst = 1;
  const A = a.hidden_states[last].data,
    B = b.hidden_states[last].data;
  for (let i = 0; i < A.length / H; i++)
    worst = Math.min(worst, cosine(A.subarray(i * H, (i + 1) * H), B.subarray(i * H, (i + 1) * H)));
  // 8-bit weights (relative error <= 1/254 per weight) and 7-8-bit activations per token over two
  // layers: a per-token cosine well above 0.99; 0.999 measured with margin on this model
  assert.ok(worst > 0.995, `worst per-token cosine ${worst}`);
  let logit = 0,
    big = 0;
  for (let i = 0; i < a.logits.data.length; i++) {
    logit = Math.max(logit, Math.abs(a.logits.data[i] - b.logits.data[i]));
    big = Math.max(big, Math.abs(a.logits.data[i]));
  }
  // the same few-percent relative budget for the logits (pooler and classifier are q8 too)
  assert.ok(logit < 0.05 * big, `logits differ by ${logit} (largest logit ${big})`);
  // q8 holds about a quarter of the f32 weight bytes (biases, LayerNorm, small tables stay f32)
  assert.ok(
    q8.engine.weightBytes < 0.45 * f32.engine.weightBytes,
    `q8 weights ${q8.engine.weightBytes} B vs f32 ${f32.engine.weightBytes} B`,
  );
  console.log(
    `  q8 vs fp32: worst per-token cosine ${worst.toFixed(6)}, logits max diff ${logit.toPrecision(3)} of ${big.toPrecision(3)}`,
  );
});

test("every head class loads and runs in fp16 and q8, close to fp32 (tied MLM decoders included)", async () => {
  const classes = [
    "BertForPreTraining",
    "BertForMaskedLM",
    "BertLMHeadModel",
    "BertForNextSentencePrediction",
    "BertForMultipleChoice",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
  ];
  for (const cls of classes) {
    const c = {
      ...C,
      ...(cls === "BertLMHeadModel" ? { is_decoder: true } : {}),
      ...(cls === "BertForQuestionAnswering" ? { num_labels: 2 } : {}),
    };
    const shapes = { ...encoderShapes(c, "bert."), ...headShapes(cls, c) };
    const files = checkpoint(c, randomTensors(shapes, 21));
    const r = rng(9);
    const ids = randomIds(r, 2, 11, C.vocab_size);
    const x = cls === "BertForMultipleChoice" ? { input_ids: [ids] } : { input_ids: ids };
    const ref = await simdbert[cls].fromPretrained(files, quiet);
    const a = await ref.forward(x);
    const key = Object.keys(a).find((k) => a[k] && a[k].data);
    for (const dtype of ["fp16", "q8"]) {
      const m = await simdbert[cls].fromPretrained(files, { ...quiet, dtype });
      const b = await m.forward(x);
      const A = a[key].data,
        B = b[key].data;
      let diff = 0,
        big = 0;
      for (let i = 0; i < A.length; i++) {
        diff = Math.max(diff, Math.abs(A[i] - B[i]));
        big = Math.max(big, Math.abs(A[i]));
      }
      // fp16 weights: ~2^-11 relative per weight; q8: a few percent of the largest output, more
      // for the vocabulary logits of the MLM heads (their decoder is a q8 GEMM too, on the
      // transform's output quantized per token; these random weights, std 0.3, make large logits)
      const mlm = /prediction_logits|^logits$/.test(key) && /PreTraining|LM/.test(cls);
      const tol = (dtype === "fp16" ? 0.01 : mlm ? 0.12 : 0.08) * big;
      assert.ok(diff <= tol, `${cls} ${dtype} ${key}: max diff ${diff} (largest ${big})`);
    }
  }
});

test("q8: a tied MLM decoder is int8 (one copy of the table) and gives the untied decoder's bits", async () => {
  const shapes = { ...encoderShapes(C, "bert."), ...headShapes("BertForMaskedLM", C) };
  const t = randomTensors(shapes, 31);
  const tied = checkpoint(C, t);
  // the same weights with the decoder as its own tensor (tie_word_embeddings false)
  const u = new Map(t);
  u.set("cls.predictions.decoder.weight", t.get("bert.embeddings.word_embeddings.weight"));
  const untied = checkpoint({ ...C, tie_word_embeddings: false }, u);
  const x = { input_ids: randomIds(rng(12), 2, 9, C.vocab_size), output_hidden_states: true };
  const a = await simdbert.BertForMaskedLM.fromPretrained(tied, { ...quiet, dtype: "q8" });
  const b = await simdbert.BertForMaskedLM.fromPretrained(untied, { ...quiet, dtype: "q8" });
  const f = await simdbert.BertForMaskedLM.fromPretrained(tied, quiet);
  const ya = await a.forward(x),
    yb = await b.forward(x);
  identical(
    ya.hidden_states[0],
    yb.hidden_states[0],
    "embedding output (gather of the packed table)",
  );
  identical(ya.logits, yb.logits, "logits");
  // the tied table is stored once, int8: the untied model holds it twice (table + decoder)
  const V = C.vocab_size * C.hidden_size;
  assert.ok(
    b.engine.weightBytes - a.engine.weightBytes >= V,
    `tied q8 ${a.engine.weightBytes} bytes vs untied ${b.engine.weightBytes}`,
  );
  assert.ok(
    f.engine.weightBytes - a.engine.weightBytes >= 2.5 * V,
    `tied q8 ${a.engine.weightBytes} bytes vs tied fp32 ${f.engine.weightBytes}`,
  );
});

test('relaxedSimd "auto" per dtype: relaxed only for q8 where its relaxed-dot kernel runs', async () => {
  const files = checkpoint(C, randomTensors(encoderShapes(C), 17));
  for (const dtype of ["fp32", "fp16"]) {
    const m = await BertModel.fromPretrained(files, { ...quiet, dtype });
    assert.is(m.engine.relaxed, false, `${dtype}: auto picks the plain build`);
  }
  let want = false;
  if (simdbert.hasRelaxedSimd()) {
    const r = await BertModel.fromPretrained(files, { ...quiet, dtype: "q8", relaxedSimd: true });
    assert.is(r.engine.relaxed, true, "relaxedSimd: true is the relaxed build");
    want = r.engine.q8Kernel !== "i16-dot";
  }
  const auto = await BertModel.fromPretrained(files, { ...quiet, dtype: "q8" });
  assert.is(auto.engine.relaxed, want, `q8: auto picks ${want ? "relaxed" : "plain"}`);
  assert.is(auto.engine.q8Kernel === "i16-dot", !want, auto.engine.q8Kernel);
  const plain = await BertModel.fromPretrained(files, {
    ...quiet,
    dtype: "q8",
    relaxedSimd: false,
  });
  assert.is(plain.engine.q8Kernel, "i16-dot", "the plain build's kernel");
});

test("two threads give one thread's bits: fp16 and q8", async () => {
  const files = checkpoint(C, randomTensors(encoderShapes(C), 13));
  const r = rng(5);
  const x = { input_ids: randomIds(r, 4, 70, C.vocab_size) };
  for (const dtype of ["fp16", "q8"]) {
    const one = await BertModel.fromPretrained(files, { ...quiet, dtype });
    const two = await BertModel.fromPretrained(files, { ...quiet, dtype, threads: 2 });
    assert.is(two.engine.threads, 2);
    const a = await one.forward(x),
      b = await two.forward(x);
    identical(a.last_hidden_state, b.last_hidden_state, `${dtype} last_hidden_state`);
    identical(a.pooler_output, b.pooler_output, `${dtype} pooler_output`);
    two.engine.dispose();
  }
});

test("bad dtype and non-finite weights: typed errors naming what is wrong", async () => {
  const t = randomTensors(encoderShapes(C), 14);
  const files = checkpoint(C, t);
  for (const dtype of ["int4", "Q8", 8, null]) {
    try {
      await BertModel.fromPretrained(files, { ...quiet, dtype });
      assert.unreachable(`dtype ${String(dtype)} accepted`);
    } catch (e) {
      assert.is(e.name, "ConfigError", String(e));
      assert.match(e.message, /"fp32", "fp16", "q8"/);
    }
  }
  t.get("encoder.layer.1.intermediate.dense.weight").data[5 * C.hidden_size + 3] = NaN;
  try {
    await BertModel.fromPretrained(checkpoint(C, t), { ...quiet, dtype: "q8" });
    assert.unreachable("a NaN weight was quantized");
  } catch (e) {
    assert.match(e.message, /row 5 .*non-finite|non-finite.*row 5/);
  }
});

test.run();
