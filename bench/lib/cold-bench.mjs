// Cold start, simdbert vs onnxruntime-web, alternating fresh processes; wall time from spawn to
// the result line (process start to first result), and the child's own phase times.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT, median, log } from "./common.mjs";
import { ensureModel } from "./models.mjs";

function once(engine, dir) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [join(ROOT, "bench", "lib", "cold.mjs"), engine, dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "",
      wall = null;
    p.stdout.on("data", (d) => {
      buf += d;
      if (wall === null && buf.includes("\n")) wall = performance.now() - t0;
    });
    p.on("exit", (code) => {
      if (code !== 0 || wall === null)
        return reject(new Error(`cold start ${engine} exited with ${code}`));
      resolve({ wallMs: wall, phases: JSON.parse(buf.trim()) });
    });
  });
}

export async function benchColdStart(name = "minilm-l6", { runs = 5 } = {}) {
  const m = ensureModel(name);
  const engines = ["simdbert", "ort-web"];
  const res = Object.fromEntries(engines.map((e) => [e, []]));
  // one unmeasured run each: file cache warm for both
  for (const e of engines) await once(e, m.dir);
  for (let r = 0; r < runs; r++)
    for (const e of r % 2 ? [...engines].reverse() : engines) res[e].push(await once(e, m.dir));
  const out = { model: name, runs, engines: {} };
  for (const e of engines) {
    const ph = (k) => median(res[e].map((x) => x.phases[k] - x.phases.start));
    out.engines[e] = {
      wallMs: median(res[e].map((x) => x.wallMs)),
      samplesMs: res[e].map((x) => x.wallMs),
      importMs: ph("import"),
      loadMs: ph("load") - ph("import"),
      firstForwardMs: ph("first") - ph("load"),
      nodeStartMs: median(res[e].map((x) => x.phases.start)),
    };
  }
  out.ratio = out.engines.simdbert.wallMs / out.engines["ort-web"].wallMs;
  log(
    `  cold start ${name}: simdbert ${out.engines.simdbert.wallMs.toFixed(0)} ms, ort-web ${out.engines["ort-web"].wallMs.toFixed(0)} ms`,
  );
  return out;
}
