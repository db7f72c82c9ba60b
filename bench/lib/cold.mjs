// Part 5 of the bench: cold start, one process per measurement:
//   node bench/lib/cold.mjs <simdbert|ort-web> <model dir>
// Prints one JSON line: milliseconds since this process's time origin (its start) at the end of
// each phase: import, load (compile + weights), first (first forward's result).
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";

const [engine, dir] = process.argv.slice(2);
const here = new URL(".", import.meta.url);
const now = () => performance.now();
const t = {};
const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
const { makeInputs } = await import(new URL("models.mjs", here).href);
const x = makeInputs(config, 1, 128);
t.start = now();
if (engine === "simdbert") {
  const { BertModel } = await import(
    pathToFileURL(join(dir, "..", "..", "..", "dist", "index.js")).href
  );
  t.import = now();
  const model = await BertModel.fromPretrained(dir);
  t.load = now();
  const i = (a) => ({ data: Int32Array.from(a), shape: [1, 128] });
  const out = await model.forward({
    input_ids: i(x.ids),
    attention_mask: i(x.mask),
    token_type_ids: i(x.types),
  });
  t.first = now();
  t.check = out.pooler_output.data[0];
} else {
  const ort = await import("onnxruntime-web");
  t.import = now();
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(join(dir, "model.onnx"), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  t.load = now();
  const i = (a) => new ort.Tensor("int64", BigInt64Array.from(a.map(BigInt)), [1, 128]);
  const out = await session.run({
    input_ids: i(x.ids),
    attention_mask: i(x.mask),
    token_type_ids: i(x.types),
  });
  t.first = now();
  t.check = out.pooler_output.data[0];
}
process.stdout.write(JSON.stringify(t) + "\n");
