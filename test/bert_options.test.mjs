// BertModel's every input and output option against a float64 reference written from
// modeling_bert.py (support/reference_bert.mjs), on random models with odd sizes. The reference is
// itself first checked against the shared HF cases, so both sides are pinned to HF.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { BertModel, Tensor, readTensor, BufferSource } from "../dist/index.js";
import { readFileSync } from "node:fs";
import { bertCases, readSafetensorsFile } from "./support/shared.mjs";
import { readRequest } from "../dist/cli/request.js";
import { bertForward64, ACT64 } from "./support/reference_bert.mjs";
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

function maxDiff(a, b) {
  assert.equal(a.length, b.length, "length");
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i] - b[i]);
    if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x;
  }
  return d;
}

/** Compares every field of our output with the reference's. */
function compare(got, ref, tol, what) {
  const pairs = [];
  const walk = (g, r, name) => {
    if (r == null) {
      assert.ok(g == null, `${what}: ${name} should be absent`);
      return;
    }
    assert.ok(g != null, `${what}: ${name} missing`);
    if (Array.isArray(r)) {
      assert.equal(g.length, r.length, `${what}: ${name} length`);
      r.forEach((x, i) => walk(g[i], x, `${name}.${i}`));
      return;
    }
    assert.equal(g.shape, r.shape, `${what}: ${name} shape`);
    pairs.push([name, maxDiff(g.data, r.data)]);
  };
  for (const k of [
    "last_hidden_state",
    "pooler_output",
    "hidden_states",
    "attentions",
    "cross_attentions",
    "past_key_values",
  ])
    walk(got[k], ref[k], k);
  for (const [name, d] of pairs)
    assert.ok(d <= tol, `${what}: ${name} max|diff| ${d.toExponential(2)} > ${tol}`);
  return Math.max(0, ...pairs.map((p) => p[1]));
}

test("the float64 reference reproduces the shared HF cases (a, c, e, e2, f, i)", async () => {
  for (const c of bertCases().filter((x) => /^(a|c|e|e2|f|i)_/.test(x.name))) {
    const req = await readRequest(join(c.dir, "inputs.json"));
    const cfg = JSON.parse(readFileSync(join(c.dir, "config.json"), "utf8"));
    const t = readSafetensorsFile(join(c.dir, "model.safetensors"));
    const inputs = { ...req.inputs };
    if (inputs.past_key_values)
      inputs.past_key_values = inputs.past_key_values.map((l) =>
        l.map((x) => ({ data: x.data, shape: x.shape })),
      );
    if (inputs.encoder_hidden_states)
      inputs.encoder_hidden_states = {
        data: inputs.encoder_hidden_states.data,
        shape: inputs.encoder_hidden_states.shape,
      };
    const ref = bertForward64(cfg, t, inputs);
    const exp = readSafetensorsFile(join(c.dir, "expected.safetensors"));
    const flat = new Map();
    const walk = (v, name) => {
      if (v == null) return;
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${name}.${i}`));
      else flat.set(name, v);
    };
    for (const [k, v] of Object.entries(ref)) walk(v, k);
    for (const [name, e] of exp) {
      if (name.startsWith("full_sequence.")) continue;
      const g = flat.get(name);
      assert.ok(g, `${c.name}: reference lacks ${name}`);
      // expected values are the float64 forward rounded to float32
      const d = maxDiff(g.data, e.data);
      assert.ok(d < 5e-7, `${c.name}: reference ${name} differs from HF by ${d}`);
    }
  }
});

function randomModel(overrides, seed = 3) {
  const c = { ...TINY, ...overrides };
  const t = randomTensors(encoderShapes(c, "", { cross: !!c.add_cross_attention }), seed);
  return { c, t, files: checkpoint(c, t) };
}

const r = rng(5);
const B = 2,
  S = 13;
const ids = randomIds(r, B, S, TINY.vocab_size);
const pad = ids.map((row, b) => row.map((_, s) => (b === 1 && s >= 8 ? 0 : 1)));

// float32 engine vs float64 reference on 2-layer models of width 16: errors ~1e-6
const TOL = 2e-5;

test("absolute encoder: head_mask 1D and 2D, attentions and hidden states", async () => {
  const m = randomModel({});
  const model = await BertModel.fromPretrained(m.files, quiet);
  for (const head_mask of [
    [1, 0, 0.5, 1],
    [
      [1, 1, 0, 1],
      [0.25, 1, 1, 0],
    ],
  ]) {
    const inputs = {
      input_ids: ids,
      attention_mask: pad,
      head_mask,
      output_attentions: true,
      output_hidden_states: true,
    };
    compare(
      await model.forward(inputs),
      bertForward64(m.c, m.t, inputs),
      TOL,
      `head_mask ${JSON.stringify(head_mask)}`,
    );
  }
});

test("inputs_embeds instead of input_ids; explicit position_ids broadcast from [1, S]", async () => {
  const m = randomModel({});
  const model = await BertModel.fromPretrained(m.files, quiet);
  const emb = new Tensor("float32", randn(r, B * S * 16, 0.5), [B, S, 16]);
  const position_ids = [Array.from({ length: S }, (_, i) => (i * 3) % 40)];
  const inputs = {
    inputs_embeds: emb,
    attention_mask: pad,
    position_ids,
    token_type_ids: ids.map((row) => row.map((x) => x % 3)),
  };
  compare(
    await model.forward(inputs),
    bertForward64(m.c, m.t, { ...inputs, inputs_embeds: { data: emb.data, shape: emb.shape } }),
    TOL,
    "inputs_embeds",
  );
});

test("3D attention mask and a fully masked row (uniform attention, as HF)", async () => {
  const m = randomModel({});
  const model = await BertModel.fromPretrained(m.files, quiet);
  const m3 = Array.from({ length: B }, (_, b) =>
    Array.from({ length: S }, (_, i) =>
      Array.from({ length: S }, (_, j) => (b === 0 && i === 4 ? 0 : (i + j + b) % 3 === 0 ? 0 : 1)),
    ),
  );
  const inputs = { input_ids: ids, attention_mask: m3, output_attentions: true };
  const out = await model.forward(inputs);
  compare(out, bertForward64(m.c, m.t, inputs), TOL, "3D mask");
  const row = out.attentions[0].data.slice(4 * S, 5 * S); // batch 0, head 0, query 4: fully masked
  for (const p of row) assert.ok(Math.abs(p - 1 / S) < 1e-7, `uniform ${p}`);
  // a fully masked 2D row
  const zero = ids.map((row, b) => row.map(() => (b === 1 ? 0 : 1)));
  const inputs2 = { input_ids: ids, attention_mask: zero, output_attentions: true };
  compare(await model.forward(inputs2), bertForward64(m.c, m.t, inputs2), TOL, "all-zero mask row");
});

for (const type of ["relative_key", "relative_key_query"]) {
  test(`position_embedding_type ${type}`, async () => {
    const m = randomModel({ position_embedding_type: type });
    const model = await BertModel.fromPretrained(m.files, quiet);
    const inputs = { input_ids: ids, attention_mask: pad, output_attentions: true };
    compare(await model.forward(inputs), bertForward64(m.c, m.t, inputs), TOL, type);
  });
}

test("every hidden_act of HF's ACT2FN", async () => {
  for (const act of Object.keys(ACT64)) {
    const m = randomModel({ hidden_act: act, num_hidden_layers: 1 });
    const model = await BertModel.fromPretrained(m.files, quiet);
    const inputs = { input_ids: ids, attention_mask: pad };
    compare(await model.forward(inputs), bertForward64(m.c, m.t, inputs), TOL, act);
  }
});

test("odd sizes: hidden 20 (head_dim 5), intermediate 13, eps 1e-5, seq 1 and 17", async () => {
  const m = randomModel({
    hidden_size: 20,
    num_attention_heads: 4,
    intermediate_size: 13,
    layer_norm_eps: 1e-5,
  });
  const model = await BertModel.fromPretrained(m.files, quiet);
  for (const s of [1, 17]) {
    const x = randomIds(r, 3, s, TINY.vocab_size);
    const inputs = { input_ids: x, output_attentions: true, output_hidden_states: true };
    compare(await model.forward(inputs), bertForward64(m.c, m.t, inputs), TOL, `seq ${s}`);
  }
});

test("decoder: causal + padding mask, cross-attention with a 3D encoder mask, cache", async () => {
  const m = randomModel({ is_decoder: true, add_cross_attention: true });
  const model = await BertModel.fromPretrained(m.files, quiet);
  const Se = 5;
  const enc = { data: randn(r, B * Se * 16, 0.7), shape: [B, Se, 16] };
  const em3 = Array.from({ length: B }, (_, b) =>
    Array.from({ length: S }, (_, i) =>
      Array.from({ length: Se }, (_, j) => ((b + i + j) % 4 === 0 ? 0 : 1)),
    ),
  );
  const inputs = {
    input_ids: ids,
    attention_mask: pad,
    encoder_hidden_states: enc,
    encoder_attention_mask: em3,
    output_attentions: true,
    output_hidden_states: true,
  };
  compare(await model.forward(inputs), bertForward64(m.c, m.t, inputs), TOL, "decoder");
});

test("decoder with relative_key_query and a cache: HF's single query position with a past", async () => {
  const m = randomModel({ is_decoder: true, position_embedding_type: "relative_key_query" });
  const model = await BertModel.fromPretrained(m.files, quiet);
  const first = await model.forward({ input_ids: ids.map((x) => x.slice(0, 9)), use_cache: true });
  const past = first.past_key_values;
  // two new tokens at once: HF uses position key_length - 1 for both query rows
  const step = {
    input_ids: ids.map((x) => x.slice(9, 11)),
    past_key_values: past,
    output_attentions: true,
  };
  const pastRef = past.map((l) => l.map((t) => ({ data: t.data, shape: t.shape })));
  compare(
    await model.forward(step),
    bertForward64(m.c, m.t, { ...step, past_key_values: pastRef }),
    TOL,
    "relative + cache",
  );
});

test("decoder with cross-attention layers but no encoder states: HF puts the self k/v where cross attentions go", async () => {
  const m = randomModel({ is_decoder: true, add_cross_attention: true });
  const model = await BertModel.fromPretrained(m.files, quiet);
  const inputs = { input_ids: ids, output_attentions: true, use_cache: false };
  const out = await model.forward(inputs);
  compare(out, bertForward64(m.c, m.t, inputs), TOL, "cross quirk");
  assert.equal(out.cross_attentions[0].length, 2);
});

test("config defaults: output_hidden_states / output_attentions / return_dict from config.json", async () => {
  const m = randomModel({
    output_hidden_states: true,
    output_attentions: true,
    return_dict: false,
  });
  const model = await BertModel.fromPretrained(m.files, quiet);
  const out = await model.forward({ input_ids: ids });
  assert.ok(Array.isArray(out), "return_dict false gives a tuple");
  assert.equal(out.length, 4); // last, pooled, hidden_states, attentions
  assert.equal(out[2].length, 3);
  assert.equal(out[3].length, 2);
  const explicit = await model.forward({
    input_ids: ids,
    output_hidden_states: false,
    output_attentions: false,
    return_dict: true,
  });
  assert.equal(explicit.keys(), ["last_hidden_state", "pooler_output"]);
});

test("F16 and BF16 checkpoints are widened to f32 at load (same numbers as their f32 values)", async () => {
  const m = randomModel({});
  for (const dtype of ["F16", "BF16"]) {
    // round every tensor to the 16-bit type, write it, and compare with the f32 file of the rounded values
    const rounded = new Map();
    const parts = [];
    const header = {};
    let off = 0;
    for (const [name, t] of [...m.t].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const u16 = new Uint16Array(t.data.length);
      const back = new Float32Array(t.data.length);
      const f = new Float32Array(1),
        u = new Uint32Array(f.buffer);
      for (let i = 0; i < t.data.length; i++) {
        f[0] = t.data[i];
        if (dtype === "BF16") {
          u16[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
          u[0] = u16[i] << 16;
          back[i] = f[0];
        } else {
          // f16: round to nearest via Math.fround trick on the scaled value (normal range only here)
          const x = t.data[i];
          const e = Math.floor(Math.log2(Math.abs(x)));
          const q = Math.round(x * 2 ** (10 - e)) / 2 ** (10 - e);
          back[i] = q;
          const s = q < 0 ? 0x8000 : 0;
          const a = Math.abs(q);
          const ee = Math.floor(Math.log2(a));
          u16[i] =
            ee < -14
              ? s | Math.round(a / 2 ** -24)
              : s | ((ee + 15) << 10) | Math.round((a / 2 ** ee - 1) * 1024);
        }
      }
      rounded.set(name, { shape: t.shape, data: back });
      header[name] = { dtype, shape: t.shape, data_offsets: [off, off + u16.byteLength] };
      off += u16.byteLength;
      parts.push(new Uint8Array(u16.buffer));
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const file = new Uint8Array(8 + json.length + off);
    new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
    file.set(json, 8);
    let at = 8 + json.length;
    for (const p of parts) {
      file.set(p, at);
      at += p.length;
    }
    const half = await BertModel.fromPretrained(
      { "config.json": m.c, "model.safetensors": file },
      quiet,
    );
    const full = await BertModel.fromPretrained(checkpoint(m.c, rounded), quiet);
    const a = await half.forward({ input_ids: ids });
    const b = await full.forward({ input_ids: ids });
    assert.equal(maxDiff(a.last_hidden_state.data, b.last_hidden_state.data), 0, dtype);
    // and the file really holds 16-bit data
    const src = new BufferSource(file);
    assert.is(src.header.tensors.get("pooler.dense.weight").dtype, dtype);
    void readTensor;
  }
});

test.run();
