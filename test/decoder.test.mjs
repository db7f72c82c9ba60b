// Decoder BERT: the cache stays in wasm memory between calls, incremental steps equal a
// full forward (and the float64 reference), branches from older caches stay correct, and the
// errors HF would hit (or silently mishandle) are clear.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BertModel, KVCache, InputError, Tensor } from "../dist/index.js";
import { bertForward64 } from "./support/reference_bert.mjs";
import {
  TINY,
  checkpoint,
  encoderShapes,
  randomIds,
  randomTensors,
  rng,
  randn,
} from "./support/random_model.mjs";

const quiet = { warn: () => {} };
const cfg = { ...TINY, is_decoder: true, add_cross_attention: true };
const tensors = randomTensors(encoderShapes(cfg, "", { cross: true }), 31);
const files = checkpoint(cfg, tensors);
const r = rng(17);
const B = 2,
  T = 12,
  Se = 6;
const ids = randomIds(r, B, T, TINY.vocab_size);
const enc = new Tensor("float32", randn(r, B * Se * 16, 0.8), [B, Se, 16]);
const encMask = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];
const padMask = ids.map((row, b) => row.map((_, s) => (b === 1 && s >= 10 ? 0 : 1)));

function maxDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** rows [s0, s1) of a [B, S, H] tensor */
function rows(t, s0, s1) {
  const [Bn, S, H] = t.shape;
  const out = [];
  for (let b = 0; b < Bn; b++) out.push(...t.data.slice((b * S + s0) * H, (b * S + s1) * H));
  return Float32Array.from(out);
}

test("token-by-token decoding with the returned cache equals one full forward", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  const full = await model.forward({
    input_ids: ids,
    attention_mask: padMask,
    encoder_hidden_states: enc,
    encoder_attention_mask: encMask,
  });
  let past = null;
  const caches = [];
  for (let t = 0; t < T; t++) {
    const out = await model.forward({
      input_ids: ids.map((row) => [row[t]]),
      attention_mask: padMask.map((row) => row.slice(0, t + 1)),
      encoder_hidden_states: enc,
      encoder_attention_mask: encMask,
      past_key_values: past,
    });
    past = out.past_key_values;
    assert.instance(past, KVCache);
    assert.equal(past[0][0].shape, [B, 4, t + 1, 4]);
    assert.equal(past[0][2].shape, [B, 4, Se, 4]);
    caches.push(past);
    const d = maxDiff(out.last_hidden_state.data, rows(full.last_hidden_state, t, t + 1));
    assert.ok(d < 2e-6, `step ${t}: ${d}`);
  }
  // nothing was copied out to JS along the way: the caches are still lazy views
  for (const c of caches)
    assert.ok(
      c.every((layer) => layer.every((x) => x.pending)),
      "cache tensors were read by JS",
    );
  // and they read back right: the last cache equals the full forward's
  const fullPast = full.past_key_values;
  for (let l = 0; l < 2; l++)
    for (let k = 0; k < 4; k++)
      assert.ok(maxDiff(past[l][k].data, fullPast[l][k].data) < 2e-6, `cache ${l}.${k}`);
  // an older cache (length 5) still reads its own rows after later steps
  const old = caches[4][1][0].data;
  assert.equal(old.length, B * 4 * 5 * 4);
  const want = fullPast[1][0].data;
  for (let bh = 0; bh < B * 4; bh++) {
    assert.ok(
      maxDiff(old.subarray(bh * 20, bh * 20 + 20), want.subarray(bh * T * 4, bh * T * 4 + 20)) <
        2e-6,
    );
  }
});

test("steps of several tokens, branching from an older cache, and JS-array caches agree with the float64 reference", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  const first = await model.forward({
    input_ids: ids.map((x) => x.slice(0, 5)),
    encoder_hidden_states: enc,
  });
  const a = await model.forward({
    input_ids: ids.map((x) => x.slice(5, 8)),
    encoder_hidden_states: enc,
    past_key_values: first.past_key_values,
  });
  // branch: continue from `first` again with different tokens (the slab was advanced by `a`)
  const alt = ids.map((x) => x.slice(8, 11));
  const b = await model.forward({
    input_ids: alt,
    encoder_hidden_states: enc,
    past_key_values: first.past_key_values,
    output_attentions: true,
  });
  const ref = bertForward64(cfg, tensors, {
    input_ids: ids.map((x, i) => [...x.slice(0, 5), ...alt[i]]),
    encoder_hidden_states: { data: enc.data, shape: enc.shape },
  });
  assert.ok(
    maxDiff(
      b.last_hidden_state.data,
      rows({ data: ref.last_hidden_state.data, shape: [B, 8, 16] }, 5, 8),
    ) < 2e-5,
    "branch",
  );
  // `a` is still valid after the branch reused the slab
  const refA = bertForward64(cfg, tensors, {
    input_ids: ids.map((x) => x.slice(0, 8)),
    encoder_hidden_states: { data: enc.data, shape: enc.shape },
  });
  assert.ok(
    maxDiff(a.past_key_values[1][1].data, refA.past_key_values[1][1].data) < 2e-5,
    "older cache after a branch",
  );
  // the same past as plain JS tensors gives the same numbers
  const plain = first.past_key_values.map((layer) =>
    layer.map((t) => new Tensor("float32", Float32Array.from(t.data), t.shape)),
  );
  const c = await model.forward({
    input_ids: alt,
    encoder_hidden_states: enc,
    past_key_values: plain,
    output_attentions: true,
  });
  assert.equal(maxDiff(c.last_hidden_state.data, b.last_hidden_state.data), 0);
  assert.equal(maxDiff(c.cross_attentions[1].data, b.cross_attentions[1].data), 0);
});

test("with a cache, cross-attention keys/values come from it (encoder_hidden_states only switches it on)", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  const first = await model.forward({
    input_ids: ids.map((x) => x.slice(0, 4)),
    encoder_hidden_states: enc,
  });
  const other = new Tensor("float32", randn(rng(99), B * Se * 16, 3), [B, Se, 16]);
  const x = { input_ids: ids.map((row) => [row[4]]) };
  const same = await model.forward({
    ...x,
    encoder_hidden_states: enc,
    past_key_values: first.past_key_values,
  });
  const first2 = await model.forward({
    input_ids: ids.map((x) => x.slice(0, 4)),
    encoder_hidden_states: enc,
  });
  const diff = await model.forward({
    ...x,
    encoder_hidden_states: other,
    past_key_values: first2.past_key_values,
  });
  assert.equal(maxDiff(same.last_hidden_state.data, diff.last_hidden_state.data), 0);
});

test("use_cache defaults to the config for decoders, is off for encoders; pooler pools the first new token", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  const out = await model.forward({ input_ids: ids });
  assert.ok(out.past_key_values, "decoder default use_cache=True");
  assert.equal(out.past_key_values[0].length, 2, "no cross entries without encoder states");
  const off = await model.forward({ input_ids: ids, use_cache: false });
  assert.is(off.past_key_values, null);
  const enc2 = await BertModel.fromPretrained(
    checkpoint({ ...TINY }, randomTensors(encoderShapes(TINY), 3)),
    quiet,
  );
  assert.is((await enc2.forward({ input_ids: ids, use_cache: true })).past_key_values, null);
  const tuple = await model.forward({
    input_ids: ids,
    return_dict: false,
    output_hidden_states: true,
  });
  assert.equal(tuple.length, 4); // last, pooled, past_key_values, hidden_states (HF's tuple order)
  assert.instance(tuple[2], KVCache);
});

test("decoder errors: cache vs max positions, cache shapes, encoder states, mask length", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  const first = await model.forward({ input_ids: ids, encoder_hidden_states: enc });
  const pkv = first.past_key_values;
  const bad = async (inputs, pattern) => {
    try {
      await model.forward(inputs);
    } catch (e) {
      assert.instance(e, InputError, e.message);
      assert.match(e.message, pattern);
      return;
    }
    assert.unreachable(`no error for ${pattern}`);
  };
  await bad(
    {
      input_ids: ids.map((x) => [...x, ...x, ...x, ...x]).map((x) => x.slice(0, 29)),
      past_key_values: pkv,
      encoder_hidden_states: enc,
    },
    /sequence length 41 \(12 cached \+ 29 new\) exceeds max_position_embeddings \(40\)/,
  );
  const wrongHeads = pkv.map((l) =>
    l.map((t) => new Tensor("float32", new Float32Array(t.size), [B, 2, t.shape[2], 8])),
  );
  await bad(
    { input_ids: [[1], [2]], past_key_values: wrongHeads, encoder_hidden_states: enc },
    /past_key_values\[0\]\[0\]: shape \[2, 2, 12, 8\] does not match the expected \[2, 4, 12, 4\]/,
  );
  const ragged = pkv.map((l, i) =>
    l.map((t, j) =>
      i === 1 && j === 1
        ? new Tensor("float32", new Float32Array(B * 4 * 11 * 4), [B, 4, 11, 4])
        : t,
    ),
  );
  await bad(
    { input_ids: [[1], [2]], past_key_values: ragged, encoder_hidden_states: enc },
    /past_key_values\[1\]\[1\]: shape \[2, 4, 11, 4\]/,
  );
  await bad(
    { input_ids: [[1], [2]], past_key_values: pkv.slice(0, 1), encoder_hidden_states: enc },
    /one entry per layer \(2\)/,
  );
  await bad(
    {
      input_ids: [[1], [2]],
      past_key_values: pkv,
      encoder_hidden_states: new Tensor("float32", new Float32Array(B * Se * 8), [B, Se, 8]),
    },
    /encoder_hidden_states must be \[batch, enc_seq, 16\]/,
  );
  await bad(
    {
      input_ids: [[1], [2]],
      past_key_values: pkv,
      encoder_hidden_states: new Tensor("float32", new Float32Array(3 * Se * 16), [3, Se, 16]),
    },
    /encoder_hidden_states has batch 3, the inputs have batch 2/,
  );
  await bad(
    {
      input_ids: [[1], [2]],
      past_key_values: pkv,
      encoder_hidden_states: enc,
      attention_mask: [[1], [1]],
    },
    /attention_mask: shape \[2, 1\] does not match the expected \[2, 13\].*12 cached \+ 1 new/,
  );
  await bad(
    {
      input_ids: [[1], [2]],
      past_key_values: pkv.map((l) => l.slice(0, 2)),
      encoder_hidden_states: enc,
    },
    /needs 4 tensors/,
  );
  const shortCross = pkv.map((l) => [
    l[0],
    l[1],
    new Tensor("float32", new Float32Array(B * 4 * 3 * 4), [B, 4, 3, 4]),
    new Tensor("float32", new Float32Array(B * 4 * 3 * 4), [B, 4, 3, 4]),
  ]);
  await bad(
    { input_ids: [[1], [2]], past_key_values: shortCross, encoder_hidden_states: enc },
    /cross-attention cache has length 3, encoder_hidden_states has 6/,
  );
  // a decoder without cross-attention layers refuses encoder states (HF's ValueError)
  const plainDec = await BertModel.fromPretrained(
    checkpoint({ ...TINY, is_decoder: true }, randomTensors(encoderShapes(TINY), 4)),
    quiet,
  );
  try {
    await plainDec.forward({ input_ids: ids, encoder_hidden_states: enc });
    assert.unreachable();
  } catch (e) {
    assert.match(e.message, /add_cross_attention=True/);
  }
  // after all that, the tip still extends correctly
  const next = await model.forward({
    input_ids: [[1], [2]],
    past_key_values: pkv,
    encoder_hidden_states: enc,
  });
  assert.equal(next.past_key_values[0][0].shape[2], 13);
});

test("memory: a long incremental decode does not grow wasm memory past the cache's geometric growth", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  let past = null;
  const sizes = [];
  for (let t = 0; t < 39; t++) {
    const out = await model.forward({
      input_ids: [[t % 30], [(t * 7) % 30]],
      past_key_values: past,
      encoder_hidden_states: enc,
    });
    past = out.past_key_values;
    sizes.push(model.engine.memoryBytes);
  }
  assert.is(sizes.at(-1), sizes[20], "memory keeps growing late in the decode");
});

test.run();
