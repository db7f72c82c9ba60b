// Runtime matrix: headless Chromium (Debian's /usr/bin/chromium driven by playwright-core).
// Serves the repository and the fixtures on 127.0.0.1, opens browser/index.html, which imports
// dist/ as ES modules and fetches the models by URL, and prints the page's result.
// `node test/runtimes/browser/run.mjs [--fixtures DIR] [--runs N]`
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { chromiumBin, CHROMIUM } from "../bins.mjs";
import { describe, RESULT_TAG } from "../common.mjs";
import { parseArgs } from "../fs-context.mjs";
import { REPO, serve } from "../static-server.mjs";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches Debian's Chromium headless with a fresh profile; returns { context, close() }. */
export async function launchChromium() {
  const exe = chromiumBin();
  if (!exe)
    throw new Error(
      `no Chromium at ${CHROMIUM}: run scripts/runtimes/install.sh (apt-get install -y chromium)`,
    );
  const profile = await mkdtemp(join(tmpdir(), "simdbert-chromium-"));
  // launchPersistentContext passes the fresh profile as --user-data-dir
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const server = await serve({ "/": REPO, "/fixtures/": opts.fixtures });
  let browser;
  let result;
  const log = [];
  try {
    browser = await launchChromium();
    const page = await browser.context.newPage();
    page.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => log.push(`pageerror: ${e.stack || e}`));
    page.on("requestfailed", (r) =>
      log.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`),
    );
    const q = opts.runs ? `?runs=${opts.runs}` : "";
    await page.goto(`${server.url}/test/runtimes/browser/index.html${q}`);
    await page.waitForFunction(() => window.__simdbertResult !== undefined, null, {
      timeout: 180_000,
    });
    result = await page.evaluate(() => window.__simdbertResult);
    // the user agent says 156.0.0.0 (UA reduction): ask the browser
    result.version = browser.context.browser()?.version() ?? result.version;
  } catch (e) {
    result = {
      runtime: "chromium",
      version: "?",
      pass: false,
      checks: [{ name: "browser", pass: false, detail: String(e?.message ?? e) }],
    };
  } finally {
    await browser?.close();
    await server.close();
  }
  if (!result.pass && log.length) console.log(log.join("\n"));
  console.log(describe(result));
  console.log(RESULT_TAG + JSON.stringify(result));
  process.exitCode = result.pass ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
