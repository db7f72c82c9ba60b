// simdbert serve over real HTTP: a server on 127.0.0.1 (port 0) started and stopped by each test
// group, tiny random models written here (an embedder, a 3-label classifier, a reranker), every
// route against the library's direct results, TEI's / OpenAI's errors and status codes, batching
// that does not change an input's bits, overload, disconnects, slow clients, the CLI's graceful
// shutdown.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  mkdtempSync,
  rmSync,
  writeFileSync,
  mkdirSync,
  readFileSync,
  existsSync,
  readdirSync,
} from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import {
  writeSafetensors,
  BertModel,
  BertForMaskedLM,
  BertForSequenceClassification,
  pipeline,
} from "../dist/index.js";
import { startServer } from "../dist/serve/node.js";
import { createHandler, pool } from "../dist/serve/index.js";
import { encoderShapes, headShapes, randomTensors, rng, TINY } from "./support/random_model.mjs";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "simdbert-serve-"));
const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
for (let i = 5; i < 60; i++) vocab.push(i % 7 === 0 ? `##x${i}` : `w${i}`);
const WORDS = vocab.slice(5).filter((w) => !w.startsWith("##"));
const CFG = { ...TINY, vocab_size: vocab.length, model_type: "bert" };
const quiet = { warn: () => {} };

function writeModel(name, config, shapes, seed) {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  writeFileSync(join(dir, "vocab.txt"), vocab.join("\n") + "\n");
  writeFileSync(join(dir, "model.safetensors"), writeSafetensors(randomTensors(shapes, seed)));
  return dir;
}
const EMB = writeModel("emb", CFG, encoderShapes(CFG, ""), 3);
mkdirSync(join(EMB, "1_Pooling"));
writeFileSync(
  join(EMB, "1_Pooling", "config.json"),
  JSON.stringify({ pooling_mode_cls_token: false, pooling_mode_mean_tokens: true }),
);
const clsConfig = (labels) => ({
  ...CFG,
  architectures: ["BertForSequenceClassification"],
  id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
  label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
});
const CLASSIFIER_LABELS = ["neg", "neu", "pos"];
const CLF = writeModel(
  "clf",
  clsConfig(CLASSIFIER_LABELS),
  {
    ...encoderShapes(CFG, "bert."),
    ...headShapes("BertForSequenceClassification", { ...CFG, num_labels: 3 }),
  },
  4,
);
const RERANK = writeModel(
  "rerank",
  clsConfig(["score"]),
  {
    ...encoderShapes(CFG, "bert."),
    ...headShapes("BertForSequenceClassification", { ...CFG, num_labels: 1 }),
  },
  5,
);

const MLM = writeModel(
  "mlm",
  { ...CFG, architectures: ["BertForMaskedLM"] },
  { ...encoderShapes(CFG, "bert."), ...headShapes("BertForMaskedLM", CFG) },
  6,
);

function texts(seed, n, maxWords = 12) {
  const r = rng(seed);
  return Array.from({ length: n }, () =>
    Array.from(
      { length: 1 + Math.floor(r() * maxWords) },
      () => WORDS[Math.floor(r() * WORDS.length)],
    ).join(" "),
  );
}

async function post(base, path, body, headers = {}) {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

let srv, base, direct;
test.before(async () => {
  srv = await startServer(EMB, {
    port: 0,
    maxClientBatchSize: 8,
    maxConcurrentRequests: 16,
    load: quiet,
    headersTimeoutMs: 400,
    requestTimeoutMs: 800,
  });
  base = srv.url;
  await srv.core.ready;
  direct = await BertModel.fromPretrained(EMB, quiet);
});
test.after(async () => {
  await srv?.close(2000);
});

/** The model's hidden rows of one text, alone (padded to a multiple of 4: the same bits). */
async function hiddenAlone(text) {
  const tok = srv.core["model"].tokenizer;
  const ids = tok.encode(text);
  const S = (ids.length + 3) & ~3;
  const row = [...ids, ...Array(S - ids.length).fill(0)];
  const mask = [...ids.map(() => 1), ...Array(S - ids.length).fill(0)];
  const out = await direct.forward({ input_ids: [row], attention_mask: [mask] });
  return out.last_hidden_state.data.slice(0, ids.length * CFG.hidden_size);
}

test("a sequence's hidden rows are the same bits alone and followed by any number of masked keys", async () => {
  // what the server's batches rely on (they pad to the longest input, not to a multiple of 4)
  const r = rng(5);
  const H = CFG.hidden_size;
  for (const L of [1, 2, 3, 5, 13, 17]) {
    const ids = [
      2,
      ...Array.from({ length: L - 1 }, () => 5 + Math.floor(r() * (CFG.vocab_size - 5))),
    ];
    const alone = await direct.forward({ input_ids: [ids], attention_mask: [ids.map(() => 1)] });
    const want = bits(alone.last_hidden_state.data);
    for (const pad of [1, 2, 3, 4, 7]) {
      const out = await direct.forward({
        input_ids: [[...ids, ...Array(pad).fill(0)]],
        attention_mask: [[...ids.map(() => 1), ...Array(pad).fill(0)]],
      });
      assert.equal(bits(out.last_hidden_state.data.slice(0, L * H)), want, `L ${L} + ${pad}`);
    }
  }
});

test("GET /health, /info; 404 and 405", async () => {
  let r = await fetch(base + "/health");
  assert.is(r.status, 200);
  r = await fetch(base + "/info");
  const info = await r.json();
  assert.equal(info.model_type, { embedding: { pooling: "mean" } });
  assert.is(info.max_input_length, CFG.max_position_embeddings);
  assert.is(info.max_client_batch_size, 8);
  assert.is(info.max_batch_tokens, 16384);
  r = await fetch(base + "/nope");
  assert.is(r.status, 404);
  assert.is((await r.json()).error_type, "not_found");
  r = await fetch(base + "/embed");
  assert.is(r.status, 405);
});

test("POST /embed: mean pooling + normalize equal the pipeline's; bits the same alone, in one request, or in concurrent requests", async () => {
  const list = texts(11, 8, 30);
  const alone = [];
  for (const t of list) {
    const r = await post(base, "/embed", { inputs: t });
    assert.is(r.status, 200, r.text);
    assert.is(r.json.length, 1);
    alone.push(r.json[0]);
    // the same numbers as the library's forward of this text alone (padded to 4), pooled
    const h = await hiddenAlone(t);
    assert.equal(bits(r.json[0]), bits(pool(h, CFG.hidden_size, "mean", true, null)));
  }
  const together = await post(base, "/embed", { inputs: list });
  assert.is(together.status, 200);
  const concurrent = await Promise.all(list.map((t) => post(base, "/embed", { inputs: [t] })));
  list.forEach((_, i) => {
    assert.equal(bits(together.json[i]), bits(alone[i]), `input ${i} batched in one request`);
    assert.equal(bits(concurrent[i].json[0]), bits(alone[i]), `input ${i} in concurrent requests`);
  });
  // the feature-extraction pipeline (its own padding) within float32 rounding
  const ex = await pipeline("feature-extraction", EMB, quiet);
  const ref = await ex(list, { pooling: "mean", normalize: true });
  list.forEach((_, i) =>
    alone[i].forEach((x, j) =>
      assert.ok(Math.abs(x - ref.data[i * CFG.hidden_size + j]) < 1e-6, `text ${i} dim ${j}`),
    ),
  );
  // normalize: false, dimensions (first d, then normalized)
  const raw = await post(base, "/embed", { inputs: list[0], normalize: false });
  const norm = Math.hypot(...raw.json[0]);
  assert.ok(Math.abs(norm - 1) > 1e-3, "unnormalized");
  const d = await post(base, "/embed", { inputs: list[0], dimensions: 5 });
  assert.is(d.json[0].length, 5);
  assert.ok(Math.abs(Math.hypot(...d.json[0]) - 1) < 1e-6);
  const m = await fetch(base + "/metrics").then((r) => r.text());
  for (const name of [
    "te_request_count",
    "te_request_success",
    "te_request_duration_bucket",
    "te_request_queue_duration",
    "te_request_inference_duration",
    "te_batch_next_size_bucket",
    "te_batch_next_tokens_bucket",
    "te_queue_size",
  ])
    assert.ok(m.includes(name), name);
  // memory: the replica's wasm memory (whole 64 KiB pages, past the weights' bytes), its V8 heap,
  // the process's RSS and the event loop's heap
  const gauge = (name) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(m)?.[1]);
  const wasm = gauge("simdbert_wasm_memory_bytes");
  assert.ok(wasm > 4 * CFG.hidden_size * CFG.vocab_size && wasm % 65536 === 0, `wasm ${wasm}`);
  assert.ok(gauge("simdbert_replica_heap_bytes") > 0, "replica heap");
  assert.ok(gauge("process_resident_memory_bytes") > wasm, "rss");
  assert.ok(gauge("nodejs_heap_size_total_bytes") > 0, "heap");
  // the model worker runs 10 nicer than the event loop (Linux), which keeps its priority: field
  // 19 of /proc/self/task/TID/stat (the 17th after the parenthesized name)
  if (existsSync("/proc/self/task")) {
    const nice = (tid) =>
      Number(readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1].split(" ")[16]);
    const loop = nice(String(process.pid));
    const tids = readdirSync("/proc/self/task");
    assert.ok(
      tids.some((t) => nice(t) === Math.min(19, loop + 10)),
      "a model thread 10 nicer than the loop",
    );
  }
});

test("the property batching rests on: a row's bits are the same unpadded and at any padded length, beside any rows (MiniLM's shape, packed and in-place attention, 1 and 2 threads)", async () => {
  const dir = new URL("../../shared/fixtures/bert/k_minilm_shape/", import.meta.url);
  for (const threads of [1, 2]) {
    const m = await BertModel.fromPretrained(fileURLToPath(dir), { ...quiet, threads });
    const V = m.config.vocab_size;
    const H = m.config.hidden_size;
    const r = rng(threads);
    for (const L of [3, 13, 101, 241, 333]) {
      const s = Array.from({ length: L }, () => Math.floor(r() * V));
      const run = async (S, extra) => {
        const ids = [[...s, ...Array(S - L).fill(0)]];
        const mask = [[...Array(L).fill(1), ...Array(S - L).fill(0)]];
        for (let b = 0; b < extra; b++) {
          ids.push(Array.from({ length: S }, () => Math.floor(r() * V)));
          mask.push(Array(S).fill(1));
        }
        const out = await m.forward({ input_ids: ids, attention_mask: mask });
        return bits(out.last_hidden_state.data.slice(0, L * H));
      };
      const alone = await run(L, 0);
      for (const S of [L + 1, L + 3, Math.min(512, L + 130)])
        assert.equal(
          await run(S, 2),
          alone,
          `L ${L} padded to ${S} beside 2 rows, ${threads} thread(s)`,
        );
    }
    m.engine.dispose?.();
  }
});

test("POST /embed_all: every token's hidden state", async () => {
  const t = "w5 w6 w8 w9 w10";
  const r = await post(base, "/embed_all", { inputs: [t] });
  assert.is(r.status, 200);
  const h = await hiddenAlone(t);
  assert.is(r.json[0].length, 7);
  assert.equal(bits(r.json[0].flat()), bits(h));
});

test("POST /v1/embeddings: OpenAI's shape, base64 = little-endian float32, token-id input", async () => {
  const list = texts(12, 3);
  const f = await post(base, "/v1/embeddings", { input: list, model: "m" });
  assert.is(f.status, 200, f.text);
  assert.is(f.json.object, "list");
  assert.is(f.json.model, "m");
  assert.equal(
    f.json.data.map((d) => [d.object, d.index]),
    [
      ["embedding", 0],
      ["embedding", 1],
      ["embedding", 2],
    ],
  );
  const tok = srv.core["model"].tokenizer;
  const tokens = list.reduce((s, t) => s + tok.encode(t).length, 0);
  assert.equal(f.json.usage, { prompt_tokens: tokens, total_tokens: tokens });
  const b = await post(base, "/embeddings", { input: list, encoding_format: "base64" });
  b.json.data.forEach((d, i) => {
    const buf = Buffer.from(d.embedding, "base64");
    const v = Array.from({ length: buf.length / 4 }, (_, k) => buf.readFloatLE(k * 4));
    assert.equal(bits(v), bits(f.json.data[i].embedding));
  });
  const tei = await post(base, "/embed", { inputs: list });
  assert.equal(bits(tei.json[1]), bits(f.json.data[1].embedding));
  // token ids in: no special tokens added
  const ids = tok.encode(list[0]);
  const byIds = await post(base, "/v1/embeddings", { input: ids });
  assert.equal(bits(byIds.json.data[0].embedding), bits(f.json.data[0].embedding));
  const byIds2 = await post(base, "/v1/embeddings", { input: [ids, ids] });
  assert.is(byIds2.json.data.length, 2);
  // OpenAI's error shape
  const bad = await post(base, "/v1/embeddings", { input: [[1, 2, 999]] });
  assert.is(bad.status, 422);
  assert.type(bad.json.error.message, "string");
  assert.is(bad.json.error.code, "validation");
  const empty = await post(base, "/v1/embeddings", { input: [] });
  assert.is(empty.status, 400);
  assert.ok(empty.json.error);
});

test("TEI errors: status codes and {error, error_type}", async () => {
  const cases = [
    ["/embed", "{not json", 400, "validation"],
    ["/embed", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 400, "validation"],
    ["/embed", "", 422, "validation"],
    ["/embed", [1, 2], 422, "validation"],
    ["/embed", { inputs: 5 }, 422, "validation"],
    ["/embed", { inputs: ["a", 5] }, 422, "validation"],
    ["/embed", { inputs: [] }, 400, "empty"],
    ["/embed", { inputs: "" }, 422, "validation"],
    ["/embed", { inputs: Array(9).fill("w5") }, 422, "validation"],
    ["/embed", { inputs: Array(60).fill("w5").join(" ") }, 422, "validation"],
    ["/embed", { inputs: "w5", normalize: "yes" }, 422, "validation"],
    ["/embed", { inputs: "w5", dimensions: 0 }, 422, "validation"],
    ["/embed", { inputs: "w5", dimensions: 17 }, 422, "validation"],
    ["/embed", { inputs: "w5", truncation_direction: "up" }, 422, "validation"],
    ["/rerank", { query: "w5", texts: ["w6"] }, 424, "backend"],
    ["/predict", { inputs: "w5" }, 424, "backend"],
    ["/decode", { ids: [2, 5, 1000] }, 422, "validation"],
    ["/decode", { ids: [] }, 400, "empty"],
  ];
  for (const [path, body, status, type] of cases) {
    const r = await post(base, path, body);
    assert.is(r.status, status, `${path} ${String(JSON.stringify(body)).slice(0, 60)}: ${r.text}`);
    assert.is(r.json?.error_type, type, r.text);
    assert.type(r.json.error, "string");
  }
  // truncation: the same input answered when truncated, right and left
  const long = Array.from({ length: 60 }, (_, i) => WORDS[i % WORDS.length]).join(" ");
  const right = await post(base, "/embed", { inputs: long, truncate: true });
  const left = await post(base, "/embed", {
    inputs: long,
    truncate: true,
    truncation_direction: "Left",
  });
  assert.is(right.status, 200);
  assert.is(left.status, 200);
  assert.not.equal(right.json, left.json);
  // the next request is answered correctly
  const ok = await post(base, "/embed", { inputs: "w5 w6" });
  assert.equal(bits(ok.json[0]), bits(pool(await hiddenAlone("w5 w6"), 16, "mean", true, null)));
});

test("413: a 3 MB body (declared and chunked) is refused; the server keeps serving", async () => {
  const big = JSON.stringify({ inputs: "w5 ".repeat(1_000_000) });
  const r = await post(base, "/embed", big);
  assert.is(r.status, 413);
  assert.is(r.json.error_type, "validation");
  // chunked: no content-length
  const stream = new ReadableStream({
    start(c) {
      for (let i = 0; i < 30; i++) c.enqueue(new TextEncoder().encode("x".repeat(100_000)));
      c.close();
    },
  });
  const r2 = await fetch(base + "/embed", { method: "POST", body: stream, duplex: "half" }).catch(
    (e) => ({ status: "error", e }),
  );
  assert.ok(r2.status === 413 || r2.status === "error", String(r2.status));
  const ok = await post(base, "/embed", { inputs: "w5" });
  assert.is(ok.status, 200);
});

test("/tokenize and /decode", async () => {
  const r = await post(base, "/tokenize", { inputs: ["w5 w6", "w8"] });
  assert.is(r.status, 200);
  assert.is(r.json.length, 2);
  const first = r.json[0];
  assert.equal(
    first.map((t) => [t.id, t.special]),
    [
      [2, true],
      [5, false],
      [6, false],
      [3, true],
    ],
  );
  assert.is(first[1].text, "w5");
  assert.is(first[1].start, 0);
  assert.is(first[1].stop, 2);
  assert.is(first[2].start, 3);
  // character offsets (code points, as TEI and Python count): the emoji is one character
  const emoji = await post(base, "/tokenize", { inputs: "😀 w5 éw6" });
  assert.equal(
    emoji.json[0].map((t) => [t.text, t.start, t.stop]),
    [
      ["[CLS]", null, null],
      ["😀", 0, 1],
      ["w5", 2, 4],
      ["éw6", 5, 8],
      ["[SEP]", null, null],
    ],
  );
  const nos = await post(base, "/tokenize", { inputs: "w5", add_special_tokens: false });
  assert.equal(
    nos.json[0].map((t) => t.id),
    [5],
  );
  const d = await post(base, "/decode", { ids: [[2, 5, 6, 3], [8]] });
  assert.equal(d.json, ["w5 w6", "w8"]);
  const d2 = await post(base, "/decode", { ids: [2, 5, 3], skip_special_tokens: false });
  assert.equal(d2.json, ["[CLS] w5 [SEP]"]);
});

test("429: permits are taken per input; a request that does not fit is refused at once", async () => {
  // 16 permits, and a batcher that waits 1 s for more inputs: two requests of 8 hold all the
  // permits while they wait, the third is refused at once: before the first two are answered
  // (not a wall-clock bound, which a loaded machine breaks; the wait leaves ample room)
  const s = await startServer(EMB, {
    port: 0,
    load: quiet,
    maxConcurrentRequests: 16,
    batchWaitMs: 1000,
  });
  try {
    await s.core.ready;
    const list = Array(8).fill("w5 w6 w8 w9 w10 w11 w12 w13 w15 w16 w17 w18");
    let answered = 0;
    const first = [
      post(s.url, "/embed", { inputs: list }),
      post(s.url, "/embed", { inputs: list }),
    ].map((p) => p.finally(() => answered++));
    while (s.core["batcher"].size < 16) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    const third = await post(s.url, "/embed", { inputs: list });
    const ms = performance.now() - t0;
    assert.is(third.status, 429, third.text);
    assert.is(answered, 0, `429 after ${ms} ms, once ${answered} of the first two were answered`);
    assert.is(third.json.error_type, "overloaded");
    assert.is(third.json.error, "Model is overloaded");
    assert.is(third.headers.get("retry-after"), "1");
    // a single input does not fit either; the first two are answered
    assert.is((await post(s.url, "/embed", { inputs: "w5" })).status, 429);
    assert.equal(
      (await Promise.all(first)).map((r) => r.status),
      [200, 200],
    );
    // the permits come back
    const ok = await post(s.url, "/embed", { inputs: list });
    assert.is(ok.status, 200);
    const m = await fetch(s.url + "/metrics").then((r) => r.text());
    assert.match(m, /te_request_failure\{err="overloaded"\} 2/);
    assert.match(m, /te_inflight_inputs 0/);
  } finally {
    await s.close(1000);
  }
});

test("a client that disconnects has its queued inputs dropped; others are unaffected", async () => {
  // the batcher waits 300 ms for more inputs: the client leaves while its inputs are queued
  const s = await startServer(EMB, { port: 0, load: quiet, batchWaitMs: 300 });
  try {
    await s.core.ready;
    const ac = new AbortController();
    const doomed = Array.from({ length: 2 }, () =>
      fetch(s.url + "/embed", {
        method: "POST",
        body: JSON.stringify({ inputs: texts(20, 7, 35) }),
        signal: ac.signal,
      }).catch((e) => e),
    );
    while (s.core["batcher"].size < 14) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await Promise.all(doomed);
    await new Promise((r) => setTimeout(r, 20));
    const good = await post(s.url, "/embed", { inputs: "w5 w6 w8" });
    assert.is(good.status, 200);
    assert.equal(
      bits(good.json[0]),
      bits(pool(await hiddenAlone("w5 w6 w8"), 16, "mean", true, null)),
    );
    await s.core["batcher"].idle();
    assert.is(s.core.metrics.batchNextSize.sum, 1, "only the good input ran");
    assert.is(s.core["permits"], 512, "every permit returned");
  } finally {
    await s.close(1000);
  }
});

test("slow clients: headers or a body trickled past the timeouts are cut off", async () => {
  const port = srv.port;
  const trickle = (payload, every) =>
    new Promise((resolve) => {
      const s = connect(port, "127.0.0.1");
      let i = 0;
      let got = "";
      const t0 = Date.now();
      const timer = setInterval(() => {
        if (i < payload.length && !s.destroyed) s.write(payload[i++]);
      }, every);
      s.on("data", (d) => (got += d));
      s.on("close", () => {
        clearInterval(timer);
        resolve({ ms: Date.now() - t0, got });
      });
      s.on("error", () => {});
    });
  const headers = await trickle(
    "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n",
    50,
  );
  assert.ok(headers.ms < 3000, `cut after ${headers.ms} ms`);
  const body = await trickle(
    [
      "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n",
      ...'{"inputs":"w5 w5 w5 w5 w5 w5 w5 w5"}',
    ],
    100,
  );
  assert.ok(body.ms < 3000, `cut after ${body.ms} ms`);
  assert.not.match(body.got, /^HTTP\/1.1 200/);
  const ok = await post(base, "/embed", { inputs: "w5" });
  assert.is(ok.status, 200);
});

test("--api-key: 401 without the Bearer token; health and metrics stay public", async () => {
  const s = await startServer(EMB, { port: 0, apiKey: "sekret", load: quiet });
  try {
    await s.core.ready;
    assert.is((await post(s.url, "/embed", { inputs: "w5" })).status, 401);
    const wrong = await post(s.url, "/embed", { inputs: "w5" }, { authorization: "Bearer nope" });
    assert.is(wrong.status, 401);
    assert.is(wrong.json.error_type, "unauthorized");
    const oa = await post(s.url, "/v1/embeddings", { input: "w5" });
    assert.is(oa.status, 401);
    assert.ok(oa.json.error.message);
    const ok = await post(s.url, "/embed", { inputs: "w5" }, { authorization: "Bearer sekret" });
    assert.is(ok.status, 200);
    assert.is((await fetch(s.url + "/health")).status, 200);
    assert.is((await fetch(s.url + "/metrics")).status, 200);
    assert.is((await fetch(s.url + "/info")).status, 401);
  } finally {
    await s.close(1000);
  }
});

test("/predict and /rerank on classifiers: softmax / sigmoid of the model's logits", async () => {
  const clf = await startServer(CLF, { port: 0, load: quiet });
  const rr = await startServer(RERANK, { port: 0, load: quiet });
  try {
    await Promise.all([clf.core.ready, rr.core.ready]);
    const model = await BertForSequenceClassification.fromPretrained(CLF, quiet);
    const tok = clf.core["model"].tokenizer;
    const logitsOf = async (m, a, b) => {
      // padded to a multiple of 4 (the same bits as unpadded: see above)
      const enc = tok.encode_plus(a, b ?? null, { return_token_type_ids: true });
      const n = enc.input_ids.length;
      const pad = (row, v) => [...row, ...Array(((n + 3) & ~3) - n).fill(v)];
      const out = await m.forward({
        input_ids: [pad(enc.input_ids, 0)],
        token_type_ids: [pad(enc.token_type_ids, 0)],
        attention_mask: [
          pad(
            enc.input_ids.map(() => 1),
            0,
          ),
        ],
      });
      return Array.from(out.logits.data);
    };
    const info = await fetch(clf.url + "/info").then((r) => r.json());
    assert.equal(Object.keys(info.model_type), ["classifier"]);
    const single = await post(clf.url, "/predict", { inputs: "w5 w6 w8" });
    assert.is(single.status, 200, single.text);
    const l = await logitsOf(model, "w5 w6 w8");
    const mx = Math.max(...l);
    const e = l.map((x) => Math.exp(x - mx));
    const sum = e.reduce((a, b) => a + b);
    const expected = CLASSIFIER_LABELS.map((label, i) => ({ label, score: e[i] / sum })).sort(
      (a, b) => b.score - a.score,
    );
    assert.equal(
      single.json.map((p) => p.label),
      expected.map((p) => p.label),
    );
    single.json.forEach((p, i) => assert.ok(Math.abs(p.score - expected[i].score) < 1e-6));
    const pair = await post(clf.url, "/predict", { inputs: ["w5 w6", "w9"], raw_scores: true });
    const lp = await logitsOf(model, "w5 w6", "w9");
    const byLabel = Object.fromEntries(pair.json.map((p) => [p.label, p.score]));
    CLASSIFIER_LABELS.forEach((label, i) => assert.is(byLabel[label], Math.fround(lp[i])));
    const batch = await post(clf.url, "/predict", { inputs: [["w5"], ["w5 w6", "w9"]] });
    assert.is(batch.json.length, 2);
    assert.equal(batch.json[1], pair.json.length ? batch.json[1] : null);
    assert.is((await post(clf.url, "/rerank", { query: "w5", texts: ["w6"] })).status, 424);
    assert.is((await post(clf.url, "/embed", { inputs: "w5" })).status, 424);
    assert.is((await post(clf.url, "/predict", { inputs: ["a", "b", "c"] })).status, 422);

    const reranker = await BertForSequenceClassification.fromPretrained(RERANK, quiet);
    const docs = texts(30, 5);
    const r = await post(rr.url, "/rerank", { query: "w5 w6", texts: docs, return_text: true });
    assert.is(r.status, 200, r.text);
    const scores = [];
    for (const d of docs)
      scores.push(1 / (1 + Math.exp(-(await logitsOf(reranker, "w5 w6", d))[0])));
    const order = docs.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
    assert.equal(
      r.json.map((x) => x.index),
      order,
    );
    r.json.forEach((x) => {
      assert.ok(Math.abs(x.score - scores[x.index]) < 1e-6);
      assert.is(x.text, docs[x.index]);
    });
    const raw = await post(rr.url, "/rerank", { query: "w5 w6", texts: docs, raw_scores: true });
    assert.ok(raw.json.some((x) => x.score < 0 || x.score > 1));
    assert.is((await post(rr.url, "/rerank", { query: "w5", texts: [] })).status, 400);
    assert.is((await post(rr.url, "/predict", { inputs: "w5" })).status, 200);
  } finally {
    await Promise.all([clf.close(1000), rr.close(1000)]);
  }
});

/** The shared k_minilm_shape fixture (MiniLM's width, one layer) with a generated 1,000-word vocab. */
function minilmModel(name) {
  const fx = fileURLToPath(new URL("../../shared/fixtures/bert/k_minilm_shape/", import.meta.url));
  const dir = join(root, name);
  mkdirSync(dir);
  for (const f of ["config.json", "model.safetensors"])
    writeFileSync(join(dir, f), readFileSync(join(fx, f)));
  const words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  for (let i = 5; i < 1000; i++) words.push(`w${i}`);
  writeFileSync(join(dir, "vocab.txt"), words.join("\n") + "\n");
  return dir;
}

test("the model runs in a worker thread: /health is answered while a batch computes", async () => {
  // MiniLM's width (one layer) and a generated vocab: a batch of 16 x 300 tokens takes a while
  const dir = minilmModel("minilm");
  const s = await startServer(dir, { port: 0, load: quiet });
  try {
    await s.core.ready;
    const long = Array.from({ length: 16 }, (_, i) =>
      Array.from({ length: 300 }, (_, k) => `w${5 + ((i * 7 + k * 13) % 995)}`).join(" "),
    );
    let done = false;
    const big = post(s.url, "/embed", { inputs: long }).then((r) => ((done = true), r));
    while (s.core["batcher"].size === 0 && !done) await new Promise((r) => setImmediate(r));
    const healthy = [];
    while (!done && healthy.length < 5) {
      const t0 = performance.now();
      const h = await fetch(s.url + "/health");
      healthy.push([h.status, performance.now() - t0, done]);
    }
    assert.is((await big).status, 200);
    assert.ok(
      healthy.some(([status, , after]) => status === 200 && !after),
      `no /health answer while the batch ran: ${JSON.stringify(healthy)}`,
    );
  } finally {
    await s.close(5000);
  }
});

test("two model workers: batches run side by side, with the same bits as one worker", async () => {
  const dir = minilmModel("minilm-workers");
  const one = await startServer(dir, { port: 0, load: quiet, workers: 1 });
  const two = await startServer(dir, { port: 0, load: quiet, workers: 2 });
  try {
    await Promise.all([one.core.ready, two.core.ready]);
    assert.is(two.core["backend"].parallelism, 2);
    const r = rng(17);
    const list = Array.from({ length: 13 }, () =>
      Array.from({ length: 1 + Math.floor(r() * 40) }, () => `w${5 + Math.floor(r() * 995)}`).join(
        " ",
      ),
    );
    const ref = await post(one.url, "/embed", { inputs: list });
    const concurrent = await Promise.all(list.map((t) => post(two.url, "/embed", { inputs: t })));
    const together = await post(two.url, "/embed", { inputs: list });
    list.forEach((_, i) => {
      assert.equal(bits(concurrent[i].json[0]), bits(ref.json[i]), `input ${i} alone`);
      assert.equal(bits(together.json[i]), bits(ref.json[i]), `input ${i} batched`);
    });
    // a long batch on one worker does not hold up a short request: the other worker runs it
    const long = Array.from({ length: 16 }, (_, i) =>
      Array.from({ length: 300 }, (_, k) => `w${5 + ((i * 7 + k * 13) % 995)}`).join(" "),
    );
    let longDone = false;
    const big = post(two.url, "/embed", { inputs: long }).then((x) => ((longDone = true), x));
    while (two.core["batcher"].size > 0 || !two.core["batcher"].busy)
      await new Promise((res) => setImmediate(res));
    const short = await post(two.url, "/embed", { inputs: "w7 w8" });
    const shortFirst = !longDone;
    assert.is(short.status, 200);
    assert.is((await big).status, 200);
    assert.ok(shortFirst, "the short request waited for the long batch");
  } finally {
    await Promise.all([one.close(5000), two.close(5000)]);
  }
});

test("createHandler: the fetch handler answers as the server does; 503 while loading", async () => {
  const files = {};
  for (const f of ["config.json", "vocab.txt", "model.safetensors"])
    files[f] = new Uint8Array(await import("node:fs").then((fs) => fs.readFileSync(join(EMB, f))));
  const handler = createHandler(files, { load: quiet, pooling: "mean" });
  const h0 = await handler(new Request("http://x/health"));
  assert.is(h0.status, 503);
  await handler.ready;
  assert.is((await handler(new Request("http://x/health"))).status, 200);
  const res = await handler(
    new Request("http://x/embed", { method: "POST", body: JSON.stringify({ inputs: ["w5 w6"] }) }),
  );
  const viaServer = await post(base, "/embed", { inputs: ["w5 w6"] });
  assert.equal(bits((await res.json())[0]), bits(viaServer.json[0]));
  const big = await handler(
    new Request("http://x/embed", { method: "POST", body: "x".repeat(2_000_001) }),
  );
  assert.is(big.status, 413);
  await handler.close();
  assert.is((await handler(new Request("http://x/health"))).status, 503);
});

/** A model's padded (to 4, as the server's batches) forward of one text: [len, H] hidden rows. */
async function hiddenOf(model, text) {
  const ids = srv.core["model"].tokenizer.encode(text);
  const S = (ids.length + 3) & ~3;
  const out = await model.forward({
    input_ids: [[...ids, ...Array(S - ids.length).fill(0)]],
    attention_mask: [[...ids.map(() => 1), ...Array(S - ids.length).fill(0)]],
  });
  const H = CFG.hidden_size;
  return { h: out.last_hidden_state.data.slice(0, ids.length * H), len: ids.length };
}

test("--pooling cls, max, mean_sqrt_len, last-token (TEI's last_token too): the hidden rows pooled as sentence-transformers / TEI do; /info names the pooling", async () => {
  const poolings = ["cls", "max", "mean_sqrt_len", "last_token"];
  const servers = await Promise.all(
    poolings.map((pooling) => startServer(EMB, { port: 0, load: quiet, pooling })),
  );
  try {
    await Promise.all(servers.map((s) => s.core.ready));
    const H = CFG.hidden_size;
    const list = texts(70, 5, 20);
    const ex = await pipeline("feature-extraction", EMB, quiet);
    for (const [k, pooling] of poolings.entries()) {
      const url = servers[k].url;
      const info = await fetch(url + "/info").then((r) => r.json());
      assert.equal(info.model_type, { embedding: { pooling } });
      const r = await post(url, "/embed", { inputs: list, normalize: false });
      assert.is(r.status, 200, r.text);
      for (const [i, t] of list.entries()) {
        // reference: float64 over the real rows of the library's forward, written here
        const { h, len } = await hiddenOf(direct, t);
        const ref = new Float64Array(H);
        for (let j = 0; j < H; j++) {
          const col = Array.from({ length: len }, (_, s) => h[s * H + j]);
          ref[j] =
            pooling === "cls"
              ? col[0]
              : pooling === "last_token"
                ? col[len - 1]
                : pooling === "max"
                  ? Math.max(...col)
                  : col.reduce((a, b) => a + b, 0) / Math.sqrt(len);
        }
        assert.equal(bits(r.json[i]), bits(ref), `${pooling}, text ${i}`);
      }
      // the pipeline's max and mean_sqrt_len (its own padding) within float32 rounding
      if (pooling === "max" || pooling === "mean_sqrt_len") {
        const p = await ex(list, { pooling });
        r.json.forEach((row, i) =>
          row.forEach((x, j) =>
            assert.ok(Math.abs(x - p.data[i * H + j]) < 1e-5, `${pooling} ${i} ${j}`),
          ),
        );
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.close(1000)));
  }
  // 1_Pooling/config.json: max is followed; weighted mean and several modes are refused by name
  const files = (pool) => ({
    "config.json": readFileSync(join(EMB, "config.json")),
    "vocab.txt": readFileSync(join(EMB, "vocab.txt")),
    "model.safetensors": readFileSync(join(EMB, "model.safetensors")),
    "1_Pooling/config.json": JSON.stringify(pool),
  });
  const h = createHandler(files({ pooling_mode_max_tokens: true }), { load: quiet });
  await h.ready;
  const info = await (await h(new Request("http://x/info"))).json();
  assert.equal(info.model_type, { embedding: { pooling: "max" } });
  await h.close();
  for (const [pool, re] of [
    [{ pooling_mode_weightedmean_tokens: true }, /weighted-mean pooling.*--pooling cls\|mean/],
    [
      { pooling_mode_cls_token: true, pooling_mode_mean_tokens: true },
      /several poolings at once \(cls, mean\)/,
    ],
  ]) {
    const bad = createHandler(files(pool), { load: quiet });
    const e = await bad.ready.then(
      () => null,
      (x) => x,
    );
    assert.match(String(e?.message), re);
    const health = await bad(new Request("http://x/health"));
    assert.is(health.status, 503);
  }
  assert.throws(() => createHandler(EMB, { pooling: "weightedmean" }), /pooling must be one of/);
  assert.throws(() => createHandler(EMB, { dtype: "int4" }), /dtype must be one of/);
});

test("--pooling splade: a BertForMaskedLM's max over tokens of log(1 + relu(logits)) on /embed_sparse; TEI's refusals elsewhere", async () => {
  const sp = await startServer(MLM, { port: 0, load: quiet, pooling: "splade" });
  try {
    await sp.core.ready;
    const info = await fetch(sp.url + "/info").then((r) => r.json());
    assert.equal(info.model_type, { embedding: { pooling: "splade" } });
    const mlm = await BertForMaskedLM.fromPretrained(MLM, quiet);
    const V = CFG.vocab_size;
    const list = texts(71, 4, 15);
    const r = await post(sp.url, "/embed_sparse", { inputs: list });
    assert.is(r.status, 200, r.text);
    const dense = await post(sp.url, "/embed", { inputs: list, normalize: false });
    assert.is(dense.status, 200, dense.text);
    for (const [i, t] of list.entries()) {
      const ids = srv.core["model"].tokenizer.encode(t);
      const S = (ids.length + 3) & ~3;
      const out = await mlm.forward({
        input_ids: [[...ids, ...Array(S - ids.length).fill(0)]],
        attention_mask: [[...ids.map(() => 1), ...Array(S - ids.length).fill(0)]],
      });
      const ref = new Float32Array(V);
      for (let j = 0; j < V; j++) {
        let m = 0;
        for (let s = 0; s < ids.length; s++)
          m = Math.max(m, Math.log1p(Math.max(0, out.logits.data[s * V + j])));
        ref[j] = m;
      }
      const nz = [...ref.keys()].filter((j) => ref[j] !== 0);
      assert.ok(nz.length > 0 && nz.length < V, "sparse: some but not all entries");
      assert.equal(
        r.json[i].map((e) => e.index),
        nz,
      );
      assert.equal(bits(r.json[i].map((e) => e.value)), bits(nz.map((j) => ref[j])));
      assert.equal(bits(dense.json[i]), bits(ref));
    }
    // the main route of a SPLADE model is /embed_sparse
    const root = await post(sp.url, "/", { inputs: list[0] });
    assert.equal(root.json, [r.json[0]]);
    // TEI: normalize (the default), embed_all and OpenAI's normalized embeddings are refused
    for (const [path, body] of [
      ["/embed", { inputs: "w5" }],
      ["/embed_all", { inputs: "w5" }],
      ["/v1/embeddings", { input: "w5" }],
    ]) {
      const e = await post(sp.url, path, body);
      assert.is(e.status, 424, `${path}: ${e.text}`);
      assert.match(e.text, /SPLADE/);
    }
    // and a model without SPLADE pooling has no /embed_sparse
    const no = await post(base, "/embed_sparse", { inputs: "w5" });
    assert.is(no.status, 424);
    assert.match(no.json.error, /not an embedding model with SPLADE pooling/);
  } finally {
    await sp.close(1000);
  }
  // splade needs the masked-LM head: an encoder-only checkpoint is refused before any request
  const noHead = createHandler(EMB, { load: quiet, pooling: "splade" });
  const e = await noHead.ready.then(
    () => null,
    (x) => x,
  );
  assert.match(String(e?.message), /splade needs a masked-language-model head/);
});

test("--dtype fp16 / q8 (TEI's float16 too): the weights the loader gives for that dtype, /info's model_dtype", async () => {
  for (const [dtype, name, tol] of [
    ["float16", "float16", 5e-3],
    ["q8", "q8", 0.1],
  ]) {
    const s = await startServer(EMB, { port: 0, load: quiet, dtype });
    try {
      await s.core.ready;
      const info = await fetch(s.url + "/info").then((r) => r.json());
      assert.is(info.model_dtype, name);
      const model = await BertModel.fromPretrained(EMB, {
        ...quiet,
        dtype: dtype === "float16" ? "fp16" : dtype,
      });
      const list = texts(72, 3, 20);
      const r = await post(s.url, "/embed", { inputs: list });
      assert.is(r.status, 200, r.text);
      const f32 = await post(base, "/embed", { inputs: list });
      for (const [i, t] of list.entries()) {
        const { h } = await hiddenOf(model, t);
        assert.equal(bits(r.json[i]), bits(pool(h, CFG.hidden_size, "mean", true, null)));
        // not the float32 numbers, but close to them
        const diff = Math.max(...r.json[i].map((x, j) => Math.abs(x - f32.json[i][j])));
        assert.ok(diff > 0 && diff < tol, `${dtype}: ${diff} from float32`);
      }
    } finally {
      await s.close(1000);
    }
  }
  assert.is((await fetch(base + "/info").then((r) => r.json())).model_dtype, "float32");
});

test("simdbert serve: SIGTERM answers what is queued, then exits 0", async () => {
  const child = spawn(process.execPath, [CLI, "serve", EMB, "--port", "0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const url = await new Promise((resolve, reject) => {
    child.stderr.on("data", (d) => {
      err += d;
      const m = /listening on (\S+)/.exec(err);
      if (m && /ready/.test(err)) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const inflight = Array.from({ length: 6 }, (_, i) =>
    post(url, "/embed", { inputs: texts(40 + i, 8, 35) }).catch((e) => ({ status: String(e) })),
  );
  // SIGTERM once the server holds all six
  for (;;) {
    const m = await fetch(url + "/metrics").then((r) => r.text());
    const n = [...m.matchAll(/^te_request_count\{[^}]*\} (\d+)/gm)].reduce((s, x) => s + +x[1], 0);
    if (n >= 6) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill("SIGTERM");
  const code = await new Promise((r) => child.on("exit", r));
  const rs = await Promise.all(inflight);
  assert.is(code, 0, err);
  assert.equal(
    rs.map((r) => r.status),
    [200, 200, 200, 200, 200, 200],
  );
  // bad flags are refused before anything loads
  const bad = spawn(process.execPath, [CLI, "serve", EMB, "--port", "abc"], { stdio: "pipe" });
  let out = "";
  bad.stderr.on("data", (d) => (out += d));
  assert.is(await new Promise((r) => bad.on("exit", r)), 2); // a usage error
  assert.match(out, /--port must be an integer/);
});

test("simdbert serve --dtype q8 --pooling last-token: the flags reach the server (/info)", async () => {
  const child = spawn(
    process.execPath,
    [CLI, "serve", EMB, "--port", "0", "--dtype", "q8", "--pooling", "last-token"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  try {
    const url = await new Promise((resolve, reject) => {
      child.stderr.on("data", (d) => {
        err += d;
        const m = /listening on (\S+)/.exec(err);
        if (m && /ready/.test(err)) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    const info = await fetch(url + "/info").then((r) => r.json());
    assert.is(info.model_dtype, "q8");
    assert.equal(info.model_type, { embedding: { pooling: "last_token" } });
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.on("exit", r));
  }
  const bad = spawn(process.execPath, [CLI, "serve", EMB, "--pooling", "weightedmean"], {
    stdio: "pipe",
  });
  let out = "";
  bad.stderr.on("data", (d) => (out += d));
  assert.is(await new Promise((r) => bad.on("exit", r)), 2);
  assert.match(out, /--pooling must be one of/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();
