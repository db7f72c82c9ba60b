// A seconds-long smoke run of the bench (npm run bench is the real thing): the peak and GEMM
// probes run and give sane numbers, the ONNX graph the bench writes runs in onnxruntime-web and
// agrees with simdbert, and the chart renders.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { measureKernels, summarizeKernels, GEMM_SHAPES } from "./lib/kernels.mjs";
import { benchModel, benchMemory } from "./lib/models-bench.mjs";
import { chartSvg } from "./lib/svg.mjs";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

test("bench smoke: peak and GEMM probes", async () => {
  if (!existsSync(new URL("../build/bench-peak.wasm", import.meta.url)))
    execFileSync("npm", ["run", "--silent", "build:bench"], { stdio: "ignore" });
  const k = summarizeKernels(await measureKernels({ smoke: true }));
  assert.ok(k.peakGflops > 0.5, `peak ${k.peakGflops}`);
  assert.equal(Object.keys(k.gemm).length, GEMM_SHAPES.length);
  // a smoke run on a shared machine times too briefly for a meaningful % of peak: only sanity here
  for (const [shape, g] of Object.entries(k.gemm))
    assert.ok(
      g.gflops > 0.1 && Number.isFinite(g.pctOfPeak) && g.pctOfPeak > 0,
      `${shape}: ${g.gflops} GFLOP/s`,
    );
});

test("bench smoke: tiny model in simdbert and onnxruntime-web agree, timed, charted", async () => {
  const r = await benchModel("tiny", {
    smoke: true,
    shapes: [[2, 16]],
    engines: ["simdbert", "ort-web"],
  });
  const s = r.shapes[0];
  assert.ok(s.agreement["ort-web"].ok, `max|diff| ${s.agreement["ort-web"].maxAbsDiff}`);
  assert.ok(s.median.simdbert > 0 && s.median["ort-web"] > 0);
  const mem = await benchMemory("tiny", { seq: 16, forwards: 5, smallSeq: 8 });
  assert.is(mem.after.memoryBytes, mem.before.memoryBytes);
  const svg = chartSvg({ models: [r] });
  assert.ok(svg.startsWith("<svg") && svg.includes("onnxruntime-web"));
});

test.run();
