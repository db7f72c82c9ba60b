// transformers.js (and HF Python) habits: callable tokenizers and models, AutoTokenizer /
// AutoModel*, the env object, Tensor methods, pipeline dispose(), pooling names, and every
// unknown option refused by name. Models are small random checkpoints written here.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  BertForMaskedLM,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertModel,
  BertPreTrainedModel,
  BertTokenizer,
  InputError,
  SimdbertError,
  Tensor,
  AutoTokenizer,
  AutoModel,
  AutoModelForPreTraining,
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForNextSentencePrediction,
  AutoModelForSequenceClassification,
  AutoModelForMultipleChoice,
  AutoModelForTokenClassification,
  AutoModelForQuestionAnswering,
  ConfigError,
  WeightsError,
  EngineError,
  OptionError,
  PipelineError,
  SourceError,
  env,
  pipeline,
} from "../dist/index.js";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHub } from "./support/hub_server.mjs";
import { rng, ulp32 } from "./support/numeric.mjs";
import {
  TINY,
  checkpoint,
  encoderShapes,
  headShapes,
  randomTensors,
} from "./support/random_model.mjs";

const quiet = { warn: () => {} };
const VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "a", "b", "##s"];
for (let i = VOCAB.length; i < TINY.vocab_size; i++) VOCAB.push(`w${i}`);

/** A model folder in memory: config (with architectures), weights of `cls`, vocab.txt. */
function folder(cls = "BertModel", config = {}, seed = 5) {
  const c = { ...TINY, architectures: [cls], ...config };
  const prefix = cls === "BertModel" ? "" : "bert.";
  // HF builds masked-LM and causal-LM models without a pooler: their checkpoints have none
  const pooler = !["BertForMaskedLM", "BertLMHeadModel"].includes(cls);
  const shapes = { ...encoderShapes(c, prefix, { pooler }), ...headShapes(cls, c) };
  return { ...checkpoint(c, randomTensors(shapes, seed)), "vocab.txt": VOCAB.join("\n") };
}
const same = (a, b, what) => assert.equal(Array.from(a.data), Array.from(b.data), what);

test("the tokenizer is callable: tokenizer(text, options) is tokenizer.call(text, options)", async () => {
  const tok = await BertTokenizer.fromPretrained(folder());
  assert.ok(tok instanceof BertTokenizer);
  assert.is(typeof tok, "function");
  assert.is(tok.length, VOCAB.length, "the tokenizer's own length (len(tokenizer)) is not hidden");
  assert.equal(tok("hello worlds"), tok.call("hello worlds"));
  const opts = { padding: true, truncation: true, max_length: 5 };
  assert.equal(
    tok(["hello", "a b a b a b hello"], opts),
    tok.call(["hello", "a b a b a b hello"], opts),
  );
  const pairs = tok(["hello", "a"], {
    text_pair: ["world", "b"],
    padding: true,
    return_tensors: "pt",
  });
  const ref = tok.call(["hello", "a"], {
    text_pair: ["world", "b"],
    padding: true,
    return_tensors: "pt",
  });
  for (const k of ["input_ids", "token_type_ids", "attention_mask"]) {
    assert.equal(pairs[k].shape, ref[k].shape);
    assert.equal(Array.from(pairs[k].data), Array.from(ref[k].data), k);
  }
  assert.equal(tok.tokenize("hello worlds"), ["hello", "world", "##s"]);
  assert.throws(
    () => tok(42),
    (e) => e instanceof SimdbertError,
  );
});

test("models are callable: await model(inputs) is await model.forward(inputs), bit for bit", async () => {
  const inputs = {
    input_ids: [
      [2, 5, 6, 9, 3],
      [2, 7, 8, 3, 0],
    ],
    attention_mask: [
      [1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0],
    ],
  };
  const m = await BertModel.fromPretrained(folder(), quiet);
  assert.ok(m instanceof BertModel && m instanceof BertPreTrainedModel);
  const a = await m(inputs);
  const b = await m.forward(inputs);
  same(a.last_hidden_state, b.last_hidden_state, "last_hidden_state");
  same(a.pooler_output, b.pooler_output, "pooler_output");
  const tuple = await m({ ...inputs, return_dict: false });
  assert.ok(Array.isArray(tuple));
  same(tuple[0], b.last_hidden_state);
  for (const [Cls, field] of [
    [BertForSequenceClassification, "logits"],
    [BertForMaskedLM, "logits"],
    [BertForQuestionAnswering, "start_logits"],
  ]) {
    const t = await Cls.fromPretrained(folder(Cls.name), quiet);
    assert.ok(t instanceof Cls && t instanceof BertPreTrainedModel);
    same((await t(inputs))[field], (await t.forward(inputs))[field], `${Cls.name}.${field}`);
    assert.is(t.config.hidden_size, TINY.hidden_size);
  }
  // a text where named inputs belong: the typed error, and the model still answers
  await m("hello").then(
    () => assert.unreachable("a text was taken as inputs"),
    (e) => assert.ok(e instanceof InputError, String(e)),
  );
  same((await m(inputs)).last_hidden_state, b.last_hidden_state, "after a refused call");
  m.engine.dispose();
});

test("AutoTokenizer and AutoModel*: HF's class for BERT, both spellings, callable", async () => {
  const tok = await AutoTokenizer.from_pretrained(folder());
  assert.ok(tok instanceof BertTokenizer);
  assert.is(AutoTokenizer.fromPretrained, AutoTokenizer.from_pretrained);
  const inputs = tok(["hello world", "a b"], { padding: true, return_tensors: "pt" });
  const cases = [
    [AutoModel, "BertModel", "last_hidden_state"],
    [AutoModelForPreTraining, "BertForPreTraining", "prediction_logits"],
    [AutoModelForCausalLM, "BertLMHeadModel", "logits", { is_decoder: true }],
    [AutoModelForMaskedLM, "BertForMaskedLM", "logits"],
    [AutoModelForNextSentencePrediction, "BertForNextSentencePrediction", "logits"],
    [AutoModelForSequenceClassification, "BertForSequenceClassification", "logits"],
    [AutoModelForMultipleChoice, "BertForMultipleChoice", "logits"],
    [AutoModelForTokenClassification, "BertForTokenClassification", "logits"],
    [AutoModelForQuestionAnswering, "BertForQuestionAnswering", "end_logits"],
  ];
  for (const [Auto, name, field, config = {}] of cases) {
    assert.is(Auto.modelClass.name, name);
    assert.is(Auto.fromPretrained, Auto.from_pretrained, name);
    const files = folder(name, config);
    const m = await Auto.from_pretrained(files, quiet);
    assert.is(m.constructor.name, name);
    const direct = await m.constructor.fromPretrained(files, quiet);
    const x =
      name === "BertForMultipleChoice"
        ? {
            input_ids: [
              [
                [2, 5, 3],
                [2, 6, 3],
              ],
            ],
          }
        : inputs;
    same((await m(x))[field], (await direct.forward(x))[field], `${name}.${field}`);
    m.engine.dispose();
    direct.engine.dispose();
  }
  // HF's AutoModel is the base model whatever the head: a masked-LM checkpoint (no pooler)
  // loads as its encoder, without a pooler
  const base = await AutoModel.from_pretrained(folder("BertForMaskedLM"), quiet);
  assert.is(base.constructor.name, "BertModel");
  assert.is(base.pooler, null);
  // a checkpoint without the head's weights, or of another model type: typed errors
  await AutoModelForQuestionAnswering.from_pretrained(folder("BertForMaskedLM"), quiet).then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof WeightsError && /qa_outputs/.test(e.message), String(e)),
  );
  await AutoModel.from_pretrained(folder("BertModel", { model_type: "roberta" }), quiet).then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof ConfigError && /roberta/.test(e.message), String(e)),
  );
});

// ---- Tensor methods against float64 references (odd shapes), computed by index arithmetic of
// their own. Both sides accumulate in float64 in the same order and round once to float32: equal
// within one float32 ulp of the reference.

function randomTensor(shape, seed) {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(
    "float32",
    Float32Array.from({ length: n }, () => r() * 4 - 2),
    shape,
  );
}
const flat = (shape, idx) => idx.reduce((off, i, d) => off * shape[d] + i, 0);
function* indices(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  for (let j = 0; j < n; j++) {
    const idx = [];
    let rest = j;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx.unshift(rest % shape[d]);
      rest = Math.floor(rest / shape[d]);
    }
    yield idx;
  }
}
/** reference reduction over dim d: op(values along d) at each index of the other dims */
function reduce64(t, d, op) {
  const outShape = t.shape.filter((_, j) => j !== d);
  const out = [];
  for (const o of indices(outShape)) {
    const vals = [];
    for (let k = 0; k < t.shape[d]; k++) {
      const idx = [...o.slice(0, d), k, ...o.slice(d)];
      vals.push(t.data[flat(t.shape, idx)]);
    }
    out.push(op(vals));
  }
  return { shape: outShape, data: out };
}
const near = (got, ref, what) => {
  assert.is(got.length, ref.length, what);
  for (let i = 0; i < ref.length; i++) {
    if (!(Math.abs(got[i] - ref[i]) <= ulp32(ref[i])))
      assert.unreachable(`${what}[${i}]: ${got[i]} vs ${ref[i]}`);
  }
};
const mean64 = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const l2 = (v) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));

test("Tensor.mean / sum / max / min / norm over every dim of odd shapes", () => {
  for (const [shape, seed] of [
    [[13, 17, 5], 1],
    [[100, 17], 2],
    [[3, 13, 1, 17], 3],
  ]) {
    const t = randomTensor(shape, seed);
    for (let d = -shape.length; d < shape.length; d++) {
      const dd = d < 0 ? d + shape.length : d;
      for (const [name, op, call] of [
        ["mean", mean64, (k) => t.mean(d, k)],
        ["sum", (v) => v.reduce((a, b) => a + b, 0), (k) => t.sum(d, k)],
        ["max", (v) => Math.max(...v), (k) => t.max(d, k)],
        ["min", (v) => Math.min(...v), (k) => t.min(d, k)],
        ["norm", l2, (k) => t.norm(2, d, k)],
        ["norm1", (v) => v.reduce((a, b) => a + Math.abs(b), 0), (k) => t.norm(1, d, k)],
        [
          "norm3",
          (v) => v.reduce((a, b) => a + Math.abs(b) ** 3, 0) ** (1 / 3),
          (k) => t.norm(3, d, k),
        ],
      ]) {
        const ref = reduce64(t, dd, op);
        const got = call(false);
        assert.equal(got.shape, ref.shape, `${name}(${d}) shape`);
        near(got.data, ref.data, `${name}(${d}) of [${shape}]`);
        const kept = call(true);
        assert.equal(
          kept.shape,
          shape.map((s, j) => (j === dd ? 1 : s)),
          `${name}(${d}, keepdim)`,
        );
        assert.equal(Array.from(kept.data), Array.from(got.data));
      }
    }
    const all = t.mean();
    assert.equal(all.shape, []);
    near(all.data, [mean64(Array.from(t.data))], "mean()");
    assert.equal(
      t.mean(null, true).shape,
      shape.map(() => 1),
    );
    near(t.norm().data, [l2(Array.from(t.data))], "norm()");
    assert.throws(
      () => t.mean(shape.length),
      (e) => e instanceof InputError && /dim/.test(e.message),
    );
  }
});

test("Tensor.normalize(p, dim) is F.normalize: x / max(‖x‖p, 1e-12)", () => {
  const t = randomTensor([13, 17, 5], 4);
  for (const [p, dim] of [
    [2, 1],
    [2, -1],
    [1, 0],
    [2, 2],
  ]) {
    const d = dim < 0 ? dim + 3 : dim;
    const norms = reduce64(t, d, (v) => (p === 2 ? l2(v) : v.reduce((a, b) => a + Math.abs(b), 0)));
    const ref = [];
    for (const idx of indices(t.shape)) {
      const o = idx.filter((_, j) => j !== d);
      ref.push(t.data[flat(t.shape, idx)] / Math.max(norms.data[flat(norms.shape, o)], 1e-12));
    }
    const got = t.normalize(p, dim);
    assert.equal(got.shape, t.shape);
    near(got.data, ref, `normalize(${p}, ${dim})`);
  }
  // the default: p = 2 over dim 1 (transformers.js' normalize() of [n, hidden] embeddings)
  const e = randomTensor([100, 17], 5);
  const n = e.normalize();
  for (let r = 0; r < 100; r++)
    assert.ok(Math.abs(l2(Array.from(n.data.subarray(r * 17, r * 17 + 17))) - 1) < 1e-6);
  const z = new Tensor("float32", new Float32Array(6), [2, 3]).normalize();
  assert.equal(Array.from(z.data), [0, 0, 0, 0, 0, 0], "a zero row stays zero (the 1e-12 floor)");
});

test("Tensor.slice / view / squeeze / unsqueeze / permute / item / to / tolist / dispose", () => {
  const shape = [13, 17, 5];
  const t = randomTensor(shape, 6);
  const at = (idx) => t.data[flat(shape, idx)];
  // t[2:11, -1, ::] , t[:, 3:100, 1:-1], t[-13]
  const a = t.slice([2, 11], -1);
  assert.equal(a.shape, [9, 5]);
  for (const [i, k] of indices([9, 5])) assert.is(a.data[i * 5 + k], at([2 + i, 16, k]));
  const b = t.slice(null, [3, 100], [1, -1]);
  assert.equal(b.shape, [13, 14, 3]);
  for (const [i, j, k] of indices([13, 14, 3]))
    assert.is(b.data[flat([13, 14, 3], [i, j, k])], at([i, 3 + j, 1 + k]));
  assert.equal(Array.from(t.slice(-13).data), Array.from(t.data.subarray(0, 85)));
  assert.equal(t.slice([5, 2]).shape, [0, 17, 5], "an empty range");
  assert.throws(
    () => t.slice(13),
    (e) => e instanceof InputError && /out of range/.test(e.message),
  );
  assert.throws(
    () => t.slice(0, 0, 0, 0),
    (e) => e instanceof InputError,
  );
  const ids = new Tensor("int64", [1n, 2n, 3n, 4n, 5n, 6n], [2, 3]);
  assert.equal(ids.slice(null, [1, null]).tolist(), [
    [2, 3],
    [5, 6],
  ]);
  assert.is(ids.slice(1, 2).item(), 6);

  const p = t.permute(2, 0, 1);
  assert.equal(p.shape, [5, 13, 17]);
  for (const [k, i, j] of indices([5, 13, 17]))
    assert.is(p.data[flat([5, 13, 17], [k, i, j])], at([i, j, k]));
  assert.throws(
    () => t.permute(0, 0, 1),
    (e) => e instanceof InputError,
  );
  assert.equal(t.view(13, -1).shape, [13, 85]);
  assert.equal(t.reshape(-1).shape, [1105]);
  assert.throws(
    () => t.view(12, -1),
    (e) => e instanceof InputError && /does not fit/.test(e.message),
  );
  assert.equal(t.unsqueeze(0).squeeze().shape, shape);
  assert.equal(t.unsqueeze(-1).shape, [13, 17, 5, 1]);
  assert.equal(t.unsqueeze(1).squeeze(1).shape, shape);
  assert.equal(t.dims, shape);
  assert.is(t.size, 1105);
  assert.is(t.type, "float32");
  assert.equal(ids.to("float32").data, Float32Array.from([1, 2, 3, 4, 5, 6]));
  assert.equal(
    new Tensor("float32", [-1.5, 2.7], [2]).to("int64").data,
    BigInt64Array.from([-1n, 2n]),
  );
  assert.equal(t.tolist()[12][16][4], at([12, 16, 4]));

  const c = t.clone();
  c.dispose();
  assert.ok(c.disposed);
  assert.throws(
    () => c.data,
    (e) => e instanceof InputError && /disposed/.test(e.message),
  );
  assert.throws(
    () => c.mean(),
    (e) => e instanceof InputError,
  );
  c.dispose(); // twice: harmless
  assert.is(t.data.length, 1105, "the original keeps its values");
});

// ---- env, against a hub of our own on 127.0.0.1 (test/support/hub_server.mjs)

const DEFAULTS = {
  cacheDir: null,
  remoteHost: null,
  remotePathTemplate: "{model}/resolve/{revision}/",
  localModelPath: "",
  allowRemoteModels: true,
  allowLocalModels: true,
};
const resetEnv = () => Object.assign(env, DEFAULTS);
/** The files of a folder written to disk. */
function writeFolder(dir, files) {
  mkdirSync(dir, { recursive: true });
  for (const [name, v] of Object.entries(files)) writeFileSync(join(dir, name), v);
  return dir;
}
const hidden = async (m) =>
  Array.from((await m({ input_ids: [[2, 5, 6, 3]] })).last_hidden_state.data);

test("env: remoteHost, remotePathTemplate, cacheDir, localModelPath, allowLocalModels, allowRemoteModels", async () => {
  const remote = folder("BertModel", {}, 11);
  const local = folder("BertModel", {}, 12);
  const COMMIT = "89abcdef0123456789abcdef0123456789abcdef";
  const hub = await startHub({
    "org/tiny": { files: remote, commit: COMMIT, tags: { v7: COMMIT } },
  });
  const root = mkdtempSync(join(tmpdir(), "simdbert-env-"));
  const o = { ...quiet, token: false, retryDelayMs: 10 };
  try {
    const refRemote = await hidden(await BertModel.fromPretrained(remote, quiet));
    const refLocal = await hidden(await BertModel.fromPretrained(local, quiet));
    assert.not.equal(refRemote, refLocal);
    assert.is(
      env.remoteHost,
      process.env.HF_ENDPOINT
        ? `${process.env.HF_ENDPOINT.replace(/\/$/, "")}/`
        : "https://huggingface.co/",
    );

    // remoteHost + cacheDir: the id comes from our hub, into our cache (huggingface_hub's layout)
    env.remoteHost = `${hub.url}/`;
    env.cacheDir = join(root, "cache");
    assert.is(env.remoteHost, `${hub.url}/`);
    const m = await AutoModel.from_pretrained("org/tiny", o);
    assert.equal(await hidden(m), refRemote);
    assert.ok(
      existsSync(join(root, "cache", "models--org--tiny", "snapshots", COMMIT, "config.json")),
    );
    assert.ok(hub.requests(/^\/org\/tiny\/resolve\/main\/config\.json$/, "HEAD").length > 0);
    const tok = await AutoTokenizer.from_pretrained("org/tiny", { token: false });
    assert.equal(tok.tokenize("hello worlds"), ["hello", "world", "##s"]);
    // a per-call option wins over env
    const other = join(root, "other-cache");
    await AutoModel.from_pretrained("org/tiny", { ...o, cache_dir: other });
    assert.ok(existsSync(join(other, "models--org--tiny")));

    // remotePathTemplate: where a repo's files are under remoteHost (here: a fixed tag)
    env.remotePathTemplate = "{model}/resolve/v7/";
    env.cacheDir = join(root, "cache-template");
    const before = hub.log.length;
    assert.equal(await hidden(await AutoModel.from_pretrained("org/tiny", o)), refRemote);
    const paths = hub.log.slice(before).map((l) => l.path);
    assert.ok(paths.length && paths.every((p) => !p.includes("/resolve/main/")), paths.join(" "));
    assert.ok(
      paths.some((p) => p === "/org/tiny/resolve/v7/config.json"),
      paths.join(" "),
    );
    env.remotePathTemplate = DEFAULTS.remotePathTemplate;
    env.cacheDir = join(root, "cache");

    // localModelPath: a folder <localModelPath>/<id> wins over the hub...
    writeFolder(join(root, "models", "org", "tiny"), local);
    env.localModelPath = join(root, "models");
    let n = hub.log.length;
    assert.equal(await hidden(await AutoModel.from_pretrained("org/tiny", o)), refLocal);
    assert.is(hub.log.length, n, "no request for a local model");
    // ...unless allowLocalModels is false
    env.allowLocalModels = false;
    assert.equal(await hidden(await AutoModel.from_pretrained("org/tiny", o)), refRemote);
    env.allowLocalModels = true;

    // allowRemoteModels false: the cache and local folders only, no request; URLs refused
    env.localModelPath = join(root, "nowhere");
    env.allowRemoteModels = false;
    n = hub.log.length;
    assert.equal(
      await hidden(await AutoModel.from_pretrained("org/tiny", o)),
      refRemote,
      "from the cache",
    );
    assert.is(hub.log.length, n, "no request with allowRemoteModels false");
    env.cacheDir = join(root, "empty-cache");
    await AutoModel.from_pretrained("org/tiny", o).then(
      () => assert.unreachable("loaded without the network or a cache"),
      (e) =>
        assert.ok(e instanceof SimdbertError && /allowRemoteModels/.test(e.message), String(e)),
    );
    await BertModel.fromPretrained(`${hub.url}/org/tiny/resolve/main`, o).then(
      () => assert.unreachable("a URL was fetched"),
      (e) => assert.ok(e instanceof SourceError && /allowRemoteModels/.test(e.message), String(e)),
    );
    assert.is(hub.log.length, n);

    // settings are checked by name and type
    assert.throws(
      () => (env.cachedir = "/x"),
      (e) => e instanceof OptionError && e.option === "cachedir" && /cacheDir/.test(e.message),
    );
    assert.throws(
      () => (env.allowRemoteModels = "no"),
      (e) => e instanceof OptionError && /true or false/.test(e.message),
    );
    assert.throws(
      () => (env.remoteHost = "hub.local"),
      (e) => e instanceof OptionError && /http/.test(e.message),
    );
    assert.throws(
      () => (env.remotePathTemplate = "x/"),
      (e) => e instanceof OptionError && /\{model\}/.test(e.message),
    );
  } finally {
    resetEnv();
    await hub.close();
    rmSync(root, { recursive: true, force: true });
  }
});

// ---- pipelines: dispose(), pooling names, options

test("pipelines and models: dispose() frees, later calls are typed errors, others keep working", async () => {
  const files = folder("BertForSequenceClassification", { id2label: { 0: "NEG", 1: "POS" } });
  const extractor = await pipeline("feature-extraction", files, quiet);
  const classify = await pipeline("text-classification", files, quiet);
  const other = await pipeline("feature-extraction", files, quiet);
  const before = Array.from((await extractor("hello world", { pooling: "mean" })).data);
  assert.is(extractor.disposed, false);
  await extractor.dispose();
  assert.is(extractor.disposed, true);
  await extractor("hello").then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof PipelineError && /disposed/.test(e.message), String(e)),
  );
  assert.throws(
    () => extractor.model,
    (e) => e instanceof PipelineError,
  );
  await extractor.dispose(); // twice: harmless
  assert.equal(Array.from((await other("hello world", { pooling: "mean" })).data), before);
  const labels = await classify("hello world");
  await classify.dispose();
  await classify("hello world").then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof PipelineError, String(e)),
  );
  assert.ok(labels);
  // a model: forward after dispose is an EngineError; a shared engine passed in keeps running
  const a = await BertModel.fromPretrained(files, quiet);
  const b = await BertModel.fromPretrained(files, { ...quiet, engine: a.engine });
  const x = { input_ids: [[2, 5, 3]] };
  const ref = Array.from((await b(x)).last_hidden_state.data);
  await b.dispose();
  await b(x).then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof EngineError && /disposed/.test(e.message), String(e)),
  );
  assert.equal(Array.from((await a(x)).last_hidden_state.data), ref, "the engine was not b's");
  await a.dispose();
});

test("feature-extraction pooling: first_token (= cls), last_token (padding excluded), max", async () => {
  const files = folder("BertModel", {}, 21);
  const extractor = await pipeline("feature-extraction", files, quiet);
  const H = TINY.hidden_size;
  // lengths 3..9 tokens with [CLS]/[SEP]: one batch pads the short ones
  const texts = ["a", "hello world a b a b a", "b b", "hello", "a b a b a b a"];
  const alone = [];
  for (const t of texts) {
    const h = await extractor(t, { pooling: "none" }); // [1, len, H], no padding
    alone.push({ len: h.shape[1], h: h.data });
  }
  const last = await extractor(texts, { pooling: "last_token", batchSize: 5 });
  const first = await extractor(texts, { pooling: "first_token", batchSize: 5 });
  const cls = await extractor(texts, { pooling: "cls", batchSize: 5 });
  const max = await extractor(texts, { pooling: "max", batch_size: 5 });
  assert.equal(last.shape, [texts.length, H]);
  assert.equal(Array.from(first.data), Array.from(cls.data));
  alone.forEach(({ len, h }, i) => {
    for (let j = 0; j < H; j++) {
      const lastRef = h[(len - 1) * H + j];
      assert.ok(
        Math.abs(last.data[i * H + j] - lastRef) <= 1e-5 * Math.max(1, Math.abs(lastRef)),
        `last_token[${i}][${j}]`,
      );
      assert.ok(
        Math.abs(first.data[i * H + j] - h[j]) <= 1e-5 * Math.max(1, Math.abs(h[j])),
        `first_token[${i}][${j}]`,
      );
      let m = -Infinity;
      for (let s = 0; s < len; s++) m = Math.max(m, h[s * H + j]);
      assert.ok(
        Math.abs(max.data[i * H + j] - m) <= 1e-5 * Math.max(1, Math.abs(m)),
        `max[${i}][${j}]`,
      );
    }
  });
  // the short texts' last token is not the batch's last (padded) position
  const padded = await extractor(texts, { pooling: "none" });
  const S = padded.shape[1];
  const lastPadded = Array.from(padded.data.subarray(2 * S * H + (S - 1) * H, 2 * S * H + S * H));
  assert.not.equal(Array.from(last.data.subarray(2 * H, 3 * H)), lastPadded);
  await extractor("a", { pooling: "eos" }).then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof InputError && /last_token/.test(e.message), String(e)),
  );
  await extractor.dispose();
});

test("unknown options are refused by name, with the accepted ones; HF / transformers.js names honoured", async () => {
  const files = folder("BertForMaskedLM");
  const refused = async (p, option, also) =>
    p.then(
      () => assert.unreachable(`${option} was accepted`),
      (e) => {
        assert.ok(e instanceof OptionError, String(e));
        assert.ok(e instanceof SimdbertError);
        assert.is(e.option, option);
        assert.ok(e.message.includes(option), e.message);
        if (also) assert.ok(e.message.includes(also), e.message);
      },
    );
  // fromPretrained (every model class, Auto* too)
  await refused(BertModel.fromPretrained(files, { threds: 2 }), "threds", "threads");
  await refused(
    AutoModelForMaskedLM.from_pretrained(files, { trust_remote_code: true }),
    "trust_remote_code",
    "revision",
  );
  await refused(AutoModelForMaskedLM.from_pretrained(files, { quantized: "yes" }), "quantized");
  await refused(
    AutoModelForMaskedLM.from_pretrained(files, { quantized: true, dtype: "fp16" }),
    "quantized",
  );
  // transformers.js' device: where simdbert runs is accepted, another device refused
  assert.ok(
    (await AutoModel.from_pretrained(files, { ...quiet, device: "wasm" })) instanceof BertModel,
  );
  await refused(AutoModel.from_pretrained(files, { device: "webgpu" }), "device", "wasm");
  await refused(pipeline("feature-extraction", files, { device: "cuda" }), "device");
  // tokenizer fromPretrained and calls
  await refused(
    AutoTokenizer.from_pretrained(files, { doLowerCase: false }),
    "doLowerCase",
    'did you mean "do_lower_case"',
  );
  assert.throws(
    () => new BertTokenizer(VOCAB, { doLowerCase: false }),
    (e) =>
      e instanceof OptionError && e.option === "doLowerCase" && /do_lower_case/.test(e.message),
  );
  // tokenizer_config.json's keys for other libraries are not the caller's options: they load
  const withConfig = {
    ...files,
    "tokenizer_config.json": JSON.stringify({
      tokenizer_class: "BertTokenizer",
      name_or_path: "x",
      do_lower_case: true,
    }),
  };
  assert.ok((await AutoTokenizer.from_pretrained(withConfig)) instanceof BertTokenizer);
  const tok = await AutoTokenizer.from_pretrained(files, { do_lower_case: true, revision: "main" });
  await refused((async () => tok("a", { paddding: true }))(), "paddding", "padding");
  await refused((async () => tok.encode("a", { max_len: 3 }))(), "max_len", "max_length");
  await refused(
    (async () =>
      tok("a", {
        return_tensor: true,
        return_tensors: null,
        padding: true,
        text_pair: "b",
        returns: 1,
      }))(),
    "returns",
  );
  await refused(
    (async () => tok.decode([2, 5, 3], { skip_special_token: true }))(),
    "skip_special_token",
    "skip_special_tokens",
  );
  assert.is(tok.decode([2, 5, 3], { skip_special_tokens: true }), "hello");
  // return_tensor (transformers.js): true gives Tensors, false nested arrays
  const t = tok(["hello", "a b"], { padding: true, return_tensor: true });
  assert.ok(t.input_ids instanceof Tensor);
  assert.equal(t.input_ids.shape, [2, 4]);
  assert.equal(tok("hello", { return_tensor: false }).input_ids, tok.call("hello").input_ids);
  await refused(
    (async () => tok("a", { return_tensor: false, return_tensors: "pt" }))(),
    "return_tensor",
  );
  // forward
  const m = await AutoModelForMaskedLM.from_pretrained(files, quiet);
  await refused(m({ input_ids: [[2, 5, 3]], return_tensors: "pt" }), "return_tensors", "labels");
  const base = await AutoModel.from_pretrained(files, quiet);
  await refused(base({ input_ids: [[2, 5, 3]], labels: [[1, 2, 3]] }), "labels", "attention_mask");
  // pipelines: factory options and call options
  await refused(pipeline("fill-mask", files, { top_k: 3 }), "top_k", "batch_size");
  await refused(pipeline("feature-extraction", files, { pooling: "mean" }), "pooling", "maxLength");
  const extractor = await pipeline("feature-extraction", files, {
    ...quiet,
    batch_size: 2,
    max_length: 8,
    revision: "main",
  });
  assert.is(extractor.maxLength, 8);
  await refused(extractor("a", { poolng: "mean" }), "poolng", "pooling");
  await refused(extractor("a", { quantize: true }), "quantize", "normalize");
  await extractor.dispose();
  m.engine.dispose();
  base.engine.dispose();
});

test("quantized / quantize: true is dtype q8 (transformers.js v2), false fp32", async () => {
  const files = folder("BertModel", {}, 31);
  const x = { input_ids: [[2, 5, 6, 7, 3]] };
  const q8 = await BertModel.fromPretrained(files, { ...quiet, dtype: "q8" });
  const viaQuantized = await AutoModel.from_pretrained(files, { ...quiet, quantized: true });
  const viaQuantize = await BertModel.fromPretrained(files, { ...quiet, quantize: true });
  const fp32 = await BertModel.fromPretrained(files, { ...quiet, quantized: false });
  const ref = Array.from((await q8(x)).last_hidden_state.data);
  for (const m of [viaQuantized, viaQuantize]) {
    assert.is(m.encoder.layer[0].intermediate.dense.dtype, "q8");
    assert.equal(Array.from((await m(x)).last_hidden_state.data), ref);
  }
  assert.is(fp32.encoder.layer[0].intermediate.dense.dtype, "f32");
  assert.not.equal(Array.from((await fp32(x)).last_hidden_state.data), ref);
  const ex = await pipeline("feature-extraction", files, { ...quiet, quantized: true });
  assert.is(ex.model.encoder.layer[0].intermediate.dense.dtype, "q8");
  await ex.dispose();
  for (const m of [q8, viaQuantized, viaQuantize, fp32]) await m.dispose();
});

test.run();
