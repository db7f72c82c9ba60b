// HF's ModelOutput: an ordered record whose absent (None) fields are skipped when it is indexed by
// position or slice, iterated, or turned into a tuple; fields are also reachable by name.
//
//   out.last_hidden_state, out.get("pooler_output"), out[0], out.at(-1), out.slice(0, 2),
//   out.keys(), out.toTuple(), out.length
import type { Tensor } from "../tensor.js";

export type OutputValue = Tensor | OutputValue[] | null | undefined;

export class ModelOutput {
  /** Field names in HF's declaration order. */
  static readonly fields: readonly string[] = [];
  [index: number]: OutputValue;

  constructor(values: Record<string, OutputValue>) {
    const ctor = this.constructor as typeof ModelOutput;
    for (const k of Object.keys(values)) {
      if (!ctor.fields.includes(k)) throw new Error(`${ctor.name} has no field "${k}"`);
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
    if (!ctor.fields.includes(name)) throw new Error(`${ctor.name} has no field "${name}"`);
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

function outputClass(name: string, fields: string[]) {
  const C = class extends ModelOutput {
    static override readonly fields = fields;
  };
  Object.defineProperty(C, "name", { value: name });
  return C;
}

export interface BaseModelOutputWithPoolingAndCrossAttentions extends ModelOutput {
  readonly last_hidden_state: Tensor;
  readonly pooler_output: Tensor | null;
  readonly hidden_states: Tensor[] | null;
  readonly past_key_values: Tensor[][] | null;
  readonly attentions: Tensor[] | null;
  readonly cross_attentions: OutputValue[] | null;
}
export const BaseModelOutputWithPoolingAndCrossAttentions = outputClass(
  "BaseModelOutputWithPoolingAndCrossAttentions",
  [
    "last_hidden_state",
    "pooler_output",
    "hidden_states",
    "past_key_values",
    "attentions",
    "cross_attentions",
  ],
) as unknown as new (
  v: Record<string, OutputValue>,
) => BaseModelOutputWithPoolingAndCrossAttentions;

export const MaskedLMOutput = outputClass("MaskedLMOutput", [
  "loss",
  "logits",
  "hidden_states",
  "attentions",
]);
export const CausalLMOutputWithCrossAttentions = outputClass("CausalLMOutputWithCrossAttentions", [
  "loss",
  "logits",
  "past_key_values",
  "hidden_states",
  "attentions",
  "cross_attentions",
]);
export const BertForPreTrainingOutput = outputClass("BertForPreTrainingOutput", [
  "loss",
  "prediction_logits",
  "seq_relationship_logits",
  "hidden_states",
  "attentions",
]);
export const NextSentencePredictorOutput = outputClass("NextSentencePredictorOutput", [
  "loss",
  "logits",
  "hidden_states",
  "attentions",
]);
export const SequenceClassifierOutput = outputClass("SequenceClassifierOutput", [
  "loss",
  "logits",
  "hidden_states",
  "attentions",
]);
export const MultipleChoiceModelOutput = outputClass("MultipleChoiceModelOutput", [
  "loss",
  "logits",
  "hidden_states",
  "attentions",
]);
export const TokenClassifierOutput = outputClass("TokenClassifierOutput", [
  "loss",
  "logits",
  "hidden_states",
  "attentions",
]);
export const QuestionAnsweringModelOutput = outputClass("QuestionAnsweringModelOutput", [
  "loss",
  "start_logits",
  "end_logits",
  "hidden_states",
  "attentions",
]);

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
