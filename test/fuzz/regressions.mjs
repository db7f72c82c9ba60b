// The inputs the fuzzers found bugs with, replayed exactly on every test run. Each entry throws
// when the bug is back. (Run by test/fuzz.test.mjs.)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BertConfig,
  BertModel,
  BertForPreTraining,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BufferSource,
  ConfigError,
  Engine,
  InputError,
  SafetensorsError,
  Tensor,
  WeightsError,
} from "../../dist/index.js";
import { bertForward64, fixture, quiet } from "./models.mjs";
import { closeness, largestAllocation, watchAllocations } from "./lib.mjs";

async function rejects(fn, type, re) {
  let err = null;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected a ${type.name} matching ${re}, the call succeeded`);
  if (!(err instanceof type))
    throw new Error(`expected a ${type.name}, got ${err.name}: ${err.message}`);
  if (!re.test(err.message))
    throw new Error(`expected a message matching ${re}, got: ${err.message}`);
}

function file(headerText, dataLen = 0) {
  const json = new TextEncoder().encode(headerText);
  const f = new Uint8Array(8 + json.length + dataLen);
  new DataView(f.buffer).setBigUint64(0, BigInt(json.length), true);
  f.set(json, 8);
  return f;
}

const deepArrays = (n) => "[".repeat(n) + "]".repeat(n);

let shared = null;
async function models() {
  if (shared) return shared;
  const enc = fixture("BertModel", {}, 1);
  const dec = fixture("BertModel", { is_decoder: true }, 2);
  shared = {
    enc,
    dec,
    encModel: await BertModel.fromPretrained(enc.files, quiet),
    decModel: await BertModel.fromPretrained(dec.files, quiet),
  };
  return shared;
}

export const REGRESSIONS = [
  {
    name: "safetensors: a 100k-deep shape or dtype is a SafetensorsError (was RangeError: Maximum call stack size exceeded)",
    async run() {
      const shape = `{"t":{"dtype":"F32","shape":${deepArrays(100000)},"data_offsets":[0,0]}}`;
      await rejects(
        () => new BufferSource(file(shape)),
        SafetensorsError,
        /tensor "t": shape \[\[\.\.\.\]\] has an invalid size \[\.\.\.\]/,
      );
      const dtype = `{"t":{"dtype":${deepArrays(100000)},"shape":[],"data_offsets":[0,0]}}`;
      await rejects(
        () => new BufferSource(file(dtype)),
        SafetensorsError,
        /unknown dtype \[\.\.\.\]/,
      );
    },
  },
  {
    name: "safetensors: a header length of 2^40 on a tiny file fails before allocating (in memory and from a directory)",
    async run() {
      watchAllocations();
      const f = file("{}");
      new DataView(f.buffer).setBigUint64(0, 1n << 40n, true);
      const dir = mkdtempSync(join(tmpdir(), "simdbert-regress-"));
      try {
        writeFileSync(
          join(dir, "config.json"),
          JSON.stringify({
            vocab_size: 5,
            hidden_size: 4,
            num_hidden_layers: 1,
            num_attention_heads: 1,
            intermediate_size: 4,
          }),
        );
        writeFileSync(join(dir, "model.safetensors"), f);
        for (const src of [dir, { "config.json": "{}", "model.safetensors": f }]) {
          const { result, worst } = await largestAllocation(() =>
            BertModel.fromPretrained(src, quiet),
          );
          const [, err, ok] = result;
          if (
            ok ||
            !(err instanceof SafetensorsError) ||
            !/header length 1099511627776 runs past the end/.test(err.message)
          )
            throw new Error(`expected a SafetensorsError, got ${err?.name}: ${err?.message}`);
          if (worst > f.length + 65536)
            throw new Error(`allocated ${worst} bytes for a ${f.length}-byte file`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "config: __proto__ / constructor keys are plain unknown keys (was TypeError: this.validate is not a function)",
    async run() {
      const c = BertConfig.fromJSON(
        '{"__proto__": {"hidden_size": 5}, "constructor": 1, "toString": "x", "hidden_size": 64, "num_attention_heads": 4}',
      );
      if (!(c instanceof BertConfig) || c.hidden_size !== 64 || typeof c.toJSON !== "function")
        throw new Error("config broken by odd keys");
      if (c.extra.constructor !== 1 || Object.getPrototypeOf(c.extra) !== Object.prototype)
        throw new Error("extra keys not kept as plain keys");
    },
  },
  {
    name: "config: BigInt, cyclic and 100k-deep values are ConfigErrors naming the field (were TypeError / RangeError)",
    async run() {
      const cyc = { a: 1 };
      cyc.self = cyc;
      let deep = [1];
      for (let i = 0; i < 100000; i++) deep = [deep];
      await rejects(
        () => new BertConfig({ use_cache: 1n }),
        ConfigError,
        /config\.use_cache must be true or false, got 1n/,
      );
      await rejects(
        () => new BertConfig({ max_position_embeddings: cyc }),
        ConfigError,
        /config\.max_position_embeddings must be an integer/,
      );
      await rejects(
        () => new BertConfig({ hidden_act: deep }),
        ConfigError,
        /config\.hidden_act \[\.\.\.\] is not one of/,
      );
    },
  },
  {
    name: "config: num_labels 1e9 fails fast (was a hang), id2label is read as HF reads it, problem_type is checked",
    async run() {
      const t0 = performance.now();
      await rejects(
        () => new BertConfig({ num_labels: 1e9 }),
        ConfigError,
        /num_labels must be an integer in \[1, 65536\], got 1000000000/,
      );
      if (performance.now() - t0 > 200) throw new Error("num_labels 1e9 is not rejected fast");
      await rejects(
        () => new BertConfig({ id2label: { a: "x" } }),
        ConfigError,
        /id2label: key "a" is not an integer label id/,
      );
      await rejects(
        () => new BertConfig({ id2label: { 0: { toString: 1 } } }),
        ConfigError,
        /id2label\["0"\] must be a string/,
      );
      await rejects(
        () => new BertConfig({ id2label: "x" }),
        ConfigError,
        /id2label must be an object/,
      );
      await rejects(() => new BertConfig({ problem_type: "" }), ConfigError, /problem_type/);
      if (new BertConfig({ id2label: { 0: "neg", " 1": "pos" } }).num_labels !== 2)
        throw new Error("id2label keys with spaces (int() reads them)");
    },
  },
  {
    name: "config.json: missing, not JSON, or not UTF-8 is a ConfigError (were plain Errors; a damaged byte silently changed a key)",
    async run() {
      const { enc } = await models();
      const ckpt = enc.files["model.safetensors"];
      await rejects(
        () => BertModel.fromPretrained({ "model.safetensors": ckpt }, quiet),
        ConfigError,
        /no config\.json/,
      );
      await rejects(
        () => BertModel.fromPretrained({ "config.json": "{", "model.safetensors": ckpt }, quiet),
        ConfigError,
        /config\.json is not a valid JSON object/,
      );
      const text = new TextEncoder().encode(JSON.stringify(enc.config));
      const bad = new Uint8Array(text.length + 2);
      bad.set(text.subarray(0, 20));
      bad.set([0xc0, 0x80], 20);
      bad.set(text.subarray(20), 22);
      await rejects(
        () => BertModel.fromPretrained({ "config.json": bad, "model.safetensors": ckpt }, quiet),
        ConfigError,
        /config\.json is not valid UTF-8/,
      );
      await rejects(
        () => BertModel.fromPretrained({ "config.json": enc.files["config.json"] }, quiet),
        WeightsError,
        /no model\.safetensors/,
      );
    },
  },
  {
    name: "model configs: QA with num_labels != 2 and cross-attention without is_decoder are ConfigErrors (were plain Errors)",
    async run() {
      const qa = fixture("BertForQuestionAnswering", { num_labels: 3 }, 3);
      await rejects(
        () => BertForQuestionAnswering.fromPretrained(qa.files, quiet),
        ConfigError,
        /num_labels = 2/,
      );
      const x = fixture("BertModel", { add_cross_attention: true }, 4);
      await rejects(() => BertModel.fromPretrained(x.files, quiet), ConfigError, /is_decoder/);
    },
  },
  {
    name: "inputs: bad {data, shape} objects and mutated Tensors are InputErrors (were a wasm trap, RangeError, plain Error, or a silent answer)",
    async run() {
      const { encModel: m } = await models();
      const before = m.engine.memoryBytes;
      await rejects(
        () => m.forward({ input_ids: { data: [1, 2], shape: [-1, -2] } }),
        InputError,
        /input_ids: shape must be a list of at most 16 non-negative integers, got \[-1, -2\]/,
      );
      await rejects(
        () => m.forward({ input_ids: { data: [1, 2, 3, 4, 5, 6], shape: ["2", "3"] } }),
        InputError,
        /input_ids: shape must be/,
      );
      await rejects(
        () => m.forward({ input_ids: { data: { length: 2 ** 40 }, shape: [2 ** 20, 2 ** 20] } }),
        InputError,
        /input_ids: "data" must be an array or a typed array/,
      );
      await rejects(
        () => m.forward({ input_ids: [[1]], head_mask: new DataView(new ArrayBuffer(16)) }),
        InputError,
        /head_mask: .*DataView/,
      );
      const t = new Tensor("int64", [1n, 2n, 3n], [1, 3]);
      t.shape[1] = 6;
      await rejects(
        () => m.forward({ input_ids: t }),
        InputError,
        /input_ids: 3 values do not fill shape \[1, 6\]/,
      );
      await rejects(
        () => m.forward({ input_ids: { data: [Symbol("s")], shape: [1, 1] } }),
        InputError,
        /input_ids: expected integers, found symbol/,
      );
      await rejects(
        () =>
          m.forward({ inputs_embeds: { data: Array(16).fill(Symbol("s")), shape: [1, 1, 16] } }),
        InputError,
        /inputs_embeds: expected numbers, found symbol/,
      );
      if (m.engine.memoryBytes !== before) throw new Error("rejected calls grew the memory");
    },
  },
  {
    name: "inputs: a 100k-deep nested list is an InputError naming the input (was 'Maximum call stack size exceeded'); ids read exactly",
    async run() {
      const { encModel: m } = await models();
      let deep = [[5]];
      for (let i = 0; i < 100000; i++) deep = [deep];
      await rejects(
        () => m.forward({ input_ids: deep }),
        InputError,
        /input_ids: nested list is more than 16 levels deep/,
      );
      // 1e300 is an integer: out of range, not "Infinity" (nested lists were read as float32)
      await rejects(
        () => m.forward({ input_ids: [[1, 1e300]] }),
        InputError,
        /input_ids\[0, 1\] = 1e\+300 is out of range/,
      );
    },
  },
  {
    name: "decoder cache: absolute positions past max_position_embeddings with position_ids and a cache give the reference numbers (the slab overflowed)",
    async run() {
      const { dec, decModel: m } = await models();
      const S = dec.config.max_position_embeddings + 5;
      const input_ids = [Array.from({ length: S }, (_, i) => (i * 7) % dec.config.vocab_size)];
      const position_ids = [
        Array.from({ length: S }, (_, i) => i % dec.config.max_position_embeddings),
      ];
      const token_type_ids = [Array(S).fill(0)];
      const x = { input_ids, position_ids, token_type_ids, use_cache: true };
      const out = await m.forward(x);
      const want = bertForward64(dec.config, dec.encoder, x);
      const c = closeness(out.last_hidden_state.data, want.last_hidden_state.data, 2e-4, 1e-3);
      if (!(c <= 1)) throw new Error(`differs from the float64 reference (closeness ${c})`);
      // and a step on that cache
      const y = {
        input_ids: [[3]],
        position_ids: [[2]],
        token_type_ids: [[0]],
        past_key_values: out.past_key_values,
        use_cache: true,
      };
      const past = out.past_key_values.map((l) => l.map((t) => ({ data: t.data, shape: t.shape })));
      const out2 = await m.forward(y);
      const want2 = bertForward64(dec.config, dec.encoder, { ...y, past_key_values: past });
      const c2 = closeness(out2.last_hidden_state.data, want2.last_hidden_state.data, 2e-4, 1e-3);
      if (!(c2 <= 1))
        throw new Error(
          `step on the long cache differs from the float64 reference (closeness ${c2})`,
        );
    },
  },
  {
    name: "heads: labels are checked before the encoder runs (a rejected call grew the arena); next_sentence_label is named",
    async run() {
      const fx = fixture("BertForSequenceClassification", {}, 5);
      const m = await BertForSequenceClassification.fromPretrained(fx.files, quiet);
      await m.forward({ input_ids: [[1, 2]] });
      const before = m.engine.memoryBytes;
      const big = Array.from({ length: 64 }, () => Array(40).fill(1));
      await rejects(
        () => m.forward({ input_ids: big, labels: Array(64).fill(7) }),
        InputError,
        /labels: target 7 is out of range for 2 classes/,
      );
      if (m.engine.memoryBytes !== before)
        throw new Error(
          `a call rejected for its labels grew the memory by ${m.engine.memoryBytes - before} bytes`,
        );
      const pre = fixture("BertForPreTraining", {}, 6);
      const p = await BertForPreTraining.fromPretrained(pre.files, quiet);
      await rejects(
        () => p.forward({ input_ids: [[1, 2]], labels: [[1, 2]], next_sentence_label: [0, 1] }),
        InputError,
        /next_sentence_label: 2 targets/,
      );
    },
  },
  {
    name: "decoder cache: two decoder models in one engine keep their own caches (they shared one kept region: silent wrong answers)",
    async run() {
      const { dec } = await models();
      const e = await Engine.create();
      const a = await BertModel.fromPretrained(dec.files, { ...quiet, engine: e });
      const b = await BertModel.fromPretrained(dec.files, { ...quiet, engine: e });
      const solo = await BertModel.fromPretrained(dec.files, quiet);
      const ca = await a.forward({ input_ids: [[1, 2]], use_cache: true });
      await b.forward({ input_ids: [[3, 4, 5]], use_cache: true });
      const got = await a.forward({
        input_ids: [[6]],
        past_key_values: ca.past_key_values,
        use_cache: true,
      });
      const s1 = await solo.forward({ input_ids: [[1, 2]], use_cache: true });
      const want = await solo.forward({
        input_ids: [[6]],
        past_key_values: s1.past_key_values,
        use_cache: true,
      });
      const g = got.last_hidden_state.data,
        w = want.last_hidden_state.data;
      if (!g.every((x, i) => Object.is(x, w[i])))
        throw new Error("a decoder's cache was overwritten by another model on the same engine");
    },
  },
  {
    name: "engine: a shared engine's memory does not grow on rejected loads",
    async run() {
      const e = await Engine.create();
      const before = e.memoryBytes;
      const { enc } = await models();
      const bad = { ...enc.config, hidden_size: 32 };
      await rejects(
        () =>
          BertModel.fromPretrained(
            {
              "config.json": JSON.stringify(bad),
              "model.safetensors": enc.files["model.safetensors"],
            },
            { ...quiet, engine: e },
          ),
        WeightsError,
        /checkpoint has shape/,
      );
      if (e.memoryBytes !== before) throw new Error("a rejected load grew the shared engine");
    },
  },
];
