// Where the model runs for the server: in the calling thread (localBackend: workers, Deno, Bun,
// tests), or in a worker thread (node_backend.ts: `simdbert serve`, so that the event loop keeps
// answering health checks, 429s and timeouts while a batch computes). Either way the server hands
// it padded batches and gets back each input's rows.
import type { ModelSource } from "../loading/source.js";
import { BertModel, type FromPretrainedOptions } from "../models/bert/modeling_bert.js";
import { BertForSequenceClassification } from "../models/bert/heads.js";
import type { BaseModelOutputWithPoolingAndCrossAttentions } from "../models/outputs.js";
import type { Tensor } from "../tensor.js";

/** One padded batch: B rows of S tokens (flat, row-major); lens[r] real tokens in row r. */
export interface BackendBatch {
  input_ids: Int32Array;
  attention_mask: Int32Array;
  token_type_ids: Int32Array;
  B: number;
  S: number;
  lens: number[];
}

/** What the server needs to know of the model. */
export interface BackendModelInfo {
  hidden_size: number;
  num_labels: number;
  vocab_size: number;
  max_position_embeddings: number;
  id2label: Record<string, string>;
}

export interface Backend {
  readonly info: BackendModelInfo;
  /** batches it runs at once (model workers; default 1) */
  readonly parallelism?: number;
  /** Each input's rows: hidden states [len, hidden] (embedder) or logits [labels] (classifier). */
  run(batch: BackendBatch): Promise<Float32Array[]>;
  close(): Promise<void>;
}

/** Loads the model of `source` (a sequence classifier when `classifier`) and runs it. */
export type BackendFactory = (
  source: ModelSource,
  classifier: boolean,
  options: FromPretrainedOptions,
  /** model workers wanted (worker threads' backend; the local backend has one) */
  workers?: number,
) => Promise<Backend>;

/** The model in this thread. */
export const localBackend: BackendFactory = async (source, classifier, options) => {
  const model = classifier
    ? await BertForSequenceClassification.fromPretrained(source, options)
    : await BertModel.fromPretrained(source, { ...options, addPoolingLayer: false });
  const c = model.config;
  const info: BackendModelInfo = {
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
      if (!classifier) {
        const out = (await (model as BertModel).forward(
          inputs,
        )) as BaseModelOutputWithPoolingAndCrossAttentions;
        const h = out.last_hidden_state.data as Float32Array;
        const H = info.hidden_size;
        return b.lens.map((len, r) => h.slice(r * b.S * H, (r * b.S + len) * H));
      }
      const out = (await (model as BertForSequenceClassification).forward(inputs)) as unknown as {
        logits: Tensor;
      };
      const n = info.num_labels;
      const l = out.logits.data as Float32Array;
      return b.lens.map((_, r) => l.slice(r * n, (r + 1) * n));
    },
    async close() {
      (model.engine as { dispose?: () => void }).dispose?.();
    },
  };
};
