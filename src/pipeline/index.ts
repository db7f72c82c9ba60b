// pipeline(task, model, options): transformers.js' / HF's entry point to the task pipelines, each
// built from a model folder (config.json chooses and checks the head, the tokenizer comes from the
// same folder) and answering as transformers 4.30.2's pipeline classes do.
//
//   const unmasker = await pipeline("fill-mask", "path/to/model");
//   const classify = await pipeline("sentiment-analysis", "path/to/model");
//   const ner = await pipeline("ner", "path/to/model", { offsets: true });
//   const qa = await pipeline("question-answering", "path/to/model");
//   const zs = await pipeline("zero-shot-classification", "path/to/model");
//   const extract = await pipeline("feature-extraction", "path/to/model");
import { DEFAULT_MODELS } from "../loading/hub.js";
import type { ModelSource } from "../loading/source.js";
import {
  pipeline as featureExtraction,
  type FeatureExtractionPipeline,
  type PipelineOptions,
} from "./feature_extraction.js";
import { PipelineError, type TaskPipelineOptions } from "./common.js";
import { fillMaskPipeline, type FillMaskPipeline } from "./fill_mask.js";
import {
  textClassificationPipeline,
  type TextClassificationPipeline,
} from "./text_classification.js";
import {
  tokenClassificationPipeline,
  type TokenClassificationPipeline,
} from "./token_classification.js";
import { questionAnsweringPipeline, type QuestionAnsweringPipeline } from "./question_answering.js";
import { zeroShotPipeline, type ZeroShotPipeline } from "./zero_shot.js";

/** Task names and their aliases (HF's), to the task. */
export const TASK_ALIASES: Record<string, string> = {
  "feature-extraction": "feature-extraction",
  embeddings: "feature-extraction",
  "fill-mask": "fill-mask",
  "text-classification": "text-classification",
  "sentiment-analysis": "text-classification",
  "token-classification": "token-classification",
  ner: "token-classification",
  "question-answering": "question-answering",
  "zero-shot-classification": "zero-shot-classification",
};

export type AnyPipeline =
  | FeatureExtractionPipeline
  | FillMaskPipeline
  | TextClassificationPipeline
  | TokenClassificationPipeline
  | QuestionAnsweringPipeline
  | ZeroShotPipeline;

export function pipeline(
  task: "feature-extraction" | "embeddings",
  model?: ModelSource | null,
  options?: PipelineOptions,
): Promise<FeatureExtractionPipeline>;
export function pipeline(
  task: "fill-mask",
  model: ModelSource,
  options?: TaskPipelineOptions,
): Promise<FillMaskPipeline>;
export function pipeline(
  task: "text-classification" | "sentiment-analysis",
  model: ModelSource,
  options?: TaskPipelineOptions,
): Promise<TextClassificationPipeline>;
export function pipeline(
  task: "token-classification" | "ner",
  model: ModelSource,
  options?: TaskPipelineOptions,
): Promise<TokenClassificationPipeline>;
export function pipeline(
  task: "question-answering",
  model: ModelSource,
  options?: TaskPipelineOptions,
): Promise<QuestionAnsweringPipeline>;
export function pipeline(
  task: "zero-shot-classification",
  model: ModelSource,
  options?: TaskPipelineOptions,
): Promise<ZeroShotPipeline>;
export function pipeline(
  task: string,
  model?: ModelSource | null,
  options?: TaskPipelineOptions | PipelineOptions,
): Promise<AnyPipeline>;
export async function pipeline(
  task: string,
  model?: ModelSource | null,
  options: TaskPipelineOptions | PipelineOptions = {},
): Promise<AnyPipeline> {
  const name = typeof task === "string" ? TASK_ALIASES[task] : undefined;
  if (!name || !Object.prototype.hasOwnProperty.call(TASK_ALIASES, task)) {
    throw new PipelineError(
      `unknown pipeline task ${JSON.stringify(task)} (known: ${Object.keys(TASK_ALIASES).join(", ")})`,
      "KeyError",
    );
  }
  const o = (options ?? {}) as TaskPipelineOptions;
  // no model: the task's default hub model, as transformers.js picks one
  if (model === undefined || model === null) model = DEFAULT_MODELS[name];
  switch (name) {
    case "feature-extraction":
      return featureExtraction(name, model, options as PipelineOptions);
    case "fill-mask":
      return fillMaskPipeline(model, o);
    case "text-classification":
      return textClassificationPipeline(model, o);
    case "token-classification":
      return tokenClassificationPipeline(model, o);
    case "question-answering":
      return questionAnsweringPipeline(model, o);
    default:
      return zeroShotPipeline(model, o);
  }
}

export { PipelineError, type TaskPipelineOptions } from "./common.js";
export type {
  FillMaskPipeline,
  FillMaskOptions,
  FillMaskCandidate,
  FillMaskResult,
} from "./fill_mask.js";
export type {
  TextClassificationPipeline,
  TextClassificationOptions,
  TextClassificationInput,
  LabelScore,
} from "./text_classification.js";
export type {
  TokenClassificationPipeline,
  TokenClassificationOptions,
  TokenEntity,
  EntityGroup,
  AggregationStrategy,
} from "./token_classification.js";
export type {
  QuestionAnsweringPipeline,
  QuestionAnsweringOptions,
  QAInput,
  QAAnswer,
} from "./question_answering.js";
export type { ZeroShotPipeline, ZeroShotOptions, ZeroShotResult } from "./zero_shot.js";
