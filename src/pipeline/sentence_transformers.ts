// sentence-transformers model folders (as sentence-transformers 2.2.2 loads them), and a
// SentenceTransformer class whose encode() gives what Python's gives for the same folder:
//
//   const st = await SentenceTransformer.fromPretrained("path/or/id");
//   const emb = await st.encode(["a sentence", "another"], { batch_size: 32, normalize_embeddings: true });
//
// The folder's files decide (read by ./pooling.ts): modules.json lists the modules in order (Transformer at the folder
// itself, Pooling, Normalize); sentence_bert_config.json gives max_seq_length (the truncation
// length, [CLS] and [SEP] included; it wins over the tokenizer's model_max_length) and
// do_lower_case (sentence-transformers lowercases the text itself); <pooling path>/config.json
// gives the pooling modes (cls, max, mean, mean_sqrt_len; several are concatenated in that fixed
// order). Modules simdbert does not implement (Dense, weighted-mean or last-token pooling,
// anything else) are refused by name instead of silently giving other numbers.
import { modelFiles, type ModelSource } from "../loading/source.js";
import { InputError } from "../models/inputs.js";
import { Tensor } from "../tensor.js";
import {
  pipeline,
  type FeatureExtractionPipeline,
  type PipelineOptions,
} from "./feature_extraction.js";
import type { SentenceTransformersConfig } from "./pooling.js";

export {
  POOLING_MODES,
  poolRow,
  readSentenceTransformersConfig,
  type PoolingMode,
  type SentenceTransformersConfig,
} from "./pooling.js";

export interface EncodeOptions {
  /** Texts per forward (default 32, as sentence-transformers). */
  batch_size?: number;
  /** L2-normalise each embedding (on top of a Normalize module, which always applies). */
  normalize_embeddings?: boolean;
  /** Called after each batch with (texts done, texts in all). */
  progress_callback?: (done: number, total: number) => void;
}

export type SentenceTransformerOptions = PipelineOptions;

/** sentence-transformers' SentenceTransformer for BERT folders. */
export class SentenceTransformer {
  private constructor(
    readonly extractor: FeatureExtractionPipeline,
    readonly config: SentenceTransformersConfig,
  ) {}

  static async fromPretrained(
    source: ModelSource,
    options: SentenceTransformerOptions = {},
  ): Promise<SentenceTransformer> {
    const files = modelFiles(source, options);
    const extractor = await pipeline("feature-extraction", files, {
      ...options,
      sentenceTransformers: true,
    });
    return new SentenceTransformer(extractor, extractor.sentenceTransformers!);
  }
  /** HF spelling. */
  static from_pretrained = SentenceTransformer.fromPretrained;

  /** The embedding size (hidden size times the number of pooling modes). */
  get dimension(): number {
    return this.extractor.model.config.hidden_size * this.config.pooling.length;
  }
  get_sentence_embedding_dimension(): number {
    return this.dimension;
  }
  get max_seq_length(): number {
    return this.extractor.maxLength;
  }

  /** Embeddings [n, D] for a list (a single text: [D]). */
  async encode(texts: string | string[], options: EncodeOptions = {}): Promise<Tensor> {
    const known = ["batch_size", "normalize_embeddings", "progress_callback"];
    for (const k of Object.keys(options))
      if (!known.includes(k))
        throw new InputError(`encode: unknown option "${k}" (known: ${known.join(", ")})`);
    const t = await this.extractor(texts, {
      batchSize: options.batch_size ?? 32,
      normalize: this.config.normalize || options.normalize_embeddings === true,
      onProgress: options.progress_callback,
    });
    if (typeof texts === "string") return new Tensor("float32", t.data, [t.shape[1]]);
    return t;
  }
}
