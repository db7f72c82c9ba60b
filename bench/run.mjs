#!/usr/bin/env node
// simdbert's bench (issue 8): in one run, on this machine,
//   1. the WebAssembly SIMD f32 peak (f32x4 mul+add chains; relaxed_madd where available),
//   2. GEMM GFLOP/s and % of that peak at M = 128 and BERT's (K, N),
//   3. whole-model median latency, MiniLM-L6 and bert-base shapes (random weights written here as
//      an HF checkpoint), batch 1 seq 128, batch 8 seq 128, batch 1 seq 512,
//   4. the same models and inputs in onnxruntime-web (wasm, SIMD, 1 thread) and onnxruntime-node
//      (CPU: 1 intra-op thread, and its default), from an ONNX graph of the same weights written
//      here, each checked against simdbert's outputs before timing,
//   5. cold start (process start to first result), simdbert vs onnxruntime-web,
//   6. memory: wasm memory vs f32 weights, growth after 1,000 forwards.
// Prints a table, writes bench/results.json and bench/results.svg (bench/out/smoke.* with --smoke).
//
//   npm run bench                 full run (< 20 minutes on 2 cores)
//   npm run bench:smoke           seconds: tiny model, one sample of everything
//   node bench/run.mjs --only=kernels,minilm-l6,bert-base,cold,memory
import { writeFileSync, mkdirSync, existsSync, statSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import os from "node:os";
import { ROOT, relaxedExecArgv, runChild, log } from "./lib/common.mjs";
import { measureKernels, summarizeKernels, GEMM_M } from "./lib/kernels.mjs";
import { benchModel, benchMemory, SHAPES } from "./lib/models-bench.mjs";
import { benchColdStart } from "./lib/cold-bench.mjs";
import { chartSvg } from "./lib/svg.mjs";

const argv = process.argv.slice(2);
const smoke = argv.includes("--smoke");
const onlyArg = argv.find((a) => a.startsWith("--only="));
const only = onlyArg ? onlyArg.slice(7).split(",") : null;
const want = (part) => !only || only.includes(part);
const t0 = performance.now();

// ---- builds the bench needs (the kernels' builds come from `npm run build`)
function ensureBuilds() {
  const need = (out, src) =>
    !existsSync(join(ROOT, out)) ||
    statSync(join(ROOT, out)).mtimeMs < statSync(join(ROOT, src)).mtimeMs;
  for (const f of ["build/simdbert.wasm", "build/simdbert-relaxed.wasm", "dist/index.js"]) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run npm run build first`);
  }
  if (
    need("build/bench-peak.wasm", "assembly/bench_peak.ts") ||
    need("build/bench-peak-relaxed.wasm", "assembly/bench_peak.ts")
  ) {
    log("building build/bench-peak*.wasm");
    execFileSync("npm", ["run", "--silent", "build:bench"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
}
ensureBuilds();

const cpu = os.cpus()[0]?.model ?? "unknown CPU";
const results = {
  date: new Date().toISOString(),
  command: `node bench/run.mjs ${argv.join(" ")}`.trim(),
  machine: {
    node: process.version,
    v8: process.versions.v8,
    cpu,
    cores: os.cpus().length,
    platform: `${process.platform} ${process.arch}`,
    loadavg: os.loadavg(),
  },
  smoke,
};

// ---- 1, 2: peak and GEMM
if (want("kernels")) {
  log("1-2. peak and GEMM (plain SIMD, this process)");
  results.kernels = { plain: summarizeKernels(await measureKernels({ smoke })) };
  const flags = await relaxedExecArgv();
  if (flags) {
    log(`1-2. peak and GEMM (relaxed SIMD, child node ${flags.join(" ")})`);
    const raw = await runChild(
      join(ROOT, "bench", "lib", "kernels.mjs"),
      ["--relaxed", ...(smoke ? ["--smoke"] : [])],
      flags,
    );
    results.kernels.relaxed = summarizeKernels(raw);
  } else {
    results.kernels.relaxed = null;
  }
}

// ---- 3, 4, 6: models
const modelNames = smoke ? ["tiny"] : ["minilm-l6", "bert-base"];
const shapes = smoke
  ? [
      [1, 16],
      [2, 32],
    ]
  : SHAPES;
results.models = [];
for (const name of modelNames) {
  if (!want(name) && !(smoke && want("models"))) continue;
  log(`3-4. ${name}`);
  let budget = name === "bert-base" ? 8 : 4; // seconds of samples per engine and shape
  // a loaded machine: keep the whole run under 20 minutes (bert-base takes about 5 of them)
  const elapsed = (performance.now() - t0) / 1e3;
  if (name === "bert-base" && elapsed > 360) {
    budget = 3;
    log(`  (${elapsed.toFixed(0)} s so far: fewer bert-base samples)`);
  }
  results.models.push(await benchModel(name, { smoke, shapes, budget }));
}

// ---- 6: memory, in fresh processes (the first model also over 1,000 forwards)
if (want("memory")) {
  log("6. memory");
  results.memory = [];
  for (let i = 0; i < modelNames.length; i++) {
    results.memory[i] = await benchMemory(modelNames[i], {
      seq: smoke ? 16 : 128,
      forwards: i === 0 ? (smoke ? 20 : 1000) : 0,
      smallSeq: smoke ? 8 : 16,
    });
  }
}

// ---- 5: cold start
if (want("cold")) {
  log("5. cold start");
  results.coldStart = await benchColdStart(smoke ? "tiny" : "minilm-l6", { runs: smoke ? 1 : 7 });
}
results.seconds = (performance.now() - t0) / 1e3;

// ---- report
const lines = [];
const p = (s = "") => lines.push(s);
const f1 = (x) => (x === undefined || x === null || Number.isNaN(x) ? "-" : x.toFixed(1));
const f2 = (x) => (x === undefined || x === null || Number.isNaN(x) ? "-" : x.toFixed(2));
const msf = (s) =>
  s === undefined ? "-" : s * 1e3 >= 100 ? (s * 1e3).toFixed(0) : (s * 1e3).toFixed(1);
const goals = [];
const goal = (text, ok, figure) => goals.push(`${ok ? "MET    " : "NOT MET"}  ${text}: ${figure}`);

p(`simdbert bench  ${results.date}  ${results.command}`);
p(
  `${cpu}, ${results.machine.cores} cores, node ${process.version} (V8 ${process.versions.v8}), load average at start ${results.machine.loadavg.map((x) => x.toFixed(2)).join(" ")}`,
);
p(`every figure below is from this run; ratios compare engines measured in the same run`);
if (results.kernels) {
  const { plain, relaxed } = results.kernels;
  p();
  p(
    `1. WebAssembly SIMD f32 peak, median GFLOP/s (chain: 12 independent mul->add chains; split: 6 mul + 6 add chains; fed: a GEMM-shaped loop, 8 add chains fed by independent products loaded from L1)`,
  );
  for (const [k, v] of Object.entries(plain.peakVariants))
    p(`   ${k.padEnd(18)} ${f1(v).padStart(7)}`);
  if (relaxed)
    for (const [k, v] of Object.entries(relaxed.peakVariants))
      p(`   ${k.padEnd(18)} ${f1(v).padStart(7)}`);
  else p(`   relaxed_madd       unavailable in this runtime`);
  p(
    `   peak used (per round: the best probe's median; median over rounds): plain ${f1(plain.peakGflops)}${relaxed ? `, relaxed ${f1(relaxed.peakGflops)}` : ""}`,
  );
  p();
  p(
    `2. GEMM, M = ${GEMM_M} (C = A·W + bias, packed W), median GFLOP/s and % of the same build's peak (measured around it, median over rounds)`,
  );
  p(
    `   ${"K x N".padEnd(11)} ${"plain".padStart(8)} ${"% peak".padStart(7)}   ${"relaxed".padStart(8)} ${"% peak".padStart(7)}`,
  );
  for (const [shape, g] of Object.entries(plain.gemm)) {
    const r = relaxed?.gemm[shape];
    p(
      `   ${shape.padEnd(11)} ${f1(g.gflops).padStart(8)} ${f1(g.pctOfPeak).padStart(6)}%   ${f1(r?.gflops).padStart(8)} ${r ? f1(r.pctOfPeak).padStart(6) + "%" : "      -"}`,
    );
  }
  const worst = Math.min(...Object.values(plain.gemm).map((g) => g.pctOfPeak));
  goal(
    "GEMM >= 75% of the measured peak at every shape (plain SIMD)",
    worst >= 75,
    `worst ${f1(worst)}%`,
  );
  if (relaxed) {
    const wr = Math.min(...Object.values(relaxed.gemm).map((g) => g.pctOfPeak));
    goal(
      "GEMM >= 75% of the measured peak at every shape (relaxed SIMD)",
      wr >= 75,
      `worst ${f1(wr)}%`,
    );
  }
}
for (const m of results.models) {
  p();
  const engines = [...new Set(m.shapes.flatMap((s) => Object.keys(s.median)))];
  p(
    `3-4. ${m.model} (hidden ${m.config.hidden_size}, ${m.config.num_hidden_layers} layers, ${(m.floats / 1e6).toFixed(1)}M parameters): median ms per forward [samples]`,
  );
  p(`   ${"batch x seq".padEnd(12)}${engines.map((e) => e.padStart(18)).join("")}`);
  for (const s of m.shapes)
    p(
      `   ${`${s.batch} x ${s.seq}`.padEnd(12)}${engines.map((e) => `${msf(s.median[e])} [${s.samples[e]?.length ?? 0}]`.padStart(18)).join("")}`,
    );
  p(`   simdbert / peer (below 1: simdbert faster)`);
  for (const s of m.shapes) {
    const r = [];
    for (const mine of ["simdbert", "simdbert-relaxed"]) {
      if (s.median[mine] === undefined) continue;
      for (const peer of ["ort-web", "ort-node-1t", "ort-node"])
        if (s.median[peer] !== undefined)
          r.push(`${mine}/${peer} ${f2(s.median[mine] / s.median[peer])}`);
    }
    if (s.median["simdbert-2t"] !== undefined) {
      r.push(`simdbert-2t/simdbert ${f2(s.median["simdbert-2t"] / s.median.simdbert)}`);
      if (s.median["ort-web-2t"] !== undefined)
        r.push(`simdbert-2t/ort-web-2t ${f2(s.median["simdbert-2t"] / s.median["ort-web-2t"])}`);
      if (s.median["ort-node"] !== undefined)
        r.push(`simdbert-2t/ort-node ${f2(s.median["simdbert-2t"] / s.median["ort-node"])}`);
    }
    p(`   ${`${s.batch} x ${s.seq}`.padEnd(12)}${r.join("  ")}`);
  }
  p(
    `   outputs vs simdbert (max |diff|, last_hidden_state and pooler_output): ` +
      m.shapes
        .map(
          (s) =>
            `${s.batch}x${s.seq}: ` +
            Object.entries(s.agreement)
              .map(([e, a]) => `${e} ${a.maxAbsDiff.toExponential(1)}${a.ok ? "" : " DISAGREES"}`)
              .join(", "),
        )
        .join("; "),
  );
  const s8 = m.shapes.find((s) => s.batch === 8 && s.seq === 128);
  if (s8 && !smoke && s8.median["simdbert-2t"] !== undefined) {
    const r = s8.median.simdbert / s8.median["simdbert-2t"];
    goal(
      `${m.model} b8 s128: two threads >= 1.7x the single-thread throughput`,
      r >= 1.7,
      `${f2(r)}x`,
    );
  }
  const s1 = m.shapes.find((s) => s.batch === 1 && s.seq === 128);
  if (
    s1 &&
    !smoke &&
    s1.median["simdbert-2t"] !== undefined &&
    s1.median["ort-web-2t"] !== undefined
  ) {
    const r = s1.median["simdbert-2t"] / s1.median["ort-web-2t"];
    goal(
      `${m.model} b1 s128 two threads: simdbert <= 0.7x onnxruntime-web (2 threads)`,
      r <= 0.7,
      `${f2(r)}x`,
    );
  }
  if (s1 && !smoke) {
    for (const mine of ["simdbert", "simdbert-relaxed"]) {
      if (s1.median[mine] === undefined) continue;
      if (s1.median["ort-web"] !== undefined) {
        const r = s1.median[mine] / s1.median["ort-web"];
        goal(`${m.model} b1 s128 ${mine} <= 0.7x onnxruntime-web`, r <= 0.7, `${f2(r)}x`);
      }
      if (s1.median["ort-node-1t"] !== undefined) {
        const r = s1.median[mine] / s1.median["ort-node-1t"];
        goal(
          `${m.model} b1 s128 ${mine} within 2.5x of onnxruntime-node (1 thread)`,
          r <= 2.5,
          `${f2(r)}x`,
        );
      }
      if (s1.median["ort-node"] !== undefined) {
        const r = s1.median[mine] / s1.median["ort-node"];
        goals.push(
          `(info)   ${m.model} b1 s128 ${mine} (1 thread) vs onnxruntime-node with its default threads (${os.cpus().length} cores): ${f2(r)}x`,
        );
      }
    }
  }
}
if (results.memory) {
  p();
  const MiB = (b) => (b / 2 ** 20).toFixed(1);
  for (const mem of results.memory) {
    const a = mem.after;
    p(
      `6. memory, simdbert ${mem.model} after a forward of batch ${mem.batch} x seq ${mem.seq} (fresh process): wasm memory ${MiB(mem.before.memoryBytes)} MiB`,
    );
    p(
      `   = static data + weights ${MiB(mem.before.weightBytes)} MiB (f32 weights ${MiB(mem.weightBytesF32)} MiB) + arena ${MiB(mem.before.arenaBytes)} MiB + loading staging and page rounding ${MiB(mem.before.memoryBytes - mem.before.weightBytes - mem.before.arenaBytes)} MiB`,
    );
    const budget = mem.weightBytesF32 + 1.2 * mem.before.arenaBytes;
    goal(
      `${mem.model}: memory <= f32 weights + 1.2x one activation arena (b${mem.batch} s${mem.seq})`,
      mem.before.memoryBytes <= budget,
      `${MiB(mem.before.memoryBytes)} MiB vs ${MiB(budget)} MiB`,
    );
    if (mem.forwards) {
      const growth = a.memoryBytes - mem.before.memoryBytes;
      p(
        `   growth over ${mem.forwards} more forwards (1 in 10 at seq ${mem.seq}, the rest at seq ${mem.smallSeq}): ${growth} bytes of wasm memory (process RSS ${MiB(mem.rssBefore)} -> ${MiB(mem.rssAfter)} MiB)`,
      );
      goal(
        `${mem.model}: wasm memory growth over ${mem.forwards} forwards is 0`,
        growth === 0,
        `${growth} bytes`,
      );
    }
  }
}
if (results.coldStart) {
  const c = results.coldStart;
  p();
  p(
    `5. cold start, ${c.model} (process start to first result, median of ${c.runs} fresh processes)`,
  );
  for (const [e, v] of Object.entries(c.engines)) {
    p(
      `   ${e.padEnd(10)} ${v.wallMs.toFixed(0).padStart(6)} ms  (node start ${v.nodeStartMs.toFixed(0)}, import ${v.importMs.toFixed(0)}, compile+load ${v.loadMs.toFixed(0)}, first forward ${v.firstForwardMs.toFixed(0)})`,
    );
  }
  p(`   simdbert / onnxruntime-web: ${f2(c.ratio)}`);
  if (!smoke) goal("cold start <= 0.3x onnxruntime-web's", c.ratio <= 0.3, `${f2(c.ratio)}x`);
}
p();
if (goals.length && !smoke) {
  p(`Goals (issue 8), as measured in this run:`);
  for (const g of goals) p(`   ${g}`);
  p(
    `   (simdbert-2t: two kernel threads, EngineOptions.threads; every other simdbert figure is single-thread)`,
  );
}
p(`bench took ${results.seconds.toFixed(0)} s`);
results.goals = goals;
results.table = lines.join("\n");
console.log(results.table);

const outDir = smoke ? join(ROOT, "bench", "out") : join(ROOT, "bench");
mkdirSync(outDir, { recursive: true });
const base = smoke ? "smoke" : only ? "results-partial" : "results";
writeFileSync(join(outDir, `${base}.json`), JSON.stringify(results, null, 1));
results.subtitle = `${cpu}, ${results.machine.cores} cores, node ${process.version}, ${results.date.slice(0, 10)}${smoke ? " (smoke run)" : ""}`;
writeFileSync(join(outDir, `${base}.svg`), chartSvg(results));
log(`wrote ${join(outDir, base)}.json and .svg`);
