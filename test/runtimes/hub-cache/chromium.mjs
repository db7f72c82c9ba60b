// The Cache API for real in headless Chromium: a page on 127.0.0.1 (a secure context, so
// `caches` exists) imports dist/ and loads a model id from a hub of our own on 127.0.0.1
// (CORS on, as huggingface.co answers browsers); a second page of the same profile loads it
// offline (local_files_only) from the "simdbert-hub" cache with no request to the hub.
// `node test/runtimes/hub-cache/chromium.mjs` prints one JSON line and exits 0 when it passed;
// test/hub_web.test.mjs runs it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { chromiumBin } from "../bins.mjs";
import { REPO, serve } from "../static-server.mjs";
import { startHub } from "../../support/hub_server.mjs";
import { hubCacheFixture } from "./fixture.mjs";

const { files, commit, inputs } = hubCacheFixture();
const hub = await startHub({ "org/tiny": { files, commit } }, { cors: true });
const site = await serve({ "/": REPO });
const profile = await mkdtemp(join(tmpdir(), "simdbert-chromium-cache-"));
let context;
const result = { runtime: "chromium", pass: false };
try {
  const exe = chromiumBin();
  if (!exe) throw new Error("no Chromium (scripts/runtimes/install.sh: apt-get install chromium)");
  context = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    timeout: 60_000,
  });
  const load = async (offline) => {
    const page = await context.newPage();
    await page.goto(`${site.url}/package.json`); // any page of the site: its origin, secure
    const r = await page.evaluate(
      async ([endpoint, offline, inputs]) => {
        const lib = await import("/dist/index.js");
        const files = lib.modelFiles("org/tiny", { endpoint, local_files_only: offline });
        const m = await lib.BertModel.fromPretrained(files, { warn: () => {} });
        const out = await m.forward(inputs);
        const cache = await caches.open(lib.HUB_CACHE_NAME);
        return {
          out: Array.from(out.last_hidden_state.data),
          where: files.where,
          keys: (await cache.keys()).map((k) => k.url),
        };
      },
      [hub.url, offline, inputs],
    );
    await page.close();
    return r;
  };
  const online = await load(false);
  const requests = hub.log.length;
  hub.log.length = 0;
  const offline = await load(true);
  result.online = online;
  result.offline = offline;
  result.requests = { online: requests, offline: hub.log.length };
  result.version = context.browser()?.version();
  result.pass =
    requests > 0 &&
    hub.log.length === 0 &&
    online.where.includes('Cache API "simdbert-hub"') &&
    online.keys.includes(`${hub.url}/org/tiny/resolve/${commit}/model.safetensors`) &&
    JSON.stringify(online.out) === JSON.stringify(offline.out);
} catch (e) {
  result.error = String(e?.stack ?? e);
} finally {
  await context?.close().catch(() => {});
  await rm(profile, { recursive: true, force: true });
  await site.close();
  await hub.close();
}
console.log(JSON.stringify(result));
process.exitCode = result.pass ? 0 : 1;
