// Part 1 and 2 of the bench: this machine's WebAssembly SIMD f32 peak, and simdbert's GEMM at
// BERT shapes as GFLOP/s and % of that peak. Run in-process for the plain build and in a child
// (node --experimental-wasm-relaxed-simd on Node 20) for the relaxed one:
//   node bench/lib/kernels.mjs [--relaxed] [--smoke]   (as a child: sends { type: "result" })
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, timeSync, median } from "./common.mjs";

export const GEMM_SHAPES = [
  [384, 384],
  [384, 1536],
  [1536, 384],
  [768, 768],
  [768, 3072],
  [3072, 768],
];
export const GEMM_M = 128;

function instance(file, pages) {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  const mod = new WebAssembly.Module(readFileSync(join(ROOT, "build", file)));
  return { k: new WebAssembly.Instance(mod, { env: { memory } }).exports, memory };
}

/** Peak probes: { [variant]: GFLOP/s samples }. */
function peakProbes(relaxed, maxTime, opts) {
  const { k, memory } = instance(relaxed ? "bench-peak-relaxed.wasm" : "bench-peak.wasm", 2);
  if (!!k.relaxed() !== relaxed) throw new Error("bench-peak build mismatch");
  const iters = 200_000; // about 0.5 ms a call
  // the fed probes' operands: FED_STEPS steps of 48 bytes, small values, at the start of memory
  const fedSteps = k.FED_STEPS.value;
  const f32 = new Float32Array(memory.buffer);
  const buf = 32768; // past the probe module's (tiny) static data; the memory has 2 pages
  for (let i = 0; i < fedSteps * 12; i++) f32[buf / 4 + i] = 1e-3 * (1 + (i % 7) / 8);
  const fedRounds = Math.round((iters * 1.5) / fedSteps);
  const out = {};
  const probes = relaxed
    ? {
        relaxed_madd: () => k.peak(iters, 1, 0),
        relaxed_madd_fed: () => k.peak_fed(fedRounds, buf),
      }
    : {
        mul_add_chain: () => k.peak(iters, 1, 0),
        mul_add_split: () => k.peak_split(iters, 1),
        mul_add_fed: () => k.peak_fed(fedRounds, buf),
      };
  const flops = {
    relaxed_madd: 96 * iters,
    mul_add_chain: 96 * iters,
    mul_add_split: 48 * iters,
    relaxed_madd_fed: 64 * fedSteps * fedRounds,
    mul_add_fed: 64 * fedSteps * fedRounds,
  };
  for (const [name, fn] of Object.entries(probes)) {
    for (let i = 0; i < 20; i++) fn();
    const { samples } = timeSync(`peak ${name}`, fn, { maxTime, ...opts });
    out[name] = samples.map((s) => flops[name] / s / 1e9);
  }
  return out;
}

/**
 * GEMM at M x K x N as the model runs it: engine.linear on weights packed at load (A packed in row
 * blocks, f32_pack_rows4 + f32_gemm_4x8_packed, packing time included): GFLOP/s samples per shape.
 */
async function gemmShapes(relaxed, maxTime, opts) {
  const { Engine, PackedLinear } = await import(pathToFileURL(join(ROOT, "dist", "index.js")).href);
  const e = await Engine.create({ relaxedSimd: relaxed });
  if (e.relaxed !== relaxed) throw new Error("simdbert build mismatch");
  const M = GEMM_M;
  const out = {};
  for (const [K, N] of GEMM_SHAPES) {
    let s = 12345;
    const r = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
    const W = e.alloc(N * K * 4),
      P = e.alloc(N * K * 4),
      bias = e.alloc(N * 4);
    let f32 = e.f32;
    for (let i = 0; i < N * K; i++) f32[W / 4 + i] = r() * 0.1;
    for (let i = 0; i < N; i++) f32[bias / 4 + i] = r();
    e.k.f32_pack_panels8(N, K, W, P);
    const a = e.arena();
    const A = a.take(M * K),
      C = a.take(M * N);
    a.commit();
    f32 = e.f32;
    for (let i = 0; i < M * K; i++) f32[A / 4 + i] = r();
    const linear = PackedLinear.f32(N, K, P, bias);
    const fn = () => e.linear(linear, M, A, K, C, N);
    // spot check against a float64 dot product
    fn();
    f32 = e.f32;
    for (const [i, j] of [
      [0, 0],
      [M - 1, N - 1],
      [M >> 1, 7],
    ]) {
      let ref = f32[bias / 4 + j];
      for (let t = 0; t < K; t++) ref += f32[A / 4 + i * K + t] * f32[W / 4 + j * K + t];
      if (Math.abs(ref - f32[C / 4 + i * N + j]) > 1e-3 * (1 + Math.abs(ref)))
        throw new Error(`GEMM ${K}x${N} wrong at ${i},${j}`);
    }
    for (let i = 0; i < 5; i++) fn();
    const { samples } = timeSync(`gemm ${M}x${K}x${N}`, fn, { maxTime, ...opts });
    out[`${K}x${N}`] = samples.map((t) => (2 * M * K * N) / t / 1e9);
  }
  return out;
}

/**
 * Rounds of peak probes, GEMM shapes, peak probes again: each shape's % of peak is taken against
 * the peak measured around it in the same round (the machine's load drifts), then the median
 * over rounds. Returns { relaxed, rounds: [{ peak: { variant: GFLOP/s samples }, gemm: { "KxN": samples } }] }.
 */
export async function measureKernels({ relaxed = false, smoke = false } = {}) {
  const rounds = smoke ? 1 : 4;
  const maxTime = smoke ? 0.01 : 0.3;
  const opts = smoke ? { minSamples: 2, minTime: 0.005 } : {};
  const out = [];
  const add = (into, from) => {
    for (const [k, v] of Object.entries(from)) (into[k] ??= []).push(...v);
  };
  for (let r = 0; r < rounds; r++) {
    const round = { peak: {}, gemm: {} };
    add(round.peak, peakProbes(relaxed, maxTime / 2, opts));
    add(round.gemm, await gemmShapes(relaxed, maxTime, opts));
    if (!smoke) add(round.peak, peakProbes(relaxed, maxTime / 2, opts));
    out.push(round);
  }
  return { relaxed, rounds: out };
}

export function summarizeKernels(res) {
  const roundPeak = (round) => Math.max(...Object.values(round.peak).map(median));
  const variants = Object.keys(res.rounds[0].peak);
  const peakVariants = Object.fromEntries(
    variants.map((k) => [k, median(res.rounds.flatMap((r) => r.peak[k]))]),
  );
  const peak = median(res.rounds.map(roundPeak));
  const gemm = Object.fromEntries(
    Object.keys(res.rounds[0].gemm).map((k) => {
      const all = res.rounds.flatMap((r) => r.gemm[k]);
      const pct = median(res.rounds.map((r) => (100 * median(r.gemm[k])) / roundPeak(r)));
      return [
        k,
        { gflops: median(all), best: Math.max(...all), pctOfPeak: pct, samples: all.length },
      ];
    }),
  );
  return { relaxed: res.relaxed, peakGflops: peak, peakVariants, gemm };
}

if (process.send && process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const relaxed = process.argv.includes("--relaxed");
  const smoke = process.argv.includes("--smoke");
  process.send({ type: "result", value: await measureKernels({ relaxed, smoke }) });
}
