// Smoke tests of examples/: each example runs as a user would run it, on a shared fixture model.
//   node test/runtimes/examples.mjs [--fixtures DIR] [--only node,worker,browser,bundle]
// - node:    `node examples/node.mjs MODEL_DIR` exits 0 and prints the output shape;
// - worker:  examples/worker bundled by workerd from a wrangler config (esbuild, as wrangler
//            does), the model as its MODEL assets binding; POST /embed must equal mean pooling of
//            BertModel's output computed here in Node;
// - browser: examples/browser served by its serve.mjs, driven in headless Chromium: the query
//            equal to one sentence must rank that sentence first with cosine 1;
// - bundle:  the browser example bundled with esbuild for the browser platform (as a web app or a
//            worker build would) must build: no node: import in reach of the bundler.
// Prints a line per example and 'examples: N passed, N failed'; exit 1 on any failure.
import { spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { esbuildBin, workerdBin } from "./bins.mjs";
import { parseArgs as parseCommon } from "./fs-context.mjs";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TINY = "a_tiny_encoder";

function sh(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], ...opts });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code, out }));
  });
}

/** Mean pooling + L2 norm of BertModel's output, in Node, for comparison. */
async function reference(dir, input_ids, attention_mask) {
  const { BertModel } = await import(pathToFileURL(join(REPO, "dist/index.js")).href);
  const model = await BertModel.fromPretrained(dir, { warn: () => {} });
  const out = await model.forward({ input_ids, attention_mask });
  const [n, seq, hidden] = out.last_hidden_state.shape;
  const h = out.last_hidden_state.data;
  return Array.from({ length: n }, (_, b) => {
    const v = new Float64Array(hidden);
    let c = 0;
    for (let t = 0; t < seq; t++) {
      if (!attention_mask[b][t]) continue;
      c++;
      for (let k = 0; k < hidden; k++) v[k] += h[(b * seq + t) * hidden + k];
    }
    const norm = Math.hypot(...v.map((x) => x / c));
    return Array.from(v, (x) => x / c / norm);
  });
}

async function nodeExample(fixtures) {
  const { code, out } = await sh(process.execPath, ["examples/node.mjs", join(fixtures, "k_minilm_shape")]);
  if (code !== 0 || !/last_hidden_state \[3,11,384\]/.test(out)) throw new Error(`exit ${code}\n${out}`);
  return out.split("\n").find((l) => l.startsWith("forward"));
}

async function workerExample(fixtures) {
  const bin = workerdBin();
  const esbuild = esbuildBin();
  if (!bin || !esbuild) throw new Error("workerd or esbuild missing: npm install");
  const dir = await mkdtemp(join(tmpdir(), "simdbert-worker-example-"));
  const config = join(dir, "wrangler.jsonc");
  // the example's own wrangler.jsonc, with absolute paths and a fixture as the model folder
  await writeFile(config, JSON.stringify({
    name: "simdbert-embed-test",
    main: join(REPO, "examples/worker/src/index.js"),
    compatibility_date: "2025-09-01",
    assets: { directory: join(fixtures, TINY), binding: "MODEL", run_worker_first: true },
  }));
  const child = spawn(bin, ["serve", "--experimental", config, "--socket-addr=http=127.0.0.1:0", "--control-fd=3"], {
    cwd: REPO,
    env: { ...process.env, WORKERD_ESBUILD: esbuild },
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  try {
    const port = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`workerd did not start\n${log}`)), 60_000);
      child.on("exit", (c) => fail(new Error(`workerd exited ${c}\n${log}`)));
      createInterface({ input: child.stdio[3] }).on("line", (l) => {
        try {
          const m = JSON.parse(l);
          if (m.event === "listen") (clearTimeout(timer), ok(m.port));
        } catch {}
      });
    });
    const input_ids = [[101 % 120, 7, 33, 54, 102 % 120], [101 % 120, 9, 102 % 120, 0, 0]];
    const attention_mask = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]];
    const res = await fetch(`http://127.0.0.1:${port}/embed`, { method: "POST", body: JSON.stringify({ input_ids, attention_mask }) });
    const body = await res.json();
    if (!res.ok) throw new Error(`POST /embed: HTTP ${res.status} ${JSON.stringify(body)}\n${log}`);
    const want = await reference(join(fixtures, TINY), input_ids, attention_mask);
    let maxdiff = 0;
    want.forEach((row, b) => row.forEach((x, k) => (maxdiff = Math.max(maxdiff, Math.abs(x - body.embeddings[b][k])))));
    if (!(maxdiff < 1e-5)) throw new Error(`embeddings differ from Node's by ${maxdiff}`);
    return `POST /embed [2, 5] -> [${body.embeddings.length}, ${body.embeddings[0].length}], max|diff| vs Node ${maxdiff.toExponential(2)}`;
  } finally {
    child.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
  }
}

async function browserExample(fixtures) {
  const { launchChromium } = await import("./browser/run.mjs");
  const server = spawn(process.execPath, ["examples/browser/serve.mjs", join(fixtures, TINY), "--port", "0"], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let browser;
  try {
    const url = await new Promise((ok, fail) => {
      server.on("exit", (c) => fail(new Error(`serve.mjs exited ${c}`)));
      createInterface({ input: server.stdout }).on("line", (l) => {
        const m = l.match(/^(http:\S+)/);
        if (m) ok(m[1]);
      });
    });
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url);
    const lines = ["1 5 9 17 2", "1 44 45 46 47 48 2", "1 70 2", "1 3 3 3 99 100 101 2"];
    await page.fill("#sentences", lines.join("\n"));
    await page.fill("#query", lines[1]);
    await page.click("#search");
    await page.waitForSelector("#results li", { timeout: 60_000 }).catch(async () => {
      throw new Error(`no results: ${await page.textContent("#status")} ${errors.join("; ")}`);
    });
    const ranked = await page.$$eval("#results li", (lis) => lis.map((li) => [Number(li.dataset.index), Number(li.querySelector(".score").textContent)]));
    const shot = process.env.SIMDBERT_EXAMPLE_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    if (ranked.length !== lines.length || ranked[0][0] !== 1 || Math.abs(ranked[0][1] - 1) > 1e-4) {
      throw new Error(`unexpected ranking ${JSON.stringify(ranked)}`);
    }
    return `${ranked.length} sentences ranked, top = the query's own sentence (cosine ${ranked[0][1].toFixed(4)}); ${await page.textContent("#status")}`;
  } finally {
    await browser?.close();
    server.kill("SIGTERM");
  }
}

/** The browser example bundled by esbuild for the browser platform: no node: import may trip it. */
async function bundleExample() {
  const esbuild = esbuildBin();
  if (!esbuild) throw new Error("esbuild missing: npm install");
  const dir = await mkdtemp(join(tmpdir(), "simdbert-bundle-"));
  try {
    const out = join(dir, "app.js");
    const r = await sh(esbuild, ["examples/browser/app.js", "--bundle", "--format=esm", "--platform=browser", `--outfile=${out}`]);
    if (r.code !== 0) throw new Error(`esbuild --platform=browser failed:\n${r.out}`);
    const { size } = await stat(out);
    return `esbuild --bundle --platform=browser examples/browser/app.js: ${(size / 1024).toFixed(1)} KB`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const EXAMPLES = { node: nodeExample, worker: workerExample, browser: browserExample, bundle: bundleExample };

async function main() {
  const args = process.argv.slice(2);
  const i = args.indexOf("--only");
  const only = i >= 0 ? args.splice(i, 2)[1].split(",") : Object.keys(EXAMPLES);
  const { fixtures } = parseCommon(args);
  let passed = 0;
  for (const name of only) {
    try {
      const msg = await EXAMPLES[name](fixtures);
      console.log(`PASS examples/${name}: ${msg}`);
      passed++;
    } catch (e) {
      console.log(`FAIL examples/${name}: ${e?.stack ?? e}`);
    }
  }
  console.log(`\nexamples: ${passed} passed, ${only.length - passed} failed`);
  process.exitCode = passed === only.length ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
