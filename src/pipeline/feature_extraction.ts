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
import {
  POOLING_MODES,
  poolRow,
  readSentenceTransformersConfig,
  type PoolingMode,
  type SentenceTransformersConfig,
} from "./pooling.js";

export type Pooling = "none" | "mean" | "cls" | "max" | "mean_sqrt_len";

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
  /**
   * Follow the folder's sentence-transformers files (modules.json, sentence_bert_config.json,
   * the Pooling config, Normalize) for the defaults of pooling, normalization, truncation length
   * and lowercasing, as sentence-transformers does (mean pooling when there is no modules.json).
   * Default false: transformers.js' defaults (no pooling, no normalization).
   */
  sentenceTransformers?: boolean;
}

export interface FeatureExtractionPipeline {
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
  const files = modelFiles(source, options);
  const { sentenceTransformers: follow, tokenizer: tokOptions, ...modelOptions } = options;
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
  const maxLength = options.maxLength ?? Math.min(stMax ?? tokenizer.model_max_length, maxPos);
  if (!Number.isSafeInteger(maxLength) || maxLength < 2)
    throw new Error(`simdbert: invalid maximum length ${maxLength}`);
  const defaultBatch = options.batchSize ?? 8;

  const extract = async (texts: string | string[], o: ExtractOptions = {}): Promise<Tensor> => {
    let list = typeof texts === "string" ? [texts] : texts;
    if (!Array.isArray(list) || list.some((t) => typeof t !== "string"))
      throw new InputError("feature-extraction expects a string or a list of strings");
    if (o.pooling !== undefined && !["none", ...POOLING_MODES].includes(o.pooling))
      throw new InputError(
        `pooling must be "none", "mean", "cls", "max" or "mean_sqrt_len", got ${JSON.stringify(o.pooling)}`,
      );
    // the folder's modes (sentence-transformers) unless the call names one
    const modes: readonly PoolingMode[] =
      o.pooling !== undefined
        ? o.pooling === "none"
          ? []
          : [o.pooling]
        : (stConfig?.pooling ?? []);
    const pooling = modes.length ? "pooled" : "none";
    const normalize = o.normalize ?? stConfig?.normalize ?? false;
    if (stConfig) {
      // sentence-transformers strips each text, and lowercases it itself when asked to
      list = list.map((t) => t.trim());
      if (stConfig.doLowerCase) list = list.map((t) => t.toLowerCase());
    }
    const batchSize = o.batchSize ?? defaultBatch;
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
  return Object.assign(extract, {
    task: "feature-extraction" as const,
    model,
    tokenizer,
    maxLength,
    sentenceTransformers: stConfig,
  });
}

function normalizeRows(x: Float32Array, rows: number, H: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < H; j++) s += x[r * H + j] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < H; j++) x[r * H + j] *= inv;
  }
}
