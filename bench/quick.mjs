#!/usr/bin/env node
// A quick look at one model and shape, between full runs of bench/run.mjs (same harness, same
// interleaved rounds): node bench/quick.mjs [model] [batch] [seq] [engine,engine,...] [seconds]
import { benchModel } from "./lib/models-bench.mjs";
const [
  model = "minilm-l6",
  batch = "1",
  seq = "128",
  engines = "simdbert,ort-web,ort-node-1t",
  budget = "4",
] = process.argv.slice(2);
const r = await benchModel(model, {
  shapes: [[+batch, +seq]],
  budget: +budget,
  engines: engines.split(","),
});
const s = r.shapes[0];
const base = s.median.simdbert;
for (const [e, m] of Object.entries(s.median)) {
  console.log(
    `${e.padEnd(18)} ${(m * 1e3).toFixed(1).padStart(8)} ms  [${s.samples[e]?.length ?? s.samples[e]}]${base && e !== "simdbert" ? `  simdbert/${e} ${(base / m).toFixed(2)}` : ""}`,
  );
}
