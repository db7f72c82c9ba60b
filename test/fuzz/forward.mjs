// Fuzzer of forward() inputs (src/models/inputs.ts, src/models/bert/arguments.ts, heads.ts):
// BertModel (absolute and relative_key_query positions, a decoder with cross-attention and
// caches) and every task head.
//
// A case draws valid inputs for a model (shapes, masks, types, positions, head masks, embeddings,
// encoder states, past key values, labels; each tensor as a nested list, a Tensor of some dtype,
// or {data, shape}), then usually breaks them in one way: ids out of range, NaN/Inf floats,
// ragged lists, wrong ranks and shapes, empty batch, sequence 0, sequences past the position
// table, bad masks / head masks / caches / labels, wrong types and objects, unknown arguments.
// The call must then either succeed with the float64 reference's numbers (BertModel through
// reference_bert.mjs; heads as their identity on the encoder's outputs), or, for broken inputs,
// fail with an InputError naming the input. After every rejected call the model must not have
// grown its memory, and a probe call must give exactly (bit for bit) what a fresh engine gives.
// At the end, 10,000 rejected calls in a row on each model may not grow its memory at all.
import { BertModel, InputError, Tensor, KVCache, MODEL_CLASSES } from "../../dist/index.js";
import { attempt, closeness, judge, sameBits, show, Rand } from "./lib.mjs";
import { bertForward64, fixture, quiet, linear64, mlm64, crossEntropy64 } from "./models.mjs";

export const name = "forward";

// every model class, as the library registers them
const CLASSES = MODEL_CLASSES;

/** The models fuzzed: [key, class, config, load options]. */
const TARGETS = [
  ["enc", "BertModel", {}, {}],
  [
    "rel",
    "BertModel",
    { position_embedding_type: "relative_key_query", max_position_embeddings: 24 },
    { addPoolingLayer: false },
  ],
  ["dec", "BertModel", { is_decoder: true, add_cross_attention: true }, {}],
  ["seq", "BertForSequenceClassification", { id2label: { 0: "a", 1: "b", 2: "c" } }, {}],
  ["tok", "BertForTokenClassification", { num_labels: 5 }, {}],
  ["qa", "BertForQuestionAnswering", {}, {}],
  ["nsp", "BertForNextSentencePrediction", {}, {}],
  ["mc", "BertForMultipleChoice", {}, {}],
  ["mlm", "BertForMaskedLM", {}, {}],
  ["pre", "BertForPreTraining", {}, {}],
  ["lm", "BertLMHeadModel", { is_decoder: true }, {}],
];
const WEIGHTS = {
  enc: 6,
  rel: 2,
  dec: 4,
  seq: 1,
  tok: 1,
  qa: 1,
  nsp: 1,
  mc: 1.5,
  mlm: 1,
  pre: 1,
  lm: 2,
};

/** Heads that read the pooled output (their base model has a pooler). */
const POOLED = new Set(["seq", "nsp", "mc", "pre"]);
const HEAD_ARGS = {
  seq: ["labels"],
  tok: ["labels"],
  qa: ["start_positions", "end_positions"],
  nsp: ["labels", "next_sentence_label"],
  mc: ["labels"],
  mlm: ["labels"],
  pre: ["labels", "next_sentence_label"],
  lm: ["labels"],
};

// ------------------------------------------------------------------ tensors and their containers

const prod = (s) => s.reduce((a, b) => a * b, 1);
function nest(data, shape, off = 0) {
  if (shape.length === 0) return data[off];
  if (shape.length === 1) return Array.from(data.slice(off, off + shape[0]));
  const stride = prod(shape.slice(1));
  return Array.from({ length: shape[0] }, (_, i) => nest(data, shape.slice(1), off + i * stride));
}

/** A value of the spec in one of the containers forward accepts. */
function container(r, spec, force = null) {
  const { kind, shape } = spec;
  const data = spec.data;
  const ints = kind === "int" && data.every((x) => Number.isInteger(x));
  const int32 = ints && data.every((x) => x >= -(2 ** 31) && x < 2 ** 31);
  const safe = ints && data.every((x) => Number.isSafeInteger(x));
  const choice =
    force ??
    r.weighted([
      [4, "nested"],
      [1, "nested-big"],
      [1.5, "tensor"],
      [2, "object"],
      [0.5, "dims"],
      [0.5, "typed"],
    ]);
  switch (choice) {
    case "nested-big":
      if (safe)
        return nest(
          data.map((x) => BigInt(x)),
          shape,
        );
      return nest(data, shape);
    case "tensor":
      if (safe && r.chance(0.4))
        return new Tensor(
          "int64",
          data.map((x) => BigInt(x)),
          shape,
        );
      if (int32 && r.chance(0.4)) return new Tensor("int32", data, shape);
      if (
        kind === "float" ||
        (!spec.intOnly && data.every((x) => Object.is(Math.fround(x), x) || !Number.isFinite(x)))
      )
        return new Tensor("float32", data, shape);
      return { data: Float64Array.from(data), shape };
    case "object":
    case "dims": {
      const key = choice === "object" ? "shape" : "dims";
      const arr = r.pick([
        () => [...data],
        () => Float64Array.from(data),
        () =>
          kind === "float" && data.every((x) => Object.is(Math.fround(x), x) || !Number.isFinite(x))
            ? Float32Array.from(data)
            : Float64Array.from(data),
        () => (int32 ? Int32Array.from(data) : Float64Array.from(data)),
        () => (safe ? BigInt64Array.from(data, (x) => BigInt(x)) : Float64Array.from(data)),
      ])();
      return { data: arr, [key]: [...shape] };
    }
    case "typed":
      if (shape.length === 1)
        return kind === "float"
          ? Float32Array.from(data)
          : int32
            ? Int32Array.from(data)
            : Float64Array.from(data);
      return nest(data, shape);
    default:
      return nest(data, shape);
  }
}

const ints = (r, n, lo, hi) => Array.from({ length: n }, () => r.int(lo, hi));
const floats = (r, n, scale = 1) =>
  Array.from({ length: n }, () => Math.fround(scale * r.normal()));
const spec = (kind, shape, data) => ({ kind, shape: [...shape], data });

// ------------------------------------------------------------------ valid inputs

/**
 * Valid inputs for a target: { specs: name -> spec, flags, past, dims }. Shapes follow what HF
 * accepts for the model (and what the engine documents).
 */
export function validInputs(r, t) {
  const c = t.config;
  const H = c.hidden_size,
    heads = c.num_attention_heads,
    d = H / heads,
    layers = c.num_hidden_layers;
  const maxPos = c.max_position_embeddings;
  const mc = t.key === "mc";
  const B = r.int(1, 4);
  const C = mc ? r.int(1, 4) : 1;
  const rows = mc ? [B, C] : [B];
  const dec = !!c.is_decoder;
  let P = 0;
  const usePast =
    (t.key === "dec" || t.key === "lm" || t.key === "enc") && r.chance(dec ? 0.3 : 0.1);
  if (usePast) P = r.int(1, 6);
  let S = r.chance(0.8) ? r.int(1, 10) : r.int(1, maxPos - P + 1);
  S = Math.max(1, Math.min(S, maxPos - P));
  // absolute positions: longer than the table is fine when position_ids (and token types) are given
  const long = (c.position_embedding_type ?? "absolute") === "absolute" && !mc && r.chance(0.04);
  if (long) S = maxPos - P + r.int(1, 6);
  const L = P + S;
  const specs = {};
  const useEmbeds = r.chance(0.15);
  if (useEmbeds)
    specs.inputs_embeds = spec("float", [...rows, S, H], floats(r, prod(rows) * S * H));
  else specs.input_ids = spec("int", [...rows, S], ints(r, prod(rows) * S, 0, c.vocab_size));
  if (r.chance(0.5)) {
    const three = !mc && r.chance(0.2);
    const shape = three ? [B, S, L] : [...rows, mc ? S : L];
    const soft = r.chance(0.1);
    specs.attention_mask = spec(
      "float",
      shape,
      Array.from({ length: prod(shape) }, () =>
        soft ? Math.fround(r.f()) : r.chance(0.8) ? 1 : 0,
      ),
    );
  }
  if (long || r.chance(0.4))
    specs.token_type_ids = spec("int", [...rows, S], ints(r, prod(rows) * S, 0, c.type_vocab_size));
  if (long || r.chance(0.25)) {
    const hi = P + S <= maxPos && r.chance(0.5) ? P + S : maxPos;
    const shape = mc ? [B, C, S] : r.pick([[B, S], [1, S], [S]]);
    specs.position_ids = spec("int", shape, ints(r, prod(shape), 0, hi));
  }
  if (r.chance(0.15)) {
    const shape = r.chance(0.5) ? [heads] : [layers, heads];
    specs.head_mask = spec(
      "float",
      shape,
      Array.from({ length: prod(shape) }, () =>
        r.chance(0.3) ? Math.fround(r.f()) : r.chance(0.8) ? 1 : 0,
      ),
    );
  }
  let Se = 0;
  const cross = dec && c.add_cross_attention;
  if (cross && r.chance(0.5)) {
    Se = r.int(1, 7);
    specs.encoder_hidden_states = spec("float", [B, Se, H], floats(r, B * Se * H));
    if (r.chance(0.5)) {
      const shape = r.chance(0.3) ? [B, S, Se] : [B, Se];
      specs.encoder_attention_mask = spec(
        "float",
        shape,
        Array.from({ length: prod(shape) }, () => (r.chance(0.8) ? 1 : 0)),
      );
    }
  } else if (!dec && t.key === "enc" && r.chance(0.05)) {
    // ignored by an encoder (as in HF): whatever it is
    specs.encoder_hidden_states = spec("float", [B, 2, H], floats(r, B * 2 * H));
  }
  let past = null;
  if (usePast) {
    const withCross = Se > 0 ? true : cross && r.chance(0.2);
    const Sc = Se > 0 ? Se : r.int(1, 4);
    past = Array.from({ length: layers }, () => {
      const l = [
        spec("float", [B, heads, P, d], floats(r, B * heads * P * d)),
        spec("float", [B, heads, P, d], floats(r, B * heads * P * d)),
      ];
      if (withCross)
        l.push(
          spec("float", [B, heads, Sc, d], floats(r, B * heads * Sc * d)),
          spec("float", [B, heads, Sc, d], floats(r, B * heads * Sc * d)),
        );
      return l;
    });
  }
  const flags = {};
  for (const f of ["output_attentions", "output_hidden_states", "return_dict"])
    if (r.chance(0.3)) flags[f] = r.chance(0.2) ? null : r.chance(0.5);
  if (dec && r.chance(0.4)) flags.use_cache = r.chance(0.5);
  // head arguments
  const V = c.vocab_size;
  const nl = t.key === "seq" ? 3 : t.key === "tok" ? 5 : 2;
  const label = (hi) => (r.chance(0.1) ? -100 : r.int(0, hi));
  if (HEAD_ARGS[t.key] && r.chance(0.4)) {
    if (t.key === "seq") {
      if (r.chance(0.3))
        specs.labels = spec(
          "float",
          [B, nl],
          Array.from({ length: B * nl }, () => Math.fround(r.f())),
        );
      else specs.labels = spec("int", [B], ints(r, B, 0, nl));
    } else if (t.key === "tok")
      specs.labels = spec(
        "int",
        [B, S],
        Array.from({ length: B * S }, () => label(nl)),
      );
    else if (t.key === "qa") {
      specs.start_positions = spec("int", [B], ints(r, B, -2, S + 3));
      specs.end_positions = spec("int", [B], ints(r, B, -2, S + 3));
    } else if (t.key === "nsp")
      specs[r.chance(0.8) ? "labels" : "next_sentence_label"] = spec("int", [B], ints(r, B, 0, 2));
    else if (t.key === "mc") specs.labels = spec("int", [B], ints(r, B, 0, C));
    else if (t.key === "mlm" || t.key === "lm")
      specs.labels = spec(
        "int",
        [B, S],
        Array.from({ length: B * S }, () => label(V)),
      );
    else if (t.key === "pre") {
      specs.labels = spec(
        "int",
        [B, S],
        Array.from({ length: B * S }, () => label(V)),
      );
      if (r.chance(0.8)) specs.next_sentence_label = spec("int", [B], ints(r, B, 0, 2));
    }
  }
  if (specs.labels && t.key === "seq" && specs.labels.kind === "int") specs.labels.intOnly = true;
  return {
    specs,
    flags,
    past,
    pastCache: null,
    dims: { B, C, S, P, L, Se, H, heads, d, layers, maxPos, nl },
  };
}

// ------------------------------------------------------------------ breaking them

const JUNK = () => [
  null,
  undefined,
  42,
  "text",
  true,
  Symbol("s"),
  7n,
  () => 1,
  new Map([["a", 1]]),
  new Set([1]),
  new Date(0),
  /re/,
  new ArrayBuffer(16),
  new DataView(new ArrayBuffer(16)),
  Promise.resolve(1),
  { length: 3 },
];
function deepList(depth) {
  let v = [[1]];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Applies one invalidating change. Returns { what, re } (the message must match re), or null when it does not apply. */
export function breakInputs(r, t, x) {
  const { specs, dims } = x;
  const { B, C, S, P, L, heads, layers, maxPos } = dims;
  const mc = t.key === "mc";
  const c = t.config;
  const crossModel = !!(c.is_decoder && c.add_cross_attention);
  const present = Object.keys(specs).filter((k) => crossModel || !k.startsWith("encoder_"));
  const floatsPresent = present.filter((k) => specs[k].kind === "float" && k !== "labels");
  const kind = r.weighted([
    [3, "ids-range"],
    [2, "ids-nonint"],
    [1, "ids-junk"],
    [1, "tt-range"],
    [1, "pid-range"],
    [3, "nonfinite"],
    [2, "ragged"],
    [2, "rank"],
    [1, "empty-batch"],
    [1, "seq0"],
    [2, "too-long"],
    [2, "mask-shape"],
    [1, "tt-shape"],
    [1, "pid-shape"],
    [2, "head-mask"],
    [1, "both-neither"],
    [1, "unexpected"],
    [1, "flag"],
    [0.5, "not-object"],
    [4, "container"],
    [2, "past"],
    [1.5, "encoder"],
    [2, "labels"],
  ]);
  const pickInt = () => ["input_ids", "token_type_ids", "position_ids"].filter((k) => specs[k]);
  switch (kind) {
    case "ids-range": {
      if (!specs.input_ids) return null;
      const s = specs.input_ids;
      const k = r.int(0, s.data.length);
      s.data[k] = r.pick([
        c.vocab_size,
        c.vocab_size + 1,
        -1,
        2 ** 31,
        2 ** 32 + 1,
        2 ** 53,
        -(2 ** 31),
        1e300,
      ]);
      return {
        what: `input_ids value ${s.data[k]}`,
        re: /input_ids\[[\d, ]+\] = \S+ is out of range/,
      };
    }
    case "ids-nonint": {
      const nm = r.pick(pickInt());
      if (!nm) return null;
      const s = specs[nm];
      s.data[r.int(0, s.data.length)] = r.pick([1.5, 0.1, NaN, Infinity, -Infinity, -0.5]);
      x.force = r.pick(["nested", "object", "tensor"]);
      return { what: `${nm} with a non-integer`, re: new RegExp(`${nm}.*(integers|number)`) };
    }
    case "ids-junk": {
      const nm = r.pick(pickInt());
      if (!nm) return null;
      const s = specs[nm];
      s.data[r.int(0, s.data.length)] = r.pick([
        "3",
        null,
        undefined,
        {},
        [],
        Symbol("x"),
        () => 1,
      ]);
      x.force = "nested";
      return { what: `${nm} holding a non-number`, re: new RegExp(`${nm}`) };
    }
    case "tt-range": {
      if (!specs.token_type_ids) return null;
      const s = specs.token_type_ids;
      s.data[r.int(0, s.data.length)] = r.pick([c.type_vocab_size, -1, 1000]);
      return {
        what: "token_type_ids out of range",
        re: /token_type_ids\[[\d, ]+\] = \S+ is out of range/,
      };
    }
    case "pid-range": {
      if (!specs.position_ids) return null;
      const s = specs.position_ids;
      s.data[r.int(0, s.data.length)] = r.pick([maxPos, -1, maxPos + 7]);
      return {
        what: "position_ids out of range",
        re: /position_ids\[[\d, ]+\] = \S+ is out of range/,
      };
    }
    case "nonfinite": {
      const cands = [...floatsPresent, ...(x.past && !x.pastCache ? ["past_key_values"] : [])];
      if (!cands.length) return null;
      const nm = r.pick(cands);
      const v = r.pick([NaN, Infinity, -Infinity]);
      if (nm === "past_key_values") {
        const l = r.int(0, x.past.length),
          j = r.int(0, x.past[l].length);
        x.past[l][j].data[r.int(0, x.past[l][j].data.length)] = v;
        return {
          what: `past_key_values[${l}][${j}] holding ${v}`,
          re: new RegExp(`past_key_values\\[${l}\\]\\[${j}\\].*not a finite number`),
        };
      }
      const s = specs[nm];
      s.data[r.int(0, s.data.length)] = v;
      return { what: `${nm} holding ${v}`, re: new RegExp(`${nm}.*not a finite number`) };
    }
    case "ragged": {
      const cands = present.filter(
        (k) => specs[k].shape.length >= 2 && specs[k].shape[specs[k].shape.length - 1] > 0,
      );
      if (!cands.length) return null;
      const nm = r.pick(cands);
      partnered(t, specs, nm, r, c, B, S);
      const s = specs[nm];
      let v = nest(s.data, s.shape);
      // walk to a random innermost row and change its length, or put a number in place of a row
      let holder = v;
      for (let k = 0; k < s.shape.length - 2; k++) holder = holder[r.int(0, holder.length)];
      if (holder.length < 2) return null; // one row: a different length is a different shape, not a ragged list
      const i = r.int(0, holder.length);
      const how = r.pick(["short", "long", "scalar", "deeper"]);
      if (how === "short") holder[i] = holder[i].slice(1);
      else if (how === "long") holder[i] = [...holder[i], 0];
      else if (how === "scalar") holder[i] = 0;
      else holder[i] = holder[i].map((y) => [y]);
      x.raw = { ...(x.raw ?? {}), [nm]: v };
      return { what: `${nm} ragged (${how})`, re: new RegExp(`${nm}.*(ragged|expected)`) };
    }
    case "rank": {
      const nm = r.pick(
        present.filter(
          (k) => !["labels", "start_positions", "end_positions", "next_sentence_label"].includes(k),
        ),
      );
      if (!nm) return null;
      const s = specs[nm];
      const n = s.shape.length;
      const valid = {
        input_ids: [mc ? 3 : 2],
        inputs_embeds: [mc ? 4 : 3],
        attention_mask: mc ? [3] : [2, 3],
        token_type_ids: [mc ? 3 : 2],
        position_ids: mc ? [3] : [1, 2],
        head_mask: [1, 2],
        encoder_hidden_states: [3],
        encoder_attention_mask: [2, 3],
      }[nm];
      if (!valid) return null;
      let shape;
      if (r.chance(0.5)) shape = [prod(s.shape)];
      else shape = [1, ...s.shape];
      if (valid.includes(shape.length)) shape = [...s.shape, 1];
      if (valid.includes(shape.length)) return null;
      if (n === shape.length) return null;
      s.shape = shape;
      return {
        what: `${nm} of rank ${shape.length}`,
        re: new RegExp(esc(nm).replace("input_ids", "input_ids|BertForMultipleChoice")),
      };
    }
    case "empty-batch": {
      const nm = specs.input_ids ? "input_ids" : "inputs_embeds";
      const s = specs[nm];
      s.shape[0] = 0;
      s.data = [];
      return { what: `${nm} with batch 0`, re: /empty|batch|input_ids|inputs_embeds|choices/ };
    }
    case "seq0": {
      if (x.past) return null;
      const nm = specs.input_ids ? "input_ids" : "inputs_embeds";
      const s = specs[nm];
      const ax = mc ? 2 : 1;
      s.shape[ax] = 0;
      s.data = [];
      for (const k of ["attention_mask", "token_type_ids", "position_ids"]) delete specs[k];
      // a nested list [[], []] loses the hidden size: then it is a wrongly shaped inputs_embeds
      return {
        what: `${nm} with sequence length 0`,
        re:
          nm === "input_ids"
            ? /sequence is empty|sequence length 0/
            : /sequence is empty|sequence length 0|inputs_embeds/,
      };
    }
    case "too-long": {
      const nm = specs.input_ids ? "input_ids" : "inputs_embeds";
      const s = specs[nm];
      const S2 = maxPos - P + r.int(1, 6);
      const ax = mc ? 2 : 1;
      const lead = prod(s.shape.slice(0, ax));
      const tail = prod(s.shape.slice(ax + 1));
      s.shape[ax] = S2;
      s.data =
        nm === "input_ids" ? ints(r, lead * S2, 0, c.vocab_size) : floats(r, lead * S2 * tail);
      for (const k of [
        "attention_mask",
        "token_type_ids",
        "position_ids",
        "labels",
        "encoder_attention_mask",
      ])
        delete specs[k];
      return {
        what: `sequence ${S2}${P ? ` after ${P} cached` : ""} past max_position_embeddings ${maxPos}`,
        re: /max_position_embeddings/,
      };
    }
    case "mask-shape": {
      const shape = mc
        ? r.pick([
            [B, C, S + 1],
            [B + 1, C, S],
            [B, C + 1, S],
          ])
        : r.pick([
            [B, L + 1],
            [B + 1, L],
            [B, S, L + 1],
            [B, S + 1, L],
            [B + 1, S, L],
            ...(P ? [[B, S]] : []),
          ]);
      specs.attention_mask = spec("float", shape, Array(prod(shape)).fill(1));
      if (mc && shape[1] !== C)
        return { what: "attention_mask with other choices", re: /attention_mask.*choices|choices/ };
      return { what: `attention_mask [${shape}] for [${B}, ${S}]`, re: /attention_mask/ };
    }
    case "tt-shape": {
      const shape = mc ? [B, C, S + 1] : r.pick([[B, S + 1], [B + 1, S], [S]]);
      specs.token_type_ids = spec("int", shape, Array(prod(shape)).fill(0));
      return { what: `token_type_ids [${shape}]`, re: /token_type_ids/ };
    }
    case "pid-shape": {
      const shape = mc ? [B, C, S + 1] : r.pick([[B + 1, S], [S + 1], [B, S + 1], [B, S, 1]]);
      if (!mc && shape.length === 2 && shape[0] === B + 1 && B + 1 === 1) return null;
      specs.position_ids = spec("int", shape, Array(prod(shape)).fill(0));
      return { what: `position_ids [${shape}]`, re: /position_ids/ };
    }
    case "head-mask": {
      const shape = r.pick([
        [heads + 1],
        [layers + 1, heads],
        [heads, layers],
        [1, heads],
        [layers, heads, 1],
        [],
        [0],
      ]);
      if (
        (shape.length === 2 && shape[0] === layers && shape[1] === heads) ||
        (shape.length === 1 && shape[0] === heads)
      )
        return null;
      specs.head_mask = spec("float", shape, Array(prod(shape)).fill(1));
      return { what: `head_mask [${shape}]`, re: /head_mask/ };
    }
    case "both-neither": {
      if (r.chance(0.5)) {
        const rows = mc ? [B, C] : [B];
        specs.input_ids = spec("int", [...rows, S], ints(r, prod(rows) * S, 0, c.vocab_size));
        specs.inputs_embeds = spec(
          "float",
          [...rows, S, c.hidden_size],
          floats(r, prod(rows) * S * c.hidden_size),
        );
        return {
          what: "both input_ids and inputs_embeds",
          re: /both input_ids and inputs_embeds|input_ids/,
        };
      }
      delete specs.input_ids;
      delete specs.inputs_embeds;
      return {
        what: "neither input_ids nor inputs_embeds",
        re: /input_ids or inputs_embeds|input_ids/,
      };
    }
    case "unexpected": {
      const k = r.pick([
        "input_id",
        "attention_masks",
        "foo",
        "__proto__",
        "constructor",
        "toString",
        ...(t.key === "enc" ? ["labels"] : []),
        ...(t.key === "seq" ? ["past_key_values", "encoder_hidden_states"] : []),
      ]);
      x.extra = { [k]: r.pick([1, [[1]], "x"]) };
      return {
        what: `unexpected argument ${k}`,
        re: new RegExp(`unexpected argument "${esc(k)}"`),
      };
    }
    case "flag": {
      const f = r.pick(["output_attentions", "output_hidden_states", "return_dict", "use_cache"]);
      if (f === "use_cache" && t.key === "lm" && specs.labels) return null; // HF: labels turn use_cache off, whatever it was
      x.flags[f] = r.pick(["yes", 1, 0, {}, [], "false"]);
      return { what: `${f} = ${show(x.flags[f])}`, re: new RegExp(f) };
    }
    case "not-object": {
      x.whole = r.pick([null, undefined, 42, "text", true, Symbol("s"), 3n]);
      return { what: `forward(${String(x.whole)})`, re: /forward|input_ids|unexpected argument/ };
    }
    case "container": {
      const nm = r.pick(present);
      if (!nm) return null;
      if (!partnered(t, specs, nm, r, c, B, S)) return null;
      const s = specs[nm];
      const how = r.pick([
        "shape-product",
        "shape-neg",
        "shape-nan",
        "shape-string",
        "shape-float",
        "shape-huge",
        "shape-notarray",
        "data-junk",
        "fake-arraylike",
        "dataview",
        "mutated-tensor",
        "junk",
        "deep",
      ]);
      let v;
      const arr = s.kind === "float" ? Float32Array.from(s.data) : Float64Array.from(s.data);
      switch (how) {
        case "shape-product":
          v = { data: arr, shape: [...s.shape.slice(0, -1), (s.shape.at(-1) ?? 1) + 1] };
          break;
        case "shape-neg":
          v = {
            data: arr,
            shape:
              s.shape.length >= 2
                ? [-s.shape[0], -s.shape[1], ...s.shape.slice(2)]
                : [-1, -arr.length],
          };
          break;
        case "shape-nan":
          v = { data: arr, shape: [NaN, ...s.shape.slice(1)] };
          break;
        case "shape-string":
          v = { data: arr, shape: s.shape.map(String) };
          break;
        case "shape-float":
          v = {
            data: arr,
            shape: [s.shape[0] * 2, ...s.shape.slice(1, -1), (s.shape.at(-1) ?? 1) / 2],
          };
          break;
        case "shape-huge":
          v = { data: arr, shape: [2 ** 53, 2 ** 53, 0, ...s.shape] };
          break;
        case "shape-notarray":
          v = { data: arr, shape: r.pick([null, 3, "2,3", { 0: 1 }]) };
          break;
        case "data-junk":
          v = {
            data: r.pick([null, undefined, 42, "abcdef", {}, Symbol("d")]),
            shape: [...s.shape],
          };
          break;
        case "fake-arraylike":
          v = { data: { length: 2 ** 40 }, shape: [2 ** 20, 2 ** 20] };
          break;
        case "dataview":
          v = new DataView(arr.buffer);
          break;
        case "mutated-tensor": {
          const tt = new Tensor(
            "float32",
            Float32Array.from(s.data, (y) => (Number.isFinite(y) ? y : 0)),
            s.shape,
          );
          if (r.chance(0.5)) tt.shape.push(2);
          else tt.shape[0] += 1;
          v = tt;
          break;
        }
        case "junk":
          v = r.pick(JUNK());
          break;
        case "deep":
          v = deepList(r.pick([100, 100000]));
          break;
      }
      if (how === "shape-float" && s.shape.at(-1) % 2 === 0) return null; // still a valid shape
      if (how === "shape-product" && s.shape.at(-1) === undefined) return null;
      if (v === null || v === undefined) return null; // an absent input is valid (defaults)
      x.raw = { ...(x.raw ?? {}), [nm]: v };
      // NSP reads next_sentence_label as its (deprecated) name for labels
      const named =
        t.key === "nsp" && nm === "next_sentence_label"
          ? "labels"
          : esc(nm).replace("input_ids", "input_ids|BertForMultipleChoice");
      return { what: `${nm} as ${how}`, re: new RegExp(named) };
    }
    case "past": {
      if (!["enc", "dec", "lm", "rel"].includes(t.key)) return null;
      const d = dims.d;
      const good = () => [
        spec("float", [B, heads, 2, d], floats(r, B * heads * 2 * d)),
        spec("float", [B, heads, 2, d], floats(r, B * heads * 2 * d)),
      ];
      const how = r.pick([
        "junk",
        "layers",
        "layer-junk",
        "arity",
        "shape",
        "rank",
        "lengths",
        "cross-lengths",
        "tensor-junk",
      ]);
      let v;
      if (how === "junk") v = r.pick([42, "x", {}, true, new Map()]);
      else if (how === "layers")
        v = Array.from({ length: r.pick([0, layers - 1, layers + 1]) }, good);
      else {
        const L2 = Array.from({ length: layers }, good);
        const l = r.int(0, layers);
        if (how === "layer-junk") L2[l] = r.pick([42, "x", null, {}]);
        else if (how === "arity") L2[l] = r.pick([[L2[l][0]], [...L2[l], L2[l][0]], []]);
        else if (how === "shape") {
          const sh = [B, heads, 2, d];
          sh[r.pick([0, 1, 3])] += r.pick([1, -1]);
          if (sh.some((z) => z <= 0)) sh[sh.findIndex((z) => z <= 0)] = 7;
          L2[l][r.int(0, 2)] = spec("float", sh, floats(r, prod(sh)));
        } else if (how === "rank")
          L2[l][r.int(0, 2)] = spec("float", [B, heads, 2 * d], floats(r, B * heads * 2 * d));
        else if (how === "lengths")
          L2[l] = [
            spec("float", [B, heads, 3, d], floats(r, B * heads * 3 * d)),
            spec("float", [B, heads, 3, d], floats(r, B * heads * 3 * d)),
          ];
        else if (how === "cross-lengths")
          L2[l] = [
            ...L2[l],
            spec("float", [B, heads, 2, d], floats(r, B * heads * 2 * d)),
            spec("float", [B, heads, 3, d], floats(r, B * heads * 3 * d)),
          ];
        else L2[l][r.int(0, 2)] = r.pick([null, 42, "x", { data: [1], shape: [7] }]);
        if (how === "lengths" && layers === 1) return null;
        v = L2;
      }
      x.past = null;
      x.pastCache = null;
      x.rawPast = v;
      if (how === "tensor-junk" && v.some((l) => Array.isArray(l) && l.some((q) => q === null)))
        return { what: "past_key_values with a null tensor", re: /past_key_values/ };
      if (2 + S > maxPos)
        return { what: `past_key_values ${how}`, re: /past_key_values|max_position_embeddings/ };
      return { what: `past_key_values ${how}`, re: /past_key_values/ };
    }
    case "encoder": {
      if (t.key !== "dec") return null;
      const H = c.hidden_size;
      if (x.past) {
        // without a cache: its cross-attention part would have to match the new encoder states
        x.past = null;
        x.pastCache = null;
        delete specs.attention_mask;
        x.dims.P = 0;
        x.dims.L = S;
      }
      const how = r.pick(["hidden", "batch", "empty", "mask", "rank"]);
      if (how === "hidden")
        specs.encoder_hidden_states = spec("float", [B, 2, H + 1], floats(r, B * 2 * (H + 1)));
      else if (how === "batch")
        specs.encoder_hidden_states = spec("float", [B + 1, 2, H], floats(r, (B + 1) * 2 * H));
      else if (how === "empty") specs.encoder_hidden_states = spec("float", [B, 0, H], []);
      else if (how === "rank")
        specs.encoder_hidden_states = spec("float", [B * 2, H], floats(r, B * 2 * H));
      else {
        const Se = specs.encoder_hidden_states ? specs.encoder_hidden_states.shape[1] : 2;
        if (!specs.encoder_hidden_states)
          specs.encoder_hidden_states = spec("float", [B, 2, H], floats(r, B * 2 * H));
        const shape = r.pick([[B, Se + 1], [B + 1, Se], [B, S + 1, Se], [Se], [B, S, Se, 1]]);
        specs.encoder_attention_mask = spec("float", shape, Array(prod(shape)).fill(1));
        return { what: `encoder_attention_mask [${shape}]`, re: /encoder_attention_mask/ };
      }
      delete specs.encoder_attention_mask;
      return { what: `encoder_hidden_states ${how}`, re: /encoder_hidden_states/ };
    }
    case "labels": {
      const names = HEAD_ARGS[t.key];
      if (!names) return null;
      const nm = r.pick(names);
      const how = r.pick(["length", "range", "nan", "junk"]);
      if (t.key === "nsp" && nm === "next_sentence_label") delete specs.labels;
      const n = {
        seq: B,
        tok: B * S,
        qa: B,
        nsp: B,
        mc: B,
        mlm: B * S,
        pre: nm === "labels" ? B * S : B,
        lm: B * S,
      }[t.key];
      const classes = {
        seq: 3,
        tok: 5,
        nsp: 2,
        mc: C,
        mlm: c.vocab_size,
        pre: nm === "labels" ? c.vocab_size : 2,
        lm: c.vocab_size,
      }[t.key];
      if (t.key === "qa" && how === "range") return null; // positions are clamped, as in HF
      if (t.key === "seq" && how === "length") {
        specs.labels = spec("int", [B + 1], ints(r, B + 1, 0, 3));
      } else if (how === "length") specs[nm] = spec("int", [n + 1], ints(r, n + 1, 0, 2));
      else if (how === "range")
        specs[nm] = spec(
          "int",
          [n],
          Array.from({ length: n }, (_, k) =>
            k === 0 ? r.pick([classes, classes + 3, -1, -5]) : 0,
          ),
        );
      else if (how === "nan")
        specs[nm] = spec(
          "float",
          [n],
          Array.from({ length: n }, (_, k) => (k === 0 ? NaN : 0)),
        );
      else {
        x.raw = { ...(x.raw ?? {}), [nm]: r.pick(["x", {}, 42, Symbol("l")]) };
        specs[nm] = spec("int", [1], [0]);
      }
      // the loss needs both of these
      if (t.key === "qa") {
        const other = nm === "start_positions" ? "end_positions" : "start_positions";
        if (!specs[other]) specs[other] = spec("int", [B], ints(r, B, 0, S));
      }
      if (t.key === "pre") {
        const other = nm === "labels" ? "next_sentence_label" : "labels";
        if (!specs[other])
          specs[other] =
            other === "labels"
              ? spec("int", [B, S], ints(r, B * S, 0, c.vocab_size))
              : spec("int", [B], ints(r, B, 0, 2));
      }
      if (t.key === "seq" && how === "nan") return { what: "labels with NaN", re: /labels/ };
      return {
        what: `${nm} ${how}`,
        re: new RegExp(
          `${nm === "next_sentence_label" && t.key === "nsp" ? "labels|next_sentence_label" : nm}`,
        ),
      };
    }
  }
  return null;
}

/**
 * HF reads some head arguments only together (PreTraining's two labels, QA's two positions) or one
 * instead of another (NSP: labels over next_sentence_label): makes sure `nm` is read.
 */
function partnered(t, specs, nm, r, c, B, S) {
  if (t.key === "nsp" && nm === "next_sentence_label") delete specs.labels;
  if (t.key === "pre" && (nm === "labels" || nm === "next_sentence_label")) {
    if (!specs.labels) specs.labels = spec("int", [B, S], ints(r, B * S, 0, c.vocab_size));
    if (!specs.next_sentence_label) specs.next_sentence_label = spec("int", [B], ints(r, B, 0, 2));
  }
  if (t.key === "qa" && (nm === "start_positions" || nm === "end_positions")) {
    for (const k of ["start_positions", "end_positions"])
      if (!specs[k]) specs[k] = spec("int", [B], ints(r, B, 0, S));
  }
  return true;
}

// ------------------------------------------------------------------ building the call

export function buildCall(r, x) {
  if ("whole" in x) return { inputs: x.whole, ref: null };
  const inputs = {};
  const ref = {};
  for (const [k, s] of Object.entries(x.specs)) {
    inputs[k] = container(r, s, x.force);
    ref[k] = { data: s.data, shape: s.shape };
  }
  if (x.raw) for (const [k, v] of Object.entries(x.raw)) inputs[k] = v;
  if (x.pastCache) {
    inputs.past_key_values = x.pastCache;
    ref.past_key_values = x.past.map((l) => l.map((s) => ({ data: s.data, shape: s.shape })));
  } else if (x.past) {
    inputs.past_key_values = x.past.map((l) => l.map((s) => container(r, s)));
    ref.past_key_values = x.past.map((l) => l.map((s) => ({ data: s.data, shape: s.shape })));
  } else if ("rawPast" in x) {
    inputs.past_key_values = Array.isArray(x.rawPast)
      ? x.rawPast.map((l) =>
          Array.isArray(l) ? l.map((s) => (s && s.kind ? container(r, s) : s)) : l,
        )
      : x.rawPast;
  }
  for (const [k, v] of Object.entries(x.flags)) {
    inputs[k] = v;
    ref[k] = v;
  }
  if (x.extra)
    for (const [k, v] of Object.entries(x.extra))
      Object.defineProperty(inputs, k, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  return { inputs, ref };
}

// ------------------------------------------------------------------ checking answers

const TOL = { atol: 2e-4, rtol: 1e-3 };

/** Compares a field (Tensor, or nested arrays of Tensors) with reference {data, shape} values. */
function compare(got, want, path, errs) {
  if (want === null || want === undefined) {
    if (got !== null && got !== undefined) errs.push(`${path}: present, HF has none`);
    return;
  }
  if (got === null || got === undefined) return errs.push(`${path}: missing`);
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length)
      return errs.push(
        `${path}: ${Array.isArray(got) ? got.length : typeof got} entries, HF has ${want.length}`,
      );
    want.forEach((w, i) => compare(got[i], w, `${path}[${i}]`, errs));
    return;
  }
  if (!(got instanceof Tensor)) return errs.push(`${path}: not a Tensor`);
  if (got.shape.join() !== want.shape.join())
    return errs.push(`${path}: shape [${got.shape}] vs HF's [${want.shape}]`);
  const c = closeness(got.data, want.data, TOL.atol, TOL.rtol);
  if (!(c <= 1))
    errs.push(`${path}: differs from the float64 reference (closeness ${c.toExponential(2)})`);
}

/** BertModel's output fields by name, from a ModelOutput or HF's return_dict=False tuple. */
function fieldsOf(out, t, args) {
  if (!Array.isArray(out)) return out;
  const c = t.config;
  const f = { last_hidden_state: out[0], pooler_output: out[1] };
  let k = 2;
  if (args.useCache) f.past_key_values = out[k++];
  if (args.outHid) f.hidden_states = out[k++];
  if (args.outAtt) f.attentions = out[k++];
  if (args.outAtt && c.add_cross_attention) f.cross_attentions = out[k++];
  if (out.length !== k) f.extra = out.slice(k);
  return f;
}

function effective(t, flags) {
  const c = t.config;
  const pick = (v, d) => (v === null || v === undefined ? d : v);
  return {
    outAtt: pick(flags.output_attentions, !!c.output_attentions),
    outHid: pick(flags.output_hidden_states, !!c.output_hidden_states),
    returnDict: pick(flags.return_dict, true),
    useCache: !!c.is_decoder && pick(flags.use_cache, true),
  };
}

async function checkBertModel(t, out, x, ref, errs) {
  const args = effective(t, x.flags);
  if (Array.isArray(out) === args.returnDict)
    errs.push(
      `return_dict ${args.returnDict} but got ${Array.isArray(out) ? "a tuple" : "a ModelOutput"}`,
    );
  const f = fieldsOf(out, t, args);
  const want = bertForward64(t.config, t.fx.encoder, ref);
  if (f.extra) errs.push(`tuple has ${f.extra.length} extra entries`);
  compare(f.last_hidden_state, want.last_hidden_state, "last_hidden_state", errs);
  if (t.pooled) compare(f.pooler_output, want.pooler_output, "pooler_output", errs);
  else if (f.pooler_output) errs.push("pooler_output present without a pooler");
  compare(f.hidden_states, want.hidden_states, "hidden_states", errs);
  compare(f.attentions, want.attentions, "attentions", errs);
  compare(f.cross_attentions ?? null, want.cross_attentions, "cross_attentions", errs);
  compare(f.past_key_values ?? null, want.past_key_values, "past_key_values", errs);
  return f;
}

/** Head outputs by name, from a ModelOutput or a tuple. */
function headFields(out, t, hasLoss, args) {
  if (!Array.isArray(out)) return out;
  const f = {};
  let k = 0;
  if (hasLoss) f.loss = out[k++];
  const names = {
    qa: ["start_logits", "end_logits"],
    pre: ["prediction_logits", "seq_relationship_logits"],
  }[t.key] ?? ["logits"];
  for (const n of names) f[n] = out[k++];
  if (t.key === "lm" && args.useCache) f.past_key_values = out[k++];
  if (args.outHid) f.hidden_states = out[k++];
  if (args.outAtt) f.attentions = out[k];
  return f;
}

const tensor64 = (data, shape) => ({ data, shape });

async function checkHead(t, out, x, ref, errs) {
  const { B, C, S } = x.dims;
  const c = t.config;
  const H = c.hidden_size;
  const lossArgs = HEAD_ARGS[t.key];
  const hasLabels = lossArgs.filter((k) => ref[k]);
  const hasLoss = t.key === "qa" || t.key === "pre" ? hasLabels.length === 2 : hasLabels.length > 0;
  const args = effective(t, x.flags);
  if (t.key === "lm" && ref.labels) args.useCache = false;
  if (Array.isArray(out) === args.returnDict)
    errs.push(
      `return_dict ${args.returnDict} but got ${Array.isArray(out) ? "a tuple" : "a ModelOutput"}`,
    );
  const f = headFields(out, t, hasLoss, args);
  // the encoder's own outputs on the same inputs (BertModel with the same weights)
  const bertIn = {};
  for (const k of [
    "input_ids",
    "inputs_embeds",
    "attention_mask",
    "token_type_ids",
    "position_ids",
    "head_mask",
    "past_key_values",
    "output_attentions",
    "output_hidden_states",
  ]) {
    if (ref[k] !== undefined) bertIn[k] = ref[k];
  }
  if (x.flags.use_cache !== undefined && t.key === "lm") bertIn.use_cache = x.flags.use_cache;
  if (t.key === "lm" && ref.labels) bertIn.use_cache = false;
  if (t.key === "mc") {
    for (const k of [
      "input_ids",
      "inputs_embeds",
      "attention_mask",
      "token_type_ids",
      "position_ids",
    ]) {
      if (bertIn[k])
        bertIn[k] = { data: bertIn[k].data, shape: [B * C, ...bertIn[k].shape.slice(2)] };
    }
  }
  const base = await t.base.forward({ ...bertIn, return_dict: true });
  const rows = (t.key === "mc" ? B * C : B) * S;
  const hidden = base.last_hidden_state.data;
  const pooled = base.pooler_output?.data;
  const W = (n) => t.fx.tensors.get(n).data;
  let logits = {};
  switch (t.key) {
    case "seq":
      logits.logits = tensor64(
        linear64(pooled, B, W("classifier.weight"), W("classifier.bias"), 3, H),
        [B, 3],
      );
      break;
    case "tok":
      logits.logits = tensor64(
        linear64(hidden, rows, W("classifier.weight"), W("classifier.bias"), 5, H),
        [B, S, 5],
      );
      break;
    case "qa": {
      const both = linear64(hidden, rows, W("qa_outputs.weight"), W("qa_outputs.bias"), 2, H);
      logits.start_logits = tensor64(
        both.filter((_, i) => i % 2 === 0),
        [B, S],
      );
      logits.end_logits = tensor64(
        both.filter((_, i) => i % 2 === 1),
        [B, S],
      );
      break;
    }
    case "nsp":
      logits.logits = tensor64(
        linear64(pooled, B, W("cls.seq_relationship.weight"), W("cls.seq_relationship.bias"), 2, H),
        [B, 2],
      );
      break;
    case "mc":
      logits.logits = tensor64(
        linear64(pooled, B * C, W("classifier.weight"), W("classifier.bias"), 1, H),
        [B, C],
      );
      break;
    case "mlm":
    case "lm":
      logits.logits = tensor64(mlm64(t.fx, hidden, rows), [B, S, c.vocab_size]);
      break;
    case "pre":
      logits.prediction_logits = tensor64(mlm64(t.fx, hidden, rows), [B, S, c.vocab_size]);
      logits.seq_relationship_logits = tensor64(
        linear64(pooled, B, W("cls.seq_relationship.weight"), W("cls.seq_relationship.bias"), 2, H),
        [B, 2],
      );
      break;
  }
  for (const [k, v] of Object.entries(logits)) compare(f[k], v, k, errs);
  compare(
    f.hidden_states ?? null,
    args.outHid ? base.hidden_states.map((h) => tensor64(h.data, h.shape)) : null,
    "hidden_states",
    errs,
  );
  compare(
    f.attentions ?? null,
    args.outAtt ? base.attentions.map((h) => tensor64(h.data, h.shape)) : null,
    "attentions",
    errs,
  );
  // the loss, from the model's own logits in float64
  if (!hasLoss) {
    if (f.loss) errs.push("loss present without labels");
    return;
  }
  if (!(f.loss instanceof Tensor)) return errs.push("loss missing");
  const L = (k) => ref[k].data;
  let want;
  const lg = (k) => f[k].data;
  switch (t.key) {
    case "seq":
      if (ref.labels.shape.length === 2) {
        const y = L("labels"),
          xx = lg("logits");
        let s = 0;
        for (let i = 0; i < xx.length; i++)
          s += Math.max(xx[i], 0) - xx[i] * y[i] + Math.log1p(Math.exp(-Math.abs(xx[i])));
        want = s / xx.length;
      } else want = crossEntropy64(lg("logits"), 3, L("labels"));
      break;
    case "tok":
      want = crossEntropy64(lg("logits"), 5, L("labels"));
      break;
    case "nsp":
      want = crossEntropy64(lg("logits"), 2, ref.labels ? L("labels") : L("next_sentence_label"));
      break;
    case "mc":
      want = crossEntropy64(lg("logits"), C, L("labels"));
      break;
    case "mlm":
      want = crossEntropy64(lg("logits"), c.vocab_size, L("labels"));
      break;
    case "pre":
      want =
        crossEntropy64(lg("prediction_logits"), c.vocab_size, L("labels")) +
        crossEntropy64(lg("seq_relationship_logits"), 2, L("next_sentence_label"));
      break;
    case "qa": {
      const clamp = (p) => p.map((v) => Math.min(Math.max(v, 0), S));
      want =
        (crossEntropy64(lg("start_logits"), S, clamp(L("start_positions")), S) +
          crossEntropy64(lg("end_logits"), S, clamp(L("end_positions")), S)) /
        2;
      break;
    }
    case "lm": {
      const V = c.vocab_size,
        lx = lg("logits"),
        y = L("labels");
      const sc = [],
        tg = [];
      for (let b = 0; b < B; b++)
        for (let s = 0; s + 1 < S; s++) {
          for (let v = 0; v < V; v++) sc.push(lx[(b * S + s) * V + v]);
          tg.push(y[b * S + s + 1]);
        }
      want = crossEntropy64(sc, V, tg);
      break;
    }
  }
  const got = f.loss.data[0];
  if (
    !(Number.isNaN(want) ? Number.isNaN(got) : Math.abs(got - want) <= 1e-4 + 1e-4 * Math.abs(want))
  )
    errs.push(`loss ${got} vs ${want} (float64 from the logits)`);
}

// ------------------------------------------------------------------ the surface

/** Inputs whose answers a fresh engine gives, per target (probes run after every rejection). */
function probes(t) {
  const c = t.config;
  const r = new Rand(1234);
  const mk = (B, S, extra = {}) => {
    const shape = t.key === "mc" ? [B, 2, S] : [B, S];
    return { input_ids: nest(ints(r, prod(shape), 0, c.vocab_size), shape), ...extra };
  };
  return [
    mk(1, 3),
    mk(2, 7, { output_attentions: true }),
    mk(3, Math.min(20, c.max_position_embeddings), { output_hidden_states: true }),
  ];
}
export const primary = (out) =>
  Array.isArray(out)
    ? out[0]
    : (out.last_hidden_state ?? out.logits ?? out.start_logits ?? out.prediction_logits);

export async function setup() {
  console.warn = () => {};
  const targets = [];
  for (const [key, cls, config, opts] of TARGETS) {
    const fx = fixture(cls, config, 40 + targets.length);
    const Cls = CLASSES[cls];
    const load = () => Cls.fromPretrained(fx.files, { ...quiet, ...opts });
    const model = await load();
    const fresh = await load();
    const pr = probes({ key, config: fx.config });
    const answers = [];
    for (const p of pr) answers.push(primary(await fresh.forward(p)).data);
    const base =
      cls === "BertModel"
        ? null
        : await BertModel.fromPretrained(fx.files, { ...quiet, addPoolingLayer: POOLED.has(key) });
    targets.push({
      key,
      cls,
      config: fx.config,
      fx,
      model,
      base,
      probes: pr,
      answers,
      pooled: cls !== "BertModel" || opts.addPoolingLayer !== false,
      last: null,
    });
  }
  return { targets, byKey: Object.fromEntries(targets.map((t) => [t.key, t])) };
}

/** After a rejected call: no memory growth, and a probe answers as a fresh engine does. */
async function afterRejection(t, r, ctx, before, label) {
  const grown = t.model.engine.memoryBytes - before;
  if (grown) {
    ctx.stats.add("memGrowthBytes", grown);
    ctx.stats.fail(
      "memGrowth",
      ctx.i,
      `${label}: the rejected call grew ${t.cls}'s memory by ${grown} bytes`,
    );
  }
  const k = r.int(0, t.probes.length);
  const [out, err, ok] = await attempt(() => t.model.forward(t.probes[k]));
  ctx.stats.add("checks");
  if (!ok)
    return ctx.stats.fail(
      err instanceof InputError ? "wrong" : "crashes",
      ctx.i,
      `${label}: the probe call after the rejection failed: ${err?.name}: ${err?.message}`,
    );
  if (!sameBits(primary(out).data, t.answers[k]))
    ctx.stats.fail(
      "wrong",
      ctx.i,
      `${label}: after the rejected call, probe ${k} is not bit-identical to a fresh engine's answer`,
    );
}

export async function runCase(state, r, ctx) {
  const { stats, i } = ctx;
  const key = r.weighted(Object.entries(WEIGHTS).map(([k, w]) => [w, k]));
  const t = state.byKey[key];
  const x = validInputs(r, t);
  // a decoder may continue from its last returned cache (the engine's in-place path)
  const reuse = r.chance(0.3);
  if ((key === "dec" || key === "lm") && t.last && reuse) {
    const prev = t.last;
    const P = prev.length_,
      B = prev[0][0].shape[0];
    if (B === x.dims.B && P + x.dims.S <= x.dims.maxPos && key !== "mc") {
      const hasCross = prev[0].length === 4;
      const Se = x.specs.encoder_hidden_states?.shape[1] ?? 0;
      if ((!hasCross && !Se) || (hasCross && (!Se || prev[0][2].shape[2] === Se))) {
        x.past = prev.map((l) => l.map((tt) => spec("float", tt.shape, Array.from(tt.data))));
        x.pastCache = prev;
        x.dims.P = P;
        x.dims.L = P + x.dims.S;
        if (x.specs.attention_mask) delete x.specs.attention_mask;
        if (x.specs.position_ids) delete x.specs.position_ids;
      }
    }
  }
  let expect = null;
  const nBreak = r.chance(0.4) ? 0 : 1;
  for (let k = 0; k < nBreak && !expect; k++) {
    for (let tries = 0; tries < 6 && !expect; tries++) expect = breakInputs(r, t, x);
  }
  const { inputs, ref } = buildCall(r, x);
  const label = `${t.cls}(${t.key}): ${expect ? expect.what : "valid inputs"}`;
  if (ctx.verbose) ctx.log(`case ${i}: ${label}\n  inputs: ${show(inputs, 2000)}`);
  stats.add("tried");
  const before = t.model.engine.memoryBytes;
  const [out, err, ok] = await attempt(() => t.model.forward(inputs));
  const fault = judge(ctx, expect ? { ...expect, type: InputError } : null, err, ok, label);
  if (!ok) return afterRejection(t, r, ctx, before, label);
  if (fault) return;
  const errs = [];
  if (t.cls === "BertModel") {
    const f = await checkBertModel(t, out, x, ref, errs);
    if (f?.past_key_values instanceof KVCache) t.last = f.past_key_values;
  } else {
    await checkHead(t, out, x, ref, errs);
    if (key === "lm") {
      const pk = Array.isArray(out) ? null : out.past_key_values;
      if (pk instanceof KVCache) t.last = pk;
    }
  }
  stats.add("checks");
  if (errs.length)
    stats.fail(
      "wrong",
      i,
      `${label}: ${errs.slice(0, 4).join("; ")}\n  inputs: ${show(inputs, 1500)}`,
    );
}

/**
 * 10,000 rejected calls in a row on each of three models (an encoder, a decoder with a cache, a
 * head): the memory may not grow, and the next call answers as a fresh engine.
 */
export async function finish(state, ctx) {
  const { stats } = ctx;
  for (const key of ["enc", "dec", "seq"]) {
    const t = state.byKey[key];
    const r = new Rand(ctx.seed ^ 0x5eed);
    const bad = [];
    while (bad.length < 200) {
      const x = validInputs(r, t);
      const e = breakInputs(r, t, x);
      // only calls rejected before the model runs (labels are checked against the outputs)
      if (e && !/labels|positions/.test(e.what)) bad.push(buildCall(r, x).inputs);
    }
    await t.model.forward(t.probes[2]);
    const before = t.model.engine.memoryBytes;
    let rejected = 0;
    for (let n = 0; n < 10000; n++) {
      if (ctx.beat && n % 500 === 0) ctx.beat(n);
      const [, err, ok] = await attempt(() => t.model.forward(bad[n % bad.length]));
      if (!ok && err instanceof InputError) rejected++;
    }
    stats.add("tried", 10000);
    stats.add("rejected", rejected);
    const grown = t.model.engine.memoryBytes - before;
    ctx.log(
      `soak ${t.cls}(${key}): ${rejected} of 10000 calls rejected, memory ${before} -> ${t.model.engine.memoryBytes} bytes`,
    );
    if (grown) {
      stats.add("memGrowthBytes", grown);
      stats.fail(
        "memGrowth",
        -1,
        `10,000 rejected calls grew ${t.cls}(${key})'s memory by ${grown} bytes`,
      );
    }
    await afterRejection(
      t,
      r,
      { ...ctx, i: -1 },
      t.model.engine.memoryBytes,
      `after 10,000 rejected calls on ${key}`,
    );
  }
}

export const surface = { name, setup, run: runCase, finish };
