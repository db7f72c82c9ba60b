// Shared helpers: benchmark.js set-up, statistics, relaxed-SIMD detection, child processes.
import { createRequire } from "node:module";
import { spawn, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
/** benchmark.js, calling the functions it is given (no decompilation: they are closures). */
export const Benchmark = require("benchmark");
Benchmark.support.decompilation = false;

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))));
  return s[i];
}

/**
 * Times a synchronous function with benchmark.js; returns its per-call samples (seconds).
 * maxTime in seconds (benchmark.js's own option).
 */
export function timeSync(name, fn, { maxTime = 1, minSamples = 5, minTime = undefined } = {}) {
  const b = new Benchmark(name, fn, {
    maxTime,
    minSamples,
    initCount: 1,
    async: false,
    ...(minTime ? { minTime } : {}),
  });
  b.run({ async: false });
  if (b.error) throw b.error;
  return { samples: [...b.stats.sample], rme: b.stats.rme };
}

/** Times an async function with benchmark.js (deferred); resolves to its per-call samples (seconds). */
export function timeAsync(name, fn, { maxTime = 1, minSamples = 2 } = {}) {
  return new Promise((resolve, reject) => {
    const b = new Benchmark(name, {
      defer: true,
      fn(deferred) {
        fn().then(
          () => deferred.resolve(),
          (e) => {
            b.error = e;
            deferred.resolve();
          },
        );
      },
      maxTime,
      minSamples,
      initCount: 1,
      // a forward takes milliseconds to seconds: no need to batch calls to beat the clock
      minTime: 0.001,
    });
    b.on("complete", () =>
      b.error ? reject(b.error) : resolve({ samples: [...b.stats.sample], rme: b.stats.rme }),
    );
    b.on("error", () => reject(b.error));
    b.run({ async: true });
  });
}

// the library's own probe (a one-instruction module with f32x4.relaxed_madd)
import { hasRelaxedSimd } from "../../dist/index.js";
export { hasRelaxedSimd };

/** Node flags a child needs for relaxed SIMD ([] when this runtime has it unflagged), or null if unavailable. */
let relaxedFlags;
export async function relaxedExecArgv() {
  if (relaxedFlags !== undefined) return relaxedFlags;
  if (hasRelaxedSimd()) return (relaxedFlags = []);
  const flag = "--experimental-wasm-relaxed-simd";
  const ok = await new Promise((resolve) => {
    const lib = JSON.stringify(new URL("../../dist/index.js", import.meta.url).href);
    const code = `import(${lib}).then((m) => process.exit(m.hasRelaxedSimd() ? 0 : 1))`;
    const p = spawn(process.execPath, [flag, "--input-type=module", "-e", code], {
      stdio: "ignore",
    });
    p.on("exit", (c) => resolve(c === 0));
    p.on("error", () => resolve(false));
  });
  return (relaxedFlags = ok ? [flag] : null);
}

/** Runs a bench module as a child (node IPC, structured clone) and resolves to its result message. */
export function runChild(script, args = [], execArgv = [], { onMessage } = {}) {
  return new Promise((resolve, reject) => {
    const p = fork(script, args, {
      execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result;
    p.on("message", (m) => {
      if (m && m.type === "result") result = m.value;
      else if (onMessage) onMessage(m);
    });
    p.on("error", reject);
    p.on("exit", (code) =>
      code === 0 && result !== undefined
        ? resolve(result)
        : reject(new Error(`${script} ${args.join(" ")} exited with ${code}`)),
    );
  });
}

export const fmtMs = (s) =>
  s * 1e3 >= 100
    ? (s * 1e3).toFixed(0)
    : s * 1e3 >= 10
      ? (s * 1e3).toFixed(1)
      : (s * 1e3).toFixed(2);
export const log = (...a) => console.error(...a);
