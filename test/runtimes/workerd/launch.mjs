// Starting workerd for the runtime matrix's workers (run.mjs: the checks; bert_base_q8.mjs: the
// bert-base q8 check): the compatibility date, the library's module files, and a workerd process
// serving a Cap'n Proto config on a free loopback port.
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { workerdBin } from "../bins.mjs";

export const COMPATIBILITY_DATE = "2025-09-01";

/** Every .js file under dir, minus the subdirectories named in skip. */
export async function jsFiles(dir, skip) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!skip.includes(e.name)) out.push(...(await jsFiles(p, skip)));
    } else if (e.name.endsWith(".js")) out.push(p);
  }
  return out;
}

/** Starts workerd on a config; resolves to { url, stop(), stderr() } once it listens. */
export async function startWorkerd(configPath) {
  const bin = workerdBin();
  if (!bin) throw new Error("no workerd binary: node scripts/deps.mjs test/runtimes");
  const child = spawn(bin, ["serve", configPath, "--control-fd=3"], {
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  let err = "";
  child.stdout.on("data", (d) => (err += d));
  child.stderr.on("data", (d) => (err += d));
  const port = await new Promise((ok, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`workerd did not start in 60 s\n${err}`)),
      60_000,
    );
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`workerd exited with ${code}\n${err}`));
    });
    createInterface({ input: child.stdio[3] }).on("line", (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.event === "listen" && msg.socket === "http") {
          clearTimeout(timer);
          ok(msg.port);
        }
      } catch {
        // not a JSON line of the server: ignore
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stderr: () => err,
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null) return r();
        child.once("exit", r);
        child.kill("SIGTERM");
      }),
  };
}
