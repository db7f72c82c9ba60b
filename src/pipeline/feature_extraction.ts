// Sentence embeddings end to end, in the manner of transformers.js'
// pipeline("feature-extraction", ...) and sentence-transformers:
//
//   const extractor = await pipeline("feature-extraction", "path/or/url/or/files");
//   const emb = await extractor(["a sentence", "another"], { pooling: "mean", normalize: true });
//   emb.shape // [2, hidden]
//
// Texts are tokenized, truncated to the model's maximum length, sorted by length and run in padded
// batches; mean pooling counts only the real tokens (attention_mask), exactly.
import { BertModel, type FromPretrainedOptions } from "../models/bert/modeling_bert.js";
import type { BaseModelOutputWithPoolingAndCrossAttentions } from "../models/outputs.js";
import { modelFiles, readJson, type ModelSource } from "../loading/source.js";
import { BertTokenizer, type BertTokenizerOptions } from "../tokenizer/bert_tokenizer.js";
import { InputError } from "../models/inputs.js";
import { Tensor } from "../tensor.js";

export type Pooling = "none" | "mean" | "cls";

export interface ExtractOptions {
  /** "none" (default, as transformers.js): [n, seq, hidden]; "mean" / "cls": [n, hidden] */
  pooling?: Pooling;
  /** L2-normalise each embedding (F.normalize: x / max(|x|, 1e-12)) */
  normalize?: boolean;
  /** sequences per forward (default: the pipeline's) */
  batchSize?: number;
  /** called after each batch with (texts done, texts in all) */
  onProgress?: (done: number, total: number) => void;
}

export interface PipelineOptions extends FromPretrainedOptions {
  /** Tokenizer options, as from_pretrained kwargs (override tokenizer_config.json). */
  tokenizer?: BertTokenizerOptions;
  /** Truncation length; default: sentence_bert_config.json's max_seq_length, else min(model_max_length, max_position_embeddings). */
  maxLength?: number;
  /** Sequences per forward (default 8: a small, fixed arena for edge workers). */
  batchSize?: number;
}

export interface FeatureExtractionPipeline {
  (texts: string | string[], options?: ExtractOptions): Promise<Tensor>;
  readonly task: "feature-extraction";
  readonly model: BertModel;
  readonly tokenizer: BertTokenizer;
  readonly maxLength: number;
}

/** transformers.js-style factory; "feature-extraction" (alias "embeddings") is the task here. */
export async function pipeline(
  task: string,
  source: ModelSource,
  options: PipelineOptions = {},
): Promise<FeatureExtractionPipeline> {
  if (task !== "feature-extraction" && task !== "embeddings") {
    throw new Error(
      `simdbert: unsupported pipeline task "${task}" (supported: "feature-extraction")`,
    );
  }
  const files = modelFiles(source);
  const [model, tokenizer, st] = await Promise.all([
    // the pooler is never read here: a checkpoint without one (masked-LM, sentence-transformers) loads
    BertModel.fromPretrained(files, {
      ...options,
      addPoolingLayer: options.addPoolingLayer ?? "auto",
    }),
    BertTokenizer.fromPretrained(files, options.tokenizer ?? {}),
    readJson(files, "sentence_bert_config.json").catch(() => null),
  ]);
  const maxPos = model.config.max_position_embeddings;
  const stMax = typeof st?.max_seq_length === "number" ? st.max_seq_length : null;
  const maxLength = options.maxLength ?? Math.min(stMax ?? tokenizer.model_max_length, maxPos);
  if (!Number.isSafeInteger(maxLength) || maxLength < 2)
    throw new Error(`simdbert: invalid maximum length ${maxLength}`);
  const defaultBatch = options.batchSize ?? 8;

  const extract = async (texts: string | string[], o: ExtractOptions = {}): Promise<Tensor> => {
    const list = typeof texts === "string" ? [texts] : texts;
    if (!Array.isArray(list) || list.some((t) => typeof t !== "string"))
      throw new InputError("feature-extraction expects a string or a list of strings");
    const pooling = o.pooling ?? "none";
    if (!["none", "mean", "cls"].includes(pooling))
      throw new InputError(
        `pooling must be "none", "mean" or "cls", got ${JSON.stringify(pooling)}`,
      );
    const batchSize = o.batchSize ?? defaultBatch;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1)
      throw new InputError(`batchSize must be a positive integer, got ${batchSize}`);
    const H = model.config.hidden_size;
    const n = list.length;
    const ids = list.map((t) => tokenizer.encode(t, { truncation: true, max_length: maxLength }));
    const longest = ids.reduce((m, x) => Math.max(m, x.length), 0);
    const out = new Float32Array(pooling === "none" ? n * longest * H : n * H);
    const pad = tokenizer.padTokenId();
    // longest first, so each batch pads little; "none" pads every batch to the longest overall,
    // which gives the same numbers as one batch of all the texts
    const order = ids.map((_, i) => i).sort((a, b) => ids[b].length - ids[a].length || a - b);
    for (let start = 0; start < n; start += batchSize) {
      const idx = order.slice(start, start + batchSize);
      const S = pooling === "none" ? longest : ids[idx[0]].length;
      // the batch as flat int32 rows, padded on the right
      const input_ids = new Int32Array(idx.length * S).fill(pad);
      const attention_mask = new Int32Array(idx.length * S);
      idx.forEach((i, r) => {
        input_ids.set(ids[i], r * S);
        attention_mask.fill(1, r * S, r * S + ids[i].length);
      });
      const shape = [idx.length, S];
      const res = (await model.forward({
        input_ids: { data: input_ids, shape },
        attention_mask: { data: attention_mask, shape },
      })) as BaseModelOutputWithPoolingAndCrossAttentions;
      const h = res.last_hidden_state.data as Float32Array;
      idx.forEach((i, r) => {
        const rowBase = r * S * H;
        if (pooling === "none") out.set(h.subarray(rowBase, rowBase + S * H), i * longest * H);
        else if (pooling === "cls") out.set(h.subarray(rowBase, rowBase + H), i * H);
        else meanPool(h, rowBase, ids[i].length, H, out, i * H);
      });
      o.onProgress?.(Math.min(start + batchSize, n), n);
    }
    if (o.normalize) normalizeRows(out, pooling === "none" ? n * longest : n, H);
    return new Tensor("float32", out, pooling === "none" ? [n, longest, H] : [n, H]);
  };
  return Object.assign(extract, {
    task: "feature-extraction" as const,
    model,
    tokenizer,
    maxLength,
  });
}

/** out[o..o+H] = mean of rows [0, len) of h (the real tokens: masked positions never enter). */
function meanPool(
  h: Float32Array,
  base: number,
  len: number,
  H: number,
  out: Float32Array,
  o: number,
): void {
  const acc = new Float64Array(H);
  for (let s = 0; s < len; s++) for (let j = 0; j < H; j++) acc[j] += h[base + s * H + j];
  // sentence-transformers: sum / clamp(count, 1e-9)
  const count = Math.max(len, 1e-9);
  for (let j = 0; j < H; j++) out[o + j] = acc[j] / count;
}

function normalizeRows(x: Float32Array, rows: number, H: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < H; j++) s += x[r * H + j] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < H; j++) x[r * H + j] *= inv;
  }
}
