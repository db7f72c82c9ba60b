#!/usr/bin/env node
// npm run bench:serve: a load test of `simdbert serve` on 127.0.0.1, MiniLM-L6's shape (random
// weights, a generated 30,522-word vocab), with a client of our own (node:http, keep-alive), every
// phase bounded in requests and seconds:
//   1. throughput (inputs/s) and p50 / p99 latency at concurrency 1, 8, 64, requests of 1 and 32
//      inputs, batching on (--max-batch-tokens 16384) and off (--max-batch-requests 1), beside the
//      direct pipeline's latency for one input;
//   2. whether a short wait for more inputs pays off (--batch-wait-ms 0 / 1 / 2, interleaved);
//   3. overload: 1,024 concurrent requests against --max-concurrent-requests 64: 429 latency,
//      no errors or timeouts, the server's RSS;
//   4. soak: N requests (default 100,000) at concurrency 64, each answer compared with the
//      library's own result for its text (bits, and |diff| against the feature-extraction
//      pipeline), lost / wrong counted, the server's RSS growth after warm-up.
// The server runs in its own process (`node dist/cli/main.js serve`); results go to stdout and
// bench/results/serve.json.
//
//   npm run bench:serve [-- --seconds 4 --soak 100000 --soak-seconds 900 --quick]
//                       [--phases direct,throughput,wait,overload,soak] [--server "--workers 1"]
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { MODELS, randomWeights, CACHE } from "./lib/models.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const REPO = join(here, "..");
const CLI = join(REPO, "dist", "cli", "main.js");
const lib = await import(join(REPO, "dist", "index.js"));

const argv = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? dflt : argv[i + 1] === undefined ? true : Number(argv[i + 1]);
};
const QUICK = argv.includes("--quick");
const SECONDS = flag("seconds", QUICK ? 1.5 : 4);
const SOAK = flag("soak", QUICK ? 5000 : 100_000);
const SOAK_SECONDS = flag("soak-seconds", QUICK ? 60 : 900);
const pi = argv.indexOf("--phases");
const PHASES = new Set(
  (pi >= 0 ? argv[pi + 1] : "direct,throughput,wait,overload,soak").split(","),
);

// ---- the model and the texts -------------------------------------------------------------------

function modelDir() {
  const dir = join(CACHE, "serve-minilm-l6");
  if (existsSync(join(dir, "vocab.txt"))) return dir;
  mkdirSync(dir, { recursive: true });
  const c = MODELS["minilm-l6"];
  writeFileSync(join(dir, "config.json"), JSON.stringify(c));
  writeFileSync(join(dir, "model.safetensors"), lib.writeSafetensors(randomWeights(c)));
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  for (let i = vocab.length; i < c.vocab_size; i++) vocab.push(i % 5 === 0 ? `##p${i}` : `w${i}`);
  writeFileSync(join(dir, "vocab.txt"), vocab.join("\n") + "\n");
  mkdirSync(join(dir, "1_Pooling"), { recursive: true });
  writeFileSync(
    join(dir, "1_Pooling", "config.json"),
    JSON.stringify({ pooling_mode_mean_tokens: true, pooling_mode_cls_token: false }),
  );
  return dir;
}

let seed = 12345;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
/** a sentence of 6-30 words (8-32 tokens): sentence-embedding traffic */
const sentence = () =>
  Array.from({ length: 6 + Math.floor(rnd() * 25) }, () => {
    const i = 5 + Math.floor(rnd() * 30000);
    return `w${i % 5 === 0 ? i + 1 : i}`;
  }).join(" ");
const POOL = Array.from({ length: 2000 }, sentence);

// ---- server and client -------------------------------------------------------------------------

// --server "FLAGS": flags every `simdbert serve` of the run also gets (e.g. "--workers 1")
const si = argv.indexOf("--server");
const SERVER_FLAGS = si >= 0 ? argv[si + 1].split(/\s+/).filter(Boolean) : [];

/** `simdbert serve dir flags` (or node with `argv` instead of the CLI) in its own process. */
async function startServer(
  dir,
  flags,
  args = [CLI, "serve", dir, "--port", "0", ...SERVER_FLAGS, ...flags],
) {
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const url = await new Promise((resolve, reject) => {
    child.stderr.on("data", (d) => {
      err += d;
      const m = /listening on (\S+)/.exec(err);
      if (m && /ready/.test(err)) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
  const u = new URL(url);
  return {
    child,
    host: u.hostname,
    port: +u.port,
    rss: () => {
      const s = readFileSync(`/proc/${child.pid}/status`, "utf8");
      return +/VmRSS:\s+(\d+)/.exec(s)[1] * 1024;
    },
    stop: () =>
      new Promise((r) => {
        child.once("exit", r);
        child.kill("SIGTERM");
      }),
  };
}

/**
 * [requests sent, server RSS, replicas' wasm memory, replicas' V8 heaps, the event loop's V8 heap]
 * in MB, from /metrics
 */
async function memoryPoint(srv, agent, sent) {
  const rss = srv.rss();
  const text = await new Promise((resolve) => {
    const req = request({ host: srv.host, port: srv.port, path: "/metrics", agent }, (res) => {
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => resolve(b));
    });
    req.on("error", () => resolve(""));
    req.end();
  });
  const gauge = (name) => +(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  const mb = (x) => +(x / 2 ** 20).toFixed(1);
  return [
    sent,
    mb(rss),
    mb(gauge("simdbert_wasm_memory_bytes")),
    mb(gauge("simdbert_replica_heap_bytes")),
    mb(gauge("nodejs_heap_size_total_bytes")),
  ];
}

/** Median RSS of the samples in the last tenth minus that of the tenth after the warm-up. */
function medianGrowth(timeline, total) {
  const warm = Math.min(2000, Math.ceil(total / 10));
  const med = (xs) => pct(xs, 50);
  const after = timeline.filter(([n]) => n > warm && n <= warm + total / 10).map((p) => p[1]);
  const last = timeline.filter(([n]) => n > total * 0.9).map((p) => p[1]);
  return after.length && last.length ? +(med(last) - med(after)).toFixed(1) : null;
}

/** One POST; resolves { status, body, ms } (status "error" / "timeout" when it failed). */
function call(srv, agent, path, payload, timeoutMs = 30_000) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const body = Buffer.from(JSON.stringify(payload));
    const req = request(
      {
        host: srv.host,
        port: srv.port,
        path,
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": body.length },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            body: Buffer.concat(chunks).toString(),
            ms: performance.now() - t0,
          }),
        );
      },
    );
    req.on("timeout", () => {
      req.destroy();
      resolve({ status: "timeout", ms: performance.now() - t0 });
    });
    req.on("error", (e) =>
      resolve({ status: "error", error: e.message, ms: performance.now() - t0 }),
    );
    req.end(body);
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

/** `concurrency` clients in a loop for `seconds` (or `maxRequests`): inputs/s, p50, p99. */
async function load(srv, { concurrency, inputs, seconds, maxRequests = Infinity }) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const lat = [];
  let sent = 0;
  let bad = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && sent < maxRequests) {
        sent++;
        const texts = Array.from({ length: inputs }, () => POOL[Math.floor(rnd() * POOL.length)]);
        const r = await call(srv, agent, "/embed", { inputs: texts });
        if (r.status !== 200) bad++;
        else lat.push(r.ms);
        if (r.status !== 200 && bad <= 3)
          console.error(`  ${r.status} ${r.body ?? r.error ?? ""}`.slice(0, 200));
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  return {
    concurrency,
    inputs,
    requests: lat.length,
    failed: bad,
    inputs_per_s: +((lat.length * inputs) / elapsed).toFixed(1),
    p50_ms: +pct(lat, 50).toFixed(2),
    p99_ms: +pct(lat, 99).toFixed(2),
  };
}

// ---- the phases -------------------------------------------------------------------------------

const dir = modelDir();
const results = { machine: "see the note: loaded or quiet", when: new Date().toISOString() };
const log = (...a) => console.log(...a);

// direct pipeline latency, one input (the reference for p50 at concurrency 1)
if (PHASES.has("direct")) {
  const ex = await lib.pipeline("feature-extraction", dir, { warn: () => {} });
  const ms = [];
  const end = performance.now() + SECONDS * 1000;
  for (let i = 0; performance.now() < end || i < 20; i++) {
    const t = POOL[i % POOL.length];
    const t0 = performance.now();
    await ex([t], { pooling: "mean", normalize: true });
    ms.push(performance.now() - t0);
  }
  results.direct_pipeline_p50_ms = +pct(ms.slice(5), 50).toFixed(2);
  log(`direct pipeline, 1 input: p50 ${results.direct_pipeline_p50_ms} ms`);
}

// 1. throughput and latency
results.throughput = [];
for (const [label, flags] of !PHASES.has("throughput")
  ? []
  : [
      // permits for every input in flight (c64 x 32 = 2,048): 429s are the overload phase's
      ["batching on", ["--max-concurrent-requests", "4096"]],
      ["batching off", ["--max-concurrent-requests", "4096", "--max-batch-requests", "1"]],
    ]) {
  const srv = await startServer(dir, flags);
  try {
    await load(srv, { concurrency: 8, inputs: 1, seconds: 1 }); // warm-up
    for (const inputs of [1, 32])
      for (const concurrency of [1, 8, 64]) {
        const r = await load(srv, { concurrency, inputs, seconds: SECONDS });
        results.throughput.push({ batching: label, ...r });
        log(
          `${label.padEnd(13)} c=${String(concurrency).padStart(2)} x${String(inputs).padStart(2)}: ${String(r.inputs_per_s).padStart(7)} inputs/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms${r.failed ? `  FAILED ${r.failed}` : ""}`,
        );
      }
  } finally {
    await srv.stop();
  }
}
if (PHASES.has("throughput") && PHASES.has("direct")) {
  const on = (c) =>
    results.throughput.find(
      (r) => r.batching === "batching on" && r.inputs === 1 && r.concurrency === c,
    );
  results.goal_c64_over_c1 = +(on(64).inputs_per_s / on(1).inputs_per_s).toFixed(2);
  results.goal_p50_c1_minus_direct_ms = +(on(1).p50_ms - results.direct_pipeline_p50_ms).toFixed(2);
  log(
    `goals: c64/c1 single-input throughput ${results.goal_c64_over_c1}x (>= 1.5); p50 at c1 - direct = ${results.goal_p50_c1_minus_direct_ms} ms (<= 2)`,
  );
}

// 2. a short wait for more inputs: interleaved rounds, medians
if (PHASES.has("wait")) {
  const waits = [0, 1, 2];
  const servers = {};
  for (const w of waits) servers[w] = await startServer(dir, ["--batch-wait-ms", String(w)]);
  results.batch_wait = [];
  try {
    for (const concurrency of [8, 64]) {
      const rounds = {};
      for (let round = 0; round < 3; round++)
        for (const w of waits) {
          const r = await load(servers[w], { concurrency, inputs: 1, seconds: SECONDS / 2 });
          (rounds[w] ??= []).push(r);
        }
      for (const w of waits) {
        const med = (k) =>
          pct(
            rounds[w].map((r) => r[k]),
            50,
          );
        const row = {
          concurrency,
          wait_ms: w,
          inputs_per_s: med("inputs_per_s"),
          p50_ms: med("p50_ms"),
          p99_ms: med("p99_ms"),
        };
        results.batch_wait.push(row);
        log(
          `wait ${w} ms, c=${concurrency}: ${row.inputs_per_s} inputs/s  p50 ${row.p50_ms} ms  p99 ${row.p99_ms} ms`,
        );
      }
    }
  } finally {
    for (const w of waits) await servers[w].stop();
  }
}

// 3. overload. The floor beside it: the same burst against a bare node:http server (its own
// process) that answers every POST with a 429 at once: what Node and this machine take for
// 1,024 requests on open connections, before any work of ours.
const BARE_429 = `
  const body = JSON.stringify({ error: "Model is overloaded", error_type: "overloaded" });
  const s = require("node:http").createServer((q, r) => {
    q.resume();
    q.on("end", () => {
      r.writeHead(q.method === "POST" ? 429 : 200, { "content-type": "application/json" });
      r.end(q.method === "POST" ? body : "{}");
    });
  });
  s.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () =>
    process.stderr.write("listening on http://127.0.0.1:" + s.address().port + " ready\\n"),
  );
  process.on("SIGTERM", () => process.exit(0));`;

/**
 * 1,024 POST /embed at once on 1,024 connections opened beforehand. The client writes raw
 * HTTP/1.1 on net sockets (each request's bytes made before the clock starts) and reads only the
 * status line and content-length: node:http's client costs tens of microseconds per request on
 * the same two cores, which the server's latency would otherwise include. Each latency runs from
 * the burst's start (all 1,024 written in one loop) to that response's last byte.
 */
async function burst(srv) {
  const sockets = await Promise.all(
    Array.from(
      { length: 1024 },
      () =>
        new Promise((resolve) => {
          const s = connect({ host: srv.host, port: srv.port, noDelay: true }, () => resolve(s));
          s.on("error", () => resolve(s));
        }),
    ),
  );
  // one GET /health on each first: the server has accepted every connection before the clock
  await Promise.all(
    sockets.map((s) => exchange(s, Buffer.from(`GET /health HTTP/1.1\r\nhost: x\r\n\r\n`))),
  );
  const requests = sockets.map((_, i) => {
    const body = Buffer.from(JSON.stringify({ inputs: POOL[i % POOL.length] }));
    return Buffer.concat([
      Buffer.from(
        `POST /embed HTTP/1.1\r\nhost: ${srv.host}:${srv.port}\r\ncontent-type: application/json\r\n` +
          `content-length: ${body.length}\r\n\r\n`,
      ),
      body,
    ]);
  });
  const t0 = performance.now();
  const results = sockets.map((s) => exchange(s, null).then((r) => ({ ...r, ms: r.at - t0 })));
  sockets.forEach((s, i) => s.write(requests[i]));
  const rs = await Promise.all(results);
  for (const s of sockets) s.destroy();
  return rs;
}

/** Writes `bytes` (if any) on the socket and resolves with the next response's status and time. */
function exchange(s, bytes) {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done({ status: "timeout" }), 10_000);
    function done(r) {
      clearTimeout(timer);
      s.removeListener("data", onData);
      s.removeListener("error", onError);
      s.removeListener("close", onError);
      resolve({ ...r, at: performance.now() });
    }
    function onData(c) {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString();
      const len = +(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length >= end + 4 + len) done({ status: +head.split(" ")[1] });
    }
    const onError = () => done({ status: "error" });
    s.on("data", onData);
    s.on("error", onError);
    s.on("close", onError);
    if (bytes) s.write(bytes);
  });
}

if (PHASES.has("overload")) {
  const bare = await startServer(null, [], ["-e", BARE_429]);
  const srv = await startServer(dir, ["--max-concurrent-requests", "64"]);
  try {
    const rss0 = srv.rss();
    const rounds = [];
    for (let round = 0; round < 3; round++)
      rounds.push({ ours: await burst(srv), bare: await burst(bare) });
    const all = rounds.flatMap((r) => r.ours);
    const by = (s) => all.filter((r) => r.status === s);
    const r429 = by(429).map((r) => r.ms);
    const bare429 = rounds.flatMap((r) => r.bare.filter((x) => x.status === 429).map((x) => x.ms));
    results.overload = {
      requests: all.length,
      ok: by(200).length,
      rejected_429: r429.length,
      errors: all.filter((r) => r.status === "error").length,
      timeouts: by("timeout").length,
      other: all.filter((r) => ![200, 429, "error", "timeout"].includes(r.status)).length,
      p50_429_ms: +pct(r429, 50).toFixed(2),
      p99_429_ms: +pct(r429, 99).toFixed(2),
      max_429_ms: +Math.max(...r429).toFixed(2),
      bare_node_p50_429_ms: +pct(bare429, 50).toFixed(2),
      bare_node_p99_429_ms: +pct(bare429, 99).toFixed(2),
      rss_before_mb: +(rss0 / 2 ** 20).toFixed(1),
      rss_after_mb: +(srv.rss() / 2 ** 20).toFixed(1),
    };
    log(`overload (3 bursts of 1,024): ${JSON.stringify(results.overload)}`);
  } finally {
    await srv.stop();
    await bare.stop();
  }
}

// 4. soak: every answer checked
if (PHASES.has("soak")) {
  const ex = await lib.pipeline("feature-extraction", dir, { warn: () => {} });
  const direct = ex.model;
  const H = direct.config.hidden_size;
  const texts = POOL.slice(0, 500);
  // the library's result for each text padded to a multiple of 4 (the same bits as unpadded): the bits
  // expected; and the feature-extraction pipeline's result for the text alone
  const { pool } = await import(join(REPO, "dist", "serve", "index.js"));
  const expected = [];
  const viaPipeline = [];
  for (const t of texts) {
    const ids = ex.tokenizer.encode(t, { truncation: true, max_length: ex.maxLength });
    const S = (ids.length + 3) & ~3;
    const out = await direct.forward({
      input_ids: [[...ids, ...Array(S - ids.length).fill(0)]],
      attention_mask: [[...ids.map(() => 1), ...Array(S - ids.length).fill(0)]],
    });
    expected.push(pool(out.last_hidden_state.data.slice(0, ids.length * H), H, "mean", true, null));
    viaPipeline.push((await ex([t], { pooling: "mean", normalize: true })).data);
  }
  const srv = await startServer(dir, []);
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    let sent = 0,
      answered = 0,
      lost = 0,
      wrong = 0,
      bitDiffer = 0,
      maxDiffPipeline = 0;
    let rssWarm = 0;
    // the server's RSS every 1/50 of the run: a plateau (arenas sized by the batches this load
    // makes) or a slope (a leak) tells apart what the two end points cannot; beside it, the
    // replicas' wasm memory and V8 heaps (/metrics)
    const timeline = [];
    const every = Math.max(100, Math.ceil(SOAK / 50));
    const deadline = performance.now() + SOAK_SECONDS * 1000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (sent < SOAK && performance.now() < deadline) {
          const k = sent++ % texts.length;
          // the server's memory once warm (its arena has seen the batch sizes this load makes)
          if (sent === Math.min(2000, Math.ceil(SOAK / 10))) rssWarm = srv.rss();
          if (sent % every === 0) timeline.push(await memoryPoint(srv, agent, sent));
          const r = await call(srv, agent, "/embed", { inputs: texts[k] });
          if (r.status !== 200) {
            lost++;
            continue;
          }
          answered++;
          const got = JSON.parse(r.body)[0];
          const want = expected[k];
          let same = got.length === H;
          for (let j = 0; j < H && same; j++) same = Math.fround(got[j]) === want[j];
          if (!same) bitDiffer++;
          let d = 0;
          for (let j = 0; j < H; j++) d = Math.max(d, Math.abs(got[j] - viaPipeline[k][j]));
          maxDiffPipeline = Math.max(maxDiffPipeline, d);
          if (d > 1e-5 || got.length !== H) wrong++;
        }
      }),
    );
    agent.destroy();
    const rssEnd = srv.rss();
    results.soak = {
      requests: sent,
      answered,
      lost,
      wrong,
      bits_differ_from_library: bitDiffer,
      max_abs_diff_vs_pipeline: maxDiffPipeline,
      seconds: +((performance.now() - t0) / 1000).toFixed(1),
      rss_after_warmup_mb: +(rssWarm / 2 ** 20).toFixed(1),
      rss_end_mb: +(rssEnd / 2 ** 20).toFixed(1),
      rss_growth_mb: rssWarm ? +((rssEnd - rssWarm) / 2 ** 20).toFixed(1) : null,
      // the same as medians of the timeline's samples: the tenth after warm-up against the last
      // tenth (the event loop's heap swings by ~20 MB between its GCs; two single samples can
      // land on either side of a swing)
      rss_growth_median_mb: medianGrowth(timeline, SOAK),
      // the second half's growth: ~0 when the RSS has plateaued
      rss_growth_second_half_mb: timeline.length
        ? +(timeline.at(-1)[1] - timeline[Math.floor(timeline.length / 2)][1]).toFixed(1)
        : null,
      rss_timeline_mb: timeline,
    };
    log(`soak: ${JSON.stringify(results.soak)}`);
  } finally {
    await srv.stop();
  }
}

mkdirSync(join(here, "results"), { recursive: true });
writeFileSync(join(here, "results", "serve.json"), JSON.stringify(results, null, 2) + "\n");
log("wrote bench/results/serve.json");
process.exit(0);
