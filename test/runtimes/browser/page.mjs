// Runtime matrix: the browser page. Loads models by base URL (fetch), the wasm by the library's
// default URL (relative to dist/runtime/wasm.js); the result goes to window.__simdbertResult.
import * as lib from "/dist/index.js";
import { describe, runChecks } from "/test/runtimes/common.mjs";

const params = new URLSearchParams(location.search);
const base = new URL(params.get("fixtures") ?? "/fixtures/", location.href).href;
const runs = params.has("runs") ? Number(params.get("runs")) : undefined;
const out = document.getElementById("out");

async function files(c, name) {
  const res = await fetch(`${base}${c}/${name}`);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${res.url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

let result;
try {
  result = await runChecks({ lib, runs, source: (c) => `${base}${c}`, files });
} catch (e) {
  result = {
    pass: false,
    checks: [{ name: "page", pass: false, detail: String((e && e.stack) || e) }],
  };
}
result.runtime = "chromium";
result.version =
  (navigator.userAgent.match(/Chrom(?:e|ium)\/([\d.]+)/) ?? [])[1] ?? navigator.userAgent;
out.textContent = describe(result);
window.__simdbertResult = result;
