// Runtime matrix: workerd (Cloudflare's runtime, from the npm package `workerd`).
// Lays out a worker bundle in a temp dir: worker.mjs, common.mjs, dist/**.js (ES modules),
// build/simdbert.wasm as a `wasm` module, the files of each folder in common.mjs's FIXTURE_DIRS as `data`
// modules (fixtures.mjs maps case -> file name -> ArrayBuffer), and a Cap'n Proto
// config naming them all; serves it on 127.0.0.1 and asks it to run the checks.
// Then the bert-base q8 check (bert_base_q8.mjs: its own worker, the model by URL).
// `node test/runtimes/workerd/run.mjs [--fixtures DIR] [--runs N]`
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { COMPATIBILITY_DATE, jsFiles, startWorkerd } from "./launch.mjs";
export { COMPATIBILITY_DATE, startWorkerd };
import {
  DEFAULT_RUNS,
  FIXTURE_DIRS,
  describe,
  median,
  RESULT_TAG,
  TIMED_CASE,
} from "../common.mjs";
import { parseArgs } from "../fs-context.mjs";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const HERE = fileURLToPath(new URL("./", import.meta.url));

/** Writes the bundle and its config into `dir`; returns the config's path. */
export async function layOut(dir, fixtures) {
  const modules = [];
  const add = async (from, name, kind) => {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await cp(from, join(dir, name));
    modules.push(`(name = ${JSON.stringify(name)}, ${kind} = embed ${JSON.stringify(name)})`);
  };
  await add(join(HERE, "worker.mjs"), "worker.mjs", "esModule");
  await add(join(HERE, "../common.mjs"), "common.mjs", "esModule");
  // the library as published: dist/ minus the Node-only CLI
  for (const f of await jsFiles(join(REPO, "dist"), ["cli"]))
    await add(f, relative(REPO, f), "esModule");
  await add(join(REPO, "build/simdbert.wasm"), "simdbert.wasm", "wasm");
  const imports = [];
  const table = [];
  for (const [i, c] of FIXTURE_DIRS.entries()) {
    const entries = [];
    // every file of the case's folder (a pipeline check's vocab.txt / tokenizer files included)
    const names = (await readdir(join(fixtures, c), { withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
    for (const [j, f] of names.entries()) {
      const name = `fixtures/${c}/${f}`;
      await add(join(fixtures, c, f), name, "data");
      imports.push(`import f${i}_${j} from ${JSON.stringify("./" + name)};`);
      entries.push(`${JSON.stringify(f)}: f${i}_${j}`);
    }
    table.push(`  ${JSON.stringify(c)}: { ${entries.join(", ")} },`);
  }
  await writeFile(
    join(dir, "fixtures.mjs"),
    `${imports.join("\n")}\nexport default {\n${table.join("\n")}\n};\n`,
  );
  modules.push(`(name = "fixtures.mjs", esModule = embed "fixtures.mjs")`);
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [
    ${modules.join(",\n    ")}
  ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
);
`;
  const path = join(dir, "config.capnp");
  await writeFile(path, config);
  return path;
}

async function version() {
  const pkg = JSON.parse(
    await readFile(join(HERE, "../node_modules/workerd/package.json"), "utf8"),
  );
  return pkg.version;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const runs = opts.runs ?? DEFAULT_RUNS;
  const dir = await mkdtemp(join(tmpdir(), "simdbert-workerd-"));
  let server;
  let result;
  try {
    server = await startWorkerd(await layOut(dir, opts.fixtures));
    const res = await fetch(`${server.url}/check`);
    if (!res.ok) throw new Error(`/check: HTTP ${res.status}: ${await res.text()}`);
    result = await res.json();
    // timing from outside: a worker's clock is coarse (and frozen during execution on the edge)
    const timedCheck = result.checks.find((c) => c.name === `forward ${TIMED_CASE}`);
    if (timedCheck && runs > 0) {
      const times = [];
      let shape;
      for (let i = 0; i <= runs; i++) {
        const t0 = performance.now();
        const r = await fetch(`${server.url}/forward`);
        if (!r.ok) throw new Error(`/forward: HTTP ${r.status}: ${await r.text()}`);
        shape = (await r.json()).shape;
        if (i > 0) times.push(performance.now() - t0); // the first one loads the model
      }
      Object.assign(timedCheck, {
        runs,
        median_ms: median(times),
        shape: shape.slice(0, 2),
        timing: "HTTP round trip",
      });
    }
  } catch (e) {
    result = {
      pass: false,
      checks: [{ name: "workerd", pass: false, detail: String(e?.stack ?? e) }],
    };
    if (server) result.checks[0].detail += `\n${server.stderr()}`;
  } finally {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  // bert-base in q8 in its own worker (bert_base_q8.mjs): wasm memory within an isolate's 128 MB
  const { bertBaseQ8Check } = await import("./bert_base_q8.mjs");
  const big = await bertBaseQ8Check();
  result.checks.push(big);
  result.pass = result.pass && big.pass;
  result.runtime = "workerd";
  result.version = await version().catch(() => "?");
  console.log(describe(result));
  console.log(RESULT_TAG + JSON.stringify(result));
  process.exitCode = result.pass ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
