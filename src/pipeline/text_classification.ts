// text-classification (alias sentiment-analysis), as transformers 4.30.2's
// TextClassificationPipeline answers it, legacy return shapes included:
//
//   const classify = await pipeline("text-classification", dir);
//   await classify("The pasta was delicious.");                  // [{ label, score }]  (best label)
//   await classify("The pasta was delicious.", { top_k: null }); // every label, best first
//   await classify({ text: "question?", text_pair: "a passage" }, { top_k: 2 });
//
// Scores: softmax / sigmoid / none by function_to_apply, else by config.problem_type and
// num_labels. No truncation unless asked (`truncation: true`), as HF.
import type { ModelSource } from "../loading/source.js";
import type { BertTokenizer } from "../tokenizer/bert_tokenizer.js";
import {
  asPipelineError,
  batchOpt,
  checkOptions,
  forwardEach,
  intOpt,
  loadTask,
  PipelineError,
  pyTruthy,
  rankDesc,
  softmax,
  type Encoded,
  type ForwardModel,
  type TaskPipelineOptions,
  disposable,
  type DisposablePipeline,
} from "./common.js";

export type TextClassificationInput = string | { text: string; text_pair?: string | null };

export interface TextClassificationOptions {
  /** labels per input, best first; null: all. Not given: HF's legacy shapes (the best label only). */
  top_k?: number | null;
  /** "softmax", "sigmoid" or "none" (any case); default from problem_type / num_labels */
  function_to_apply?: string | null;
  /** deprecated: every label in id order */
  return_all_scores?: boolean | null;
  /** tokenizer keywords passed through */
  truncation?: boolean | string | null;
  max_length?: number | null;
  padding?: boolean | string | null;
  add_special_tokens?: boolean;
  pad_to_multiple_of?: number | null;
  batch_size?: number;
}

export interface LabelScore {
  label: string;
  score: number;
}

export interface TextClassificationPipeline extends DisposablePipeline {
  (
    inputs: TextClassificationInput | TextClassificationInput[],
    options?: TextClassificationOptions,
  ): Promise<unknown>;
  readonly task: "text-classification";
  readonly model: ForwardModel;
  readonly tokenizer: BertTokenizer;
  /**
   * Every label's score for each input (id order), after function_to_apply: the plain entry point
   * for servers (no legacy shapes). `pairs` items may be [text, text_pair].
   */
  scores(
    inputs: readonly (string | readonly [string, string])[],
    options?: { function_to_apply?: string | null; truncation?: boolean; batch_size?: number },
  ): Promise<Float64Array[]>;
  /** id2label in id order */
  readonly labels: readonly string[];
}

/** The tokenizer's __call__ keywords HF passes through (the encoding then goes to the model). */
const TOKENIZER_KEYS = [
  "truncation",
  "max_length",
  "padding",
  "add_special_tokens",
  "pad_to_multiple_of",
  "stride",
  "is_split_into_words",
  "return_token_type_ids",
  "return_attention_mask",
  "verbose",
];
/** Tokenizer keywords whose extra fields HF hands to the model, which refuses them. */
const MODEL_REFUSES = ["return_overflowing_tokens", "return_special_tokens_mask", "return_length"];
const OPTIONS = [
  "top_k",
  "function_to_apply",
  "return_all_scores",
  "batch_size",
  "return_offsets_mapping",
  ...MODEL_REFUSES,
  ...TOKENIZER_KEYS,
];
const FUNCTIONS = ["softmax", "sigmoid", "none"];

export async function textClassificationPipeline(
  source: ModelSource,
  options: TaskPipelineOptions = {},
): Promise<TextClassificationPipeline> {
  const { model, tokenizer, batchSize } = await loadTask("text-classification", source, options);
  const config = model.config;
  const n = config.num_labels;
  const labels = Array.from({ length: n }, (_, i) => config.id2label[String(i)] ?? `LABEL_${i}`);

  const defaultFunction = (): string => {
    if (config.problem_type === "multi_label_classification" || n === 1) return "sigmoid";
    return "softmax"; // single_label_classification or more than one label
  };
  const functionOf = (f: unknown): string => {
    if (f === undefined || f === null) return defaultFunction();
    if (typeof f !== "string")
      throw new PipelineError(`function_to_apply must be a string, got ${JSON.stringify(f)}`);
    const name = f.toLowerCase();
    if (!FUNCTIONS.includes(name))
      throw new PipelineError(
        `function_to_apply ${JSON.stringify(f)} is not one of "softmax", "sigmoid", "none"`,
        "KeyError",
      );
    return name;
  };

  const encode = (x: unknown, tk: Record<string, unknown>): Encoded => {
    try {
      if (typeof x === "string") return tokenizer.encode_plus(x, null, tk) as unknown as Encoded;
      if (Array.isArray(x) && x.length === 2 && x.every((s) => typeof s === "string"))
        return tokenizer.encode_plus(x[0], x[1], tk) as unknown as Encoded;
      if (x && typeof x === "object" && !Array.isArray(x)) {
        const d = x as Record<string, unknown>;
        const extra = Object.keys(d).filter((k) => k !== "text" && k !== "text_pair");
        if (extra.length || typeof d.text !== "string")
          throw new PipelineError(
            `a text pair is {"text": ..., "text_pair": ...}, got keys ${Object.keys(d).join(", ")}`,
            "TypeError",
          );
        const pair = d.text_pair ?? null;
        if (pair !== null && typeof pair !== "string")
          throw new PipelineError("text_pair must be a string", "TypeError");
        return tokenizer.encode_plus(d.text, pair as string | null, tk) as unknown as Encoded;
      }
    } catch (e) {
      throw asPipelineError(e);
    }
    throw new PipelineError(
      'The pipeline received invalid inputs, if you are trying to send text pairs, you can try to send a dictionary `{"text": "My text", "text_pair": "My pair"}` in order to send a text pair.',
    );
  };

  const scoresOf = async (
    items: readonly unknown[],
    fn: string,
    tk: Record<string, unknown>,
    bs: number,
  ): Promise<Float64Array[]> => {
    const encs = items.map((x) => encode(x, tk));
    const outs = await forwardEach(model, encs, ["logits"], bs, tokenizer.pad_token_id ?? 0);
    return outs.map(([logits]) => {
      if (fn === "softmax") return softmax(logits);
      if (fn === "sigmoid") return Float64Array.from(logits, (x) => 1 / (1 + Math.exp(-x)));
      return Float64Array.from(logits);
    });
  };

  const run = async (
    inputs: TextClassificationInput | TextClassificationInput[],
    options?: TextClassificationOptions,
  ): Promise<unknown> => {
    const o = checkOptions("text-classification", options, OPTIONS);
    const bs = batchOpt(o, batchSize);
    const tk: Record<string, unknown> = {};
    for (const k of TOKENIZER_KEYS) if (k in o) tk[k] = o[k];
    if (pyTruthy(o.return_offsets_mapping))
      throw new PipelineError(
        "return_offset_mapping is not available when using Python tokenizers. To use this feature, change your tokenizer to one deriving from transformers.PreTrainedTokenizerFast.",
        "NotImplementedError",
      );
    const refused = MODEL_REFUSES.find((k) => pyTruthy(o[k]));
    if (refused)
      throw new PipelineError(
        `${refused}: the extra encoding field goes to the model, whose forward() takes no such argument`,
        "TypeError",
      );
    const fn = functionOf(o.function_to_apply);
    // HF: top_k given (null included) -> sorted lists; else legacy shapes
    const legacyCall = !("top_k" in o);
    let topK: number | null = 1;
    let legacy = true;
    if ("top_k" in o) {
      topK = intOpt("top_k", o.top_k);
      if (topK !== null && topK < 1) throw new PipelineError(`top_k must be >= 1, got ${topK}`);
      legacy = false;
    } else if (o.return_all_scores !== undefined && o.return_all_scores !== null) {
      topK = pyTruthy(o.return_all_scores) ? null : 1;
    }
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const scores = await scoresOf(list, fn, tk, bs);
    const answers = scores.map((s) => {
      if (topK === 1 && legacy) {
        const best = rankDesc(s)[0];
        return { label: labels[best], score: s[best] };
      }
      const all = Array.from(s, (score, i) => ({ label: labels[i], score }));
      if (legacy) return all;
      const sorted = rankDesc(s).map((i) => all[i]);
      return topK === null ? sorted : sorted.slice(0, topK);
    });
    const result = Array.isArray(inputs) ? answers : answers[0];
    return typeof inputs === "string" && legacyCall ? [result] : result;
  };

  const scores = async (
    inputs: readonly (string | readonly [string, string])[],
    options: { function_to_apply?: string | null; truncation?: boolean; batch_size?: number } = {},
  ): Promise<Float64Array[]> => {
    const o = checkOptions("text-classification scores", options, [
      "function_to_apply",
      "truncation",
      "batch_size",
    ]);
    if (!Array.isArray(inputs))
      throw new PipelineError(
        "scores() takes a list of texts or [text, text_pair] pairs",
        "TypeError",
      );
    const tk = o.truncation === undefined ? {} : { truncation: o.truncation };
    return scoresOf(inputs, functionOf(o.function_to_apply), tk, batchOpt(o, batchSize));
  };

  return disposable("text-classification", run, model, {
    task: "text-classification" as const,
    model,
    tokenizer,
    scores,
    labels,
  });
}
