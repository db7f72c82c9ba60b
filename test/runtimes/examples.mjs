// Smoke tests of examples/: each example runs as a user would run it, on a shared fixture model.
//   node test/runtimes/examples.mjs [--fixtures DIR] [--only node,worker,browser,bundle]
// - node:    `node examples/node.mjs MODEL_DIR` exits 0 and prints the output shape;
// - worker:  examples/worker (simdbert/serve's createHandler) bundled by workerd from a wrangler
//            config (esbuild, as wrangler does), the model as its MODEL assets binding; GET /health,
//            POST /v1/embeddings (token ids) must equal mean pooling of BertModel's output computed
//            here in Node, POST /embed (texts) Node's pipeline, a bad body TEI's 400;
// - browser: examples/browser served by its serve.mjs, driven in headless Chromium: the query
//            equal to one sentence must rank that sentence first with cosine 1 (token ids with a
//            model without tokenizer; text with one, when the build has the pipeline);
// Text is tried only when dist/ exports `pipeline`; the fixture model then gets a generated
// vocab.txt.
// - bundle:  the browser example bundled with esbuild for the browser platform (as a web app or a
//            worker build would), run in Chromium from a site of its own.
// - hub-cache-chromium, hub-cache-deno: a model id through the Cache API for real
//            (test/runtimes/hub-cache/README.md).
// Prints a line per example and 'examples: N passed, N failed'; exit 1 on any failure.
import { spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { esbuildBin, workerdBin } from "./bins.mjs";
import { generatedVocab, SENTENCES } from "./common.mjs";
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

const lib = () => import(pathToFileURL(join(REPO, "dist/index.js")).href);
/** Whether this build of simdbert has the feature-extraction pipeline (text in). */
export const hasPipeline = async () => typeof (await lib()).pipeline === "function";

/**
 * A temp folder with two models: plain/ (a_tiny_encoder as is: no tokenizer) and tok/ (the same
 * weights plus a generated 120-token vocab.txt, so text goes through the tokenizer).
 */
async function makeModels(fixtures) {
  const root = await mkdtemp(join(tmpdir(), "simdbert-example-models-"));
  for (const sub of ["plain", "tok"]) {
    await mkdir(join(root, sub));
    for (const f of ["config.json", "model.safetensors"])
      await copyFile(join(fixtures, TINY, f), join(root, sub, f));
  }
  await writeFile(join(root, "tok", "vocab.txt"), generatedVocab(120));
  return {
    root,
    plain: join(root, "plain"),
    tok: join(root, "tok"),
    done: () => rm(root, { recursive: true, force: true }),
  };
}

/** Largest |a - b| over two lists of rows. */
function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  a.forEach((row, i) => {
    if (row.length !== b[i].length) m = Infinity;
    row.forEach((x, k) => (m = Math.max(m, Math.abs(x - b[i][k]))));
  });
  return m;
}

/** Mean pooling + L2 norm of BertModel's output, in Node, for comparison. */
async function reference(dir, input_ids, attention_mask) {
  const { BertModel } = await lib();
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
  const lines = [];
  // no tokenizer: token ids through BertModel
  let r = await sh(process.execPath, ["examples/node.mjs", join(fixtures, "k_minilm_shape")]);
  if (r.code !== 0 || !/last_hidden_state \[3,11,384\]/.test(r.out))
    throw new Error(`exit ${r.code}\n${r.out}`);
  lines.push(r.out.split("\n").find((l) => l.startsWith("forward")));
  // with a tokenizer: text through the pipeline, when this build has it
  if (await hasPipeline()) {
    const models = await makeModels(fixtures);
    try {
      r = await sh(process.execPath, ["examples/node.mjs", models.tok]);
      if (r.code !== 0 || !/embedded 3 sentences -> \[3,32\]/.test(r.out))
        throw new Error(`text: exit ${r.code}\n${r.out}`);
      lines.push(r.out.split("\n").find((l) => l.startsWith("embedded")));
    } finally {
      await models.done();
    }
  }
  return lines.join("; ");
}

async function workerExample(fixtures) {
  const models = await makeModels(fixtures);
  try {
    return await workerWith(models.tok);
  } finally {
    await models.done();
  }
}

async function workerWith(modelDir) {
  const bin = workerdBin();
  const esbuild = esbuildBin();
  if (!bin || !esbuild)
    throw new Error("workerd or esbuild missing: node scripts/deps.mjs test/runtimes");
  const dir = await mkdtemp(join(tmpdir(), "simdbert-worker-example-"));
  const config = join(dir, "wrangler.jsonc");
  // the example's own wrangler.jsonc, with absolute paths and a fixture as the model folder
  await writeFile(
    config,
    JSON.stringify({
      name: "simdbert-embed-test",
      main: join(REPO, "examples/worker/src/index.js"),
      compatibility_date: "2025-09-01",
      assets: { directory: modelDir, binding: "MODEL", run_worker_first: true },
    }),
  );
  const child = spawn(
    bin,
    ["serve", "--experimental", config, "--socket-addr=http=127.0.0.1:0", "--control-fd=3"],
    {
      cwd: REPO,
      env: { ...process.env, WORKERD_ESBUILD: esbuild },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    },
  );
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
        } catch {
          // not a JSON line of the server: ignore
        }
      });
    });
    const base = `http://127.0.0.1:${port}`;
    // /health answers 503 while the model loads (the first request starts the load), then 200
    let health = await fetch(`${base}/health`);
    for (let t = Date.now(); health.status === 503 && Date.now() - t < 60_000;) {
      await new Promise((r) => setTimeout(r, 100));
      health = await fetch(`${base}/health`);
    }
    const info = await fetch(`${base}/info`).then((r) => r.json());
    if (health.status !== 200 || !info.model_type?.embedding)
      throw new Error(`GET /health ${health.status}, /info ${JSON.stringify(info)}\n${log}`);
    // token ids through OpenAI's route (no special tokens added): mean pooling + L2 of Node's BertModel
    const input_ids = [
      [101 % 120, 7, 33, 54, 102 % 120],
      [101 % 120, 9, 102 % 120],
    ];
    const res = await fetch(`${base}/v1/embeddings`, {
      method: "POST",
      body: JSON.stringify({ input: input_ids }),
    });
    const body = await res.json();
    if (!res.ok)
      throw new Error(`POST /v1/embeddings: HTTP ${res.status} ${JSON.stringify(body)}\n${log}`);
    const embeddings = body.data.map((d) => d.embedding);
    let maxdiff = 0;
    for (const [i, ids] of input_ids.entries()) {
      const want = await reference(modelDir, [ids], [ids.map(() => 1)]);
      maxdiff = Math.max(maxdiff, maxAbsDiff(want, [embeddings[i]]));
    }
    if (!(maxdiff < 1e-5)) throw new Error(`embeddings differ from Node's by ${maxdiff}`);
    const msgs = [
      `GET /health 200; POST /v1/embeddings ids [2] -> [${embeddings.length}, ${embeddings[0].length}], max|diff| vs Node ${maxdiff.toExponential(2)}`,
    ];
    // text through TEI's /embed: Node's pipeline (mean, normalized)
    const tres = await fetch(`${base}/embed`, {
      method: "POST",
      body: JSON.stringify({ inputs: SENTENCES }),
    });
    const text = await tres.text();
    if (!tres.ok) throw new Error(`POST /embed: HTTP ${tres.status} ${text}\n${log}`);
    const got = JSON.parse(text);
    const extractor = await (await lib()).pipeline("feature-extraction", modelDir);
    const t = await extractor(SENTENCES, { pooling: "mean", normalize: true });
    const rows = SENTENCES.map((_, i) =>
      Array.from(t.data.subarray(i * t.shape[1], (i + 1) * t.shape[1])),
    );
    const d = maxAbsDiff(rows, got);
    if (!(d < 1e-5)) throw new Error(`text embeddings differ from Node's pipeline by ${d}`);
    msgs.push(
      `POST /embed texts [${SENTENCES.length}] -> [${got.length}, ${got[0].length}], max|diff| vs Node's pipeline ${d.toExponential(2)}`,
    );
    const bad = await fetch(`${base}/embed`, { method: "POST", body: "{" });
    if (bad.status !== 400) throw new Error(`POST /embed "{": HTTP ${bad.status}, expected 400`);
    return msgs.join("; ");
  } finally {
    child.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Drives the example's page at url in Chromium: ranks token-id lines (model /model/plain) and,
 * when this build has the pipeline, sentences (/model/tok); the query equal to one line must come
 * first with cosine 1. Returns a line per search and the page.
 */
async function searchPage(browser, url) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  const search = async (model, lines, expectMode) => {
    await page.fill("#model", model);
    await page.fill("#sentences", lines.join("\n"));
    await page.fill("#query", lines[1]);
    await page.click("#search");
    await page.waitForFunction(
      () =>
        document.querySelector("#results li") ||
        /^error/.test(document.querySelector("#status").textContent),
      null,
      { timeout: 60_000 },
    );
    const status = await page.textContent("#status");
    const mode = await page.evaluate(() => document.body.dataset.mode);
    const ranked = await page.$$eval("#results li", (lis) =>
      lis.map((li) => [Number(li.dataset.index), Number(li.querySelector(".score").textContent)]),
    );
    if (mode !== expectMode)
      throw new Error(
        `${model}: mode ${mode}, expected ${expectMode}; ${status} ${errors.join("; ")}`,
      );
    if (ranked.length !== lines.length || ranked[0][0] !== 1 || Math.abs(ranked[0][1] - 1) > 1e-4) {
      throw new Error(
        `${model}: unexpected ranking ${JSON.stringify(ranked)}; ${status} ${errors.join("; ")}`,
      );
    }
    return `${model}: ${mode} mode, ${ranked.length} ranked, top = the query's own sentence (cosine ${ranked[0][1].toFixed(4)}), ${status}`;
  };
  const msgs = [
    await search(
      "/model/plain",
      ["1 5 9 17 2", "1 44 45 46 47 48 2", "1 70 2", "1 3 3 3 99 100 101 2"],
      "ids",
    ),
  ];
  if (await hasPipeline()) msgs.push(await search("/model/tok", SENTENCES, "text"));
  return { msgs, page };
}

async function browserExample(fixtures) {
  const { launchChromium } = await import("./browser/run.mjs");
  const models = await makeModels(fixtures);
  const server = spawn(
    process.execPath,
    ["examples/browser/serve.mjs", models.root, "--port", "0"],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
  );
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
    const { msgs, page } = await searchPage(browser, url);
    const shot = process.env.SIMDBERT_EXAMPLE_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    return msgs.join("; ");
  } finally {
    await browser?.close();
    server.kill("SIGTERM");
    await models.done();
  }
}

/**
 * The browser example bundled by esbuild for the browser platform (no node: import may trip it),
 * then run: the bundle at /app/app.js of a site of its own, the kernels where the bundle's literal
 * `new URL("../../build/<name>.wasm", import.meta.url)` points (/build/, as a user copies them
 * next to a bundle; esbuild leaves those URLs alone), the page driven in Chromium as the unbundled
 * example is.
 */
async function bundleExample(fixtures) {
  const esbuild = esbuildBin();
  if (!esbuild) throw new Error("esbuild missing: node scripts/deps.mjs test/runtimes");
  const site = await mkdtemp(join(tmpdir(), "simdbert-bundle-"));
  const models = await makeModels(fixtures);
  let browser;
  let server;
  try {
    await mkdir(join(site, "app"));
    await mkdir(join(site, "build"));
    const out = join(site, "app", "app.js");
    const r = await sh(esbuild, [
      "examples/browser/app.js",
      "--bundle",
      "--format=esm",
      "--platform=browser",
      `--outfile=${out}`,
    ]);
    if (r.code !== 0) throw new Error(`esbuild --platform=browser failed:\n${r.out}`);
    const { size } = await stat(out);
    for (const f of ["simdbert.wasm", "simdbert-relaxed.wasm"])
      await copyFile(join(REPO, "build", f), join(site, "build", f));
    const html = (await readFile(join(REPO, "examples/browser/index.html"), "utf8")).replace(
      /\s*<script type="importmap">[\s\S]*?<\/script>/,
      "",
    );
    if (html.includes("importmap")) throw new Error("index.html: the import map was not removed");
    await writeFile(join(site, "app", "index.html"), html);
    server = await staticServer({ "/model/": models.root, "/": site });
    browser = await (await import("./browser/run.mjs")).launchChromium();
    const { msgs } = await searchPage(browser, `${server.url}/app/`);
    return `esbuild --bundle --platform=browser examples/browser/app.js: ${(size / 1024).toFixed(1)} KB, run in Chromium: ${msgs.join("; ")}`;
  } finally {
    await browser?.close();
    await server?.close();
    await models.done();
    await rm(site, { recursive: true, force: true });
  }
}

/** A static file server on 127.0.0.1: URL prefixes mapped onto folders (longest first). */
async function staticServer(mounts) {
  const { createServer } = await import("node:http");
  const { createReadStream } = await import("node:fs");
  const { resolve, sep, extname } = await import("node:path");
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const prefix = prefixes.find((p) => path.startsWith(p));
    const root = resolve(mounts[prefix]);
    let file = resolve(root, path.slice(prefix.length));
    if (file !== root && !file.startsWith(root + sep)) return res.writeHead(404).end();
    let st = await stat(file).catch(() => null);
    if (st?.isDirectory()) st = await stat((file = join(file, "index.html"))).catch(() => null);
    if (!st?.isFile()) return res.writeHead(404).end("not found");
    res.writeHead(200, {
      "content-type": types[extname(file)] ?? "application/octet-stream",
      "content-length": st.size,
    });
    if (req.method === "HEAD") return res.end();
    createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/** The Cache API for real in headless Chromium (test/runtimes/hub-cache/chromium.mjs). */
async function hubCacheChromium() {
  const r = await sh(process.execPath, ["test/runtimes/hub-cache/chromium.mjs"]);
  const line = r.out
    .trim()
    .split("\n")
    .findLast((l) => l.startsWith("{"));
  const res = line ? JSON.parse(line) : null;
  if (r.code !== 0 || !res?.pass) throw new Error(`exit ${r.code}\n${r.out}`);
  return `an id loaded into caches ("simdbert-hub"), then offline from it with no request to the hub`;
}

/** The Cache API for real in Deno, as Deno Deploy (test/hub_web.test.mjs's Deno case, not skipped). */
async function hubCacheDeno() {
  const r = await sh(process.execPath, [
    join(REPO, "node_modules", "uvu", "bin.js"),
    "test",
    "hub_web.test.mjs",
  ]);
  if (r.code !== 0 || !/Skipped:\s+0\b/.test(r.out)) throw new Error(`exit ${r.code}\n${r.out}`);
  return `test/hub_web.test.mjs with Deno installed: ${/Passed:\s+(\d+)/.exec(r.out)?.[1]} passed, none skipped`;
}

export const EXAMPLES = {
  node: nodeExample,
  worker: workerExample,
  browser: browserExample,
  bundle: bundleExample,
  "hub-cache-chromium": hubCacheChromium,
  "hub-cache-deno": hubCacheDeno,
};

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
