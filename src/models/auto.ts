// Model classes by HF name, and AutoModel-style dispatch on config.architectures.
import { BertModel, type FromPretrainedOptions } from "./bert/modeling_bert.js";
import type { ModelSource } from "../loading/source.js";

export interface Forwardable {
  forward(inputs: Record<string, unknown>): Promise<unknown>;
}

type Loader = (source: ModelSource, options: FromPretrainedOptions) => Promise<Forwardable>;

export const MODEL_CLASSES: Record<string, Loader> = {
  BertModel: (s, o) => BertModel.fromPretrained(s, o) as Promise<Forwardable>,
};

/** Loads `name` (a transformers class name) with HF constructor kwargs such as add_pooling_layer. */
export async function loadModelClass(name: string, source: ModelSource, initKwargs: Record<string, unknown> = {}): Promise<Forwardable> {
  const loader = Object.prototype.hasOwnProperty.call(MODEL_CLASSES, name) ? MODEL_CLASSES[name] : undefined;
  if (!loader) throw new Error(`unknown model_class "${name}" (known: ${Object.keys(MODEL_CLASSES).join(", ")})`);
  const options: FromPretrainedOptions = {};
  for (const [k, v] of Object.entries(initKwargs)) {
    if (k === "add_pooling_layer") options.addPoolingLayer = v as boolean;
    else throw new Error(`model_init_kwargs: unsupported argument "${k}"`);
  }
  return loader(source, options);
}
