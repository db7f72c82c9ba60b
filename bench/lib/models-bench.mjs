// Part 3, 4 and 6 of the bench: whole-model latency of simdbert and its peers on the same weights
// and inputs, each engine in its own process (bench/lib/engine-worker.mjs), interleaved round by
// round; the peers' outputs checked against simdbert's before any timing; memory of simdbert.
import { fork } from "node:child_process";
import os from "node:os";
import { join } from "node:path";
import { ROOT, median, quantile, relaxedExecArgv, log } from "./common.mjs";
import { ensureModel } from "./models.mjs";

const WORKER = join(ROOT, "bench", "lib", "engine-worker.mjs");

class Worker {
  constructor(engine, dir, execArgv) {
    this.engine = engine;
    this.p = fork(WORKER, [engine, dir], {
      execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.pending = new Map();
    this.next = 0;
    this.p.on("message", (m) => {
      const w = this.pending.get(m.id);
      if (!w) return;
      this.pending.delete(m.id);
      if (m.error) w.reject(new Error(`${engine}: ${m.error}`));
      else w.resolve(m.value);
    });
    this.p.on("exit", (code) => {
      for (const w of this.pending.values())
        w.reject(new Error(`${engine} worker exited (${code})`));
      this.pending.clear();
    });
  }
  call(cmd, args = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.p.send({ id, cmd, ...args });
    });
  }
  close() {
    this.p.disconnect();
  }
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i] - b[i]);
    if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x;
  }
  return d;
}

export const SHAPES = [
  [1, 128],
  [8, 128],
  [1, 512],
];
/** Peers must agree with simdbert to this max |diff| (same f32 weights; different summation orders). */
export const AGREE_ATOL = 2e-3;

/**
 * Benchmarks one model over the shapes. Returns
 * { model, floats, engines: {name: {loadMs}}, shapes: [{ batch, seq, agreement, warmup, samples, median }], memory }.
 */
export async function benchModel(
  name,
  { smoke = false, shapes = SHAPES, budget = 6, engines: only = null } = {},
) {
  const m = ensureModel(name);
  const relaxedArgv = await relaxedExecArgv();
  const two = os.cpus().length >= 2;
  const names = [
    "simdbert",
    ...(relaxedArgv ? ["simdbert-relaxed"] : []),
    ...(two ? ["simdbert-2t"] : []),
    "ort-web",
    ...(two ? ["ort-web-2t"] : []),
    "ort-node-1t",
    "ort-node",
  ].filter((e) => !only || only.includes(e));
  // the dtype engines (simdbert[-relaxed][-2t]-(fp16|q8), ort-*-q8, ort-node-2t) only when asked
  // for by name
  if (only)
    for (const e of only)
      if (
        (/^simdbert(-relaxed)?(-2t)?(-(fp16|q8))?$/.test(e) ||
          /^ort-(web|node)(-1t|-2t)?(-q8)?$/.test(e)) &&
        !names.includes(e)
      )
        if (!e.includes("relaxed") || relaxedArgv) names.push(e);
  const workers = names.map(
    (e) => new Worker(e, m.dir, e.startsWith("simdbert-relaxed") ? relaxedArgv : []),
  );
  const out = {
    model: name,
    config: m.config,
    floats: m.floats,
    weightBytesF32: m.floats * 4,
    engines: {},
    shapes: [],
  };
  try {
    for (const w of workers) {
      out.engines[w.engine] = await w.call("load");
      log(`  ${name}: ${w.engine} loaded in ${out.engines[w.engine].loadMs.toFixed(0)} ms`);
    }
    for (const [batch, seq] of shapes) {
      const shape = {
        batch,
        seq,
        agreement: {},
        warmup: {},
        samples: {},
        median: {},
        p10: {},
        p90: {},
      };
      // every peer against simdbert (plain), before timing
      const ref = await workers[0].call("outputs", { batch, seq });
      for (const w of workers.slice(1)) {
        const o = await w.call("outputs", { batch, seq });
        const d = Math.max(
          maxAbsDiff(ref.last_hidden_state, o.last_hidden_state),
          maxAbsDiff(ref.pooler_output, o.pooler_output),
        );
        // fp16 and q8 weights differ from the f32 ones: their difference is reported, not judged
        const lowp = /-(fp16|q8)$/.test(w.engine);
        shape.agreement[w.engine] = { maxAbsDiff: d, ok: lowp ? null : d <= AGREE_ATOL };
        if (!lowp && !(d <= AGREE_ATOL))
          log(
            `  WARNING ${name} ${batch}x${seq}: ${w.engine} disagrees with simdbert (max|diff| ${d})`,
          );
      }
      for (const w of workers) {
        shape.warmup[w.engine] = await w.call(
          "warmup",
          smoke
            ? { batch, seq, minTime: 0, maxTime: 1, maxRuns: 2 }
            : { batch, seq, minTime: 2, maxTime: 12 },
        );
      }
      // samples per engine from its settled time; rounds interleave the engines, order rotated
      const rounds = smoke ? 1 : 3;
      const plan = Object.fromEntries(
        workers.map((w) => {
          const est = Math.max(shape.warmup[w.engine].last, 1e-4);
          const n = smoke ? 2 : Math.min(40, Math.max(est > 1 ? 5 : 6, Math.round(budget / est)));
          return [w.engine, { perRound: Math.ceil(n / rounds), maxTime: (est * n) / rounds }];
        }),
      );
      for (let r = 0; r < rounds; r++) {
        const order = workers.map((_, i) => workers[(i + r) % workers.length]);
        for (const w of order) {
          const p = plan[w.engine];
          // a pause before each engine's turn: the previous engine's threads (onnxruntime spins its
          // idle pool threads for a while) leave the cores before this one is timed
          if (!smoke) await new Promise((res) => setTimeout(res, 250));
          const { samples } = await w.call("time", {
            batch,
            seq,
            maxTime: p.maxTime,
            minSamples: p.perRound,
          });
          (shape.samples[w.engine] ??= []).push(...samples);
        }
      }
      for (const [e, s] of Object.entries(shape.samples)) {
        shape.median[e] = median(s);
        shape.p10[e] = quantile(s, 0.1);
        shape.p90[e] = quantile(s, 0.9);
      }
      log(
        `  ${name} ${batch}x${seq}: ` +
          Object.entries(shape.median)
            .map(([e, t]) => `${e} ${(t * 1e3).toFixed(1)} ms`)
            .join(", "),
      );
      out.shapes.push(shape);
    }
  } finally {
    for (const w of workers) w.close();
  }
  return out;
}

/**
 * simdbert's memory in a fresh process: wasm memory vs f32 weights and the arena after one forward
 * of (batch, seq), and growth over `forwards` more.
 */
export async function benchMemory(
  name,
  { batch = 1, seq = 128, forwards = 1000, smallSeq = 16 } = {},
) {
  const m = ensureModel(name);
  const w = new Worker("simdbert", m.dir, []);
  try {
    await w.call("load");
    const r = await w.call("memory", { batch, seq, forwards, smallSeq });
    return { model: name, weightBytesF32: m.floats * 4, batch, seq, ...r };
  } finally {
    w.close();
  }
}
