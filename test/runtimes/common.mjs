// The runtime matrix's checks, written once for every runtime: plain ES module, no imports, no
// Node/Deno/Bun globals. Each runtime's script (node.mjs, deno.mjs, bun.mjs, browser/page.mjs,
// workerd/worker.mjs) imports the library its own way, says how a fixture is reached there (a
// directory path, a base URL, or an in-memory file map) and calls runChecks().
//
// Adding a check (e.g. the feature-extraction pipeline): write `async function myCheck(ctx)`
// returning { name, pass, maxdiff?, median_ms?, runs?, detail? } and add it to CHECKS below.
// ctx.lib is the library's module namespace (so `ctx.lib.pipeline` is there once it exists),
// ctx.source(caseName) gives the model source for this runtime, ctx.files(caseName, name) gives
// a fixture file's bytes (or null), ctx.options are the fromPretrained options (the wasm module
// in workerd: pass them on). Add its fixture folder to FIXTURE_DIRS (the worker bundles those).
// Every runtime picks the new check up with no change to its script. See README.md here.

export const ATOL = 1e-4;
/**
 * Correctness cases: folders under the fixture root (../shared/fixtures/bert), each with
 * config.json, model.safetensors, inputs.json and expected.safetensors.
 */
export const CASES = ["a_tiny_encoder", "k_minilm_shape"];
/**
 * Every fixture folder a check reads (relative to the fixture root). The worker bundles every
 * file of these folders as data modules (the browser fetches them, the others read them), so a
 * pipeline check's folder (with vocab.txt / tokenizer files) only needs adding here.
 */
export const FIXTURE_DIRS = [...CASES];
/** The case whose forward is timed. */
export const TIMED_CASE = "k_minilm_shape";
export const DEFAULT_RUNS = 20;

/** The line each runtime prints (or returns) so the driver can read the result. */
export const RESULT_TAG = "SIMDBERT_RUNTIME_RESULT ";

/** Parses a safetensors file's F32 tensors: name -> { shape, data: Float32Array }. */
export function readSafetensors(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(8, 8 + n)));
  const start = 8 + n;
  const out = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__" || info.dtype !== "F32") continue;
    const [b, e] = info.data_offsets;
    const copy = u8.slice(start + b, start + e); // aligned copy
    out.set(name, { shape: info.shape, data: new Float32Array(copy.buffer, 0, (e - b) / 4) });
  }
  return out;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The request's token inputs (HF argument names) from inputs.json. */
export function tokenInputs(request) {
  const kw = request.forward_kwargs ?? {};
  const inputs = {};
  for (const k of ["input_ids", "attention_mask", "token_type_ids"]) if (kw[k] !== undefined) inputs[k] = kw[k];
  return inputs;
}

function compare(name, got, want) {
  if (!got) return { name, pass: false, detail: "missing output" };
  const shape = Array.from(got.shape);
  if (shape.join(",") !== want.shape.join(",")) {
    return { name, pass: false, detail: `shape [${shape}] != expected [${want.shape}]` };
  }
  const a = got.data;
  const b = want.data;
  let maxdiff = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(Number(a[i]) - b[i]);
    if (!(d <= maxdiff)) maxdiff = Number.isNaN(d) ? Infinity : d;
  }
  return { name, pass: maxdiff <= ATOL, maxdiff };
}

async function loadCase(ctx, caseName) {
  const inputs = await ctx.files(caseName, "inputs.json");
  const expected = await ctx.files(caseName, "expected.safetensors");
  if (!inputs || !expected) throw new Error(`fixture ${caseName}: inputs.json or expected.safetensors not found`);
  return { request: JSON.parse(new TextDecoder().decode(inputs)), expected: readSafetensors(expected) };
}

/** BertModel.fromPretrained + forward on each case; every expected output the model gives is compared. */
async function forwardCheck(ctx) {
  const results = [];
  for (const caseName of CASES) {
    try {
      results.push(await forwardCase(ctx, caseName));
    } catch (e) {
      results.push({ name: `forward ${caseName}`, pass: false, detail: String((e && e.stack) || e) });
    }
  }
  return results;
}

async function forwardCase(ctx, caseName) {
  const { request, expected } = await loadCase(ctx, caseName);
  const model = await ctx.lib.BertModel.fromPretrained(ctx.source(caseName), ctx.options);
  const inputs = tokenInputs(request);
  const out = await model.forward(inputs);
  let maxdiff = 0;
  let pass = true;
  const details = [];
  for (const name of ["last_hidden_state", "pooler_output"]) {
    const want = expected.get(name);
    if (!want) continue;
    const r = compare(name, out[name], want);
    if (r.maxdiff !== undefined) maxdiff = Math.max(maxdiff, r.maxdiff);
    if (!r.pass) {
      pass = false;
      details.push(`${name}: ${r.detail ?? `max|diff| ${r.maxdiff.toExponential(2)} > ${ATOL}`}`);
    }
  }
  const result = { name: `forward ${caseName}`, pass, maxdiff };
  if (details.length) result.detail = details.join("; ");
  const runs = ctx.runs ?? DEFAULT_RUNS;
  if (caseName === TIMED_CASE && runs > 0) {
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = ctx.now();
      await model.forward(inputs);
      times.push(ctx.now() - t0);
    }
    result.runs = runs;
    result.median_ms = median(times);
    const ids = inputs.input_ids;
    result.shape = [ids.length, ids[0].length];
  }
  model.dispose?.();
  return result;
}

/** The checks every runtime runs, in order. Add the pipeline's check here. */
export const CHECKS = [forwardCheck];

/**
 * Runs every check. ctx: { lib, source(caseName), files(caseName, fileName) -> Uint8Array|null,
 * options?, runs? (0: no timing, e.g. where the clock is frozen), now?() }. Returns { pass, checks: [{ name, pass, maxdiff, median_ms, ... }] };
 * a check that throws is a failed check with the error as its detail.
 */
export async function runChecks(ctx) {
  const full = { now: () => performance.now(), options: {}, ...ctx };
  const checks = [];
  for (const check of CHECKS) {
    try {
      const r = await check(full);
      checks.push(...(Array.isArray(r) ? r : [r]));
    } catch (e) {
      checks.push({ name: check.name, pass: false, detail: String((e && e.stack) || e) });
    }
  }
  return { pass: checks.length > 0 && checks.every((c) => c.pass), checks };
}

/** One line per check, for a human reading a runtime's own output. */
export function describe(result) {
  return result.checks
    .map((c) => {
      const parts = [`${c.pass ? "PASS" : "FAIL"} ${c.name}`];
      if (c.maxdiff !== undefined) parts.push(`max|diff| ${c.maxdiff.toExponential(2)}`);
      if (c.median_ms !== undefined) parts.push(`median ${c.median_ms.toFixed(2)} ms over ${c.runs} runs [${c.shape}]`);
      if (c.detail) parts.push(c.detail);
      return parts.join("  ");
    })
    .join("\n");
}
