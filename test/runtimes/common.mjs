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
export const FIXTURE_DIRS = [...new Set([...CASES, "a_tiny_encoder"])];
/** The case whose forward is timed. */
export const TIMED_CASE = "k_minilm_shape";
export const DEFAULT_RUNS = 20;

/**
 * Printed by the Node/Deno/Bun scripts when the process has not exited 5 s after the checks
 * (then they exit 1). Deno's Worker.terminate() does not stop a worker that never returns to its
 * event loop, so Engine.dispose() first tells each pool thread to return (threads.ts); a
 * lingering process means that broke.
 */
export const EXIT_WARNING =
  "FAIL the process did not exit by itself 5 s after the checks (a worker still running after Engine.dispose()?)";

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
  for (const k of ["input_ids", "attention_mask", "token_type_ids"])
    if (kw[k] !== undefined) inputs[k] = kw[k];
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
  if (!inputs || !expected)
    throw new Error(`fixture ${caseName}: inputs.json or expected.safetensors not found`);
  return {
    request: JSON.parse(new TextDecoder().decode(inputs)),
    expected: readSafetensors(expected),
  };
}

/** BertModel.fromPretrained + forward on each case; every expected output the model gives is compared. */
async function forwardCheck(ctx) {
  const results = [];
  for (const caseName of CASES) {
    try {
      results.push(await forwardCase(ctx, caseName));
    } catch (e) {
      results.push({
        name: `forward ${caseName}`,
        pass: false,
        detail: String((e && e.stack) || e),
      });
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

/** Words of SENTENCES; with the special tokens they make the generated vocabulary below. */
export const WORDS =
  "a man is eating food . piece of bread the new movie awesome girl carrying baby riding horse woman playing violin two men pushed carts through woods someone having meal".split(
    " ",
  );
/** Sentences of different lengths (so a batch pads), all covered by WORDS. */
export const SENTENCES = [
  "A man is eating food.",
  "A man is eating a piece of bread.",
  "The girl is carrying a baby.",
  "A woman is playing violin.",
];
/** The case whose weights the pipeline check uses (with a generated vocab.txt). */
export const PIPELINE_CASE = "a_tiny_encoder";

/** vocab.txt for a model of `size` tokens: special tokens, WORDS, then filler. */
export function generatedVocab(size) {
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...WORDS];
  while (vocab.length < size) vocab.push(`tok${vocab.length}`);
  return vocab.slice(0, size).join("\n") + "\n";
}

/**
 * The feature-extraction pipeline (when the library exports it): a fixture's weights plus a
 * generated vocab.txt, as an in-memory file map. Its "mean" and "cls" embeddings of SENTENCES
 * (padded in one batch) must equal pooling, in float64, of BertModel's last_hidden_state for
 * each sentence run alone (no padding), within PIPELINE_ATOL; "normalize" must give unit rows.
 */
export const PIPELINE_ATOL = 1e-5;
async function pipelineCheck(ctx) {
  const name = "pipeline feature-extraction";
  if (typeof ctx.lib.pipeline !== "function")
    return { name, pass: true, skipped: true, detail: "skipped: the library exports no pipeline" };
  const config = await ctx.files(PIPELINE_CASE, "config.json");
  const weights = await ctx.files(PIPELINE_CASE, "model.safetensors");
  const vocabSize = JSON.parse(new TextDecoder().decode(config)).vocab_size;
  const files = {
    "config.json": config,
    "model.safetensors": weights,
    "vocab.txt": generatedVocab(vocabSize),
  };
  const extractor = await ctx.lib.pipeline("feature-extraction", files, ctx.options);
  const H = extractor.model.config.hidden_size;
  // reference: each sentence alone through BertModel, pooled in float64
  const mean = [];
  const cls = [];
  for (const text of SENTENCES) {
    const ids = Array.from(extractor.tokenizer.encode(text), Number);
    const out = await extractor.model.forward({
      input_ids: [ids],
      attention_mask: [ids.map(() => 1)],
    });
    const h = out.last_hidden_state.data;
    const m = new Float64Array(H);
    for (let t = 0; t < ids.length; t++) for (let k = 0; k < H; k++) m[k] += h[t * H + k];
    mean.push(Array.from(m, (x) => x / ids.length));
    cls.push(Array.from(h.subarray(0, H), Number));
  }
  let maxdiff = 0;
  const details = [];
  const t0 = ctx.now();
  for (const [pooling, want] of [
    ["mean", mean],
    ["cls", cls],
  ]) {
    const got = await extractor(SENTENCES, { pooling });
    if (Array.from(got.shape).join(",") !== `${SENTENCES.length},${H}`) {
      details.push(`${pooling}: shape [${got.shape}]`);
      continue;
    }
    want.forEach((row, i) =>
      row.forEach((x, k) => (maxdiff = Math.max(maxdiff, Math.abs(x - got.data[i * H + k]) || 0))),
    );
  }
  const ms = ctx.now() - t0;
  const unit = await extractor(SENTENCES, { pooling: "mean", normalize: true });
  for (let i = 0; i < SENTENCES.length; i++) {
    let n = 0;
    for (let k = 0; k < H; k++) n += unit.data[i * H + k] ** 2;
    if (Math.abs(Math.sqrt(n) - 1) > 1e-5)
      details.push(`normalize: row ${i} has norm ${Math.sqrt(n)}`);
  }
  if (!(maxdiff <= PIPELINE_ATOL))
    details.push(`max|diff| ${maxdiff.toExponential(2)} > ${PIPELINE_ATOL}`);
  const result = {
    name,
    pass: details.length === 0,
    maxdiff,
    detail: `${SENTENCES.length} texts, mean + cls in ${ms.toFixed(1)} ms`,
  };
  if (details.length) result.detail = details.join("; ");
  return result;
}

/**
 * WebAssembly threads (Engine.create({ threads: 2 }), when the library has them): the timed case
 * on a 2-thread engine must match expected.safetensors and give the same bits as one thread.
 * ctx.threads === false says the runtime has none (workerd): skipped there. In a browser the
 * page must be cross-origin isolated (the matrix's server sends COOP/COEP).
 */
async function threadsCheck(ctx) {
  const name = `threads=2 forward ${TIMED_CASE}`;
  const Engine = ctx.lib.Engine;
  if (typeof Engine?.create !== "function" || !("threads" in Engine.prototype))
    return { name, pass: true, skipped: true, detail: "skipped: the library has no threads" };
  if (ctx.threads === false)
    return { name, pass: true, skipped: true, detail: "skipped: no threads in this runtime" };
  const { request, expected } = await loadCase(ctx, TIMED_CASE);
  const inputs = tokenInputs(request);
  const one = await ctx.lib.BertModel.fromPretrained(ctx.source(TIMED_CASE), ctx.options);
  const ref = (await one.forward(inputs)).last_hidden_state.data;
  const engine = await Engine.create({ ...ctx.options, threads: 2 });
  try {
    if (engine.threads !== 2)
      return {
        name,
        pass: false,
        detail: `Engine.create({ threads: 2 }) gave ${engine.threads} thread(s)`,
      };
    const model = await ctx.lib.BertModel.fromPretrained(ctx.source(TIMED_CASE), {
      ...ctx.options,
      engine,
    });
    const out = await model.forward(inputs);
    const r = compare(
      "last_hidden_state",
      out.last_hidden_state,
      expected.get("last_hidden_state"),
    );
    let same = 0;
    for (let i = 0; i < ref.length; i++)
      if (Object.is(ref[i], out.last_hidden_state.data[i])) same++;
    const result = { name, pass: r.pass && same === ref.length, maxdiff: r.maxdiff };
    if (!r.pass)
      result.detail = `last_hidden_state: ${r.detail ?? `max|diff| ${r.maxdiff.toExponential(2)} > ${ATOL}`}`;
    else if (same !== ref.length)
      result.detail = `${ref.length - same} of ${ref.length} values differ from one thread`;
    const runs = ctx.runs ?? DEFAULT_RUNS;
    if (runs > 0) {
      const times = [];
      for (let i = 0; i < runs; i++) {
        const t0 = ctx.now();
        await model.forward(inputs);
        times.push(ctx.now() - t0);
      }
      result.threads_median_ms = median(times);
      result.detail = `${result.detail ? result.detail + "; " : ""}bit-identical to 1 thread: ${same === ref.length}; median ${result.threads_median_ms.toFixed(2)} ms over ${runs} runs`;
    }
    return result;
  } finally {
    engine.dispose?.();
  }
}

/** One sequence of `seq` tokens ([CLS], then ids spread over the vocabulary): a b1 forward's inputs. */
export function bertBaseInputs(seq, vocabSize) {
  const ids = Array.from({ length: seq }, (_, i) =>
    i === 0 ? 101 : i === seq - 1 ? 102 : 1000 + ((i * 7919) % (vocabSize - 1000)),
  );
  return { input_ids: [ids], attention_mask: [ids.map(() => 1)] };
}

/** FNV-1a over a Float32Array's bits, as 8 hex digits: equal outputs, equal digests. */
export function bitsDigest(f32) {
  const u8 = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < u8.length; i++) h = Math.imul(h ^ u8[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * The kernels' builds and threads this runtime gets, on the timed case:
 *  - relaxedSimd: false loads the plain build and matches expected.safetensors; its output's
 *    digest (plain_digest) is reported, and the driver requires it to be the same in every runtime
 *    (the plain build's results are the same bits on every engine and machine);
 *  - relaxedSimd: true loads the relaxed build and matches where the runtime has relaxed SIMD
 *    (hasRelaxedSimd()), and is refused with an EngineError where it has not;
 *  - relaxedSimd "auto" (the default): which build it picks for fp32 and for q8 is reported
 *    (auto_relaxed), and it must be one of the two above;
 *  - threads: "auto" gives hardwareThreads() threads (1 where the runtime has no threads) and the
 *    same bits as one thread of the same build.
 * Where the kernels are passed in ({ wasm }: workerd) there is no build to pick: only threads.
 */
async function buildsCheck(ctx) {
  const name = `builds and threads: "auto" ${TIMED_CASE}`;
  const { lib } = ctx;
  if (typeof lib.hasRelaxedSimd !== "function" || typeof lib.hardwareThreads !== "function")
    return {
      name,
      pass: true,
      skipped: true,
      detail: "skipped: no hasRelaxedSimd/hardwareThreads",
    };
  const { request, expected } = await loadCase(ctx, TIMED_CASE);
  const inputs = tokenInputs(request);
  const want = expected.get("last_hidden_state");
  const details = [];
  let maxdiff = 0;
  const relaxedAvailable = lib.hasRelaxedSimd();
  const result = { name, relaxed_simd: relaxedAvailable };
  /** Loads with `options`, runs the case, checks the reference; returns { relaxed, data }. */
  const run = async (label, options) => {
    const model = await lib.BertModel.fromPretrained(ctx.source(TIMED_CASE), {
      ...ctx.options,
      ...options,
    });
    try {
      const out = (await model.forward(inputs)).last_hidden_state;
      const r = compare("last_hidden_state", out, want);
      if (r.maxdiff !== undefined) maxdiff = Math.max(maxdiff, r.maxdiff);
      if (!r.pass) details.push(`${label}: ${r.detail ?? `max|diff| ${r.maxdiff} > ${ATOL}`}`);
      return { relaxed: model.engine.relaxed, threads: model.engine.threads, data: out.data };
    } finally {
      model.dispose?.();
    }
  };
  const passedIn = ctx.options?.wasm !== undefined;
  if (!passedIn) {
    const plain = await run("relaxedSimd: false", { relaxedSimd: false });
    if (plain.relaxed) details.push("relaxedSimd: false loaded the relaxed build");
    result.plain_digest = bitsDigest(plain.data);
    if (relaxedAvailable) {
      const relaxed = await run("relaxedSimd: true", { relaxedSimd: true });
      if (!relaxed.relaxed) details.push("relaxedSimd: true loaded the plain build");
    } else {
      const refused = await run("relaxedSimd: true", { relaxedSimd: true }).then(
        () => "loaded",
        (e) => (e instanceof lib.EngineError ? null : `threw ${e?.name}: ${e?.message}`),
      );
      if (refused) details.push(`relaxedSimd: true without relaxed SIMD ${refused}`);
    }
    const auto = { fp32: (await run("auto fp32", {})).relaxed };
    // q8 quantized at load (no reference bits for it here: only which build "auto" takes)
    try {
      const m = await lib.BertModel.fromPretrained(ctx.source(TIMED_CASE), {
        ...ctx.options,
        dtype: "q8",
      });
      auto.q8 = m.engine.relaxed;
      m.dispose?.();
    } catch (e) {
      auto.q8 = `error: ${e?.message}`;
    }
    result.auto_relaxed = auto;
    if (auto.fp32 && !relaxedAvailable) details.push("auto picked relaxed without relaxed SIMD");
  }
  // threads: "auto"
  if (typeof lib.Engine?.create === "function") {
    const hw = await lib.hardwareThreads();
    const engine = await lib.Engine.create({ ...ctx.options, threads: "auto" });
    try {
      const expectThreads = ctx.threads === false ? 1 : hw;
      result.threads_auto = engine.threads;
      if (engine.threads !== expectThreads)
        details.push(`threads: "auto" gave ${engine.threads}, hardwareThreads() is ${hw}`);
      const model = await lib.BertModel.fromPretrained(ctx.source(TIMED_CASE), {
        ...ctx.options,
        engine,
      });
      const out = (await model.forward(inputs)).last_hidden_state;
      // one thread of the same build (relaxed or not) as the reference bits
      const one = await run("threads 1", { relaxedSimd: engine.relaxed });
      const same = out.data.every((x, i) => Object.is(x, one.data[i]));
      if (!same) details.push(`threads: "auto" (${engine.threads}) differs from one thread`);
    } finally {
      engine.dispose?.();
    }
  }
  result.pass = details.length === 0;
  result.maxdiff = maxdiff;
  const picks = result.auto_relaxed
    ? `; auto: fp32 ${result.auto_relaxed.fp32 ? "relaxed" : "plain"}, q8 ${typeof result.auto_relaxed.q8 === "boolean" ? (result.auto_relaxed.q8 ? "relaxed" : "plain") : result.auto_relaxed.q8}`
    : "; kernels passed in ({ wasm })";
  result.detail =
    `relaxed SIMD ${relaxedAvailable ? "on" : "off"}${picks}; threads "auto" = ${result.threads_auto}` +
    (result.plain_digest ? `; plain bits ${result.plain_digest}` : "") +
    (details.length ? `; ${details.join("; ")}` : "");
  return result;
}

/** The checks every runtime runs, in order. */
/**
 * The fetch handler (createHandler, simdbert/serve's core, also exported by the main module) in
 * this runtime: TEI's POST /embed equals the pipeline's normalized mean embeddings, OpenAI's
 * base64 encoding decodes to the same float32 bits, /health and a TEI error answer as they should.
 */
async function serveCheck(ctx) {
  const name = "serve createHandler";
  if (typeof ctx.lib.createHandler !== "function" || typeof ctx.lib.pipeline !== "function")
    return {
      name,
      pass: true,
      skipped: true,
      detail: "skipped: the library exports no createHandler",
    };
  const config = await ctx.files(PIPELINE_CASE, "config.json");
  const files = {
    "config.json": config,
    "model.safetensors": await ctx.files(PIPELINE_CASE, "model.safetensors"),
    "vocab.txt": generatedVocab(JSON.parse(new TextDecoder().decode(config)).vocab_size),
  };
  const handler = ctx.lib.createHandler(files, { load: ctx.options, pooling: "mean" });
  await handler.ready;
  const post = (path, body) =>
    handler(new Request(`http://localhost${path}`, { method: "POST", body: JSON.stringify(body) }));
  const details = [];
  const t0 = ctx.now();
  const res = await post("/embed", { inputs: SENTENCES });
  const got = await res.json();
  const ms = ctx.now() - t0;
  if (res.status !== 200) details.push(`/embed: HTTP ${res.status} ${JSON.stringify(got)}`);
  const extractor = await ctx.lib.pipeline("feature-extraction", files, ctx.options);
  const want = await extractor(SENTENCES, { pooling: "mean", normalize: true });
  const H = extractor.model.config.hidden_size;
  let maxdiff = 0;
  if (res.status === 200)
    SENTENCES.forEach((_, i) =>
      got[i].forEach((x, k) => (maxdiff = Math.max(maxdiff, Math.abs(x - want.data[i * H + k])))),
    );
  if (!(maxdiff <= PIPELINE_ATOL)) details.push(`max|diff| ${maxdiff} > ${PIPELINE_ATOL}`);
  const oa = await (
    await post("/v1/embeddings", { input: SENTENCES[0], encoding_format: "base64" })
  ).json();
  const bin = atob(oa.data[0].embedding);
  const view = new DataView(new Uint8Array(Array.from(bin, (c) => c.charCodeAt(0))).buffer);
  const decoded = Array.from({ length: view.byteLength / 4 }, (_, k) =>
    view.getFloat32(k * 4, true),
  );
  if (res.status === 200 && decoded.some((x, k) => x !== Math.fround(got[0][k])))
    details.push("base64 does not decode to /embed's float32 values");
  const health = (await handler(new Request("http://localhost/health"))).status;
  if (health !== 200) details.push(`/health: HTTP ${health}`);
  const bad = await post("/embed", { inputs: [] });
  const badBody = await bad.json();
  if (bad.status !== 400 || badBody.error_type !== "empty")
    details.push(`empty batch: HTTP ${bad.status} ${JSON.stringify(badBody)}`);
  await handler.close();
  return {
    name,
    pass: details.length === 0,
    maxdiff,
    detail: details.length
      ? details.join("; ")
      : `POST /embed of ${SENTENCES.length} texts in ${ms.toFixed(1)} ms`,
  };
}

export const CHECKS = [forwardCheck, pipelineCheck, serveCheck, threadsCheck, buildsCheck];

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
      const parts = [`${c.skipped ? "SKIP" : c.pass ? "PASS" : "FAIL"} ${c.name}`];
      if (c.maxdiff !== undefined) parts.push(`max|diff| ${c.maxdiff.toExponential(2)}`);
      if (c.median_ms !== undefined)
        parts.push(`median ${c.median_ms.toFixed(2)} ms over ${c.runs} runs [${c.shape}]`);
      if (c.detail) parts.push(c.detail);
      return parts.join("  ");
    })
    .join("\n");
}
