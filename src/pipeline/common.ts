// What the task pipelines share: loading a task model (its head chosen from config.json) and the
// tokenizer from one folder, checking a call's options by name, running encodings through the
// model in padded batches, and the small numeric helpers of HF's postprocessing (softmax as numpy
// computes it: max-subtracted, in float64 here).
import { modelFiles, readJson, type ModelSource } from "../loading/source.js";
import { MODEL_CLASSES } from "../models/auto.js";
import type { FromPretrainedOptions } from "../models/bert/modeling_bert.js";
import type { BertConfig } from "../config.js";
import { BertTokenizer, type BertTokenizerOptions } from "../tokenizer/bert_tokenizer.js";
import { TokenizerError } from "../tokenizer/errors.js";
import { InputError } from "../models/inputs.js";
import type { Tensor } from "../tensor.js";
import { checkOptionNames, FROM_PRETRAINED_OPTIONS } from "../options.js";

/**
 * A request a pipeline refuses. `pyType` names the exception HF's Python pipeline raises for the
 * same request (ValueError, KeyError, TypeError, PipelineException, RuntimeError).
 */
export class PipelineError extends InputError {
  override name = "PipelineError";
  readonly pyType: string;
  constructor(message: string, pyType = "ValueError") {
    super(message);
    this.pyType = pyType;
  }
}

/** Options of every task pipeline's factory (beside the model loading options). */
export interface TaskPipelineOptions extends FromPretrainedOptions {
  /** Tokenizer options, as from_pretrained kwargs (override tokenizer_config.json). */
  tokenizer?: BertTokenizerOptions;
  /**
   * Sequences per forward (HF's batch_size). Several inputs, zero-shot's hypothesis pairs and QA's
   * windows of one length then run as one batch, which gives the bits of batch size 1. Default 8.
   */
  batch_size?: number;
  /**
   * Token classification: behave as HF does with a fast tokenizer: character offsets give
   * `start` / `end`, the text's own characters for [UNK], and the word aggregations "first",
   * "average", "max". Default false: HF's slow BertTokenizer, whose answers the reference checks.
   */
  offsets?: boolean;
}

export interface ForwardModel {
  readonly config: BertConfig;
  forward(inputs: Record<string, unknown>): Promise<unknown>;
  dispose(): Promise<void>;
}

/** What every pipeline has besides its call: transformers.js' dispose(). */
export interface DisposablePipeline {
  /** Frees the model: later calls are refused with a PipelineError (transformers.js' dispose()). */
  dispose(): Promise<void>;
  /** Whether dispose() was called. */
  readonly disposed: boolean;
}

/** The model classes that can carry each task's head (HF's AutoModelFor... mapping for BERT). */
export const TASK_HEADS: Record<string, { load: string; fits: string[] }> = {
  "fill-mask": {
    load: "BertForMaskedLM",
    fits: ["BertForMaskedLM", "BertForPreTraining", "BertLMHeadModel"],
  },
  "text-classification": {
    load: "BertForSequenceClassification",
    fits: ["BertForSequenceClassification"],
  },
  "token-classification": {
    load: "BertForTokenClassification",
    fits: ["BertForTokenClassification"],
  },
  "question-answering": {
    load: "BertForQuestionAnswering",
    fits: ["BertForQuestionAnswering"],
  },
  "zero-shot-classification": {
    load: "BertForSequenceClassification",
    fits: ["BertForSequenceClassification"],
  },
};

export interface Loaded {
  model: ForwardModel;
  tokenizer: BertTokenizer;
  /** config.json as written (label2id in its own order, keys HF keeps as attributes) */
  rawConfig: Record<string, unknown>;
  batchSize: number;
}

/** Loads the task's model class (checked against config.architectures) and the tokenizer. */
export async function loadTask(
  task: string,
  source: ModelSource,
  options: TaskPipelineOptions,
): Promise<Loaded> {
  const head = TASK_HEADS[task];
  checkOptionNames(`pipeline("${task}")`, options, [
    "tokenizer",
    "batch_size",
    "offsets",
    ...FROM_PRETRAINED_OPTIONS,
  ]);
  const files = modelFiles(source, options);
  const rawConfig = ((await readJson(files, "config.json")) ?? {}) as Record<string, unknown>;
  const archs = Array.isArray(rawConfig.architectures)
    ? (rawConfig.architectures as unknown[]).filter((a): a is string => typeof a === "string")
    : [];
  if (archs.length && !archs.some((a) => head.fits.includes(a))) {
    throw new PipelineError(
      `the model is a ${archs.join(" / ")}, which has no head for "${task}" (it needs ${head.fits.join(" or ")})`,
    );
  }
  const batchSize = options.batch_size ?? 8;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new PipelineError(`batch_size must be a positive integer, got ${String(batchSize)}`);
  const { tokenizer: tokOptions, batch_size: _b, offsets: _o, ...modelOptions } = options;
  const cls = MODEL_CLASSES[head.load];
  const [model, tokenizer] = await Promise.all([
    cls.fromPretrained(files, modelOptions) as Promise<ForwardModel>,
    BertTokenizer.fromPretrained(files, tokOptions ?? {}),
  ]);
  return { model, tokenizer, rawConfig, batchSize };
}

/** Rejects options this call does not take (HF would pass them on or raise TypeError). */
export function checkOptions(
  task: string,
  options: unknown,
  allowed: readonly string[],
): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options))
    throw new PipelineError(`${task}: options must be an object`, "TypeError");
  const o = options as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length) {
    throw new PipelineError(
      `${task}: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => JSON.stringify(k)).join(", ")} (known: ${allowed.join(", ")})`,
      "TypeError",
    );
  }
  return o;
}

/** An integer option (null / undefined: absent). */
export function intOpt(name: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "boolean" || typeof v !== "number" || !Number.isSafeInteger(v))
    throw new PipelineError(`${name} must be an integer, got ${JSON.stringify(v)}`, "TypeError");
  return v;
}

/** Python truthiness of a JSON-ish option. */
export function pyTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "string") return v.length > 0;
  if (v && typeof v === "object") return Object.keys(v).length > 0;
  return !!v;
}

/** One encoded sequence, ready for the model. */
export interface Encoded {
  input_ids: number[];
  token_type_ids?: number[];
  attention_mask?: number[];
}

/**
 * Runs the encodings through the model, up to `batchSize` at a time, and returns each output
 * field per encoding: [len, ...rest] flattened (or [...rest] for pooled outputs). A batch only
 * holds sequences of one length: padding would change the attention's sums (masked keys still
 * take part in the reductions' order), while rows of one length give the bits of batch size 1.
 */
export async function forwardEach(
  model: ForwardModel,
  encs: readonly Encoded[],
  fields: readonly string[],
  batchSize: number,
  padId: number,
): Promise<Float32Array[][]> {
  const out: Float32Array[][] = encs.map(() => []);
  const maxPos = model.config.max_position_embeddings;
  // HF runs each input alone: a sequence over the model's positions fails, whatever the batch
  const tooLong = encs.find((e) => e.input_ids.length > maxPos);
  if (tooLong) {
    throw new PipelineError(
      `the sequence has ${tooLong.input_ids.length} tokens, more than the model's ${maxPos} positions (max_position_embeddings); ask for truncation or shorten the text`,
      "RuntimeError",
    );
  }
  // batches of equal length, in order of first appearance
  const byLength = new Map<number, number[]>();
  encs.forEach((e, i) => {
    const group = byLength.get(e.input_ids.length);
    if (group) group.push(i);
    else byLength.set(e.input_ids.length, [i]);
  });
  for (const [S, members] of byLength) {
    for (let start = 0; start < members.length; start += batchSize) {
      const idx = members.slice(start, start + batchSize);
      const B = idx.length;
      const ids = new Int32Array(B * S).fill(padId);
      const types = new Int32Array(B * S);
      const mask = new Int32Array(B * S);
      idx.forEach((i, r) => {
        const e = encs[i];
        ids.set(e.input_ids, r * S);
        if (e.token_type_ids) types.set(e.token_type_ids, r * S);
        if (e.attention_mask) mask.set(e.attention_mask, r * S);
        else mask.fill(1, r * S, r * S + S);
      });
      const shape = [B, S];
      const res = (await model.forward({
        input_ids: { data: ids, shape },
        token_type_ids: { data: types, shape },
        attention_mask: { data: mask, shape },
      })) as unknown as Record<string, Tensor>;
      for (const f of fields) {
        const data = res[f].data as Float32Array;
        const per = data.length / B;
        idx.forEach((i, r) => out[i].push(data.slice(r * per, (r + 1) * per)));
      }
    }
  }
  return out;
}

/** softmax of x[off, off + n) in float64, max-subtracted (numpy's and torch's way). */
export function softmax(x: ArrayLike<number>, off = 0, n = x.length - off): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (x[off + i] > m) m = x[off + i];
  const out = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) s += out[i] = Math.exp(x[off + i] - m);
  for (let i = 0; i < n; i++) out[i] /= s;
  return out;
}

/** Indices sorted by score, best first; ties keep index order. */
export function rankDesc(scores: ArrayLike<number>): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  return idx.sort((a, b) => scores[b] - scores[a] || a - b);
}

/** Index of the largest value (the first of equals, as numpy's argmax). */
export function argmax(x: ArrayLike<number>, off = 0, n = x.length - off): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
  return best;
}

/** Re-throws a tokenizer's refusal as a PipelineError of the same Python type. */
export function asPipelineError(e: unknown): unknown {
  if (e instanceof TokenizerError) return new PipelineError(e.message, e.pyType);
  return e;
}

/** The pipeline's batch size for this call (an option `batch_size` overrides the pipeline's). */
export function batchOpt(o: Record<string, unknown>, dflt: number): number {
  const b = intOpt("batch_size", o.batch_size);
  if (b === null) return dflt;
  if (b < 1) throw new PipelineError(`batch_size must be >= 1, got ${b}`);
  return b;
}

/** A pipeline function with its properties, dispose() and disposed. */
export type Disposable<F, P> = F &
  Readonly<P> & {
    /** Frees the model: later calls are refused with a PipelineError (transformers.js' dispose()). */
    dispose(): Promise<void>;
    readonly disposed: boolean;
  };

/**
 * The pipeline function `run` with `props` and dispose(): dispose refuses later calls (a
 * PipelineError naming the task), disposes the model (its engine's threads stop once the calls
 * already queued have run) and drops the pipeline's references to the model, the tokenizer and
 * `run`, so that their memory can be collected. Reading a property after dispose is a
 * PipelineError too.
 */
export function disposable<A extends unknown[], R, P extends object>(
  task: string,
  run: (...args: A) => Promise<R>,
  model: { dispose(): Promise<void> },
  props: P,
): Disposable<(...args: A) => Promise<R>, P> {
  let live: {
    run: (...args: A) => Promise<R>;
    model: { dispose(): Promise<void> };
    props: P;
  } | null = { run, model, props };
  const gone = () =>
    new PipelineError(`the ${task} pipeline was disposed (dispose()); create it again to use it`);
  const call = (...args: A): Promise<R> => (live ? live.run(...args) : Promise.reject(gone()));
  for (const k of Object.keys(props))
    Object.defineProperty(call, k, {
      enumerable: true,
      get: () => {
        if (!live) throw gone();
        return (live.props as Record<string, unknown>)[k];
      },
    });
  Object.defineProperty(call, "disposed", { enumerable: true, get: () => live === null });
  Object.defineProperty(call, "dispose", {
    value: async (): Promise<void> => {
      if (!live) return;
      const m = live.model;
      live = null;
      await m.dispose();
    },
  });
  return call as Disposable<(...args: A) => Promise<R>, P>;
}
