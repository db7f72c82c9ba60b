#!/usr/bin/env node
// Where a forward's time goes, per kernel: every export of the engine's WebAssembly instance
// wrapped with a timer (one thread: the pool's threads have their own instances), over a few
// forwards of the bench's models (random weights, bench/lib/models.mjs) in fp32 and q8, the plain
// or the relaxed build. Prints each kernel's share of the forward, calls per forward, and the
// forward's median wall time (the wrappers cost well under 1%: a few hundred calls a forward).
//   node bench/q8_profile.mjs [--models minilm-l6] [--shape 1x128] [--dtypes fp32,q8] [--relaxed]
//                             [--runs 20] [--node /path/to/node]
// --relaxed runs the relaxed build (with --experimental-wasm-relaxed-simd where the Node needs it).
import { spawnSync } from "node:child_process";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ROOT, median, relaxedExecArgv } from "./lib/common.mjs";
import { ensureModel, makeInputs } from "./lib/models.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const relaxed = args.includes("--relaxed");
if (opt("node") || (relaxed && !args.includes("--child"))) {
  // run as a child: under another Node, and/or with the relaxed-SIMD flag where needed
  const i = args.indexOf("--node");
  const rest = i >= 0 ? [...args.slice(0, i), ...args.slice(i + 2)] : args;
  const node = opt("node", process.execPath);
  let flags = [];
  if (relaxed) {
    const probe = spawnSync(node, [
      "--input-type=module",
      "-e",
      `import(${JSON.stringify(pathToFileURL(join(ROOT, "dist", "index.js")).href)}).then((m) => process.exit(m.hasRelaxedSimd() ? 0 : 1))`,
    ]);
    if (probe.status !== 0) flags = ["--experimental-wasm-relaxed-simd"];
  }
  const r = spawnSync(node, [...flags, fileURLToPath(import.meta.url), ...rest, "--child"], {
    stdio: "inherit",
  });
  process.exit(r.status ?? 1);
}
void relaxedExecArgv;

const models = opt("models", "minilm-l6").split(",");
const [batch, seq] = opt("shape", "1x128").split("x").map(Number);
const dtypes = opt("dtypes", "fp32,q8").split(",");
const runs = Number(opt("runs", 20));
const { BertModel } = await import(pathToFileURL(join(ROOT, "dist", "index.js")).href);

console.log(
  `Node ${process.version}, ${relaxed ? "relaxed" : "plain"} build, one thread, load average ${os.loadavg()[0].toFixed(1)}`,
);
for (const name of models) {
  const m = ensureModel(name);
  const x = makeInputs(m.config, batch, seq);
  const t = (a) => ({ data: Int32Array.from(a), shape: [batch, seq] });
  const feeds = { input_ids: t(x.ids), attention_mask: t(x.mask), token_type_ids: t(x.types) };
  for (const dtype of dtypes) {
    const model = await BertModel.fromPretrained(m.dir, {
      relaxedSimd: relaxed,
      threads: 1,
      dtype,
    });
    const e = model.engine;
    const raw = e.k;
    const spent = new Map();
    const wrapped = {};
    for (const [k, f] of Object.entries(raw)) {
      if (typeof f !== "function") {
        wrapped[k] = f;
        continue;
      }
      wrapped[k] = (...a) => {
        const t0 = performance.now();
        const r = f(...a);
        const s = spent.get(k) ?? (spent.set(k, { ms: 0, calls: 0 }), spent.get(k));
        s.ms += performance.now() - t0;
        s.calls++;
        return r;
      };
    }
    for (let i = 0; i < 5; i++) await model.forward(feeds); // warm-up, unwrapped
    Object.defineProperty(e, "k", { value: wrapped, configurable: true, writable: true });
    const walls = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await model.forward(feeds);
      walls.push(performance.now() - t0);
    }
    Object.defineProperty(e, "k", { value: raw, configurable: true, writable: true });
    const total = walls.reduce((a, b) => a + b, 0);
    const inKernels = [...spent.values()].reduce((a, s) => a + s.ms, 0);
    console.log(
      `\n${name} b${batch} s${seq} ${dtype}${dtype === "q8" ? ` (${e.q8Kernel})` : ""}: median forward ${median(walls).toFixed(1)} ms; in kernels ${((100 * inKernels) / total).toFixed(1)}%`,
    );
    for (const [k, s] of [...spent].sort((a, b) => b[1].ms - a[1].ms)) {
      if (s.ms / total < 0.002) continue;
      console.log(
        `  ${k.padEnd(24)} ${((100 * s.ms) / total).toFixed(1).padStart(5)}%  ${(s.ms / runs).toFixed(2).padStart(8)} ms  ${String(s.calls / runs).padStart(6)} calls`,
      );
    }
    model.dispose?.();
  }
}
