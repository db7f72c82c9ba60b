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
import { checkOptionNames, FROM_PRETRAINED_OPTIONS } from "../options.js";
import { disposable, type DisposablePipeline } from "./common.js";
import {
  poolRow,
  readSentenceTransformersConfig,
  type PoolingMode,
  type SentenceTransformersConfig,
} from "./pooling.js";

/**
 * Pooling of the token embeddings: "none", "mean", "cls" (alias "first_token", transformers.js'
 * name), "last_token" (the last real token of each text, padding excluded), "max",
 * "mean_sqrt_len".
 */
export type Pooling =
  "none" | "mean" | "cls" | "first_token" | "last_token" | "max" | "mean_sqrt_len";
const POOLINGS: readonly string[] = [
  "none",
  "mean",
  "cls",
  "first_token",
  "last_token",
  "max",
  "mean_sqrt_len",
];
/** The options a feature-extraction call takes. */
const EXTRACT_OPTIONS = ["pooling", "normalize", "batchSize", "batch_size", "onProgress"];
/** The feature-extraction pipeline's own options (besides fromPretrained's). */
export const FEATURE_EXTRACTION_OPTIONS = [
  "tokenizer",
  "maxLength",
  "max_length",
  "batchSize",
  "batch_size",
  "sentenceTransformers",
];

export interface ExtractOptions {
  /**
   * "none" (default, as transformers.js): [n, seq, hidden]; "mean" / "cls" / "max" /
   * "mean_sqrt_len": [n, hidden]. With the pipeline's sentenceTransformers option the default is
   * the folder's pooling (several modes concatenated: [n, hidden x modes]).
   */
  pooling?: Pooling;
  /** L2-normalise each embedding (F.normalize: x / max(|x|, 1e-12)) */
  normalize?: boolean;
  /** sequences per forward (default: the pipeline's) */
  batchSize?: number;
  /** HF's name of batchSize */
  batch_size?: number;
  /** called after each batch with (texts done, texts in all) */
  onProgress?: (done: number, total: number) => void;
}

export interface PipelineOptions extends FromPretrainedOptions {
  /** Tokenizer options, as from_pretrained kwargs (override tokenizer_config.json). */
  tokenizer?: BertTokenizerOptions;
  /** Truncation length; default: sentence_bert_config.json's max_seq_length, else min(model_max_length, max_position_embeddings). */
  maxLength?: number;
  /** HF's name of maxLength. */
  max_length?: number;
  /** Sequences per forward (default 8: a small, fixed arena for edge workers). */
  batchSize?: number;
  /** HF's name of batchSize. */
  batch_size?: number;
  /**
   * Follow the folder's sentence-transformers files (modules.json, sentence_bert_config.json,
   * the Pooling config, Normalize) for the defaults of pooling, normalization, truncation length
   * and lowercasing, as sentence-transformers does (mean pooling when there is no modules.json).
   * Default false: transformers.js' defaults (no pooling, no normalization).
   */
  sentenceTransformers?: boolean;
}

export interface FeatureExtractionPipeline extends DisposablePipeline {
  (texts: string | string[], options?: ExtractOptions): Promise<Tensor>;
  readonly task: "feature-extraction";
  readonly model: BertModel;
  readonly tokenizer: BertTokenizer;
  readonly maxLength: number;
  /** The folder's sentence-transformers settings (when the pipeline follows them). */
  readonly sentenceTransformers: SentenceTransformersConfig | null;
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
  checkOptionNames(`pipeline("${task}")`, options, [
    ...FEATURE_EXTRACTION_OPTIONS,
    ...FROM_PRETRAINED_OPTIONS,
  ]);
  const files = modelFiles(source, options);
  const {
    sentenceTransformers: follow,
    tokenizer: tokOptions,
    maxLength: _m,
    max_length: _ml,
    batchSize: _b,
    batch_size: _bs,
    ...modelOptions
  } = options;
  // embeddings never use the pooler (a masked-LM checkpoint has none): BertModel without it
  const warn = modelOptions.warn ?? ((m: string) => console.warn(`simdbert: ${m}`));
  const [model, tokenizer, st, stConfig] = await Promise.all([
    BertModel.fromPretrained(files, {
      ...modelOptions,
      addPoolingLayer: false,
      warn: (m) => {
        if (!/^Some weights of the checkpoint were not used: (\S*pooler\.\S*(, |$))+$/.test(m))
          warn(m);
      },
    }),
    BertTokenizer.fromPretrained(files, tokOptions ?? {}),
    readJson(files, "sentence_bert_config.json").catch(() => null),
    follow ? readSentenceTransformersConfig(files) : Promise.resolve(null),
  ]);
  const maxPos = model.config.max_position_embeddings;
  const stMax = typeof st?.max_seq_length === "number" ? st.max_seq_length : null;
  const maxLength =
    alias("maxLength", options.maxLength, "max_length", options.max_length) ??
    Math.min(stMax ?? tokenizer.model_max_length, maxPos);
  if (!Number.isSafeInteger(maxLength) || maxLength < 2)
    throw new InputError(`maxLength must be an integer >= 2, got ${String(maxLength)}`);
  const defaultBatch = alias("batchSize", options.batchSize, "batch_size", options.batch_size) ?? 8;
  if (!Number.isSafeInteger(defaultBatch) || defaultBatch < 1)
    throw new InputError(`batchSize must be a positive integer, got ${String(defaultBatch)}`);

  const extract = async (texts: string | string[], o: ExtractOptions = {}): Promise<Tensor> => {
    checkOptionNames("feature-extraction", o, EXTRACT_OPTIONS);
    o ??= {};
    let list = typeof texts === "string" ? [texts] : texts;
    if (!Array.isArray(list) || list.some((t) => typeof t !== "string"))
      throw new InputError("feature-extraction expects a string or a list of strings");
    if (o.pooling !== undefined && !POOLINGS.includes(o.pooling))
      throw new InputError(
        `pooling must be one of ${POOLINGS.map((p) => JSON.stringify(p)).join(", ")}, got ${JSON.stringify(o.pooling)}`,
      );
    // the folder's modes (sentence-transformers) unless the call names one
    const modes: readonly (PoolingMode | "last_token")[] =
      o.pooling !== undefined
        ? o.pooling === "none"
          ? []
          : [o.pooling === "first_token" ? "cls" : o.pooling]
        : (stConfig?.pooling ?? []);
    const pooling = modes.length ? "pooled" : "none";
    const normalize = o.normalize ?? stConfig?.normalize ?? false;
    if (stConfig) {
      // sentence-transformers strips each text, and lowercases it itself when asked to
      list = list.map((t) => t.trim());
      if (stConfig.doLowerCase) list = list.map((t) => t.toLowerCase());
    }
    const batchSize = alias("batchSize", o.batchSize, "batch_size", o.batch_size) ?? defaultBatch;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1)
      throw new InputError(`batchSize must be a positive integer, got ${batchSize}`);
    const H = model.config.hidden_size;
    const n = list.length;
    const ids = list.map((t) => tokenizer.encode(t, { truncation: true, max_length: maxLength }));
    const longest = ids.reduce((m, x) => Math.max(m, x.length), 0);
    const D = H * Math.max(modes.length, 1);
    const out = new Float32Array(pooling === "none" ? n * longest * H : n * D);
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
        else poolRow(h, rowBase, ids[i].length, H, modes, out, i * D);
      });
      o.onProgress?.(Math.min(start + batchSize, n), n);
    }
    if (normalize) {
      if (pooling === "none") normalizeRows(out, n * longest, H);
      else normalizeRows(out, n, D);
    }
    return new Tensor("float32", out, pooling === "none" ? [n, longest, H] : [n, D]);
  };
  options.progress_callback?.({
    status: "ready",
    task: "feature-extraction",
    model: typeof source === "string" ? source : files.where,
    name: typeof source === "string" ? source : files.where,
  });
  return disposable("feature-extraction", extract, model, {
    task: "feature-extraction" as const,
    model,
    tokenizer,
    maxLength,
    sentenceTransformers: stConfig,
  });
}

/** One of two spellings of an option (simdbert's and HF's); both given must agree. */
function alias(a: string, va: number | undefined, b: string, vb: number | undefined) {
  if (va !== undefined && vb !== undefined && va !== vb)
    throw new InputError(`${a} (${String(va)}) and ${b} (${String(vb)}) are one option: give one`);
  return va ?? vb;
}

function normalizeRows(x: Float32Array, rows: number, H: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < H; j++) s += x[r * H + j] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < H; j++) x[r * H + j] *= inv;
  }
}
