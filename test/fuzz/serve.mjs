// The server's routes (simdbert serve, over real HTTP on 127.0.0.1): valid requests of every
// route against the library's own answers, and broken ones (random JSON in every field, wrong
// types, deep nesting, lone surrogates, random and non-UTF-8 bytes, bodies over the limit,
// unknown paths and methods, malformed HTTP, clients that abort mid-request). Every answer must be
// 200 with the right bits, or one of TEI's / OpenAI's error bodies with a 4xx status that names
// the problem; never a 5xx, a hang or a dropped connection; the probe after it answers right.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BertModel, writeSafetensors } from "../../dist/index.js";
import { startServer } from "../../dist/serve/node.js";
import { pool } from "../../dist/serve/index.js";
import { encoderShapes, randomTensors, TINY } from "../support/random_model.mjs";
import { show } from "./lib.mjs";

export const name = "serve";

const VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
for (let i = 5; i < 60; i++) VOCAB.push(i % 7 === 0 ? `##x${i}` : `w${i}`);
const WORDS = VOCAB.slice(5).filter((w) => !w.startsWith("##"));
const CFG = { ...TINY, vocab_size: VOCAB.length, model_type: "bert" };
const LIMITS = { maxClientBatchSize: 8, maxConcurrentRequests: 64, payloadLimit: 20_000 };
const ROUTES = [
  "/embed",
  "/embed_all",
  "/v1/embeddings",
  "/embeddings",
  "/tokenize",
  "/decode",
  "/rerank",
  "/predict",
  "/",
];
const ALLOWED = new Set([200, 400, 404, 405, 413, 422, 424, 429]);

export async function setup() {
  const dir = mkdtempSync(join(tmpdir(), "simdbert-fuzz-serve-"));
  mkdirSync(join(dir, "m"));
  const m = join(dir, "m");
  writeFileSync(join(m, "config.json"), JSON.stringify(CFG));
  writeFileSync(join(m, "vocab.txt"), VOCAB.join("\n") + "\n");
  writeFileSync(
    join(m, "model.safetensors"),
    writeSafetensors(randomTensors(encoderShapes(CFG), 9)),
  );
  const srv = await startServer(m, {
    port: 0,
    ...LIMITS,
    pooling: "mean",
    headersTimeoutMs: 1000,
    requestTimeoutMs: 2000,
    load: { warn: () => {} },
  });
  await srv.core.ready;
  const direct = await BertModel.fromPretrained(m, { warn: () => {} });
  return { dir, srv, direct, tok: srv.core["model"].tokenizer, cache: new Map() };
}

/** The embedding the server must give a text: the library's forward at the server's padding. */
async function expected(state, text, normalize = true, dimensions = null) {
  const key = `${normalize}|${dimensions}|${text}`;
  if (state.cache.has(key)) return state.cache.get(key);
  const ids = state.tok.encode(text);
  const S = (ids.length + 3) & ~3;
  const out = await state.direct.forward({
    input_ids: [[...ids, ...Array(S - ids.length).fill(0)]],
    attention_mask: [[...ids.map(() => 1), ...Array(S - ids.length).fill(0)]],
  });
  const h = out.last_hidden_state.data.slice(0, ids.length * CFG.hidden_size);
  const v = pool(h, CFG.hidden_size, "mean", normalize, dimensions);
  if (state.cache.size < 2000) state.cache.set(key, v);
  return v;
}

const text = (r, maxWords = 20) =>
  Array.from({ length: r.int(1, maxWords + 1) }, () => r.pick(WORDS)).join(" ");

/** A random JSON value (strings with odd code points, deep or wide structures). */
function junk(r, depth = 0) {
  const k = r.int(0, depth > 3 ? 6 : 9);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r.pick([true, false]);
    case 2:
      return r.pick([0, -1, 1.5, 1e308, -0, 2 ** 53, 7, 16, 17, 100000]);
    case 3:
      return r.pick([
        "",
        "w5",
        "\ud800",
        "\u0000",
        "é".repeat(r.int(1, 50)),
        "w5 ".repeat(r.int(1, 80)),
        "Left",
        "base64",
      ]);
    case 4:
      return text(r);
    case 5:
      return r.int(0, 200);
    case 6:
      return Array.from({ length: r.int(0, 12) }, () => junk(r, depth + 1));
    case 7: {
      const o = {};
      for (let i = r.int(0, 4); i > 0; i--)
        o[r.pick(["inputs", "input", "ids", "texts", "__proto__", "x"])] = junk(r, depth + 1);
      return o;
    }
    default:
      return Array.from({ length: r.int(1, 10) }, () => r.int(-3, 70));
  }
}

const FIELDS = {
  "/embed": [
    "inputs",
    "normalize",
    "truncate",
    "truncation_direction",
    "dimensions",
    "prompt_name",
  ],
  "/embed_all": ["inputs", "truncate", "truncation_direction"],
  "/v1/embeddings": ["input", "model", "encoding_format", "dimensions", "user"],
  "/embeddings": ["input", "encoding_format"],
  "/tokenize": ["inputs", "add_special_tokens"],
  "/decode": ["ids", "skip_special_tokens"],
  "/rerank": ["query", "texts", "raw_scores", "return_text"],
  "/predict": ["inputs", "raw_scores"],
  "/": ["inputs"],
};

async function send(state, path, body, { method = "POST", signal, headers = {} } = {}) {
  const res = await fetch(state.srv.url + path, {
    method,
    body: method === "GET" || method === "HEAD" ? undefined : body,
    headers: { "content-type": "application/json", ...headers },
    signal: signal ?? AbortSignal.timeout(15_000),
  });
  const raw = await res.text();
  let json;
  try {
    json = JSON.parse(raw);
  } catch {
    json = null;
  }
  return { status: res.status, json, raw };
}

/** An error answer: its status allowed, its body TEI's or OpenAI's shape naming the problem. */
function checkError(ctx, label, path, r) {
  const { stats, i } = ctx;
  if (!ALLOWED.has(r.status)) {
    stats.fail(
      r.status >= 500 ? "crashes" : "wrong",
      i,
      `${label}: status ${r.status}: ${r.raw.slice(0, 300)}`,
    );
    return false;
  }
  if (r.status === 200) return true;
  const openai = path === "/v1/embeddings" || path === "/embeddings";
  const msg = openai ? r.json?.error?.message : r.json?.error;
  const type = openai ? r.json?.error?.code : r.json?.error_type;
  if (typeof msg !== "string" || typeof type !== "string") {
    stats.fail("wrong", i, `${label}: ${r.status} without the error shape: ${r.raw.slice(0, 300)}`);
    return false;
  }
  if (
    msg.length < 8 ||
    msg.length > 600 ||
    /is not a function|Cannot read propert|undefined/.test(msg)
  ) {
    stats.fail("unclear", i, `${label}: ${r.status} message: ${msg.slice(0, 300)}`);
    return false;
  }
  stats.add("rejected");
  return true;
}

const bitsEqual = (got, want) =>
  Array.isArray(got) &&
  got.length === want.length &&
  got.every((x, j) => Math.fround(x) === want[j]);

async function validCase(state, r, ctx) {
  const { stats, i } = ctx;
  const n = r.int(1, LIMITS.maxClientBatchSize + 1);
  const texts = Array.from({ length: n }, () => text(r));
  const kind = r.int(0, 4);
  if (kind <= 1) {
    const normalize = r.chance(0.8);
    const dimensions = r.chance(0.2) ? r.int(1, CFG.hidden_size + 1) : null;
    const single = r.chance(0.3);
    const body = {
      inputs: single ? texts[0] : texts,
      normalize,
      ...(dimensions ? { dimensions } : {}),
    };
    const res = await send(state, "/embed", JSON.stringify(body));
    if (res.status !== 200)
      return stats.fail(
        "wrong",
        i,
        `valid /embed ${show(body)} -> ${res.status} ${res.raw.slice(0, 200)}`,
      );
    const list = single ? [texts[0]] : texts;
    for (let k = 0; k < list.length; k++)
      if (!bitsEqual(res.json[k], await expected(state, list[k], normalize, dimensions)))
        return stats.fail("wrong", i, `/embed ${show(body)}: input ${k} differs from the library`);
  } else if (kind === 2) {
    const fmt = r.pick(["float", "base64"]);
    const body = { input: texts, encoding_format: fmt };
    const res = await send(state, r.pick(["/v1/embeddings", "/embeddings"]), JSON.stringify(body));
    if (res.status !== 200)
      return stats.fail("wrong", i, `valid OpenAI ${show(body)} -> ${res.status}`);
    for (let k = 0; k < texts.length; k++) {
      let v = res.json.data[k].embedding;
      if (fmt === "base64") {
        const b = Buffer.from(v, "base64");
        v = Array.from({ length: b.length / 4 }, (_, j) => b.readFloatLE(j * 4));
      }
      if (!bitsEqual(v, await expected(state, texts[k])))
        return stats.fail("wrong", i, `OpenAI ${show(body)}: input ${k} differs from the library`);
    }
  } else {
    const res = await send(state, "/tokenize", JSON.stringify({ inputs: texts }));
    const ok =
      res.status === 200 &&
      res.json.length === texts.length &&
      res.json.every(
        (toks, k) => toks.map((t) => t.id).join() === state.tok.encode(texts[k]).join(),
      );
    if (!ok)
      return stats.fail(
        "wrong",
        i,
        `/tokenize ${show(texts)} -> ${res.status} ${res.raw.slice(0, 200)}`,
      );
    const ids = res.json.map((toks) => toks.map((t) => t.id));
    const dec = await send(state, "/decode", JSON.stringify({ ids }));
    if (dec.status !== 200 || dec.json.join("|") !== texts.join("|"))
      return stats.fail("wrong", i, `/decode of ${show(ids)} -> ${dec.raw.slice(0, 200)}`);
  }
  stats.add("ok");
  stats.add("checks");
}

async function brokenCase(state, r, ctx) {
  const path = r.pick(ROUTES);
  const fields = FIELDS[path];
  const body = {};
  for (const f of fields) if (r.chance(0.6)) body[f] = r.chance(0.5) ? junk(r) : text(r);
  let raw = JSON.stringify(body);
  const how = r.int(0, 10);
  if (how === 0) raw = raw.slice(0, r.int(0, raw.length));
  else if (how === 1) raw = JSON.stringify(junk(r));
  else if (how === 2) raw = "[".repeat(r.int(1000, 100_000));
  else if (how === 3) raw = Buffer.from(r.bytes(r.int(1, 200)));
  else if (how === 4)
    raw = Buffer.concat([
      Buffer.from('{"inputs":"'),
      Buffer.from([0xff, 0xc0, 0x80]),
      Buffer.from('"}'),
    ]);
  else if (how === 5) raw = JSON.stringify({ inputs: "w5 ".repeat(r.int(6000, 12_000)) });
  const res = await send(state, path, raw);
  checkError(ctx, `POST ${path} ${show(typeof raw === "string" ? raw : [...raw], 120)}`, path, res);
}

async function protocolCase(state, r, ctx) {
  const { stats, i } = ctx;
  const k = r.int(0, 3);
  if (k === 0) {
    const method = r.pick(["GET", "PUT", "DELETE", "PATCH", "HEAD"]);
    const path = r.pick([
      ...ROUTES,
      "/health",
      "/info",
      "/metrics",
      "/x",
      "/embed/",
      "//embed",
      "/%ff",
    ]);
    const res = await send(state, path, "{}", { method });
    if (res.status >= 500 && !(res.status === 503 && path === "/health"))
      stats.fail("crashes", i, `${method} ${path} -> ${res.status}`);
    else stats.add("ok");
  } else if (k === 1) {
    // garbage on the socket: an answer (400) or a close, never a hang
    const garbage = r.pick([
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "POST /embed HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      Buffer.from(r.bytes(r.int(1, 300))).toString("latin1") + "\r\n\r\n",
      "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    ]);
    const outcome = await new Promise((resolve) => {
      const s = connect(state.srv.port, "127.0.0.1");
      let got = "";
      const t = setTimeout(() => {
        s.destroy();
        resolve(`hang: ${got.slice(0, 80)}`);
      }, 5000);
      s.on("data", (d) => (got += d));
      s.on("close", () => {
        clearTimeout(t);
        resolve(got);
      });
      s.on("error", () => {});
      s.end(garbage);
    });
    if (/^hang/.test(outcome))
      stats.fail("hangs", i, `malformed HTTP ${show(garbage)}: ${outcome}`);
    else if (/^HTTP\/1\.1 5/.test(outcome))
      stats.fail("crashes", i, `malformed HTTP: ${outcome.slice(0, 200)}`);
    else stats.add("rejected");
  } else {
    // a client that aborts while its inputs are queued or running
    const ac = new AbortController();
    const p = send(
      state,
      "/embed",
      JSON.stringify({ inputs: Array.from({ length: r.int(1, 9) }, () => text(r, 30)) }),
      { signal: ac.signal },
    ).catch(() => null);
    setTimeout(() => ac.abort(), r.int(0, 5));
    await p;
    stats.add("ok");
  }
}

export async function run(state, r, ctx) {
  const { stats } = ctx;
  stats.add("tried");
  const k = r.weighted([
    [3, "valid"],
    [5, "broken"],
    [2, "protocol"],
  ]);
  if (k === "valid") await validCase(state, r, ctx);
  else if (k === "broken") await brokenCase(state, r, ctx);
  else await protocolCase(state, r, ctx);
  if (ctx.i % 8 === 0) {
    const probe = await send(state, "/embed", JSON.stringify({ inputs: "w5 w6 w8" }));
    if (probe.status !== 200 || !bitsEqual(probe.json[0], await expected(state, "w5 w6 w8")))
      stats.fail(
        "wrong",
        ctx.i,
        `the probe after this case: ${probe.status} ${probe.raw.slice(0, 200)}`,
      );
    stats.add("checks");
  }
}

export async function finish(state, ctx) {
  // nothing left behind: permits back, queue empty
  await new Promise((r) => setTimeout(r, 100));
  await state.srv.core["batcher"].idle();
  const permits = state.srv.core["permits"];
  if (permits !== LIMITS.maxConcurrentRequests)
    ctx.stats.fail(
      "wrong",
      -1,
      `permits leaked: ${permits} of ${LIMITS.maxConcurrentRequests} free when idle`,
    );
}

export async function teardown(state) {
  await state.srv.close(2000);
  rmSync(state.dir, { recursive: true, force: true });
}

export const surface = { name, setup, run, finish, teardown };
