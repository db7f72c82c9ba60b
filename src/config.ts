// BertConfig with Hugging Face's defaults (transformers 4.30.2: configuration_bert.py plus the
// PretrainedConfig fields BERT reads). Unknown keys are kept, as HF keeps them.
import { ConfigError, brief } from "./errors.js";
import { ACT } from "./runtime/kernel_bindings.js";
export { ConfigError };

/** HF's hidden_act names (ACT2FN) -> the kernels' activation ids (assembly/activations.ts). */
export const ACTIVATIONS = {
  linear: ACT.LINEAR,
  gelu: ACT.GELU,
  gelu_python: ACT.GELU,
  gelu_new: ACT.GELU_TANH,
  gelu_pytorch_tanh: ACT.GELU_TANH,
  gelu_accurate: ACT.GELU_TANH,
  gelu_fast: ACT.GELU_FAST,
  gelu_10: ACT.GELU_10,
  quick_gelu: ACT.QUICK_GELU,
  relu: ACT.RELU,
  relu2: ACT.RELU2,
  relu6: ACT.RELU6,
  silu: ACT.SILU,
  swish: ACT.SILU,
  mish: ACT.MISH,
  sigmoid: ACT.SIGMOID,
  tanh: ACT.TANH,
  laplace: ACT.LAPLACE,
  leaky_relu: ACT.LEAKY_RELU,
} as const;
export type Activation = keyof typeof ACTIVATIONS;

export type PositionEmbeddingType = "absolute" | "relative_key" | "relative_key_query";

/** Most labels a config may declare (num_labels / id2label): building the maps is linear in it. */
const MAX_LABELS = 1 << 16;

const DEFAULTS = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: "gelu" as Activation,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0 as number | null,
  position_embedding_type: "absolute" as PositionEmbeddingType,
  use_cache: true,
  classifier_dropout: null as number | null,
  // PretrainedConfig
  is_decoder: false,
  add_cross_attention: false,
  output_attentions: false,
  output_hidden_states: false,
  return_dict: true,
  torchscript: false,
  chunk_size_feed_forward: 0,
  tie_word_embeddings: true,
  problem_type: null as
    null | "regression" | "single_label_classification" | "multi_label_classification",
  architectures: null as string[] | null,
  model_type: "bert",
};

type Defaults = typeof DEFAULTS;

// The class declares HF's defaults as typed fields through this merged interface.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface BertConfig extends Defaults {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class BertConfig {
  /** id -> label; its size is num_labels. */
  id2label: Record<string, string> = { "0": "LABEL_0", "1": "LABEL_1" };
  label2id: Record<string, number> = { LABEL_0: 0, LABEL_1: 1 };
  /** Every key of the JSON it was made from, including ones BERT does not read. */
  readonly extra: Record<string, unknown> = {};

  constructor(values: Partial<BertConfig> & Record<string, unknown> = {}) {
    if (values === null || typeof values !== "object" || Array.isArray(values))
      throw new ConfigError(`a config must be an object, got ${brief(values)}`);
    // a Map (or Set, Date...) has no own enumerable keys: it would silently be an empty config
    if (Object.prototype.toString.call(values) !== "[object Object]")
      throw new ConfigError(
        `a config must be a plain object of keys, got a ${Object.prototype.toString.call(values).slice(8, -1)}${values instanceof Map ? " (use Object.fromEntries(map))" : ""}`,
      );
    Object.assign(this, DEFAULTS);
    for (const [k, v] of Object.entries(values)) {
      if (k === "id2label" || k === "label2id" || k === "num_labels" || k === "extra") continue;
      // own keys only ("constructor" or "__proto__" in a config.json are just unknown keys)
      if (Object.prototype.hasOwnProperty.call(DEFAULTS, k))
        (this as Record<string, unknown>)[k] = v;
      else
        Object.defineProperty(this.extra, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    const id2label = values.id2label as unknown;
    if (id2label !== undefined && id2label !== null) {
      // HF reads it as {int(key): value}
      if (typeof id2label !== "object" || Array.isArray(id2label))
        throw new ConfigError(
          `config.id2label must be an object {id: label}, got ${brief(id2label)}`,
        );
      const entries = Object.entries(id2label);
      if (entries.length > MAX_LABELS)
        throw new ConfigError(
          `config.id2label has ${entries.length} labels, more than the ${MAX_LABELS} supported`,
        );
      this.id2label = {};
      for (const [k, v] of entries) {
        if (!/^\s*[+-]?\d+\s*$/.test(k))
          throw new ConfigError(`config.id2label: key ${brief(k)} is not an integer label id`);
        if (typeof v !== "string" && typeof v !== "number")
          throw new ConfigError(`config.id2label[${brief(k)}] must be a string, got ${brief(v)}`);
        this.id2label[String(Number(k))] = String(v);
      }
      this.label2id = Object.fromEntries(
        Object.entries(this.id2label).map(([k, v]) => [v, Number(k)]),
      );
    } else if (values.num_labels !== undefined) {
      this.num_labels = values.num_labels as number;
    }
    if (values.label2id && typeof values.label2id === "object" && !values.id2label) {
      this.label2id = { ...(values.label2id as Record<string, number>) };
    }
    // HF: layer_norm_eps etc. may come as strings in hand-written configs; numbers only here
    this.validate();
  }

  static fromJSON(json: string | Record<string, unknown>): BertConfig {
    let obj: unknown = json;
    if (typeof json === "string") {
      try {
        obj = JSON.parse(json);
      } catch (e) {
        throw new ConfigError(`config.json is not valid JSON: ${(e as Error).message}`);
      }
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj))
      throw new ConfigError("config.json must hold a JSON object");
    return new BertConfig(obj as Record<string, unknown>);
  }

  get num_labels(): number {
    return Object.keys(this.id2label).length;
  }
  set num_labels(n: number) {
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_LABELS)
      throw new ConfigError(`num_labels must be an integer in [1, ${MAX_LABELS}], got ${brief(n)}`);
    this.id2label = {};
    for (let i = 0; i < n; i++) this.id2label[String(i)] = `LABEL_${i}`;
    this.label2id = Object.fromEntries(
      Object.entries(this.id2label).map(([k, v]) => [v, Number(k)]),
    );
  }

  /** HF: return_dict and not torchscript. */
  get use_return_dict(): boolean {
    return this.return_dict && !this.torchscript;
  }

  get head_dim(): number {
    return this.hidden_size / this.num_attention_heads;
  }

  private validate(): void {
    // HF's BertConfig loads any config.json, but a RoBERTa (or other) checkpoint run as BERT gives
    // wrong numbers (RoBERTa's positions start after padding_idx): only "bert" (or no type) is read
    const type = this.model_type as unknown;
    if (type !== "bert" && type !== undefined && type !== null)
      throw new ConfigError(
        `config.model_type is ${brief(type)}: simdbert implements "bert" models only (a ${brief(type)} checkpoint would load with wrong numbers)`,
      );
    const posInt = (k: keyof Defaults, max = 1 << 24) => {
      const v = this[k] as unknown;
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1 || v > max) {
        throw new ConfigError(`config.${k} must be an integer in [1, ${max}], got ${brief(v)}`);
      }
    };
    posInt("vocab_size", 1 << 26);
    posInt("hidden_size", 1 << 16);
    posInt("num_hidden_layers", 4096);
    posInt("num_attention_heads", 4096);
    posInt("intermediate_size", 1 << 18);
    posInt("max_position_embeddings", 1 << 20);
    posInt("type_vocab_size", 1 << 20);
    if (this.hidden_size % this.num_attention_heads !== 0) {
      throw new ConfigError(
        `The hidden size (${this.hidden_size}) is not a multiple of the number of attention heads (${this.num_attention_heads})`,
      );
    }
    if (
      typeof this.hidden_act !== "string" ||
      !Object.prototype.hasOwnProperty.call(ACTIVATIONS, this.hidden_act)
    ) {
      throw new ConfigError(
        `config.hidden_act ${brief(this.hidden_act)} is not one of HF's ACT2FN names: ${Object.keys(ACTIVATIONS).join(", ")}`,
      );
    }
    if (
      !["absolute", "relative_key", "relative_key_query"].includes(
        this.position_embedding_type as string,
      )
    ) {
      throw new ConfigError(
        `config.position_embedding_type must be "absolute", "relative_key" or "relative_key_query", got ${brief(this.position_embedding_type)}`,
      );
    }
    const eps = this.layer_norm_eps as unknown;
    if (typeof eps !== "number" || !Number.isFinite(eps) || eps < 0) {
      throw new ConfigError(
        `config.layer_norm_eps must be a non-negative number, got ${brief(eps)}`,
      );
    }
    for (const k of [
      "is_decoder",
      "add_cross_attention",
      "output_attentions",
      "output_hidden_states",
      "return_dict",
      "use_cache",
      "torchscript",
    ] as const) {
      if (typeof this[k] !== "boolean")
        throw new ConfigError(`config.${k} must be true or false, got ${brief(this[k])}`);
    }
    const c = this.chunk_size_feed_forward as unknown;
    if (typeof c !== "number" || !Number.isSafeInteger(c) || c < 0) {
      throw new ConfigError(
        `config.chunk_size_feed_forward must be a non-negative integer, got ${brief(c)}`,
      );
    }
    const p = this.problem_type as unknown;
    if (
      p !== null &&
      p !== undefined &&
      p !== "regression" &&
      p !== "single_label_classification" &&
      p !== "multi_label_classification"
    ) {
      throw new ConfigError(
        `config.problem_type must be null, "regression", "single_label_classification" or "multi_label_classification", got ${brief(p)}`,
      );
    }
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.extra };
    for (const k of Object.keys(DEFAULTS)) out[k] = (this as Record<string, unknown>)[k];
    out.id2label = this.id2label;
    out.label2id = this.label2id;
    return out;
  }
}
