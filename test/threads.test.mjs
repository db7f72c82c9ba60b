// Kernel threads: with WebAssembly threads on a shared memory every kernel call is split into
// disjoint pieces (GEMM panels or rows, attention (batch, head) ranges, rows), each computed
// exactly as on one thread: the outputs must be bit-identical to the single-thread engine's, and
// the pool's thread really takes part.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BertModel, BertForMaskedLM, Engine, PackedLinear } from "../dist/index.js";
import {
  TINY,
  checkpoint,
  encoderShapes,
  headShapes,
  randomIds,
  randomTensors,
  rng,
  randn,
} from "./support/random_model.mjs";

const quiet = { warn: () => {} };

function identical(a, b, what) {
  assert.equal(a.shape, b.shape, what);
  const x = a.data,
    y = b.data;
  for (let i = 0; i < x.length; i++)
    if (!Object.is(x[i], y[i])) assert.unreachable(`${what}: element ${i}: ${x[i]} vs ${y[i]}`);
}

function compareAll(a, b) {
  for (const k of a.keys()) {
    const va = a.get(k),
      vb = b.get(k);
    const flat = (v, name) =>
      Array.isArray(v) ? v.flatMap((x, i) => flat(x, `${name}.${i}`)) : [[name, v]];
    const fa = flat(va, k),
      fb = flat(vb, k);
    fa.forEach(([name, t], i) => identical(t, fb[i][1], name));
  }
}

test("two threads really run: the pool thread takes tasks of a forward", async () => {
  const c = { ...TINY, hidden_size: 64, num_attention_heads: 4, intermediate_size: 128 };
  const files = checkpoint(c, randomTensors(encoderShapes(c), 41));
  const model = await BertModel.fromPretrained(files, { ...quiet, threads: 2 });
  try {
    assert.is(model.engine.threads, 2);
    const input_ids = randomIds(rng(42), 4, 32, c.vocab_size);
    // tasks are taken dynamically: on a busy machine the caller may finish a job before the pool
    // thread wakes, so forwards are repeated (up to 10 s) until the thread has taken a task
    const t0 = Date.now();
    let taken = model.engine.tasksByThread;
    while (taken[1] === 0 && Date.now() - t0 < 10_000) {
      await model.forward({ input_ids });
      taken = model.engine.tasksByThread;
    }
    assert.is(taken.length, 2);
    assert.ok(taken[0] > 0, `the caller ran no task: ${taken}`);
    assert.ok(taken[1] > 0, `the pool thread ran no task in 10 s of forwards: ${taken}`);
  } finally {
    model.engine.dispose();
  }
});

test("two threads give the single-thread bits: encoder with relative_key_query, head mask, attentions", async () => {
  const c = {
    ...TINY,
    hidden_size: 64,
    num_attention_heads: 4,
    intermediate_size: 200,
    position_embedding_type: "relative_key_query",
    max_position_embeddings: 80,
  };
  const files = checkpoint(c, randomTensors(encoderShapes(c), 5));
  const one = await BertModel.fromPretrained(files, quiet);
  const two = await BertModel.fromPretrained(files, { ...quiet, threads: 2 });
  assert.is(two.engine.threads, 2);
  const r = rng(1);
  const inputs = {
    input_ids: randomIds(r, 3, 70, c.vocab_size),
    head_mask: [1, 0.5, 0, 1],
    output_attentions: true,
    output_hidden_states: true,
  };
  compareAll(await one.forward(inputs), await two.forward(inputs));
  // a request too small to split, then a big one again
  compareAll(
    await one.forward({ input_ids: [[1, 2, 3]] }),
    await two.forward({ input_ids: [[1, 2, 3]] }),
  );
  compareAll(await one.forward(inputs), await two.forward(inputs));
  two.engine.dispose();
});

test("two threads: decoder with cross-attention and cache; MLM head", async () => {
  const c = {
    ...TINY,
    hidden_size: 64,
    num_attention_heads: 8,
    intermediate_size: 96,
    is_decoder: true,
    add_cross_attention: true,
  };
  const t = randomTensors(
    {
      ...encoderShapes(c, "bert.", { cross: true, pooler: false }),
      ...headShapes("BertForMaskedLM", c),
    },
    6,
  );
  const files = checkpoint(c, t);
  const r = rng(2);
  const enc = { data: randn(r, 2 * 9 * 64, 0.5), shape: [2, 9, 64] };
  const ids = randomIds(r, 2, 36, c.vocab_size);
  const one = await BertModel.fromPretrained(files, { ...quiet, addPoolingLayer: false });
  const two = await BertModel.fromPretrained(files, {
    ...quiet,
    threads: 2,
    addPoolingLayer: false,
  });
  const a1 = await one.forward({
    input_ids: ids,
    encoder_hidden_states: enc,
    output_attentions: true,
  });
  const a2 = await two.forward({
    input_ids: ids,
    encoder_hidden_states: enc,
    output_attentions: true,
  });
  compareAll(a1, a2);
  const s1 = await one.forward({
    input_ids: [[3], [4]],
    encoder_hidden_states: enc,
    past_key_values: a1.past_key_values,
  });
  const s2 = await two.forward({
    input_ids: [[3], [4]],
    encoder_hidden_states: enc,
    past_key_values: a2.past_key_values,
  });
  compareAll(s1, s2);
  const m1 = await BertForMaskedLM.fromPretrained(files, quiet);
  const m2 = await BertForMaskedLM.fromPretrained(files, { ...quiet, threads: 2 });
  identical(
    (await m1.forward({ input_ids: ids })).logits,
    (await m2.forward({ input_ids: ids })).logits,
    "mlm logits",
  );
  two.engine.dispose();
  m2.engine.dispose();
});

test("threads option: validation and fallback", async () => {
  try {
    await Engine.create({ threads: 0 });
    assert.unreachable();
  } catch (e) {
    assert.match(e.message, /threads must be a positive integer/);
  }
  const e = await Engine.create({ threads: 1 });
  assert.is(e.threads, 1);
});

test("kernels passed as { wasm } must be the build the thread count needs", async () => {
  const { readFileSync } = await import("node:fs");
  const plain = await WebAssembly.compile(
    readFileSync(new URL("../build/simdbert.wasm", import.meta.url)),
  );
  const threaded = await WebAssembly.compile(
    readFileSync(new URL("../build/simdbert-threads.wasm", import.meta.url)),
  );
  for (const [wasm, threads, pattern] of [
    [plain, 2, /pass the threads build/],
    [threaded, 1, /pass simdbert\/wasm, not a threads build/],
  ]) {
    try {
      await Engine.create({ wasm, threads });
      assert.unreachable();
    } catch (e) {
      assert.is(e.name, "EngineError");
      assert.match(e.message, pattern);
    }
  }
  const e = await Engine.create({ wasm: threaded, threads: 2 });
  assert.is(e.threads, 2);
  e.dispose();
});

test("engine.linear on packed weights (A packed in row blocks, 1 and 2 threads, ± activation epilogue) = f32_gemm_4x8 (+ f32_activation), bit for bit", async () => {
  // K = 3000: 40-row blocks of A in the 512 KiB packing buffer, so M = 150 takes 4 blocks (the last
  // partial); M = 2 / N = 13 also go through the row-split and single-call paths
  const r = rng(7);
  for (const threads of [1, 2]) {
    const e = await Engine.create({ threads });
    // act: the activation in the GEMM's epilogue (gelu, tanh), = f32_activation on the sums
    for (const [m, n, k, withR, inPlace, act] of [
      [150, 40, 3000, true, false, 0],
      [150, 17, 3000, true, true, 0],
      [2, 13, 3000, false, false, 1],
      [37, 1000, 64, true, false, 0],
      [5, 9, 1, false, false, 12],
      [130, 300, 3000, false, false, 1],
    ]) {
      const w = e.alloc(Math.ceil(n / 8) * 8 * k * 4);
      const raw = e.alloc(n * k * 4),
        bias = e.alloc(Math.ceil(n / 8) * 32);
      const f = e.f32;
      f.set(randn(r, n * k), raw / 4);
      f.set(randn(r, n), bias / 4);
      e.k.f32_pack_panels8(n, k, raw, w);
      const a = e.arena();
      const [pa, pr, pc1, pc2] = [a.take(m * k), a.take(m * n), a.take(m * n), a.take(m * n)];
      a.commit();
      const g = e.f32;
      g.set(randn(r, m * k), pa / 4);
      g.set(randn(r, m * n), pr / 4);
      if (inPlace) {
        g.copyWithin(pc1 / 4, pr / 4, pr / 4 + m * n);
        g.copyWithin(pc2 / 4, pr / 4, pr / 4 + m * n);
      }
      const rr = (c) => (inPlace ? c : withR ? pr : 0);
      e.k.f32_gemm_4x8(m, n, k, pa, k, w, 32, 32 * k, bias, pc1, n, rr(pc1), n);
      e.linear(PackedLinear.f32(n, k, w, bias), m, pa, k, pc2, n, {
        residual: rr(pc2),
        ldr: n,
        act,
      });
      if (act) e.k.f32_activation(act, m * n, pc1, pc1);
      const h = e.f32;
      for (let i = 0; i < m * n; i++) {
        if (!Number.isFinite(h[pc1 / 4 + i]))
          assert.unreachable(`threads ${threads}, ${m}x${n}x${k}: element ${i} not finite`);
        if (!Object.is(h[pc1 / 4 + i], h[pc2 / 4 + i]))
          assert.unreachable(
            `threads ${threads}, ${m}x${n}x${k}: element ${i}: engine.gemm ${h[pc2 / 4 + i]} vs f32_gemm_4x8 ${h[pc1 / 4 + i]}`,
          );
      }
    }
    e.dispose();
  }
});

test.run();
