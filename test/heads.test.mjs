// Task heads: each class against its defining identity, computed in float64 from the
// encoder's own outputs and the head weights; losses against float64 formulas; loading rules.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  BertModel,
  BertForPreTraining,
  BertLMHeadModel,
  BertForMaskedLM,
  BertForNextSentencePrediction,
  BertForSequenceClassification,
  BertForMultipleChoice,
  BertForTokenClassification,
  BertForQuestionAnswering,
  MaskedLMOutput,
  SequenceClassifierOutput,
  QuestionAnsweringModelOutput,
  Tensor,
  autoModel,
} from "../dist/index.js";
import {
  TINY,
  checkpoint,
  encoderShapes,
  headShapes,
  randomIds,
  randomTensors,
  rng,
} from "./support/random_model.mjs";
import { ACT64, layerNorm64, linear64 } from "./support/reference_bert.mjs";

const quiet = { warn: () => {} };

function model(
  cls,
  { config = {}, prefix = "bert.", pooler = true, tensors: extra = {}, seed = 7 } = {},
) {
  const c = { ...TINY, ...config };
  const shapes = {
    ...encoderShapes(c, prefix, { pooler, cross: !!c.add_cross_attention }),
    ...headShapes(cls, c),
  };
  const t = randomTensors(shapes, seed);
  for (const [k, v] of Object.entries(extra)) {
    if (v === null) t.delete(k);
    else t.set(k, v);
  }
  return { config: c, tensors: t, files: checkpoint(c, t) };
}

function close(got, want, tol, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  let d = 0;
  for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
  assert.ok(d <= tol, `${what}: max|diff| ${d} > ${tol}`);
}

const r = rng(11);
const B = 3,
  S = 13;
const ids = randomIds(r, B, S, TINY.vocab_size);
const mask = ids.map((row, b) => row.map((_, s) => (b === 1 && s >= 9 ? 0 : 1)));
const types = ids.map((row) => row.map((_, s) => (s < 6 ? 0 : 1)));
const inputs = { input_ids: ids, attention_mask: mask, token_type_ids: types };

// the head identities hold to float32 rounding of a [rows, 16] x [16, n] product
const TOL = 2e-6;

test("BertForSequenceClassification: logits = classifier(pooler_output)", async () => {
  const m = model("BertForSequenceClassification", {
    config: { id2label: { 0: "a", 1: "b", 2: "c" } },
  });
  const head = await BertForSequenceClassification.fromPretrained(m.files, quiet);
  const base = await BertModel.fromPretrained(m.files, quiet);
  const out = await head.forward(inputs);
  assert.instance(out, SequenceClassifierOutput);
  assert.equal(out.logits.shape, [B, 3]);
  const pooled = (await base.forward(inputs)).pooler_output.data;
  const W = m.tensors.get("classifier.weight").data,
    b = m.tensors.get("classifier.bias").data;
  close(out.logits.data, linear64(pooled, B, W, b, 3, 16), TOL, "logits");
  assert.equal(out.keys(), ["logits"]);
});

test("BertForTokenClassification: logits = classifier(last_hidden_state); no pooler weights needed", async () => {
  const m = model("BertForTokenClassification", { config: { num_labels: 5 }, pooler: false });
  const head = await BertForTokenClassification.fromPretrained(m.files, quiet);
  const base = await BertModel.fromPretrained(m.files, { ...quiet, addPoolingLayer: false });
  const out = await head.forward(inputs);
  assert.equal(out.logits.shape, [B, S, 5]);
  const h = (await base.forward(inputs)).last_hidden_state.data;
  close(
    out.logits.data,
    linear64(
      h,
      B * S,
      m.tensors.get("classifier.weight").data,
      m.tensors.get("classifier.bias").data,
      5,
      16,
    ),
    TOL,
    "logits",
  );
});

test("BertForQuestionAnswering: start/end logits are the two columns of qa_outputs", async () => {
  const m = model("BertForQuestionAnswering", { pooler: false });
  const head = await BertForQuestionAnswering.fromPretrained(m.files, quiet);
  const base = await BertModel.fromPretrained(m.files, { ...quiet, addPoolingLayer: false });
  const out = await head.forward(inputs);
  assert.instance(out, QuestionAnsweringModelOutput);
  assert.equal(out.start_logits.shape, [B, S]);
  const h = (await base.forward(inputs)).last_hidden_state.data;
  const both = linear64(
    h,
    B * S,
    m.tensors.get("qa_outputs.weight").data,
    m.tensors.get("qa_outputs.bias").data,
    2,
    16,
  );
  close(
    out.start_logits.data,
    both.filter((_, i) => i % 2 === 0),
    TOL,
    "start",
  );
  close(
    out.end_logits.data,
    both.filter((_, i) => i % 2 === 1),
    TOL,
    "end",
  );
  // loss: positions clamped to [0, seq]; seq is the ignored index; mean of the two CE
  const start_positions = [2, 40, -3],
    end_positions = [5, 7, 12];
  const withLoss = await head.forward({ ...inputs, start_positions, end_positions });
  const ce = (logits, pos) => {
    let s = 0,
      n = 0;
    pos.forEach((p0, b) => {
      const p = Math.min(Math.max(p0, 0), S);
      if (p === S) return;
      const row = Array.from(logits.slice(b * S, (b + 1) * S));
      const mx = Math.max(...row);
      s += Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0)) + mx - row[p];
      n++;
    });
    return s / n;
  };
  const want =
    (ce(out.start_logits.data, start_positions) + ce(out.end_logits.data, end_positions)) / 2;
  assert.ok(
    Math.abs(withLoss.loss.data[0] - want) < 1e-6,
    `qa loss ${withLoss.loss.data[0]} vs ${want}`,
  );
  assert.equal(withLoss.keys()[0], "loss");
});

test("BertForMultipleChoice equals running each choice alone", async () => {
  const m = model("BertForMultipleChoice");
  const head = await BertForMultipleChoice.fromPretrained(m.files, quiet);
  const C = 3;
  const mc = [0, 1].map(() =>
    Array.from({ length: C }, () => randomIds(r, 1, 7, TINY.vocab_size)[0]),
  );
  const out = await head.forward({
    input_ids: mc,
    attention_mask: mc.map((x) => x.map((row) => row.map(() => 1))),
  });
  assert.equal(out.logits.shape, [2, C]);
  for (let b = 0; b < 2; b++) {
    for (let c = 0; c < C; c++) {
      const single = await head.forward({ input_ids: [[mc[b][c]]] });
      assert.ok(
        Math.abs(single.logits.data[0] - out.logits.data[b * C + c]) < 1e-6,
        `choice ${b},${c}`,
      );
    }
  }
  const withLoss = await head.forward({ input_ids: mc, labels: [2, 0] });
  const ce = [0, 1].map((b) => {
    const row = Array.from(out.logits.data.slice(b * C, b * C + C));
    const y = [2, 0][b];
    const mx = Math.max(...row);
    return Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0)) + mx - row[y];
  });
  assert.ok(Math.abs(withLoss.loss.data[0] - (ce[0] + ce[1]) / 2) < 1e-6);
  try {
    await head.forward({ input_ids: ids });
    assert.unreachable("2D input_ids must be rejected");
  } catch (e) {
    assert.match(e.message, /num_choices/);
  }
});

test("BertForNextSentencePrediction: logits = seq_relationship(pooler_output); next_sentence_label is labels", async () => {
  const m = model("BertForNextSentencePrediction");
  const head = await BertForNextSentencePrediction.fromPretrained(m.files, quiet);
  const base = await BertModel.fromPretrained(m.files, quiet);
  const out = await head.forward(inputs);
  const pooled = (await base.forward(inputs)).pooler_output.data;
  close(
    out.logits.data,
    linear64(
      pooled,
      B,
      m.tensors.get("cls.seq_relationship.weight").data,
      m.tensors.get("cls.seq_relationship.bias").data,
      2,
      16,
    ),
    TOL,
    "nsp",
  );
  const a = await head.forward({ ...inputs, labels: [0, 1, 1] });
  const b = await head.forward({ ...inputs, next_sentence_label: [0, 1, 1] });
  assert.equal(a.loss.data[0], b.loss.data[0]);
});

/** float64 MLM head from the encoder output: LayerNorm(gelu(dense(h)))·Eᵀ + bias */
function mlm64(h, rows, t, decoderName = "bert.embeddings.word_embeddings.weight") {
  const H = 16,
    V = TINY.vocab_size;
  const d = linear64(
    h,
    rows,
    t.get("cls.predictions.transform.dense.weight").data,
    t.get("cls.predictions.transform.dense.bias").data,
    H,
    H,
  );
  const g = layerNorm64(
    d.map(ACT64.gelu),
    rows,
    H,
    t.get("cls.predictions.transform.LayerNorm.weight").data,
    t.get("cls.predictions.transform.LayerNorm.bias").data,
    1e-12,
  );
  return linear64(g, rows, t.get(decoderName).data, t.get("cls.predictions.bias").data, V, H);
}

test("BertForMaskedLM: decoder tied to the word embeddings, bias from cls.predictions.bias", async () => {
  // the checkpoint's own decoder.weight is ignored when tied (HF ties after loading)
  const V = TINY.vocab_size;
  const m = model("BertForMaskedLM", {
    pooler: false,
    tensors: {
      "cls.predictions.decoder.weight": {
        shape: [V, 16],
        data: new Float32Array(V * 16).fill(0.5),
      },
    },
  });
  const head = await BertForMaskedLM.fromPretrained(m.files, quiet);
  const base = await BertModel.fromPretrained(m.files, { ...quiet, addPoolingLayer: false });
  const out = await head.forward({ ...inputs, output_hidden_states: true });
  assert.instance(out, MaskedLMOutput);
  assert.equal(out.logits.shape, [B, S, V]);
  const h = (await base.forward(inputs)).last_hidden_state.data;
  close(out.logits.data, mlm64(h, B * S, m.tensors), 1e-5, "mlm logits");
  // the hidden states of the head model equal BertModel's: the packed word table gathers the same rows
  close(out.hidden_states[2].data, h, 0, "hidden states");
  // loss: ignore -100
  const labels = ids.map((row, b) => row.map((x, s) => ((b + s) % 3 === 0 ? x : -100)));
  const withLoss = await head.forward({ ...inputs, labels });
  let sum = 0,
    n = 0;
  const L = out.logits.data;
  labels.flat().forEach((y, i) => {
    if (y === -100) return;
    const row = Array.from(L.slice(i * V, i * V + V));
    const mx = Math.max(...row);
    sum += Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0)) + mx - row[y];
    n++;
  });
  assert.ok(Math.abs(withLoss.loss.data[0] - sum / n) < 1e-6);
  const tuple = await head.forward({ ...inputs, labels, return_dict: false });
  assert.equal(tuple.length, 2);
  assert.equal(tuple[0].shape, []);
});

test("tie_word_embeddings: false uses cls.predictions.decoder.weight", async () => {
  const V = TINY.vocab_size;
  const dec = randomTensors({ d: [V, 16] }, 99).get("d");
  const m = model("BertForMaskedLM", {
    pooler: false,
    config: { tie_word_embeddings: false },
    tensors: { "cls.predictions.decoder.weight": dec },
  });
  const head = await BertForMaskedLM.fromPretrained(m.files, quiet);
  const base = await BertModel.fromPretrained(m.files, { ...quiet, addPoolingLayer: false });
  const out = await head.forward(inputs);
  const h = (await base.forward(inputs)).last_hidden_state.data;
  close(
    out.logits.data,
    mlm64(h, B * S, m.tensors, "cls.predictions.decoder.weight"),
    1e-5,
    "untied logits",
  );
});

test("BertForPreTraining: prediction logits = the MLM head, seq_relationship = the NSP head", async () => {
  const m = model("BertForPreTraining");
  const pre = await BertForPreTraining.fromPretrained(m.files, quiet);
  const mlm = await BertForMaskedLM.fromPretrained(m.files, quiet);
  const nsp = await BertForNextSentencePrediction.fromPretrained(m.files, quiet);
  const out = await pre.forward(inputs);
  assert.equal(out.keys(), ["prediction_logits", "seq_relationship_logits"]);
  close(
    out.prediction_logits.data,
    (await mlm.forward(inputs)).logits.data,
    0,
    "prediction_logits",
  );
  close(
    out.seq_relationship_logits.data,
    (await nsp.forward(inputs)).logits.data,
    0,
    "seq_relationship_logits",
  );
  const labels = ids.map((row) => row.map((x, s) => (s % 4 === 0 ? x : -100)));
  const a = await pre.forward({ ...inputs, labels, next_sentence_label: [1, 0, 1] });
  const b1 = await mlm.forward({ ...inputs, labels });
  const b2 = await nsp.forward({ ...inputs, labels: [1, 0, 1] });
  assert.ok(Math.abs(a.loss.data[0] - (b1.loss.data[0] + b2.loss.data[0])) < 1e-5);
  // only both labels give a loss
  assert.is((await pre.forward({ ...inputs, labels })).loss, null);
});

test("BertLMHeadModel: a decoder with a cache; loss is next-token CE on shifted labels", async () => {
  const m = model("BertLMHeadModel", { pooler: false, config: { is_decoder: true } });
  const lm = await BertLMHeadModel.fromPretrained(m.files, quiet);
  const out = await lm.forward({ input_ids: ids });
  assert.equal(out.keys(), ["logits", "past_key_values"]);
  assert.equal(out.past_key_values.length, 2);
  assert.equal(out.past_key_values[0][0].shape, [B, 4, S, 4]);
  // causal: the logits of position s do not depend on later tokens
  const cut = await lm.forward({ input_ids: ids.map((row) => row.slice(0, 5)) });
  const V = TINY.vocab_size;
  for (let b = 0; b < B; b++) {
    close(
      cut.logits.data.slice(b * 5 * V, (b * 5 + 5) * V),
      out.logits.data.slice(b * S * V, (b * S + 5) * V),
      2e-6,
      "causal prefix",
    );
  }
  const withLoss = await lm.forward({ input_ids: ids, labels: ids });
  assert.is(withLoss.past_key_values, null); // labels switch the cache off, as in HF
  let s = 0,
    n = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < S; t++) {
      const row = Array.from(out.logits.data.slice((b * S + t) * V, (b * S + t + 1) * V));
      const mx = Math.max(...row);
      s += Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0)) + mx - row[ids[b][t + 1]];
      n++;
    }
  }
  assert.ok(Math.abs(withLoss.loss.data[0] - s / n) < 1e-6);
});

test("classification losses: single-label CE, regression MSE, multi-label BCE (float labels)", async () => {
  const cls3 = model("BertForSequenceClassification", { config: { num_labels: 3 } });
  const m3 = await BertForSequenceClassification.fromPretrained(cls3.files, quiet);
  const logits = (await m3.forward(inputs)).logits.data;
  // integer labels -> single label
  const ce = await m3.forward({ ...inputs, labels: [2, 0, 1] });
  let want = 0;
  [2, 0, 1].forEach((y, b) => {
    const row = Array.from(logits.slice(b * 3, b * 3 + 3));
    const mx = Math.max(...row);
    want += Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0)) + mx - row[y];
  });
  assert.ok(Math.abs(ce.loss.data[0] - want / 3) < 1e-6, "CE");
  // float labels -> multi-label BCE with logits
  const y = [0.5, 1, 0, 0, 1, 0.25, 1, 1, 0];
  const bce = await m3.forward({
    ...inputs,
    labels: new Tensor("float32", Float32Array.from(y), [3, 3]),
  });
  const wantB =
    y.reduce(
      (a, t, i) =>
        a + Math.max(logits[i], 0) - logits[i] * t + Math.log1p(Math.exp(-Math.abs(logits[i]))),
      0,
    ) / 9;
  assert.ok(Math.abs(bce.loss.data[0] - wantB) < 1e-6, "BCE");
  // num_labels 1 -> regression
  const reg = model("BertForSequenceClassification", { config: { num_labels: 1 } });
  const m1 = await BertForSequenceClassification.fromPretrained(reg.files, quiet);
  const l1 = (await m1.forward(inputs)).logits.data;
  const t = [0.5, -1.5, 2];
  const mse = await m1.forward({ ...inputs, labels: t });
  assert.ok(
    Math.abs(mse.loss.data[0] - t.reduce((a, v, i) => a + (l1[i] - v) ** 2, 0) / 3) < 1e-6,
    "MSE",
  );
  // config.problem_type wins
  const forced = model("BertForSequenceClassification", {
    config: { num_labels: 3, problem_type: "multi_label_classification" },
  });
  const mf = await BertForSequenceClassification.fromPretrained(forced.files, quiet);
  const lf = (
    await mf.forward({
      ...inputs,
      labels: [
        [1, 0, 1],
        [0, 0, 1],
        [1, 1, 1],
      ],
    })
  ).loss.data[0];
  assert.ok(Number.isFinite(lf));
  // out-of-range class
  try {
    await m3.forward({ ...inputs, labels: [3, 0, 1] });
    assert.unreachable();
  } catch (e) {
    assert.match(e.message, /out of range/);
  }
});

test("loading: a task checkpoint loads into BertModel (head ignored, with a warning)", async () => {
  const m = model("BertForSequenceClassification");
  const warnings = [];
  const base = await BertModel.fromPretrained(m.files, { warn: (w) => warnings.push(w) });
  assert.ok(
    warnings.some((w) => w.includes("classifier.weight")),
    warnings.join("\n"),
  );
  const head = await BertForSequenceClassification.fromPretrained(m.files, quiet);
  const a = await base.forward({ ...inputs, output_hidden_states: true });
  const b = await head.forward({ ...inputs, output_hidden_states: true });
  close(a.hidden_states[2].data, b.hidden_states[2].data, 0, "same encoder");
});

test("loading: a bare encoder checkpoint into a head class fails naming the head weights", async () => {
  const m = model("BertModel", { prefix: "" });
  for (const [Cls, name] of [
    [BertForSequenceClassification, "classifier.weight"],
    [BertForMaskedLM, "cls.predictions.transform.dense.weight"],
    [BertForQuestionAnswering, "qa_outputs.weight"],
  ]) {
    try {
      await Cls.fromPretrained(m.files, quiet);
      assert.unreachable(`${Cls.name} must fail`);
    } catch (e) {
      assert.match(e.message, name);
      assert.match(e.message, /bare encoder/);
    }
  }
  // and the bare checkpoint loads into a head class's encoder names ("bert." added)
  const base = await BertModel.fromPretrained(m.files, quiet);
  assert.ok(base);
});

test("loading: legacy LayerNorm.gamma/.beta names", async () => {
  const m = model("BertModel", { prefix: "" });
  const renamed = new Map();
  for (const [k, v] of m.tensors)
    renamed.set(
      k
        .replace(/LayerNorm\.weight$/, "LayerNorm.gamma")
        .replace(/LayerNorm\.bias$/, "LayerNorm.beta"),
      v,
    );
  const a = await BertModel.fromPretrained(m.files, quiet);
  const b = await BertModel.fromPretrained(checkpoint(m.config, renamed), quiet);
  close(
    (await a.forward(inputs)).last_hidden_state.data,
    (await b.forward(inputs)).last_hidden_state.data,
    0,
    "gamma/beta",
  );
});

test("autoModel dispatches on config.architectures", async () => {
  const m = model("BertForTokenClassification", {
    config: { architectures: ["BertForTokenClassification"] },
    pooler: false,
  });
  const auto = await autoModel(m.files, quiet);
  assert.instance(auto, BertForTokenClassification);
  const plain = model("BertModel", { prefix: "" });
  assert.instance(await autoModel(plain.files, quiet), BertModel);
});

test("heads reject arguments HF's signature does not take", async () => {
  const m = model("BertForSequenceClassification");
  const head = await BertForSequenceClassification.fromPretrained(m.files, quiet);
  try {
    await head.forward({ ...inputs, past_key_values: [] });
    assert.unreachable();
  } catch (e) {
    assert.match(e.message, /unexpected argument "past_key_values"/);
  }
});

test.run();
