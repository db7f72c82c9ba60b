// Fuzzer of config.json (src/config.ts, and src/loading/source.ts reading it).
//
// Each case makes a small valid BERT config, breaks it (missing / zero / negative / fractional /
// huge / wrongly typed sizes, heads not dividing hidden, unknown activation or position type,
// odd keys such as __proto__, label maps, bad JSON text), then builds it three ways:
// BertConfig.fromJSON / new BertConfig, fromPretrained with config.json as text, and
// fromPretrained with the config given as overrides. An independent validator says whether the
// config is valid; invalid ones must be rejected with a ConfigError naming the field, fast, with
// no allocation and no engine memory growth. Valid ones load against a checkpoint of their own
// shapes (when small) and must answer what the float64 reference answers, or against the tiny
// checkpoint, where a shape mismatch must be a WeightsError.
import {
  BertConfig,
  BertModel,
  BertForSequenceClassification,
  BertForQuestionAnswering,
  ConfigError,
  Engine,
  WeightsError,
  ACTIVATIONS,
} from "../../dist/index.js";
import { attempt, closeness, judge, largestAllocation, show, watchAllocations } from "./lib.mjs";
import {
  TINY,
  bertForward64,
  checkpoint,
  encoderShapes,
  headShapes,
  quiet,
  randomTensors,
} from "./models.mjs";

export const name = "config";

const SIZES = {
  vocab_size: 2 ** 26,
  hidden_size: 2 ** 16,
  num_hidden_layers: 4096,
  num_attention_heads: 4096,
  intermediate_size: 2 ** 18,
  max_position_embeddings: 2 ** 20,
  type_vocab_size: 2 ** 20,
};
const DEFAULTS = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  hidden_act: "gelu",
  layer_norm_eps: 1e-12,
  position_embedding_type: "absolute",
  is_decoder: false,
  add_cross_attention: false,
  output_attentions: false,
  output_hidden_states: false,
  return_dict: true,
  use_cache: true,
  torchscript: false,
  chunk_size_feed_forward: 0,
  problem_type: null,
};
const FLAGS = [
  "is_decoder",
  "add_cross_attention",
  "output_attentions",
  "output_hidden_states",
  "return_dict",
  "use_cache",
  "torchscript",
];
const POSITIONS = ["absolute", "relative_key", "relative_key_query"];
const MAX_LABELS = 2 ** 16;

function circular() {
  const o = { a: 1 };
  o.self = o;
  return o;
}
function deep(n) {
  let v = [1];
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

/** Bad (and edge) values for a size; JS-only values are marked so the JSON path skips them. */
const SIZE_VALUES = () => [
  0,
  -1,
  -(2 ** 31),
  0.5,
  1.5,
  2 ** 30,
  2 ** 31,
  2 ** 53,
  2 ** 53 + 2,
  1e308,
  "16",
  "0x10",
  null,
  true,
  false,
  [],
  [16],
  {},
  { valueOf: 16 },
  { js: Infinity },
  { js: -Infinity },
  { js: NaN },
  { js: 16n },
  { js: circular() },
  { js: deep(100000) },
  { js: Symbol("s") },
  { js: () => 16 },
  { js: undefined },
];

const isPosInt = (v, max) => typeof v === "number" && Number.isSafeInteger(v) && v >= 1 && v <= max;

/** The verdict on a config object (as JS values after any JSON round trip): null, or every field at fault. */
function validate(obj) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return ["object"];
  const c = { ...DEFAULTS };
  for (const k of Object.keys(DEFAULTS)) if (Object.hasOwn(obj, k)) c[k] = obj[k];
  const bad = [];
  for (const [k, max] of Object.entries(SIZES)) if (!isPosInt(c[k], max)) bad.push(k);
  if (!bad.length && c.hidden_size % c.num_attention_heads) bad.push("hidden size");
  if (typeof c.hidden_act !== "string" || !Object.hasOwn(ACTIVATIONS, c.hidden_act))
    bad.push("hidden_act");
  if (!POSITIONS.includes(c.position_embedding_type)) bad.push("position_embedding_type");
  if (
    typeof c.layer_norm_eps !== "number" ||
    !Number.isFinite(c.layer_norm_eps) ||
    c.layer_norm_eps < 0
  )
    bad.push("layer_norm_eps");
  for (const f of FLAGS) if (typeof c[f] !== "boolean") bad.push(f);
  if (
    typeof c.chunk_size_feed_forward !== "number" ||
    !Number.isSafeInteger(c.chunk_size_feed_forward) ||
    c.chunk_size_feed_forward < 0
  )
    bad.push("chunk_size_feed_forward");
  if (
    c.problem_type !== null &&
    c.problem_type !== undefined &&
    !["regression", "single_label_classification", "multi_label_classification"].includes(
      c.problem_type,
    )
  )
    bad.push("problem_type");
  // HF: id2label is None or a dict whose keys int() reads; num_labels only counts without it
  const id2label = obj.id2label;
  if (id2label !== undefined && id2label !== null) {
    if (typeof id2label !== "object" || Array.isArray(id2label)) bad.push("id2label");
    else {
      const entries = Object.entries(id2label);
      if (
        entries.length > MAX_LABELS ||
        entries.some(
          ([k, v]) =>
            !/^\s*[+-]?\d+\s*$/.test(k) || (typeof v !== "string" && typeof v !== "number"),
        )
      )
        bad.push("id2label");
    }
  } else if (
    Object.hasOwn(obj, "num_labels") &&
    obj.num_labels !== undefined &&
    !isPosInt(obj.num_labels, MAX_LABELS)
  )
    bad.push("num_labels");
  return bad.length ? bad : null;
}

/** A small valid config. */
function smallConfig(r) {
  const heads = r.int(1, 5);
  const c = {
    vocab_size: r.int(5, 50),
    hidden_size: heads * r.int(1, 7),
    num_hidden_layers: r.int(1, 3),
    num_attention_heads: heads,
    intermediate_size: r.int(1, 40),
    max_position_embeddings: r.int(4, 30),
    type_vocab_size: r.int(1, 4),
    hidden_act: r.pick(Object.keys(ACTIVATIONS)),
    layer_norm_eps: r.pick([1e-12, 1e-5, 1e-3]),
  };
  if (r.chance(0.3)) c.position_embedding_type = r.pick(POSITIONS);
  if (r.chance(0.2)) c.is_decoder = true;
  if (c.is_decoder && r.chance(0.3)) c.add_cross_attention = true;
  if (r.chance(0.2)) c.output_attentions = r.chance(0.5);
  if (r.chance(0.2)) c.output_hidden_states = r.chance(0.5);
  if (r.chance(0.1)) c.return_dict = false;
  if (r.chance(0.1)) c.chunk_size_feed_forward = r.int(0, 4);
  if (r.chance(0.2)) c.num_labels = r.int(1, 5);
  if (r.chance(0.1)) c.id2label = { 0: "neg", 1: "pos", 2: "mixed" };
  if (r.chance(0.1)) c.architectures = ["BertModel"];
  if (r.chance(0.1)) c.model_type = "bert";
  return c;
}

/** One mutation; returns a description. */
function mutate(r, c) {
  const kind = r.weighted([
    [6, "size"],
    [2, "missing"],
    [3, "divide"],
    [2, "act"],
    [2, "pos"],
    [2, "eps"],
    [2, "flag"],
    [1, "chunk"],
    [3, "labels"],
    [1, "problem"],
    [2, "keys"],
    [1, "huge"],
  ]);
  switch (kind) {
    case "size": {
      const k = r.pick(Object.keys(SIZES));
      const v = r.pick(SIZE_VALUES());
      c[k] = v;
      return `${k} = ${show(v, 60)}`;
    }
    case "missing": {
      const k = r.pick([...Object.keys(SIZES), "hidden_act", "layer_norm_eps"]);
      delete c[k];
      return `${k} missing`;
    }
    case "divide": {
      c.hidden_size = r.int(2, 64);
      c.num_attention_heads = r.int(2, 17);
      return `hidden ${c.hidden_size}, heads ${c.num_attention_heads}`;
    }
    case "act":
      c.hidden_act = r.pick([
        "GELU",
        "gelu ",
        "",
        "swiglu",
        "geglu",
        "__proto__",
        "constructor",
        "toString",
        "hasOwnProperty",
        null,
        1,
        ["gelu"],
        {},
        { js: deep(100000) },
        { js: circular() },
      ]);
      return `hidden_act = ${show(c.hidden_act, 60)}`;
    case "pos":
      c.position_embedding_type = r.pick([
        "rotary",
        "",
        "ABSOLUTE",
        "relative",
        "alibi",
        null,
        1,
        ["absolute"],
        "__proto__",
        { js: circular() },
      ]);
      return `position_embedding_type = ${show(c.position_embedding_type, 60)}`;
    case "eps":
      c.layer_norm_eps = r.pick([
        -1,
        -1e-12,
        "1e-12",
        null,
        [],
        true,
        0,
        1e300,
        5e-324,
        { js: NaN },
        { js: Infinity },
        { js: 1n },
      ]);
      return `layer_norm_eps = ${show(c.layer_norm_eps, 60)}`;
    case "flag": {
      const f = r.pick(FLAGS);
      c[f] = r.pick(["true", 1, 0, null, [], {}, { js: 1n }]);
      return `${f} = ${show(c[f], 60)}`;
    }
    case "chunk":
      c.chunk_size_feed_forward = r.pick([-1, 0.5, "0", null, 2 ** 53, { js: Infinity }]);
      return `chunk_size_feed_forward = ${show(c.chunk_size_feed_forward)}`;
    case "labels": {
      if (r.chance(0.5)) {
        delete c.id2label;
        c.num_labels = r.pick([
          0,
          -1,
          1.5,
          "3",
          null,
          2 ** 30,
          1e9,
          2 ** 53,
          2 ** 16,
          2 ** 16 + 1,
          1,
          3,
          100,
          { js: NaN },
          { js: Infinity },
          { js: 3n },
        ]);
        return `num_labels = ${show(c.num_labels)}`;
      }
      c.id2label = r.pick([
        { a: "x" },
        { 1.5: "x" },
        { 0: "a", "00": "b" },
        [],
        {},
        [["0", "a"]],
        { 0: 1 },
        { "-1": "neg" },
        { " 1": "sp" },
        null,
        "x",
        5,
        { 0: { toString: 1 } },
        { 0: null },
        { 0: ["a"] },
        { js: { 0: Symbol("s") } },
      ]);
      return `id2label = ${show(c.id2label, 80)}`;
    }
    case "problem":
      c.problem_type = r.pick([
        "foo",
        1,
        "",
        "regression",
        "single_label_classification",
        "multi_label_classification",
        null,
      ]);
      return `problem_type = ${show(c.problem_type)}`;
    case "keys": {
      const k = r.pick([
        "__proto__",
        "constructor",
        "toString",
        "hasOwnProperty",
        "valueOf",
        "extra",
        "__defineGetter__",
        "isPrototypeOf",
      ]);
      const v = r.pick([{ hidden_size: 5 }, null, 5, "x", [], { js: circular() }]);
      Object.defineProperty(c, k, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return `key ${k} = ${show(v, 60)}`;
    }
    case "huge": {
      // sizes under the caps whose weights would be enormous: the loader must refuse on shapes, before allocating
      c.vocab_size = SIZES.vocab_size;
      c.hidden_size = SIZES.hidden_size;
      c.num_attention_heads = 16;
      c.intermediate_size = SIZES.intermediate_size;
      return "huge sizes under the caps";
    }
  }
}

/** JS values behind { js } markers; forJson: whether the config goes through JSON text. */
function materialize(c) {
  const out = {};
  let jsOnly = false;
  for (const k of Object.keys(c)) {
    let v = c[k];
    if (
      v &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      Object.keys(v).length === 1 &&
      "js" in v
    ) {
      v = v.js;
      jsOnly = true;
    }
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [kk, vv] of Object.entries(v)) {
        if (vv && typeof vv === "object" && "js" in vv) {
          v = { ...v, [kk]: vv.js };
          jsOnly = true;
        }
      }
    }
    Object.defineProperty(out, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { obj: out, jsOnly };
}

/** The weights BertModel / a head declares for a config: name -> shape. */
function declared(c, cls) {
  const full = { ...DEFAULTS, ...c };
  const prefix = cls === "BertModel" ? "" : "bert.";
  const s = encoderShapes(full, prefix, {
    pooler: cls !== "BertForQuestionAnswering",
    cross: full.is_decoder && full.add_cross_attention,
  });
  if (full.position_embedding_type !== "absolute")
    delete s[`${prefix}embeddings.position_embeddings.weight`];
  return cls === "BertModel"
    ? s
    : { ...s, ...headShapes(cls, { ...full, num_labels: labelsOf(c) }) };
}
function labelsOf(c) {
  if (c.id2label && typeof c.id2label === "object")
    return new Set(Object.keys(c.id2label).map((k) => String(Number(k)))).size;
  return c.num_labels ?? 2;
}

const count = (shapes) =>
  Object.values(shapes).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);

export async function setup() {
  watchAllocations();
  console.warn = () => {};
  const tiny = randomTensors(encoderShapes(TINY), 3);
  return { engine: await Engine.create(), tinyFile: checkpoint(TINY, tiny)["model.safetensors"] };
}

export async function run(state, r, ctx) {
  const { stats, i } = ctx;
  const c = smallConfig(r);
  const whats = [];
  const nMut = r.chance(0.15) ? 0 : r.chance(0.8) ? 1 : 2;
  for (let k = 0; k < nMut; k++) whats.push(mutate(r, c));
  const { obj, jsOnly } = materialize(c);
  const what = whats.join("; ") || "valid config";
  const faults = validate(obj);
  if (ctx.verbose)
    ctx.log(
      `case ${i}: ${what}${jsOnly ? " (JS values)" : ""}: ${faults ? `invalid: ${faults}` : "valid"}`,
    );
  const expect = faults
    ? {
        re: new RegExp(faults.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")),
        what: `config: ${faults.join(", ")}`,
        type: ConfigError,
      }
    : null;

  // 1. the constructor
  stats.add("tried");
  const [, e1, ok1] = await attempt(() =>
    jsOnly || r.chance(0.5) ? new BertConfig(obj) : BertConfig.fromJSON(JSON.stringify(obj)),
  );
  if (judge(ctx, expect, e1, ok1, `BertConfig(${what})`)) return;

  // 2. fromPretrained: config.json text (or overrides for JS values), with a checkpoint
  const cls = r.weighted([
    [8, "BertModel"],
    [1, "BertForSequenceClassification"],
    [1, "BertForQuestionAnswering"],
  ]);
  const want = faults ? null : declared(obj, cls);
  const own = want && count(want) < 100_000 && r.chance(0.8);
  let tensors = null,
    file = state.tinyFile;
  if (own) {
    tensors = randomTensors(want, i);
    file = checkpoint({}, tensors)["model.safetensors"];
  }
  let files,
    options = { ...quiet, engine: state.engine };
  if (jsOnly) {
    files = { "config.json": "{}", "model.safetensors": file };
    options.config = obj;
  } else files = { "config.json": JSON.stringify(obj), "model.safetensors": file };
  const Cls = { BertModel, BertForSequenceClassification, BertForQuestionAnswering }[cls];
  let lexpect = expect;
  if (!faults) {
    const full = { ...DEFAULTS, ...obj };
    if (full.add_cross_attention && !full.is_decoder)
      lexpect = {
        re: /add_cross_attention|decoder/,
        what: "cross-attention without is_decoder",
        type: ConfigError,
      };
    else if (cls === "BertForQuestionAnswering" && labelsOf(obj) !== 2)
      lexpect = { re: /num_labels/, what: "question answering needs 2 labels", type: ConfigError };
    else if (!own) {
      const have = encoderShapes(TINY);
      const mismatch = Object.entries(want).find(([k, s]) => {
        const h = have[k] ?? have[k.replace(/^bert\./, "")];
        return !h || h.length !== s.length || h.some((d, j) => d !== s[j]);
      });
      if (mismatch)
        lexpect = {
          re: /missing from the checkpoint|checkpoint has shape/,
          what: `weights for another config (${mismatch[0]})`,
          type: WeightsError,
        };
    }
  }
  stats.add("tried");
  const before = state.engine.memoryBytes;
  const t0 = performance.now();
  const { result, worst } = await largestAllocation(() => Cls.fromPretrained(files, options));
  const ms = performance.now() - t0;
  const [model, e2, ok2] = result;
  if (worst > file.length + 65536)
    stats.fail(
      "overAlloc",
      i,
      `${cls}(${what}): loading allocated ${worst} bytes for a ${file.length}-byte checkpoint`,
    );
  if (!ok2 && ms > 2000)
    stats.fail("slow", i, `${cls}(${what}): took ${ms.toFixed(0)} ms to reject`);
  if (ok2) state.engine = await Engine.create();
  else if (state.engine.memoryBytes !== before) {
    stats.add("memGrowthBytes", state.engine.memoryBytes - before);
    stats.fail(
      "memGrowth",
      i,
      `${cls}(${what}): a rejected load grew the engine by ${state.engine.memoryBytes - before} bytes`,
    );
    state.engine = await Engine.create();
  }
  if (
    judge(ctx, lexpect, e2, ok2, `${cls}.fromPretrained(${what}${jsOnly ? ", as overrides" : ""})`)
  )
    return;
  if (!ok2 || cls !== "BertModel" || !tensors) return;

  // 3. a valid config's model answers as the float64 reference does
  const full = { ...DEFAULTS, ...obj };
  // an eps that underflows float32 (5e-324) is 0 in PyTorch's float32 LayerNorm too: float64 is no reference then
  if (full.layer_norm_eps > 0 && Math.fround(full.layer_norm_eps) === 0) return;
  const S = Math.min(5, full.max_position_embeddings);
  const input_ids = [0, 1].map(() => Array.from({ length: S }, () => r.int(0, full.vocab_size)));
  const token_type_ids = input_ids.map((row) => row.map(() => r.int(0, full.type_vocab_size)));
  const inputs = { input_ids, token_type_ids, return_dict: true };
  const [out, e3, ok3] = await attempt(() => model.forward(inputs));
  stats.add("tried");
  if (judge(ctx, null, e3, ok3, `forward on ${what}`)) return;
  const ref = bertForward64(full, tensors, inputs);
  const worstDiff = Math.max(
    closeness(out.last_hidden_state.data, ref.last_hidden_state.data, 5e-4, 1e-3),
    closeness(out.pooler_output.data, ref.pooler_output.data, 5e-4, 1e-3),
  );
  stats.add("checks");
  if (!(worstDiff <= 1))
    stats.fail(
      "wrong",
      i,
      `a model of config ${show(obj, 400)} disagrees with the float64 reference (closeness ${worstDiff})`,
    );
}

/** config.json as text and bytes, and as other values in a file map. */
export async function runText(state, r, ctx) {
  const { stats, i } = ctx;
  const good = JSON.stringify(TINY);
  const variants = [
    ["", /config\.json/],
    ["{", /config\.json/],
    ["{}}", /config\.json/],
    ["[]", /config\.json/],
    ["null", /config\.json/],
    ["42", /config\.json/],
    ['"x"', /config\.json/],
    ["{'a':1}", /config\.json/],
    [good.slice(0, -1), /config\.json/],
    [good + ",", /config\.json/],
    ["[".repeat(100000) + "]".repeat(100000), /config\.json/],
    [good.slice(0, -1) + ',"a":' + "[".repeat(100000) + "]".repeat(100000) + "}", null],
    [{ bytes: [0xff, 0xfe, 0x7b, 0x7d] }, /config\.json/],
    [{ bytes: [0xef, 0xbb, 0xbf, ...new TextEncoder().encode(good)] }, null],
    [
      {
        bytes: [
          ...new TextEncoder().encode(good.slice(0, 20)),
          0xc0,
          0x80,
          ...new TextEncoder().encode(good.slice(20)),
        ],
      },
      /config\.json/,
    ],
    [{ value: 42 }, /config\.json/],
    [{ value: null }, /config\.json/],
    [{ value: [1] }, /config\.json/],
    [{ value: TINY }, null],
    [{ missing: true }, /config\.json/],
  ];
  const [v, re] = r.pick(variants);
  const files = { "model.safetensors": state.tinyFile };
  let what;
  if (typeof v === "string") {
    files["config.json"] = v;
    what = `config.json ${show(v, 60)}`;
  } else if (v.bytes) {
    files["config.json"] = Uint8Array.from(v.bytes);
    what = `config.json bytes ${show(v.bytes.slice(0, 8))}`;
  } else if (v.missing) what = "no config.json";
  else {
    files["config.json"] = v.value;
    what = `config.json value ${show(v.value, 60)}`;
  }
  stats.add("tried");
  const before = state.engine.memoryBytes;
  const [, err, ok] = await attempt(() =>
    BertModel.fromPretrained(files, { ...quiet, engine: state.engine }),
  );
  if (ok) state.engine = await Engine.create();
  else if (state.engine.memoryBytes !== before)
    stats.fail("memGrowth", i, `${what}: a rejected load grew the engine`);
  judge(ctx, re ? { re, what, type: ConfigError } : null, err, ok, `fromPretrained(${what})`);
}

export const surface = {
  name,
  setup,
  async run(state, r, ctx) {
    if (r.chance(0.15)) return runText(state, r, ctx);
    return run(state, r, ctx);
  },
};
