// Model ids where there is no file system: the hub's URLs through fetch, kept in the Cache API
// (src/loading/hub_web.ts), against a hub of our own on 127.0.0.1 (test/support/hub_server.mjs).
// In Node with a Cache API of our own (fakeCaches below: put() stores only a body that arrived
// whole, as the Cache API does), and for real in Deno (its own `caches`, persistent across
// processes) with no write permission at all, as on Deno Deploy.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import {
  BertModel,
  ConfigError,
  HubError,
  HUB_CACHE_NAME,
  WebHubFiles,
  pipeline,
  writeSafetensors,
} from "../dist/index.js";
import { TINY, encoderShapes, randomTensors } from "./support/random_model.mjs";
import { startHub } from "./support/hub_server.mjs";
import { denoBin } from "./runtimes/bins.mjs";

const quiet = { warn: () => {} };
const c = { ...TINY, vocab_size: 12 };
const weights = writeSafetensors(randomTensors(encoderShapes(c), 21));
const vocab = "[PAD] [UNK] [CLS] [SEP] [MASK] a b c d e f g".split(" ").join("\n");
const FILES = {
  "config.json": JSON.stringify(c),
  "vocab.txt": vocab,
  "model.safetensors": weights,
};
const COMMIT = "89abcdef0123456789abcdef0123456789abcdef";
const inputs = { input_ids: [[2, 5, 6, 7, 3]] };
const out = async (m) => Array.from((await m.forward(inputs)).last_hidden_state.data);

/** A Cache API of our own: entries by URL; put() reads the whole body first (a broken one rejects). */
function fakeCaches() {
  const opened = [];
  const entries = new Map();
  const cache = {
    entries,
    async match(url) {
      const e = entries.get(String(url));
      return e && new Response(e.body, { status: 200, headers: e.headers });
    },
    async put(url, res) {
      const body = new Uint8Array(await res.arrayBuffer());
      entries.set(String(url), { body, headers: [...res.headers] });
    },
    async delete(url) {
      return entries.delete(String(url));
    },
  };
  return { opened, cache, open: async (name) => (opened.push(name), cache) };
}

let reference;
test.before(async () => {
  reference = await out(
    await BertModel.fromPretrained(
      { "config.json": FILES["config.json"], "model.safetensors": weights },
      quiet,
    ),
  );
});

const fileGets = (hub) => hub.log.filter((l) => l.method === "GET" && /\/resolve\//.test(l.path));

test("Cache API (Node, a Cache of our own): fetched by URL at the commit, served from the cache; a branch costs one listing request, a commit none; the listing replaces HEADs", async () => {
  const hub = await startHub({
    "org/tiny": { files: FILES, commit: COMMIT, tags: { v1: COMMIT } },
  });
  const caches = fakeCaches();
  globalThis.caches = caches;
  const o = { endpoint: hub.url, browser_cache: true, token: "hf_secret", ...quiet };
  try {
    const events = [];
    const m = await BertModel.fromPretrained("org/tiny", {
      ...o,
      progress_callback: (e) => events.push(e.status),
    });
    assert.equal(await out(m), reference);
    assert.equal(caches.opened, [HUB_CACHE_NAME]);
    assert.is(HUB_CACHE_NAME, "simdbert-hub");
    for (const s of ["initiate", "download", "progress", "done"]) assert.ok(events.includes(s), s);
    // keyed by the URL at the commit (immutable), and the listing of the branch
    const keys = [...caches.cache.entries.keys()].sort();
    assert.equal(keys, [
      `${hub.url}/api/models/org/tiny/revision/main`,
      `${hub.url}/org/tiny/resolve/${COMMIT}/config.json`,
      `${hub.url}/org/tiny/resolve/${COMMIT}/model.safetensors`,
    ]);
    // the listing said which weights file exists: no HEAD, no probe of absent files
    assert.is(hub.log.filter((l) => l.method === "HEAD").length, 0);
    assert.equal(
      fileGets(hub)
        .map((l) => l.path.split("/").pop())
        .sort(),
      ["config.json", "model.safetensors"],
    );
    // the token went to the endpoint, never to the file store the large file redirects to
    const store = hub.log.filter((l) => l.path.startsWith("/store/"));
    assert.ok(store.length === 1 && !store[0].headers.authorization, "no token to the store");
    assert.ok(fileGets(hub).every((l) => l.headers.authorization === "Bearer hf_secret"));

    // again on the branch: one request (where main points now), no file fetched
    hub.log.length = 0;
    assert.equal(await out(await BertModel.fromPretrained("org/tiny", o)), reference);
    assert.equal(
      hub.log.map((l) => `${l.method} ${l.path}`),
      ["GET /api/models/org/tiny/revision/main"],
    );
    // a commit: no request at all
    hub.log.length = 0;
    // (its listing is not cached yet: one request, then none)
    await BertModel.fromPretrained("org/tiny", { ...o, revision: COMMIT });
    hub.log.length = 0;
    assert.equal(
      await out(await BertModel.fromPretrained("org/tiny", { ...o, revision: COMMIT })),
      reference,
    );
    assert.equal(hub.log, []);
    // the tokenizer and the pipeline through the same cache
    const ex = await pipeline("feature-extraction", "org/tiny", o);
    assert.equal((await ex("a b", { pooling: "mean" })).shape, [1, 16]);

    // offline: the cache only, no request; a file it lacks is named
    hub.log.length = 0;
    const off = { ...o, local_files_only: true };
    assert.equal(await out(await BertModel.fromPretrained("org/tiny", off)), reference);
    assert.equal(hub.log, []);
    const e = await BertModel.fromPretrained("org/absent", off).catch((x) => x);
    assert.instance(e, ConfigError);
    assert.match(e.message, /org\/absent .*offline, and the cache does not have config\.json/);
    assert.equal(hub.log, []);
    process.env.HF_HUB_OFFLINE = "1";
    try {
      assert.equal(await out(await BertModel.fromPretrained("org/tiny", o)), reference);
      assert.equal(hub.log, []);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }

    // the branch moves: the new commit's files are fetched, the old entries stay valid
    const NEXT = "fedcba9876543210fedcba9876543210fedcba98";
    hub.state["org/tiny"].commit = NEXT;
    hub.log.length = 0;
    assert.equal(await out(await BertModel.fromPretrained("org/tiny", o)), reference);
    assert.ok(fileGets(hub).every((l) => l.path.includes(`/resolve/${NEXT}/`)));
    assert.is(fileGets(hub).length, 2);
    assert.ok(caches.cache.entries.has(`${hub.url}/org/tiny/resolve/${COMMIT}/config.json`));
  } finally {
    delete globalThis.caches;
    await hub.close();
  }
});

test("Cache API: typed hub errors; a download that breaks off is not cached and the next run succeeds; an endpoint without /api (a mirror) revalidates with ETags", async () => {
  const hub = await startHub(
    { "org/tiny": { files: FILES, commit: COMMIT }, "org/gated": { files: FILES, gated: true } },
    { token: "good" },
  );
  const caches = fakeCaches();
  const o = { endpoint: hub.url, browser_cache: caches.cache, retryDelayMs: 5, ...quiet };
  try {
    let e = await BertModel.fromPretrained("org/nope", o).catch((x) => x);
    assert.instance(e, HubError);
    assert.is(e.code, "RepoNotFound");
    e = await BertModel.fromPretrained("org/gated", { ...o, token: false }).catch((x) => x);
    assert.is(e.code, "GatedRepo");
    e = await BertModel.fromPretrained("org/tiny", { ...o, revision: "v9" }).catch((x) => x);
    assert.is(e.code, "RevisionNotFound");
    assert.equal(
      await out(await BertModel.fromPretrained("org/gated", { ...o, token: "good" })),
      reference,
    );
    caches.cache.entries.clear();

    // the connection drops halfway through the weights: nothing cached, a typed error
    // (a large file: the fault is on its store URL, named by its sha256)
    hub.faults.set(createHash("sha256").update(weights).digest("hex"), {
      drop: weights.length >> 1,
    });
    e = await BertModel.fromPretrained("org/tiny", o).catch((x) => x);
    assert.instance(e, HubError);
    assert.match(e.message, /model\.safetensors.*(broke off|expected)/);
    assert.not.ok([...caches.cache.entries.keys()].some((k) => k.endsWith("model.safetensors")));
    hub.faults.clear();
    assert.equal(await out(await BertModel.fromPretrained("org/tiny", o)), reference);

    // the files of the web path directly: exists() from the listing
    const files = new WebHubFiles("org/tiny", o);
    assert.is(await files.exists("model.safetensors"), true);
    assert.is(await files.exists("pytorch_model.bin"), false);
  } finally {
    await hub.close();
  }
  // a mirror without the hub's API: files by their branch URL, revalidated (If-None-Match -> 304)
  const mirror = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } }, { api: false });
  const caches2 = fakeCaches();
  const o2 = { endpoint: mirror.url, browser_cache: caches2.cache, ...quiet };
  try {
    assert.equal(await out(await BertModel.fromPretrained("org/tiny", o2)), reference);
    assert.ok(caches2.cache.entries.has(`${mirror.url}/org/tiny/resolve/main/model.safetensors`));
    mirror.log.length = 0;
    assert.equal(await out(await BertModel.fromPretrained("org/tiny", o2)), reference);
    const revalidated = mirror.log.filter((l) => l.headers["if-none-match"]);
    assert.ok(revalidated.length >= 2, JSON.stringify(mirror.log.map((l) => l.path)));
    assert.ok(
      mirror.log.filter((l) => l.path.startsWith("/store/")).every((l) => l.status === 304),
      "the weights were not sent again",
    );
    mirror.log.length = 0;
    assert.equal(
      await out(await BertModel.fromPretrained("org/tiny", { ...o2, local_files_only: true })),
      reference,
    );
    assert.equal(mirror.log, []);
  } finally {
    await mirror.close();
  }
});

// Deno is the runtime matrix's (test/runtimes/package.json, installed by `npm run test:runtimes`
// or `node scripts/deps.mjs test/runtimes`): without it this check is reported as skipped
const deno = denoBin();
(deno ? test : test.skip)(
  `Cache API for real in Deno${deno ? "" : " (SKIPPED: Deno not installed in test/runtimes/node_modules)"}: no write permission (Deno Deploy), a second process offline from the cache`,
  async () => {
    const hub = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } });
    const denoDir = mkdtempSync(join(tmpdir(), "simdbert-deno-"));
    const script = fileURLToPath(new URL("./runtimes/hub-cache/deno.mjs", import.meta.url));
    const run = (env) =>
      new Promise((resolve) => {
        const p = spawn(
          deno,
          [
            "run",
            "--no-prompt",
            "--allow-read",
            "--allow-env",
            "--allow-net=127.0.0.1,127.0.0.2",
            "--location=http://simdbert.test/",
            script,
            hub.url,
          ],
          {
            env: { ...process.env, DENO_DIR: denoDir, DENO_DEPLOYMENT_ID: "simdbert-test", ...env },
          },
        );
        let so = "",
          se = "";
        p.stdout.on("data", (d) => (so += d));
        p.stderr.on("data", (d) => (se += d));
        p.on("exit", (code) => resolve({ code, so, se }));
      });
    try {
      const first = await run({});
      assert.is(first.code, 0, first.se);
      const r1 = JSON.parse(first.so);
      // Deno's V8 may take the relaxed-SIMD kernels (fused multiply-adds): float32 rounding apart
      const close = (a) =>
        a.length === reference.length && a.every((x, i) => Math.abs(x - reference[i]) < 1e-5);
      assert.ok(close(r1.out), "Deno's numbers");
      assert.is(r1.where.includes('Cache API "simdbert-hub"'), true, r1.where);
      assert.ok(fileGets(hub).length === 2, "config.json and the weights fetched");
      hub.log.length = 0;
      const second = await run({ HF_HUB_OFFLINE: "1" });
      assert.is(second.code, 0, second.se);
      assert.equal(JSON.parse(second.so).out, r1.out, "the same bits from the cache");
      assert.equal(hub.log, [], "the second process made no request");
    } finally {
      await hub.close();
      rmSync(denoDir, { recursive: true, force: true });
    }
  },
);

test.run();
