#!/usr/bin/env node
// The fuzz driver: every surface for a fixed time from one seed, each in a worker thread watched
// for hangs. Prints, per surface: inputs tried, crashes, hangs, silent wrong answers, memory
// growth (and unclear messages, slow cases, allocations beyond the file size), then each failure
// with the command that replays it.
//
//   node test/fuzz/run.mjs [--seconds 60] [--seed N] [--surface safetensors,config,forward,concurrency,tokenizer,torch,files,engine]
//                          [--case K --verbose]   (replay one case)
//   npm run fuzz -- --seconds 60 --seed 7
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { COUNTERS } from "./lib.mjs";

export const SURFACES = [
  "safetensors",
  "quantized",
  "config",
  "forward",
  "concurrency",
  "tokenizer",
  "torch",
  "files",
  "engine",
  "serve",
];
const WORKER = fileURLToPath(new URL("./worker.mjs", import.meta.url));

/** A fixed piece of CPU work, timed (ms): how fast this process runs at the moment. */
function calibrate() {
  const t0 = performance.now();
  let x = 1;
  for (let i = 0; i < 2e6; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0;
  const ms = performance.now() - t0;
  return x === 0.5 ? -1 : ms; // x is never 0.5: keeps the loop from being optimised away
}
let quietMs = Infinity;
/**
 * How many times slower the machine runs now than the fastest this process has seen it (1 to 4):
 * the hang watchdog waits that much longer, so that a loaded machine (other processes on its few
 * cores) is not taken for a hang, while a real hang is still caught, at most 4x later.
 */
function loadFactor() {
  if (quietMs === Infinity) for (let i = 0; i < 5; i++) quietMs = Math.min(quietMs, calibrate());
  const now = Math.min(calibrate(), calibrate(), calibrate());
  quietMs = Math.min(quietMs, now);
  return Math.min(4, Math.max(1, now / quietMs));
}
const PHASES = ["set-up", "cases", "finish", "done"];

/**
 * Fuzzes one surface for `seconds` (cases only; model set-up is not counted), in a child process.
 * A case that makes no progress for hangMs (longer on a loaded machine: see loadFactor) is a hang, and a case during which the process dies
 * (say a fatal out-of-memory) a crash: either way the process is replaced and the run resumes at
 * the next case.
 */
export async function fuzzSurface(
  surface,
  {
    seconds = 10,
    seed = 1,
    hangMs = 20000,
    slowMs = 3000,
    verbose = false,
    only = null,
    skipKnown = false,
    log = console.log,
  } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), `simdbert-fuzz-${surface}-`));
  const hbFile = join(dir, "heartbeat"),
    eventsFile = join(dir, "events");
  const counts = new Float64Array(COUNTERS.length);
  const failures = [];
  const logs = [];
  let start = only ?? 0;
  let remaining = seconds * 1000;
  let skipped = null;
  try {
    for (;;) {
      const base = Float64Array.from(counts);
      writeFileSync(hbFile, new Uint8Array(new Float64Array(2 + COUNTERS.length).fill(0).buffer));
      writeFileSync(eventsFile, "");
      const hb = () => {
        const b = readFileSync(hbFile);
        return new Float64Array(b.buffer, b.byteOffset, b.length / 8);
      };
      let seen = 0;
      let done = null;
      const drain = () => {
        const text = readFileSync(eventsFile, "utf8");
        const lines = text.slice(seen).split("\n");
        const complete = lines.pop();
        seen = text.length - complete.length;
        for (const line of lines) {
          if (!line) continue;
          const e = JSON.parse(line);
          if (e.type === "failure") {
            failures.push(e.failure);
            if (verbose || e.failure.kind !== "slow")
              log(
                `  [${surface}] ${e.failure.kind} in case ${e.failure.case}: ${e.failure.detail.split("\n")[0].slice(0, 300)}`,
              );
          } else if (e.type === "log") {
            logs.push(e.text);
            if (verbose) log(e.text);
          } else if (e.type === "skipped") skipped = e.reason;
          else if (e.type === "done") done = e;
        }
      };
      const began = Date.now();
      loadFactor(); // the quiet figure, before the child runs
      const args = JSON.stringify({
        surface,
        seed,
        budgetMs: remaining,
        start,
        only,
        hbFile,
        eventsFile,
        verbose,
        slowMs,
        skipKnown,
      });
      const child = spawn(process.execPath, [WORKER, args], {
        stdio: ["ignore", verbose ? "inherit" : "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
      const outcome = await new Promise((resolve) => {
        let last = "",
          since = Date.now(),
          settled = false;
        const finish = (v) => {
          if (settled) return;
          settled = true;
          clearInterval(watch);
          resolve(v);
        };
        const watch = setInterval(() => {
          drain();
          const h = hb();
          const key = `${h[0]}:${h[1]}`;
          if (key !== last) {
            last = key;
            since = Date.now();
            return;
          }
          const limit = h[0] === 0 ? 120000 : hangMs;
          // past the limit, only when the machine is not that much slower than at its fastest
          if (Date.now() - since > limit && Date.now() - since > limit * loadFactor()) {
            child.kill("SIGKILL");
            finish({ hang: true, phase: h[0], case: h[1] });
          }
        }, 100);
        child.on("exit", (code, signal) => {
          const h = hb();
          finish({ exit: code, signal, phase: h[0], case: h[1] });
        });
      });
      await new Promise((res) =>
        child.exitCode !== null || child.signalCode !== null ? res() : child.once("exit", res),
      );
      drain();
      // counters as of the last case the process started
      const h = hb();
      for (let k = 0; k < COUNTERS.length; k++) counts[k] = base[k] + h[2 + k];
      if (skipped || (done && outcome.exit === 0)) break;
      const k = outcome.case;
      const at = `case ${k} (${PHASES[outcome.phase]})`;
      counts[COUNTERS.indexOf("tried")]++;
      if (outcome.hang) {
        counts[COUNTERS.indexOf("hangs")]++;
        failures.push({
          kind: "hangs",
          case: k,
          detail: `no progress for ${hangMs} ms in ${at}: process killed`,
        });
        log(`  [${surface}] hang in ${at}: process killed`);
      } else {
        counts[COUNTERS.indexOf("crashes")]++;
        const why = outcome.signal ? `signal ${outcome.signal}` : `exit code ${outcome.exit}`;
        failures.push({
          kind: "crashes",
          case: k,
          detail: `the process died in ${at} (${why}): ${stderr
            .trim()
            .split("\n")
            .filter((l) => /error|Error|FATAL/.test(l))
            .slice(0, 3)
            .join(" | ")}`,
        });
        log(`  [${surface}] the process died in ${at} (${why})`);
      }
      remaining -= Date.now() - began;
      if (only != null || outcome.phase !== 1 || remaining <= 0) break;
      start = k + 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const out = {};
  COUNTERS.forEach((k, i) => (out[k] = counts[i]));
  return { surface, seed, seconds, counts: out, failures, skipped, logs };
}

export function formatResult(r) {
  if (r.skipped) return `${r.surface.padEnd(12)} skipped: ${r.skipped}`;
  const c = r.counts;
  return (
    `${r.surface.padEnd(12)} tried ${String(c.tried).padStart(7)}  (ok ${c.ok}, rejected ${c.rejected}, checks ${c.checks})  ` +
    `crashes ${c.crashes}  hangs ${c.hangs}  wrong ${c.wrong}  memory growth ${c.memGrowth} (${c.memGrowthBytes} bytes)  ` +
    `unclear ${c.unclear}  slow ${c.slow}  over-allocations ${c.overAlloc}${c.known ? `  (known bugs skipped: ${c.known})` : ""}`
  );
}

/** Failures that count against the run (everything but the informational counters). */
export function failureCount(r) {
  if (r.skipped) return 0;
  const c = r.counts;
  return c.crashes + c.hangs + c.wrong + c.memGrowth + c.unclear + c.slow + c.overAlloc;
}

function parseArgs(argv) {
  const o = {
    seconds: 20,
    seed: null,
    surfaces: SURFACES,
    only: null,
    verbose: false,
    hangMs: 20000,
    slowMs: 3000,
    skipKnown: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i],
      v = () => argv[++i];
    if (a === "--seconds") o.seconds = Number(v());
    else if (a === "--seed") o.seed = Number(v()) >>> 0;
    else if (a === "--surface" || a === "--surfaces") o.surfaces = v().split(",");
    else if (a === "--case") o.only = Number(v());
    else if (a === "--verbose" || a === "-v") o.verbose = true;
    else if (a === "--hang-ms") o.hangMs = Number(v());
    else if (a === "--slow-ms") o.slowMs = Number(v());
    else if (a === "--skip-known") o.skipKnown = true;
    else if (a === "--help" || a === "-h") {
      console.log(
        "node test/fuzz/run.mjs [--seconds S] [--seed N] [--surface a,b] [--case K] [--verbose] [--hang-ms MS] [--slow-ms MS] [--skip-known]",
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  for (const s of o.surfaces)
    if (!SURFACES.includes(s))
      throw new Error(`unknown surface ${s} (known: ${SURFACES.join(", ")})`);
  return o;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const o = parseArgs(process.argv.slice(2));
  const seed = o.seed ?? (Date.now() % 2 ** 31) >>> 0;
  console.log(
    `simdbert fuzz: seed ${seed}, ${o.only != null ? `case ${o.only}` : `${o.seconds} s per surface`} (${o.surfaces.join(", ")})`,
  );
  let bad = 0;
  const results = [];
  for (const s of o.surfaces) {
    const r = await fuzzSurface(s, {
      seconds: o.seconds,
      seed,
      hangMs: o.hangMs,
      slowMs: o.slowMs,
      verbose: o.verbose,
      only: o.only,
      skipKnown: o.skipKnown,
    });
    results.push(r);
    console.log(formatResult(r));
    for (const l of r.logs) if (/^(soak|workers)/.test(l)) console.log(`             ${l}`);
    bad += failureCount(r);
  }
  const all = results.flatMap((r) => r.failures.map((f) => ({ ...f, surface: r.surface })));
  if (all.length) {
    console.log(`\n${all.length} failure(s); replay one with:`);
    for (const f of all.slice(0, 40)) {
      console.log(
        `  node test/fuzz/run.mjs --surface ${f.surface} --seed ${seed} --case ${f.case} --verbose   # ${f.kind}: ${f.detail.split("\n")[0].slice(0, 160)}`,
      );
    }
  }
  console.log(
    `\nreproduce: node test/fuzz/run.mjs --seconds ${o.seconds} --seed ${seed} --surface ${o.surfaces.join(",")}${o.skipKnown ? " --skip-known" : ""}`,
  );
  process.exit(bad ? 1 : 0);
}
