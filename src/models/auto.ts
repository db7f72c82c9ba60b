// Model classes by HF name, and AutoModel-style dispatch on config.architectures.
import { BertModel, type FromPretrainedOptions } from "./bert/modeling_bert.js";
import {
  BertForMaskedLM,
  BertForMultipleChoice,
  BertForNextSentencePrediction,
  BertForPreTraining,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertLMHeadModel,
} from "./bert/heads.js";
import { modelFiles, readJson, type ModelSource } from "../loading/source.js";
import { ConfigError } from "../errors.js";
import { quote } from "../messages.js";

export interface Forwardable {
  forward(inputs: Record<string, unknown>): Promise<unknown>;
}

interface ModelClass {
  fromPretrained(source: ModelSource, options?: FromPretrainedOptions): Promise<unknown>;
}

export const MODEL_CLASSES: Record<string, ModelClass> = {
  BertModel,
  BertForPreTraining,
  BertLMHeadModel,
  BertForMaskedLM,
  BertForNextSentencePrediction,
  BertForSequenceClassification,
  BertForMultipleChoice,
  BertForTokenClassification,
  BertForQuestionAnswering,
};

/** Loads `name` (a transformers class name) with HF constructor kwargs such as add_pooling_layer. */
export async function loadModelClass(
  name: string,
  source: ModelSource,
  initKwargs: Record<string, unknown> = {},
  options: FromPretrainedOptions = {},
): Promise<Forwardable> {
  if (typeof name !== "string")
    throw new ConfigError(
      `model_class must be a transformers class name (a string such as "BertModel"), got ${typeof name === "object" ? JSON.stringify(name)?.slice(0, 40) : String(name).slice(0, 40)}`,
    );
  const cls = Object.prototype.hasOwnProperty.call(MODEL_CLASSES, name)
    ? MODEL_CLASSES[name]
    : undefined;
  if (!cls)
    throw new ConfigError(
      `unknown model_class ${quote(name)} (known: ${Object.keys(MODEL_CLASSES).join(", ")})`,
    );
  const opts: FromPretrainedOptions = { ...options };
  for (const [k, v] of Object.entries(initKwargs)) {
    if (k === "add_pooling_layer" && name === "BertModel") opts.addPoolingLayer = v as boolean;
    else throw new ConfigError(`model_init_kwargs: ${name} takes no argument ${quote(k)} here`);
  }
  return (await cls.fromPretrained(source, opts)) as Forwardable;
}

/**
 * AutoModel-style loading: the class named first in config.architectures when simdbert has it,
 * else BertModel (a task checkpoint then loads as its encoder).
 */
export async function autoModel(
  source: ModelSource,
  options: FromPretrainedOptions = {},
): Promise<Forwardable> {
  const files = modelFiles(source, options);
  const config = await readJson(files, "config.json");
  const arch = Array.isArray(config?.architectures)
    ? (config!.architectures as unknown[]).find(
        // own names only: "toString" or "constructor" are not model classes
        (a) => typeof a === "string" && Object.prototype.hasOwnProperty.call(MODEL_CLASSES, a),
      )
    : undefined;
  return loadModelClass((arch as string) ?? "BertModel", files, {}, options);
}
