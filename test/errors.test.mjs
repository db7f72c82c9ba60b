// Bad input gets a clear error that names the problem, never a crash inside WASM or a silent
// wrong answer; after any rejected call the engine answers exactly as a fresh one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  BertModel,
  BertConfig,
  InputError,
  SafetensorsError,
  WeightsError,
  ConfigError,
  writeSafetensors,
} from "../dist/index.js";
import {
  TINY,
  checkpoint,
  encoderShapes,
  randomIds,
  randomTensors,
  rng,
} from "./support/random_model.mjs";

const quiet = { warn: () => {} };
const m = { c: { ...TINY }, t: randomTensors(encoderShapes(TINY), 21) };
const files = checkpoint(m.c, m.t);
const r = rng(9);
const ids = randomIds(r, 2, 7, TINY.vocab_size);
const good = {
  input_ids: ids,
  attention_mask: ids.map((row) => row.map((_, s) => (s < 6 ? 1 : 0))),
  output_attentions: true,
};

async function rejects(fn, type, pattern) {
  try {
    await fn();
  } catch (e) {
    if (type) assert.instance(e, type, `expected ${type.name}, got ${e.name}: ${e.message}`);
    assert.match(e.message, pattern);
    return e;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

function same(a, b, what) {
  assert.equal(a.shape, b.shape, what);
  for (let i = 0; i < a.data.length; i++) {
    if (!Object.is(a.data[i], b.data[i]))
      assert.unreachable(`${what}: differs at ${i}: ${a.data[i]} vs ${b.data[i]}`);
  }
}

test("forward input errors name the input and the problem", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  const V = TINY.vocab_size;
  const bad = [
    [{ input_ids: [[1, 2, V]] }, /input_ids\[0, 2\] = 37 is out of range/],
    [{ input_ids: [[1, -1, 2]] }, /input_ids\[0, 1\] = -1 is out of range/],
    [{ input_ids: [[1, 2.5]] }, /input_ids: expected integers/],
    [{ input_ids: [[1, 2], [3]] }, /ragged/],
    [{ input_ids: [1, 2, 3] }, /input_ids must be \[batch, seq\]/],
    [
      { input_ids: [[1, 2]], token_type_ids: [[0, 3]] },
      /token_type_ids\[0, 1\] = 3 is out of range.*type_vocab_size is 3/,
    ],
    [
      { input_ids: [[1, 2]], token_type_ids: [[0, 1, 1]] },
      /token_type_ids: shape \[1, 3\] does not match/,
    ],
    [{ input_ids: [[1, 2]], attention_mask: [[1, 1, 1]] }, /attention_mask: shape \[1, 3\]/],
    [{ input_ids: [[1, 2]], position_ids: [[0, 40]] }, /position_ids\[0, 1\] = 40 is out of range/],
    [
      { input_ids: [Array(41).fill(1)] },
      /sequence length 41 exceeds max_position_embeddings \(40\)/,
    ],
    [{ input_ids: [[1]], inputs_embeds: [[[0]]] }, /both input_ids and inputs_embeds/],
    [{ attention_mask: [[1]] }, /either input_ids or inputs_embeds/],
    [{ inputs_embeds: [[[1, 2]]] }, /inputs_embeds must be \[batch, seq, 16\]/],
    [
      { inputs_embeds: { data: new Float32Array(16).fill(NaN), shape: [1, 1, 16] } },
      /not a finite number/,
    ],
    [{ input_ids: [] }, /empty|must be \[batch, seq\]/],
    [{ input_ids: [[]] }, /sequence is empty/],
    [{ input_ids: [[1]], head_mask: [1, 1] }, /head_mask must be \[num_heads\]/],
    [{ input_ids: [[1]], bogus: 1 }, /unexpected argument "bogus"/],
    [
      { input_ids: [[1]], output_attentions: "yes" },
      /output_attentions must be true, false or null/,
    ],
  ];
  for (const [inputs, pattern] of bad)
    await rejects(() => model.forward(inputs), InputError, pattern);
});

test("after every rejected call the next call is bit-identical to a fresh engine's", async () => {
  const fresh = await BertModel.fromPretrained(files, quiet);
  const want = await fresh.forward(good);
  const model = await BertModel.fromPretrained(files, quiet);
  // a bigger request first grows the arena; then errors of every kind in between good calls
  await model.forward({
    input_ids: randomIds(r, 4, 30, TINY.vocab_size),
    output_hidden_states: true,
  });
  const bad = [
    { input_ids: [[1, 2, 99]] },
    { input_ids: ids, token_type_ids: [[9]] },
    { input_ids: [Array(50).fill(1)] },
    { inputs_embeds: { data: new Float32Array(32).fill(Infinity), shape: [1, 2, 16] } },
    { input_ids: ids, attention_mask: [[1]] },
  ];
  for (const b of bad) {
    await model.forward(b).then(
      () => assert.unreachable("must reject"),
      () => {},
    );
    const got = await model.forward(good);
    same(got.last_hidden_state, want.last_hidden_state, "last_hidden_state");
    same(got.pooler_output, want.pooler_output, "pooler_output");
    same(got.attentions[1], want.attentions[1], "attentions");
  }
});

test("overlapping async calls give the same numbers as sequential ones", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  const inputs = [0, 1, 2, 3].map((k) => ({
    input_ids: randomIds(rng(100 + k), 1 + k, 3 + 2 * k, TINY.vocab_size),
  }));
  const seq = [];
  for (const x of inputs) seq.push(await model.forward(x));
  const par = await Promise.all(inputs.map((x) => model.forward(x)));
  par.forEach((p, i) => same(p.last_hidden_state, seq[i].last_hidden_state, `call ${i}`));
});

test("config errors: heads not dividing hidden, unknown activation / position type, bad sizes", () => {
  assert.throws(
    () => new BertConfig({ hidden_size: 30, num_attention_heads: 4 }),
    /hidden size \(30\) is not a multiple of the number of attention heads \(4\)/,
  );
  assert.throws(
    () => new BertConfig({ hidden_act: "gelu_fancy" }),
    /hidden_act "gelu_fancy" is not one of HF's ACT2FN names/,
  );
  assert.throws(
    () => new BertConfig({ position_embedding_type: "rotary" }),
    /position_embedding_type/,
  );
  assert.throws(() => new BertConfig({ vocab_size: 0 }), /vocab_size must be an integer/);
  assert.throws(() => new BertConfig({ hidden_size: 2.5 }), /hidden_size must be an integer/);
  assert.throws(
    () => BertConfig.fromJSON("{nope"),
    (e) => e instanceof ConfigError && /not valid JSON/.test(e.message),
  );
  const c = new BertConfig({});
  assert.is(c.hidden_size, 768);
  assert.is(c.layer_norm_eps, 1e-12);
  assert.is(c.max_position_embeddings, 512);
  assert.is(c.num_labels, 2);
});

test("weight errors: missing and wrongly shaped weights are named", async () => {
  const missing = new Map(m.t);
  missing.delete("encoder.layer.1.output.dense.weight");
  await rejects(
    () => BertModel.fromPretrained(checkpoint(m.c, missing), quiet),
    WeightsError,
    /missing from the checkpoint: encoder\.layer\.1\.output\.dense\.weight/,
  );
  const wrong = new Map(m.t);
  wrong.set("encoder.layer.0.attention.self.key.weight", {
    shape: [16, 8],
    data: new Float32Array(128).fill(0.1),
  });
  await rejects(
    () => BertModel.fromPretrained(checkpoint(m.c, wrong), quiet),
    WeightsError,
    /encoder\.layer\.0\.attention\.self\.key\.weight: checkpoint has shape \[16, 8\], the model needs \[16, 16\]/,
  );
  await rejects(
    () => BertModel.fromPretrained({ "config.json": m.c }, quiet),
    Error,
    /no model\.safetensors/,
  );
});

function rawFile(header, dataLen, headerLenOverride) {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const f = new Uint8Array(8 + json.length + dataLen);
  new DataView(f.buffer).setBigUint64(0, headerLenOverride ?? BigInt(json.length), true);
  f.set(json, 8);
  return f;
}

test("safetensors errors: truncation, header length, offsets, dtypes, JSON", async () => {
  const full = writeSafetensors(m.t);
  const load = (bytes) =>
    BertModel.fromPretrained({ "config.json": m.c, "model.safetensors": bytes }, quiet);
  await rejects(() => load(full.subarray(0, 5)), SafetensorsError, /file too short/);
  await rejects(
    () => load(full.subarray(0, full.length - 10)),
    SafetensorsError,
    /run past the end|truncated/,
  );
  await rejects(
    () => load(rawFile({}, 0, 1n << 62n)),
    SafetensorsError,
    /header length \d+ runs past the end of the file/,
  );
  await rejects(
    () => load(rawFile({}, 0, 0xffffffffffffffffn)),
    SafetensorsError,
    /runs past the end/,
  );
  const t = (o) => ({ a: { dtype: "F32", shape: [2], data_offsets: o } });
  await rejects(
    () => load(rawFile(t([0, 16]), 8)),
    SafetensorsError,
    /run past the end of the data/,
  );
  await rejects(() => load(rawFile(t([8, 0]), 8)), SafetensorsError, /reversed/);
  await rejects(
    () => load(rawFile(t([0, 4]), 4)),
    SafetensorsError,
    /needs 8 bytes but data_offsets give 4/,
  );
  await rejects(
    () =>
      load(
        rawFile(
          {
            a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
            b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
          },
          12,
        ),
      ),
    SafetensorsError,
    /overlaps/,
  );
  await rejects(
    () => load(rawFile({ a: { dtype: "Q4", shape: [2], data_offsets: [0, 8] } }, 8)),
    SafetensorsError,
    /unknown dtype "Q4"/,
  );
  await rejects(() => load(rawFile("{not json", 0)), SafetensorsError, /not valid JSON/);
  await rejects(
    () =>
      load(rawFile({ a: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, 8)),
    SafetensorsError,
    /needs \d+ bytes/,
  );
  // __proto__ as a tensor name is just a name (and unused here)
  const proto = rawFile('{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4);
  await rejects(() => load(proto), WeightsError, /missing from the checkpoint/);
});

test.run();
