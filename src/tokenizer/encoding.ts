// What encode_plus / batch_encode_plus return: HF's BatchEncoding fields as nested arrays, or, with
// return_tensors (or toTensors()), int64 Tensors ready for BertModel.forward.
import { Tensor } from "../tensor.js";
import { TokenizerError } from "./errors.js";

/** Any of HF's tensor types ("pt", "np", "tf", "jax") gives an int64 simdbert Tensor. */
export type ReturnTensors = "pt" | "np" | "tf" | "jax" | "simdbert" | true;

/** The tensor fields of an encoding. */
export const TENSOR_KEYS = [
  "input_ids",
  "token_type_ids",
  "attention_mask",
  "special_tokens_mask",
] as const;

export interface TensorEncoding {
  input_ids: Tensor;
  token_type_ids?: Tensor;
  attention_mask?: Tensor;
  special_tokens_mask?: Tensor;
  overflowing_tokens?: number[] | number[][];
  num_truncated_tokens?: number | number[];
  length?: number | number[];
}

/**
 * One encoding (T = number[]) or a batch (T = number[][]). Only the fields HF would return are own
 * properties, so the object can be passed to BertModel.forward as it is.
 */
export class BatchEncoding<T extends number[] | number[][] = number[]> {
  declare input_ids: T;
  declare token_type_ids?: T;
  declare attention_mask?: T;
  declare special_tokens_mask?: T;
  declare overflowing_tokens?: T;
  declare num_truncated_tokens?: T extends number[][] ? number[] : number;
  declare length?: T extends number[][] ? number[] : number;

  constructor(data: Record<string, unknown>) {
    Object.assign(this, data);
  }

  /** The fields as a plain object (HF's dict). */
  toJSON(): Record<string, unknown> {
    return { ...(this as object) } as Record<string, unknown>;
  }

  /**
   * input_ids, token_type_ids, attention_mask (and special_tokens_mask) as int64 Tensors of shape
   * [batch, seq]; a single encoding gets a batch axis of 1, as with HF's return_tensors="pt".
   * Other fields are kept as they are.
   */
  toTensors(): TensorEncoding {
    return toTensors(this as unknown as Record<string, unknown>);
  }
}

export function toTensors(enc: Record<string, unknown>): TensorEncoding {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(enc)) {
    out[k] = (TENSOR_KEYS as readonly string[]).includes(k)
      ? int64Tensor(k, v as number[] | number[][])
      : v;
  }
  return out as unknown as TensorEncoding;
}

function int64Tensor(name: string, v: number[] | number[][]): Tensor {
  const rows = v.length > 0 && Array.isArray(v[0]) ? (v as number[][]) : [v as number[]];
  const width = rows.length ? rows[0].length : 0;
  for (const r of rows) {
    if (r.length !== width) {
      throw new TokenizerError(
        `Unable to create tensor for ${name}: the sequences have different lengths (${width} and ${r.length}); ` +
          "activate truncation and/or padding with 'padding=True' 'truncation=True' to have batched tensors with the same length.",
      );
    }
  }
  const data = new BigInt64Array(rows.length * width);
  let i = 0;
  for (const r of rows) for (const x of r) data[i++] = BigInt(x);
  return new Tensor("int64", data, [rows.length, width]);
}
