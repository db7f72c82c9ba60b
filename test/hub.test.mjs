// Model ids through a hub of our own (test/support/hub_server.mjs, 127.0.0.1): downloads into the
// cache layout huggingface_hub uses (blobs, snapshots as relative symlinks, refs, .no_exist),
// offline use, tokens sent only to the endpoint, typed errors, faults (a dropped connection
// resumed with Range, 500s retried, a hash mismatch refused with nothing kept), two processes
// fetching one file (one download), a cache laid out by Python's rules, and, where Python's
// huggingface_hub is installed, caches written and read by it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  existsSync,
  mkdtempSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  lstatSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import {
  BertModel,
  ConfigError,
  HubError,
  SentenceTransformer,
  downloadModel,
  hubDownload,
  writeSafetensors,
} from "../dist/index.js";
import { TINY, encoderShapes, randomTensors } from "./support/random_model.mjs";
import { startHub } from "./support/hub_server.mjs";

const quiet = { warn: () => {} };
const c = { ...TINY, vocab_size: 12 };
const weights = writeSafetensors(randomTensors(encoderShapes(c), 17));
const vocab = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "a",
  "b",
  "c",
  "d",
  "e",
  "f",
  "g",
].join("\n");
const FILES = {
  "config.json": JSON.stringify(c),
  "vocab.txt": vocab,
  "model.safetensors": weights,
  "modules.json": JSON.stringify([
    { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
    { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
  ]),
  "1_Pooling/config.json": JSON.stringify({
    word_embedding_dimension: 16,
    pooling_mode_cls_token: true,
  }),
};
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const inputs = { input_ids: [[2, 5, 6, 3]] };
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

let reference;
test.before(async () => {
  const m = await BertModel.fromPretrained(
    { "config.json": FILES["config.json"], "model.safetensors": weights },
    quiet,
  );
  reference = Array.from((await m.forward(inputs)).last_hidden_state.data);
});
/** Runs a command without blocking the event loop (the hub server lives in this process). */
const run = (cmd, args, env) =>
  new Promise((resolve) => {
    const p = spawn(cmd, args, { env });
    let stdout = "",
      stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const t = setTimeout(() => p.kill("SIGKILL"), 120000);
    p.on("exit", (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr });
    });
  });
const freshCache = () => mkdtempSync(join(tmpdir(), "simdbert-hub-"));
const out = async (m) => Array.from((await m.forward(inputs)).last_hidden_state.data);

test("an id loads through the hub into huggingface_hub's cache layout; tokens go to the endpoint only", async () => {
  const hub = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } });
  const cache = freshCache();
  const o = { endpoint: hub.url, cache_dir: cache, token: "hf_secret", retryDelayMs: 10 };
  try {
    const events = [];
    const m = await BertModel.fromPretrained("org/tiny", {
      ...o,
      ...quiet,
      progress_callback: (e) => events.push(e.status),
    });
    assert.equal(await out(m), reference);
    assert.ok(
      events.includes("initiate") &&
        events.includes("download") &&
        events.includes("progress") &&
        events.includes("done"),
      events.join(),
    );
    const repo = join(cache, "models--org--tiny");
    assert.is(
      readFileSync(join(repo, "refs", "main"), "utf8"),
      COMMIT,
      "refs/main holds the commit, no newline",
    );
    const snap = join(repo, "snapshots", COMMIT);
    for (const [f, want] of [
      ["config.json", null],
      ["model.safetensors", sha256(weights)],
    ]) {
      assert.ok(lstatSync(join(snap, f)).isSymbolicLink(), `${f} is a symlink`);
      const target = readlinkSync(join(snap, f));
      assert.ok(target.startsWith("../../blobs/"), `${f} -> ${target} (relative)`);
      if (want)
        assert.is(target, `../../blobs/${want}`, "a large file's blob is named by its sha256");
    }
    // large files came from the store, without the token; the endpoint got it
    const store = hub.log.filter((l) => l.path.startsWith("/store/"));
    assert.ok(
      store.length > 0 && store.every((l) => !l.headers.authorization),
      "no token to the file store",
    );
    assert.ok(
      hub.log
        .filter((l) => l.path.includes("/resolve/"))
        .every((l) => l.headers.authorization === "Bearer hf_secret"),
    );
    // the file the loader probed and did not find is recorded as absent for this commit
    assert.ok(
      existsSync(join(repo, ".no_exist", COMMIT, "model.safetensors.index.json")) === false,
    );
    // sentence-transformers folder through the hub (nested 1_Pooling/config.json)
    const st = await SentenceTransformer.fromPretrained("org/tiny", { ...o, ...quiet });
    const e = await st.encode(["a b"]);
    assert.equal(e.shape, [1, 16]);
    assert.is(readlinkSync(join(snap, "1_Pooling", "config.json")).slice(0, 15), "../../../blobs/");
    // a missing file probed on the hub: .no_exist/<commit>/<file>
    await BertModel.fromPretrained("org/tiny", { ...o, ...quiet }).catch(() => {});
    const absent = join(repo, ".no_exist", COMMIT, "tokenizer.json");
    assert.is(await hubDownload("org/tiny", "tokenizer.json", o), null);
    assert.ok(existsSync(absent), ".no_exist records tokenizer.json");
  } finally {
    await hub.close();
  }
  // offline: no server at all
  const dead = { endpoint: "http://127.0.0.1:9", cache_dir: cache, retries: 1 };
  assert.equal(
    await out(
      await BertModel.fromPretrained("org/tiny", { ...dead, ...quiet, local_files_only: true }),
    ),
    reference,
  );
  process.env.HF_HUB_OFFLINE = "1";
  try {
    assert.equal(
      await out(await BertModel.fromPretrained("org/tiny", { ...dead, ...quiet })),
      reference,
    );
    const e = await BertModel.fromPretrained("org/other", { ...dead, ...quiet }).catch((x) => x);
    assert.instance(e, ConfigError);
    assert.match(
      e.message,
      /org\/other .*offline, and the cache does not have config\.json.*no config\.json/,
    );
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
  // a commit in the cache needs no network
  assert.equal(
    await out(await BertModel.fromPretrained("org/tiny", { ...dead, ...quiet, revision: COMMIT })),
    reference,
  );
  // an unreachable hub names what to do
  const e = await BertModel.fromPretrained("org/nothing", { ...dead, ...quiet }).catch((x) => x);
  assert.instance(e, HubError);
  assert.match(e.message, /cannot reach .*local model folder.*HF_ENDPOINT/);
  rmSync(cache, { recursive: true, force: true });
});

test("hub errors are typed and say what to do", async () => {
  const hub = await startHub(
    {
      "org/tiny": { files: FILES, commit: COMMIT, tags: { v1: COMMIT } },
      "org/gated": { files: FILES, gated: true },
    },
    { token: "hf_ok" },
  );
  const cache = freshCache();
  const o = { endpoint: hub.url, cache_dir: cache, retryDelayMs: 10, token: false, ...quiet };
  try {
    const cases = [
      ["org/none", {}, "RepoNotFound", /not found.*token/],
      ["org/gated", {}, "GatedRepo", /gated.*token/],
      ["org/tiny", { revision: "v9" }, "RevisionNotFound", /no revision "v9"/],
    ];
    for (const [id, extra, code, re] of cases) {
      const e = await BertModel.fromPretrained(id, { ...o, ...extra }).catch((x) => x);
      assert.instance(e, HubError, `${id}: ${e}`);
      assert.is(e.code, code);
      assert.match(e.message, re);
    }
    // with the token the gated repo loads; a tag resolves to its commit (refs/v1)
    assert.equal(
      await out(await BertModel.fromPretrained("org/gated", { ...o, token: "hf_ok" })),
      reference,
    );
    await BertModel.fromPretrained("org/tiny", { ...o, revision: "v1" });
    assert.is(readFileSync(join(cache, "models--org--tiny", "refs", "v1"), "utf8"), COMMIT);
    // a local folder of the id's name wins over the hub
    const here = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), "simdbert-local-"));
    mkdirSync(join(dir, "org", "none"), { recursive: true });
    writeFileSync(join(dir, "org", "none", "config.json"), FILES["config.json"]);
    writeFileSync(join(dir, "org", "none", "model.safetensors"), weights);
    process.chdir(dir);
    try {
      assert.equal(await out(await BertModel.fromPretrained("org/none", o)), reference);
    } finally {
      process.chdir(here);
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await hub.close();
    rmSync(cache, { recursive: true, force: true });
  }
});

test("faults: a dropped connection resumes (Range), 500s are retried, a hash mismatch keeps nothing", async () => {
  const hub = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } });
  const cache = freshCache();
  const o = { endpoint: hub.url, cache_dir: cache, retryDelayMs: 10, ...quiet };
  const blobs = join(cache, "models--org--tiny", "blobs");
  try {
    hub.faults.set(sha256(weights), { drop: 3000, fail: 2 });
    assert.equal(await out(await BertModel.fromPretrained("org/tiny", o)), reference);
    const gets = hub.requests(/^\/store\//);
    assert.ok(
      gets.some((g) => /^bytes=3000-$/.test(g.headers.range ?? "")),
      gets.map((g) => g.headers.range).join(),
    );
    // an interrupted download that gives up leaves only a .incomplete, which the next run resumes
    rmSync(cache, { recursive: true, force: true });
    hub.faults.set(sha256(weights), { drop: 5000 });
    const e = await BertModel.fromPretrained("org/tiny", { ...o, retries: 1 }).catch((x) => x);
    assert.instance(e, HubError);
    assert.equal(
      readdirSync(blobs).filter((f) => f.startsWith(sha256(weights))),
      [`${sha256(weights)}.incomplete`],
    );
    assert.not.ok(
      existsSync(join(cache, "models--org--tiny", "snapshots", COMMIT, "model.safetensors")),
    );
    assert.equal(await out(await BertModel.fromPretrained("org/tiny", o)), reference);
    assert.ok(hub.requests(/^\/store\//).some((g) => g.headers.range === "bytes=5000-"));
    // a body that does not match its sha256: refused, nothing kept
    rmSync(cache, { recursive: true, force: true });
    hub.faults.set(sha256(weights), { corrupt: true });
    const e2 = await BertModel.fromPretrained("org/tiny", o).catch((x) => x);
    assert.instance(e2, HubError);
    assert.is(e2.code, "Integrity");
    assert.equal(
      readdirSync(blobs).filter((f) => f.startsWith(sha256(weights))),
      [],
    );
  } finally {
    await hub.close();
    rmSync(cache, { recursive: true, force: true });
  }
});

test("two processes fetching one file: one download (the lock), both get the model", async () => {
  const hub = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } });
  const cache = freshCache();
  try {
    hub.faults.set(sha256(weights), { slowMs: 60 });
    const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const script = `import { downloadModel } from ${JSON.stringify(dist)};
      console.log(await downloadModel("org/tiny", { endpoint: ${JSON.stringify(hub.url)}, cache_dir: ${JSON.stringify(cache)} }));`;
    const run = () =>
      new Promise((resolve) => {
        const p = spawn(process.execPath, ["--input-type=module", "-e", script]);
        let s = "";
        p.stdout.on("data", (d) => (s += d));
        p.stderr.on("data", (d) => (s += d));
        p.on("exit", (code) => resolve({ code, s }));
      });
    const [a, b] = await Promise.all([run(), run()]);
    assert.is(a.code, 0, a.s);
    assert.is(b.code, 0, b.s);
    assert.is(a.s, b.s);
    assert.is(
      hub.requests(new RegExp(`^/store/${sha256(weights)}$`)).length,
      1,
      "one download of the weights",
    );
    assert.equal(await out(await BertModel.fromPretrained(a.s.trim(), quiet)), reference);
  } finally {
    await hub.close();
    rmSync(cache, { recursive: true, force: true });
  }
});

test("a cache laid out by Python's rules loads offline", async () => {
  const cache = freshCache();
  try {
    const repo = join(cache, "models--bert-tiny");
    const snap = join(repo, "snapshots", COMMIT);
    mkdirSync(join(repo, "blobs"), { recursive: true });
    mkdirSync(snap, { recursive: true });
    mkdirSync(join(repo, "refs"));
    writeFileSync(join(repo, "refs", "main"), COMMIT);
    for (const f of ["config.json", "model.safetensors"]) {
      const b = Buffer.from(FILES[f]);
      const h = sha256(b);
      writeFileSync(join(repo, "blobs", h), b);
      symlinkSync(`../../blobs/${h}`, join(snap, f));
    }
    // a legacy single-name id, HF_HUB_CACHE from the environment
    process.env.HF_HUB_CACHE = cache;
    try {
      assert.equal(
        await out(
          await BertModel.fromPretrained("bert-tiny", { ...quiet, local_files_only: true }),
        ),
        reference,
      );
    } finally {
      delete process.env.HF_HUB_CACHE;
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

const python = spawnSync(
  "python3",
  ["-c", "import huggingface_hub; print(huggingface_hub.__version__)"],
  { encoding: "utf8" },
);
const hasHfHub = python.status === 0;
test(`Python's huggingface_hub ${hasHfHub ? python.stdout.trim() : "(not installed: skipped)"}: its cache loads here offline, ours is found by it offline`, async () => {
  if (!hasHfHub) {
    console.log(
      "  python3 -c 'import huggingface_hub' failed: the interop with Python's own cache is not tested here",
    );
    return;
  }
  const hub = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } });
  const pyCache = freshCache();
  const ourCache = freshCache();
  try {
    const env = {
      ...process.env,
      HF_ENDPOINT: hub.url,
      HF_HUB_DISABLE_TELEMETRY: "1",
      HF_HUB_DISABLE_XET: "1",
    };
    const py = await run(
      "python3",
      [
        "-c",
        `from huggingface_hub import hf_hub_download as d
for f in ["config.json", "model.safetensors", "vocab.txt", "modules.json", "1_Pooling/config.json"]: print(d("org/tiny", f, cache_dir=${JSON.stringify(pyCache)}))`,
      ],
      env,
    );
    assert.is(py.status, 0, py.stderr);
    await hub.close();
    assert.equal(
      await out(
        await BertModel.fromPretrained("org/tiny", {
          ...quiet,
          cache_dir: pyCache,
          local_files_only: true,
        }),
      ),
      reference,
    );
    // the sentence-transformers model offline: optional files Python never fetched are absent
    const st = await SentenceTransformer.fromPretrained("org/tiny", {
      ...quiet,
      cache_dir: pyCache,
      local_files_only: true,
    });
    assert.equal((await st.encode(["a b"])).shape, [1, 16]);
    // ours, read by Python with local_files_only=True
    const hub2 = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } });
    await downloadModel("org/tiny", { endpoint: hub2.url, cache_dir: ourCache });
    await hub2.close();
    const py2 = await run(
      "python3",
      [
        "-c",
        `from huggingface_hub import hf_hub_download as d
import hashlib
p = d("org/tiny", "model.safetensors", cache_dir=${JSON.stringify(ourCache)}, local_files_only=True)
print(hashlib.sha256(open(p, "rb").read()).hexdigest())
print(d("org/tiny", "1_Pooling/config.json", cache_dir=${JSON.stringify(ourCache)}, local_files_only=True))`,
      ],
      { ...env, HF_HUB_OFFLINE: "1" },
    );
    assert.is(py2.status, 0, py2.stderr);
    assert.is(py2.stdout.split("\n")[0], sha256(weights));
  } finally {
    await hub.close();
    rmSync(pyCache, { recursive: true, force: true });
    rmSync(ourCache, { recursive: true, force: true });
  }
});

test("simdbert download ID prints the snapshot folder", async () => {
  const hub = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } });
  const cache = freshCache();
  try {
    const main = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
    const r = await new Promise((resolve) => {
      const p = spawn(process.execPath, [
        main,
        "download",
        "org/tiny",
        "--endpoint",
        hub.url,
        "--cache-dir",
        cache,
      ]);
      let so = "",
        se = "";
      p.stdout.on("data", (d) => (so += d));
      p.stderr.on("data", (d) => (se += d));
      p.on("exit", (code) => resolve({ code, so, se }));
    });
    assert.is(r.code, 0, r.se);
    assert.is(r.so.trim(), join(cache, "models--org--tiny", "snapshots", COMMIT));
    assert.ok(existsSync(join(r.so.trim(), "1_Pooling", "config.json")));
    assert.is(readFileSync(join(cache, "models--org--tiny", "refs", "main"), "utf8"), COMMIT);
    // as snapshot_download: the revision resolved once through the API, every file asked for at
    // that commit, and only the files the listing names (no HEAD for absent ones, no weights probe)
    assert.is(hub.requests(/^\/api\/models\/org\/tiny\/revision\/main$/).length, 1);
    const asked = hub.log.filter((l) => l.path.includes("/resolve/"));
    assert.ok(asked.every((l) => l.path.includes(`/resolve/${COMMIT}/`)));
    assert.equal(
      [...new Set(asked.map((l) => l.path.split(`/resolve/${COMMIT}/`)[1]))].sort(),
      Object.keys(FILES).sort(),
    );
  } finally {
    await hub.close();
    rmSync(cache, { recursive: true, force: true });
  }
  // a mirror without the API: each file is asked for, the weights probed in transformers' order
  const mirror = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } }, { api: false });
  const cache2 = freshCache();
  try {
    const dir = await downloadModel("org/tiny", { endpoint: mirror.url, cache_dir: cache2 });
    assert.is(dir, join(cache2, "models--org--tiny", "snapshots", COMMIT));
    assert.ok(mirror.requests(/\/resolve\/main\/tokenizer\.json$/, "HEAD").length > 0);
    assert.ok(existsSync(join(cache2, "models--org--tiny", ".no_exist", COMMIT, "tokenizer.json")));
  } finally {
    await mirror.close();
    rmSync(cache2, { recursive: true, force: true });
  }
});

test.run();
