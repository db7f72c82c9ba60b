// Where the model runs for the server: in the calling thread (localBackend: workers, Deno, Bun,
// tests), or in a worker thread (node_backend.ts: `simdbert serve`, so that the event loop keeps
// answering health checks, 429s and timeouts while a batch computes). Either way the server hands
// it padded batches and gets back each input's rows. Three heads: none (hidden states, pooled by
// the server), a sequence classifier (logits), and SPLADE (BertForMaskedLM's logits made into one
// vocabulary-sized vector per input here, so that [tokens, vocab] rows never cross threads).
import type { ModelSource } from "../loading/source.js";
import { BertModel, type FromPretrainedOptions } from "../models/bert/modeling_bert.js";
import { BertForMaskedLM, BertForSequenceClassification } from "../models/bert/heads.js";
import { declaredDtype } from "../quant/checkpoint.js";
import type { WeightDtype } from "../quant/quantize.js";
import { f32Index } from "../runtime/memory.js";
import type { Tensor } from "../tensor.js";
import { poolRow } from "../pipeline/pooling.js";
import type { RowPooling } from "./batcher.js";

/** One padded batch: B rows of S tokens (flat, row-major); lens[r] real tokens in row r. */
export interface BackendBatch {
  input_ids: Int32Array;
  attention_mask: Int32Array;
  token_type_ids: Int32Array;
  B: number;
  S: number;
  lens: number[];
  /**
   * Per row, the pooling to apply in the replica (head "none"): the row's answer is then one
   * vector [hidden] instead of [len, hidden]. Pooling where the hidden states are keeps the
   * per-batch buffers that cross threads small (a 64-input batch of 24 tokens: 96 KB, not 2.3 MB),
   * so the event loop holds and frees little; absent or null: all rows.
   */
  pool?: (RowPooling | null)[];
}

/**
 * One input's sentence vector from its hidden rows h [len, H] (float32, unnormalized), as the
 * feature-extraction pipeline computes it: mean or mean_sqrt_len in float64 over the real tokens,
 * stored as float32; max over the real tokens; CLS = the first row; last-token = the last row.
 */
export function poolHidden(h: Float32Array, H: number, pooling: RowPooling): Float32Array {
  const len = h.length / H;
  const v = new Float32Array(H);
  if (pooling === "cls") v.set(h.subarray(0, H));
  else if (pooling === "last-token") v.set(h.subarray((len - 1) * H, len * H));
  else poolRow(h, 0, len, H, [pooling], v, 0);
  return v;
}

/** What the server needs to know of the model. */
export interface BackendModelInfo {
  hidden_size: number;
  num_labels: number;
  vocab_size: number;
  max_position_embeddings: number;
  id2label: Record<string, string>;
  /** The weights' precision as loaded (the dtype asked for, else the checkpoint's own). */
  dtype: WeightDtype;
}

/** The model the server runs: the bare encoder, a sequence classifier, or a masked LM for SPLADE. */
export type BackendHead = "none" | "classifier" | "splade";

export interface Backend {
  readonly info: BackendModelInfo;
  /** batches it runs at once (model workers; default 1) */
  readonly parallelism?: number;
  /**
   * Memory of the model replicas, as last seen: WebAssembly memory (weights and activation arena)
   * and, for worker threads, their V8 heaps (bytes, summed over replicas).
   */
  memory?(): { wasm: number; heap: number };
  /**
   * Each input's rows: hidden states [len, hidden] (head "none"), logits [labels] ("classifier"),
   * or max over its tokens of log(1 + relu(MLM logits)) [vocab] ("splade").
   */
  run(batch: BackendBatch): Promise<Float32Array[]>;
  close(): Promise<void>;
}

/** Loads the model of `source` with `head` and runs it. */
export type BackendFactory = (
  source: ModelSource,
  head: BackendHead,
  options: FromPretrainedOptions,
  /** model workers wanted (worker threads' backend; the local backend has one) */
  workers?: number,
) => Promise<Backend>;

/** The model in this thread. */
export const localBackend: BackendFactory = async (source, head, options) => {
  const classifier = head === "classifier";
  const model =
    head === "classifier"
      ? await BertForSequenceClassification.fromPretrained(source, options)
      : head === "splade"
        ? await BertForMaskedLM.fromPretrained(source, options)
        : await BertModel.fromPretrained(source, { ...options, addPoolingLayer: false });
  const c = model.config;
  const info: BackendModelInfo = {
    dtype: (options.dtype as WeightDtype | undefined) ?? declaredDtype(c.extra) ?? "fp32",
    hidden_size: c.hidden_size,
    num_labels: classifier ? c.num_labels : 0,
    vocab_size: c.vocab_size,
    max_position_embeddings: c.max_position_embeddings,
    id2label: classifier
      ? Object.fromEntries(
          Array.from({ length: c.num_labels }, (_, i) => [
            String(i),
            (c as unknown as { id2label?: Record<string, string> }).id2label?.[i] ?? `LABEL_${i}`,
          ]),
        )
      : {},
  };
  return {
    info,
    async run(b) {
      const shape = [b.B, b.S];
      const inputs = {
        input_ids: { data: b.input_ids, shape },
        attention_mask: { data: b.attention_mask, shape },
        token_type_ids: { data: b.token_type_ids, shape },
      };
      if (head === "splade") {
        const out = (await (model as BertForMaskedLM).forward(inputs)) as unknown as {
          logits: Tensor;
        };
        return spladeRows(out.logits.data as Float32Array, b, info.vocab_size);
      }
      if (!classifier) {
        // the encoder's output read where it is, in wasm memory (the engine's queue keeps the
        // arena ours until this returns), pooled or copied per input: no [B, S, H] copy per
        // batch. Those copies, megabytes each and freed only when the GC gets to them, were what
        // grew a server's RSS by ~100 MB over its first 10,000 requests (glibc's malloc keeps
        // the freed chunks: its mmap threshold rises to the largest size freed)
        const bert = model as BertModel;
        return bert.engine.serialize(() => {
          const { pass } = bert.encode(inputs);
          const H = info.hidden_size;
          const h = bert.engine.f32;
          const at = f32Index(pass.hidden);
          return b.lens.map((len, r) => {
            const rows = h.subarray(at + r * b.S * H, at + (r * b.S + len) * H);
            const pooling = b.pool?.[r];
            return pooling ? poolHidden(rows, H, pooling) : rows.slice();
          });
        });
      }
      const out = (await (model as BertForSequenceClassification).forward(inputs)) as unknown as {
        logits: Tensor;
      };
      const n = info.num_labels;
      const l = out.logits.data as Float32Array;
      return b.lens.map((_, r) => l.slice(r * n, (r + 1) * n));
    },
    memory() {
      return { wasm: (model.engine as { memoryBytes?: number }).memoryBytes ?? 0, heap: 0 };
    },
    async close() {
      (model.engine as { dispose?: () => void }).dispose?.();
    },
  };
};

/**
 * SPLADE pooling of each input: max over its real tokens of log(1 + relu(logits)), as
 * sentence-transformers' SpladePooling ("max") and TEI compute it. log1p(relu(x)) increases with
 * x, so the max of the logits is taken first (float32, exact) and log1p applied once (float64,
 * rounded to float32).
 */
export function spladeRows(logits: Float32Array, b: BackendBatch, V: number): Float32Array[] {
  return b.lens.map((len, r) => {
    const v = new Float32Array(V);
    const base = r * b.S * V;
    for (let j = 0; j < V; j++) {
      let m = 0; // relu: nothing below 0
      for (let s = 0; s < len; s++) {
        const x = logits[base + s * V + j];
        if (x > m) m = x;
      }
      v[j] = Math.log1p(m);
    }
    return v;
  });
}
