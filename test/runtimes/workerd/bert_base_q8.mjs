// The runtime matrix's big-model check in workerd: a bert-base-shaped model (12 layers, hidden
// 768, intermediate 3072, vocab 30522; random weights at HF's init scale, seeded) as a q8
// checkpoint (`simdbert quantize`'s format: I8 weights, F32 scales), loaded by a worker from a URL
// (the library's Range-request loader: JS holds one read-ahead window, the weights go to wasm
// memory tensor by tensor), one b1 s128 forward. A worker isolate on Cloudflare has 128 MB, so:
//  - the engine's wasm memory after the forward must be <= 125 MB (issue's goal for bert-base q8);
//  - the output must be the same bits as Node's on the same checkpoint and build (the plain one,
//    which the worker imports): the worker computes what the library computes, memory-bound or not.
// The worker's wasm memory after load and after the forward, its weights' bytes and workerd's RSS
// before the request and at its peak (VmHWM: the whole process, runtime, JS heap and garbage
// included; workerd has no per-isolate figure to read) are reported.
//
// The checkpoint is made once into .cache/runtimes/ (~110 MB, about half a minute).
//   node test/runtimes/workerd/bert_base_q8.mjs     (also run by test/runtimes/workerd/run.mjs)
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bertBaseInputs, bitsDigest } from "../common.mjs";
import { serve } from "../static-server.mjs";
import { COMPATIBILITY_DATE, jsFiles, startWorkerd } from "./launch.mjs";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const HERE = fileURLToPath(new URL("./", import.meta.url));
const CACHE = join(REPO, ".cache", "runtimes", "bert-base-q8-v1");
const MB = 2 ** 20;
/** The issue's goal for a bert-base shape in q8: wasm memory after load and a b1 s128 forward. */
export const WASM_GOAL_BYTES = 125 * MB;
export const SEQ = 128;

export const BERT_BASE = {
  architectures: ["BertModel"],
  model_type: "bert",
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: "gelu",
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: "absolute",
};

/** BertModel's tensors (name, shape) for a config, pooler included. */
function tensorShapes(c) {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const out = [
    ["embeddings.word_embeddings.weight", [c.vocab_size, H]],
    ["embeddings.position_embeddings.weight", [c.max_position_embeddings, H]],
    ["embeddings.token_type_embeddings.weight", [c.type_vocab_size, H]],
    ["embeddings.LayerNorm.weight", [H]],
    ["embeddings.LayerNorm.bias", [H]],
  ];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    for (const n of ["query", "key", "value"])
      out.push([`${p}.attention.self.${n}.weight`, [H, H]], [`${p}.attention.self.${n}.bias`, [H]]);
    out.push(
      [`${p}.attention.output.dense.weight`, [H, H]],
      [`${p}.attention.output.dense.bias`, [H]],
      [`${p}.attention.output.LayerNorm.weight`, [H]],
      [`${p}.attention.output.LayerNorm.bias`, [H]],
      [`${p}.intermediate.dense.weight`, [I, H]],
      [`${p}.intermediate.dense.bias`, [I]],
      [`${p}.output.dense.weight`, [H, I]],
      [`${p}.output.dense.bias`, [H]],
      [`${p}.output.LayerNorm.weight`, [H]],
      [`${p}.output.LayerNorm.bias`, [H]],
    );
  }
  out.push(["pooler.dense.weight", [H, H]], ["pooler.dense.bias", [H]]);
  return out;
}

/**
 * The q8 checkpoint's folder (config.json, model.safetensors), made once: random f32 weights
 * (xorshift32, seed 1: uniform at HF's init scale, std 0.02; LayerNorm weights near 1) converted
 * by the library's convertCheckpoint, as `simdbert quantize --dtype q8` does.
 */
export async function ensureBertBaseQ8() {
  if (existsSync(join(CACHE, "model.safetensors"))) return CACHE;
  const lib = await import(pathToFileURL(join(REPO, "dist/index.js")).href);
  const weights = new Map();
  let s = 1;
  for (const [name, shape] of tensorShapes(BERT_BASE)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const ln = name.endsWith("LayerNorm.weight");
    for (let i = 0; i < data.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const u = (s >>> 0) / 2147483648 - 1; // [-1, 1)
      data[i] = ln ? 1 + 0.1 * u : 0.0346 * u; // uniform, std 0.02
    }
    weights.set(name, { shape, data });
  }
  const source = new lib.BufferSource(lib.writeSafetensors(weights));
  weights.clear();
  await mkdir(CACHE, { recursive: true });
  const tmp = join(CACHE, "model.safetensors.tmp");
  const fh = await open(tmp, "w");
  try {
    await lib.convertCheckpoint(source, "q8", async (bytes) => {
      await fh.write(bytes);
    });
  } finally {
    await fh.close();
  }
  await writeFile(
    join(CACHE, "config.json"),
    JSON.stringify(lib.convertedConfig(BERT_BASE, "q8"), null, 2),
  );
  await rename(tmp, join(CACHE, "model.safetensors"));
  return CACHE;
}

/** Lays out a worker bundle: the bert-base worker, common.mjs, dist/ (minus the CLI), the plain build. */
async function layOut(dir) {
  const modules = [];
  const add = async (from, name, kind) => {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await cp(from, join(dir, name));
    modules.push(`(name = ${JSON.stringify(name)}, ${kind} = embed ${JSON.stringify(name)})`);
  };
  await add(join(HERE, "bert_base_worker.mjs"), "worker.mjs", "esModule");
  await add(join(HERE, "../common.mjs"), "common.mjs", "esModule");
  for (const f of await jsFiles(join(REPO, "dist"), ["cli"]))
    await add(f, relative(REPO, f), "esModule");
  await add(join(REPO, "build/simdbert.wasm"), "simdbert.wasm", "wasm");
  // outbound fetches (the model's URL, on loopback) through a network service that allows it
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [
    ${modules.join(",\n    ")}
  ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  globalOutbound = "loopback",
);
`;
  const path = join(dir, "config.capnp");
  await writeFile(path, config);
  return path;
}

/** A process's peak RSS (VmHWM) or RSS (VmRSS) from /proc, in bytes, or NaN. */
async function procBytes(pid, key) {
  const m = (await readFile(`/proc/${pid}/status`, "utf8").catch(() => "")).match(
    new RegExp(`^${key}:\\s+(\\d+) kB`, "m"),
  );
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Node's forward of the checkpoint (plain build, as the worker's): the digest of its output. */
async function nodeDigest(dir) {
  const lib = await import(pathToFileURL(join(REPO, "dist/index.js")).href);
  const model = await lib.BertModel.fromPretrained(dir, { relaxedSimd: false, warn: () => {} });
  try {
    const out = await model.forward(bertBaseInputs(SEQ, BERT_BASE.vocab_size));
    return bitsDigest(out.last_hidden_state.data);
  } finally {
    model.dispose?.();
  }
}

/** The check, as a runtime-matrix check result ({ name, pass, detail, ... }). */
export async function bertBaseQ8Check() {
  const name = `bert-base q8 b1 s${SEQ}: wasm memory <= ${WASM_GOAL_BYTES / MB} MB, Node's bits`;
  const t0 = performance.now();
  const dir = await ensureBertBaseQ8();
  const madeMs = performance.now() - t0;
  const files = await serve({ "/model/": dir });
  const work = await mkdtemp(join(tmpdir(), "simdbert-workerd-bert-base-"));
  let server;
  try {
    server = await startWorkerd(await layOut(work));
    const idleRss = await procBytes(server.pid, "VmRSS");
    const res = await fetch(
      `${server.url}/run?model=${encodeURIComponent(`${files.url}/model`)}&seq=${SEQ}`,
    );
    const text = await res.text();
    if (!res.ok) throw new Error(`worker: HTTP ${res.status}: ${text}`);
    const w = JSON.parse(text);
    const rss = await procBytes(server.pid, "VmHWM");
    const want = await nodeDigest(dir);
    const details = [];
    if (w.afterForward > WASM_GOAL_BYTES)
      details.push(
        `wasm memory ${(w.afterForward / MB).toFixed(1)} MB > ${WASM_GOAL_BYTES / MB} MB`,
      );
    if (w.digest !== want) details.push(`output bits ${w.digest} != Node's ${want}`);
    if (!w.finite) details.push("non-finite output");
    return {
      name,
      pass: details.length === 0,
      wasm_after_load: w.afterLoad,
      wasm_after_forward: w.afterForward,
      weight_bytes: w.weightBytes,
      workerd_peak_rss: rss,
      workerd_idle_rss: idleRss,
      detail:
        `wasm memory ${(w.afterLoad / MB).toFixed(1)} MB after load, ${(w.afterForward / MB).toFixed(1)} MB after the forward ` +
        `(weights ${(w.weightBytes / MB).toFixed(1)} MB); workerd RSS ${(idleRss / MB).toFixed(0)} MB before the request, peak ${(rss / MB).toFixed(0)} MB; ` +
        `load ${w.loadMs} ms, forward ${w.forwardMs} ms (worker clock); bits ${w.digest} = Node's: ${w.digest === want}` +
        (madeMs > 1000 ? `; checkpoint made in ${(madeMs / 1000).toFixed(0)} s` : "") +
        (details.length ? `; ${details.join("; ")}` : ""),
    };
  } catch (e) {
    return {
      name,
      pass: false,
      detail: String(e?.stack ?? e) + (server ? `\n${server.stderr()}` : ""),
    };
  } finally {
    await server?.stop();
    await files.close();
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await bertBaseQ8Check();
  console.log(`${r.pass ? "PASS" : "FAIL"} ${r.name}  ${r.detail}`);
  process.exitCode = r.pass ? 0 : 1;
}
