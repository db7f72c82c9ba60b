// The model in worker threads (Node): the server's event loop only parses, validates, tokenizes,
// queues and answers, so health checks, 429s and timeouts are answered within milliseconds even
// while a large batch computes. Each worker (model_worker.ts) loads the model and runs each
// batch it is sent; its rows come back as one transferred buffer. With several workers (one per
// core by default, `--workers`), batches run side by side: a replica per core, each with its own
// copy of the weights, every one giving the same bits for an input.
import { Worker } from "node:worker_threads";
import type { FromPretrainedOptions } from "../models/bert/modeling_bert.js";
import type { ModelSource } from "../loading/source.js";
import {
  localBackend,
  type BackendBatch,
  type BackendFactory,
  type BackendModelInfo,
  type BackendHead,
} from "./backend.js";

/** Whether a source can be sent to a worker (a path, a URL, or a map of bytes and JSON). */
function cloneable(source: ModelSource): boolean {
  if (typeof source === "string" || source instanceof URL) return true;
  if (!source || typeof source !== "object") return false;
  return Object.values(source).every(
    (v) =>
      typeof v === "string" ||
      v instanceof Uint8Array ||
      v instanceof ArrayBuffer ||
      (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype),
  );
}

/** Model workers; sources that cannot be sent (ModelFiles objects) stay in this thread. */
export const workerBackend: BackendFactory = async (source, head, options, workers = 1) => {
  const { warn, engine, ...rest } = options as FromPretrainedOptions & {
    warn?: (m: string) => void;
  };
  if (engine || !cloneable(source)) return localBackend(source, head, options);
  const data = { source: source instanceof URL ? source.href : source, head, options: rest };
  // the first loads alone (a bad model fails once, with one message), then the others together
  const first = await startWorker(data, warn);
  const all = [first];
  try {
    all.push(
      ...(await Promise.all(
        Array.from({ length: Math.max(0, workers - 1) }, () => startWorker(data, () => {})),
      )),
    );
  } catch (e) {
    await Promise.all(all.map((w) => w.close()));
    throw e;
  }
  // each batch goes to the worker with the fewest batches pending (the batcher keeps at most
  // one per worker in flight, so that is an idle one)
  return {
    info: first.info,
    parallelism: all.length,
    run(b: BackendBatch) {
      let w = all[0];
      for (const x of all) if (x.pending < w.pending) w = x;
      return w.run(b);
    },
    memory() {
      const m = { wasm: 0, heap: 0 };
      for (const w of all) {
        m.wasm += w.memory.wasm;
        m.heap += w.memory.heap;
      }
      return m;
    },
    async close() {
      await Promise.all(all.map((w) => w.close()));
    },
  };
};

/** The model worker's young generation (V8's new space), in MB. */
const WORKER_YOUNG_GENERATION_MB = 4;

interface ModelWorker {
  info: BackendModelInfo;
  readonly pending: number;
  /** as the worker last reported it (after its latest batch) */
  readonly memory: { wasm: number; heap: number };
  run(b: BackendBatch): Promise<Float32Array[]>;
  close(): Promise<void>;
}

async function startWorker(
  workerData: { source: unknown; head: BackendHead; options: unknown },
  warn: ((m: string) => void) | undefined,
): Promise<ModelWorker> {
  const worker = new Worker(new URL("./model_worker.js", import.meta.url), {
    workerData,
    // a small young generation: V8 otherwise grows it toward its default cap as batches come
    // (measured: +16 MB of RSS per worker over 40,000 requests, then a plateau); with 4 MB the
    // worker's RSS is flat after warm-up. The batches' big arrays are ArrayBuffers, outside it.
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
  });
  const pending = new Map<
    number,
    { resolve: (r: Float32Array[]) => void; reject: (e: Error) => void }
  >();
  let next = 0;
  let dead: Error | null = null;
  let memory = { wasm: 0, heap: 0 };
  const info = await new Promise<BackendModelInfo>((resolve, reject) => {
    worker.on("message", (m) => {
      if (m.type === "ready") resolve(m.info);
      else if (m.type === "warn") (warn ?? console.warn)(m.message);
      else if (m.type === "load-error")
        reject(Object.assign(new Error(m.message), { name: m.name }));
      else if (m.type === "done" || m.type === "failed") {
        if (m.memory) memory = m.memory;
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (!p) return;
        if (m.type === "failed") p.reject(Object.assign(new Error(m.message), { name: m.name }));
        else {
          const data = new Float32Array(m.data);
          p.resolve(
            (m.offsets as number[]).slice(0, -1).map((o, i) => data.subarray(o, m.offsets[i + 1])),
          );
        }
      }
    });
    const fail = (e: Error) => {
      dead = e;
      reject(e);
      for (const p of pending.values()) p.reject(e);
      pending.clear();
    };
    worker.on("error", (e) => fail(new Error(`the model worker failed: ${e.message}`)));
    worker.on("exit", (code) => fail(new Error(`the model worker exited (code ${code})`)));
  }).catch(async (e) => {
    await worker.terminate();
    throw e;
  });
  worker.unref();
  return {
    info,
    get pending() {
      return pending.size;
    },
    get memory() {
      return memory;
    },
    run(b: BackendBatch) {
      if (dead) return Promise.reject(dead);
      return new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: "run", id, batch: b }, [
          b.input_ids.buffer,
          b.attention_mask.buffer,
          b.token_type_ids.buffer,
        ] as ArrayBuffer[]);
      });
    },
    async close() {
      dead ??= new Error("the model worker was closed");
      await worker.terminate();
    },
  };
}
