// HF's ModelOutput: an ordered record whose absent (None) fields are skipped when it is indexed by
// position or slice, iterated, or turned into a tuple; fields are also reachable by name.
//
//   out.last_hidden_state, out.get("pooler_output"), out[0], out.at(-1), out.slice(0, 2),
//   out.keys(), out.toTuple(), out.length
import type { Tensor } from "../tensor.js";
import { InputError } from "../errors.js";

export type OutputValue = Tensor | OutputValue[] | null | undefined;

export class ModelOutput {
  /** Field names in HF's declaration order. */
  static readonly fields: readonly string[] = [];
  [index: number]: OutputValue;

  constructor(values: Record<string, OutputValue>) {
    const ctor = this.constructor as typeof ModelOutput;
    for (const k of Object.keys(values)) {
      if (!ctor.fields.includes(k)) throw new InputError(`${ctor.name} has no field "${k}"`);
    }
    for (const k of ctor.fields) {
      Object.defineProperty(this, k, {
        value: values[k] ?? null,
        enumerable: true,
        writable: false,
      });
    }
    this.keys().forEach((k, i) => {
      Object.defineProperty(this, i, { get: () => this.get(k), enumerable: false });
    });
  }

  /** Names of the present (non-null) fields, in order. */
  keys(): string[] {
    const ctor = this.constructor as typeof ModelOutput;
    return ctor.fields.filter((k) => (this as unknown as Record<string, OutputValue>)[k] != null);
  }
  values(): OutputValue[] {
    return this.keys().map((k) => this.get(k));
  }
  items(): [string, OutputValue][] {
    return this.keys().map((k) => [k, this.get(k)]);
  }
  get(name: string): OutputValue {
    const ctor = this.constructor as typeof ModelOutput;
    if (!ctor.fields.includes(name)) throw new InputError(`${ctor.name} has no field "${name}"`);
    return (this as unknown as Record<string, OutputValue>)[name];
  }
  has(name: string): boolean {
    return this.keys().includes(name);
  }
  get length(): number {
    return this.keys().length;
  }
  /** Python-style index (negative counts from the end). */
  at(i: number): OutputValue {
    return this.values().at(i);
  }
  /** Python-style slice of the present fields. */
  slice(start?: number, end?: number): OutputValue[] {
    return this.values().slice(start, end);
  }
  /** HF's to_tuple(): the present fields in order. */
  toTuple(): OutputValue[] {
    return this.values();
  }
  [Symbol.iterator](): Iterator<OutputValue> {
    return this.values()[Symbol.iterator]();
  }
}

/** A ModelOutput subclass: constructed from its fields by name, `fields` in HF's order. */
export interface OutputClass<T extends ModelOutput> {
  new (values: Record<string, OutputValue>): T;
  readonly fields: readonly string[];
  readonly prototype: T;
}

function outputClass<T extends ModelOutput>(name: string, fields: string[]): OutputClass<T> {
  const C = class extends ModelOutput {
    static override readonly fields = fields;
  };
  Object.defineProperty(C, "name", { value: name });
  return C as unknown as OutputClass<T>;
}

type F32 = Tensor<"float32">;

/** The fields every task model's output ends with. */
interface EncoderFields {
  /** the embeddings' output and every layer's, [batch, seq, hidden] (output_hidden_states) */
  readonly hidden_states: F32[] | null;
  /** every layer's attention probabilities, [batch, heads, seq, keys] (output_attentions) */
  readonly attentions: F32[] | null;
}

/** What a decoder adds: its key/value cache and the cross-attention probabilities. */
interface DecoderFields {
  /** per layer [self key, self value(, cross key, cross value)], each [batch, heads, len, head_dim] */
  readonly past_key_values: F32[][] | null;
  /** per layer [batch, heads, seq, enc_seq] (HF 4.30.2 puts a layer's (key, value) here when a decoder with cross-attention layers runs without encoder states) */
  readonly cross_attentions: (F32 | F32[])[] | null;
}

export interface BaseModelOutputWithPoolingAndCrossAttentions
  extends ModelOutput, EncoderFields, DecoderFields {
  /** [batch, seq, hidden] */
  readonly last_hidden_state: F32;
  /** [batch, hidden]: tanh(dense(first token)); null without a pooler */
  readonly pooler_output: F32 | null;
}
export const BaseModelOutputWithPoolingAndCrossAttentions =
  outputClass<BaseModelOutputWithPoolingAndCrossAttentions>(
    "BaseModelOutputWithPoolingAndCrossAttentions",
    [
      "last_hidden_state",
      "pooler_output",
      "hidden_states",
      "past_key_values",
      "attentions",
      "cross_attentions",
    ],
  );

/** loss (when labels are given) and logits: the fields of most task outputs. */
interface LogitsFields extends EncoderFields {
  /** scalar [] loss, when labels were given */
  readonly loss: F32 | null;
  readonly logits: F32;
}

/** BertForMaskedLM: logits [batch, seq, vocab]. */
export interface MaskedLMOutput extends ModelOutput, LogitsFields {}
export const MaskedLMOutput = outputClass<MaskedLMOutput>("MaskedLMOutput", [
  "loss",
  "logits",
  "hidden_states",
  "attentions",
]);

/** BertLMHeadModel: logits [batch, seq, vocab], the cache and cross attentions. */
export interface CausalLMOutputWithCrossAttentions
  extends ModelOutput, LogitsFields, DecoderFields {}
export const CausalLMOutputWithCrossAttentions = outputClass<CausalLMOutputWithCrossAttentions>(
  "CausalLMOutputWithCrossAttentions",
  ["loss", "logits", "past_key_values", "hidden_states", "attentions", "cross_attentions"],
);

/** BertForPreTraining: MLM logits [batch, seq, vocab] and NSP logits [batch, 2]. */
export interface BertForPreTrainingOutput extends ModelOutput, EncoderFields {
  readonly loss: F32 | null;
  readonly prediction_logits: F32;
  readonly seq_relationship_logits: F32;
}
export const BertForPreTrainingOutput = outputClass<BertForPreTrainingOutput>(
  "BertForPreTrainingOutput",
  ["loss", "prediction_logits", "seq_relationship_logits", "hidden_states", "attentions"],
);

/** BertForNextSentencePrediction: logits [batch, 2]. */
export interface NextSentencePredictorOutput extends ModelOutput, LogitsFields {}
export const NextSentencePredictorOutput = outputClass<NextSentencePredictorOutput>(
  "NextSentencePredictorOutput",
  ["loss", "logits", "hidden_states", "attentions"],
);

/** BertForSequenceClassification: logits [batch, num_labels]. */
export interface SequenceClassifierOutput extends ModelOutput, LogitsFields {}
export const SequenceClassifierOutput = outputClass<SequenceClassifierOutput>(
  "SequenceClassifierOutput",
  ["loss", "logits", "hidden_states", "attentions"],
);

/** BertForMultipleChoice: logits [batch, num_choices]. */
export interface MultipleChoiceModelOutput extends ModelOutput, LogitsFields {}
export const MultipleChoiceModelOutput = outputClass<MultipleChoiceModelOutput>(
  "MultipleChoiceModelOutput",
  ["loss", "logits", "hidden_states", "attentions"],
);

/** BertForTokenClassification: logits [batch, seq, num_labels]. */
export interface TokenClassifierOutput extends ModelOutput, LogitsFields {}
export const TokenClassifierOutput = outputClass<TokenClassifierOutput>("TokenClassifierOutput", [
  "loss",
  "logits",
  "hidden_states",
  "attentions",
]);

/** BertForQuestionAnswering: start and end logits, [batch, seq] each. */
export interface QuestionAnsweringModelOutput extends ModelOutput, EncoderFields {
  readonly loss: F32 | null;
  readonly start_logits: F32;
  readonly end_logits: F32;
}
export const QuestionAnsweringModelOutput = outputClass<QuestionAnsweringModelOutput>(
  "QuestionAnsweringModelOutput",
  ["loss", "start_logits", "end_logits", "hidden_states", "attentions"],
);

/**
 * Flattens an output (or a return_dict=false tuple, as "tuple.i") into name -> tensor, the way
 * ../shared/fixtures/bert/README.md names them: fields by name, tuple entries by dotted index,
 * absent (null) entries skipped but counted.
 */
export function flattenOutputs(out: ModelOutput | OutputValue[]): Map<string, Tensor> {
  const res = new Map<string, Tensor>();
  const walk = (v: OutputValue, name: string) => {
    if (v == null) return;
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${name}.${i}`));
    else res.set(name, v);
  };
  if (out instanceof ModelOutput) for (const [k, v] of out.items()) walk(v, k);
  else out.forEach((v, i) => walk(v, `tuple.${i}`));
  return res;
}
