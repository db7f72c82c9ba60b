// The options of encode / encode_plus / batch_encode_plus / __call__ / decode (HF's names), and
// turning what a caller passes into what prepare.ts works with.
import { Tensor } from "../tensor.js";
import { OptionError, checkOptionNames } from "../options.js";
import { BatchEncoding, toTensors, type ReturnTensors, type TensorEncoding } from "./encoding.js";
import { TokenizerError } from "./errors.js";
import type { EncodedDict, PrepareOptions } from "./prepare.js";
import { intOption, pyRepr, truthy } from "./py.js";
import {
  resolveStrategies,
  type PaddingOption,
  type StrategyHost,
  type TruncationOption,
} from "./strategies.js";

/** A text, or pre-split words (is_split_into_words), or tokens, or ids. */
export type TextInput = string | readonly string[] | readonly number[];

export interface EncodeOptions {
  text_pair?: TextInput | null;
  add_special_tokens?: boolean;
  padding?: PaddingOption;
  truncation?: TruncationOption;
  max_length?: number | null;
  stride?: number;
  is_split_into_words?: boolean;
  pad_to_multiple_of?: number | null;
  return_tensors?: ReturnTensors | null;
  return_token_type_ids?: boolean | null;
  return_attention_mask?: boolean | null;
  return_overflowing_tokens?: boolean;
  return_special_tokens_mask?: boolean;
  return_offsets_mapping?: boolean;
  return_length?: boolean;
  verbose?: boolean;
  /**
   * transformers.js' name: true gives int64 Tensors (return_tensors "pt"), false nested arrays.
   * With return_tensors also given they must agree.
   */
  return_tensor?: boolean;
}

/** The option names of encode / encode_plus / batch_encode_plus / call (checked by name). */
export const ENCODE_OPTIONS: readonly string[] = [
  "text_pair",
  "add_special_tokens",
  "padding",
  "truncation",
  "max_length",
  "stride",
  "is_split_into_words",
  "pad_to_multiple_of",
  "return_tensors",
  "return_tensor",
  "return_token_type_ids",
  "return_attention_mask",
  "return_overflowing_tokens",
  "return_special_tokens_mask",
  "return_offsets_mapping",
  "return_length",
  "verbose",
];

/**
 * The tensor type asked for: return_tensors, or transformers.js' return_tensor (true: "pt").
 * Both given must agree.
 */
export function returnTensors(o: EncodeOptions | BatchEncodeOptions): ReturnTensors | null {
  const rt = o.return_tensors ?? null;
  if (o.return_tensor === undefined) return rt;
  if (typeof o.return_tensor !== "boolean")
    throw new OptionError(
      `return_tensor must be true (Tensors) or false (nested arrays), got ${JSON.stringify(o.return_tensor)}`,
      "return_tensor",
      ENCODE_OPTIONS,
    );
  if (rt !== null && !o.return_tensor)
    throw new OptionError(
      `return_tensor: false asks for nested arrays, but return_tensors is ${JSON.stringify(rt)}: give one of them`,
      "return_tensor",
      ENCODE_OPTIONS,
    );
  return o.return_tensor ? (rt ?? "pt") : null;
}

export interface BatchEncodeOptions extends Omit<EncodeOptions, "text_pair"> {
  /** for call(): the second texts of a batch of pairs */
  text_pair?: readonly TextInput[] | TextInput | null;
}

export interface DecodeOptions {
  skip_special_tokens?: boolean;
  clean_up_tokenization_spaces?: boolean | null;
  spaces_between_special_tokens?: boolean;
}

/** encode_plus's keyword arguments, resolved as HF's _get_padding_truncation_strategies does. */
export function resolveCallOptions(
  host: StrategyHost,
  o: EncodeOptions | BatchEncodeOptions,
): PrepareOptions {
  checkOptionNames("tokenizer", o, ENCODE_OPTIONS);
  const max_length = intOption("max_length", o.max_length);
  const pad_to_multiple_of = intOption("pad_to_multiple_of", o.pad_to_multiple_of);
  const s = resolveStrategies(host, o.padding, o.truncation, max_length, pad_to_multiple_of);
  const stride = o.stride === undefined ? 0 : intOption("stride", o.stride);
  if (stride === null) throw new TokenizerError("stride must be an integer", "TypeError");
  return {
    add_special_tokens: o.add_special_tokens === undefined ? true : truthy(o.add_special_tokens),
    padding: s.padding,
    truncation: s.truncation,
    max_length: s.max_length,
    stride,
    pad_to_multiple_of,
    return_token_type_ids: o.return_token_type_ids ?? null,
    return_attention_mask: o.return_attention_mask ?? null,
    return_overflowing_tokens: truthy(o.return_overflowing_tokens),
    return_special_tokens_mask: truthy(o.return_special_tokens_mask),
    return_length: truthy(o.return_length),
  };
}

export function requireString(text: unknown): string {
  if (typeof text !== "string")
    throw new TokenizerError(
      `expected a string to tokenize, got ${text === null ? "null" : typeof text}`,
      "TypeError",
    );
  return text;
}

export function idList(ids: readonly number[] | Tensor): number[] {
  if (ids instanceof Tensor) {
    if (ids.shape.length > 1 && ids.shape.slice(0, -1).some((d) => d !== 1)) {
      throw new TokenizerError(
        "decode expects one sequence of ids; use batch_decode for a batch",
        "TypeError",
      );
    }
    return Array.from(ids.data as ArrayLike<number | bigint>, Number);
  }
  if (!Array.isArray(ids)) throw new TokenizerError("expected a list of token ids", "TypeError");
  return ids.map((x) => {
    const n = typeof x === "bigint" ? Number(x) : x;
    if (typeof n !== "number" || !Number.isInteger(n))
      throw new TokenizerError(`token ids must be integers, got ${pyRepr(x)}`, "TypeError");
    return n;
  });
}

function isOptions(v: unknown): v is EncodeOptions {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

export function pairAndOptions(
  pairOrOptions: TextInput | EncodeOptions | null | undefined,
  options?: EncodeOptions,
): [TextInput | null, EncodeOptions] {
  if (isOptions(pairOrOptions)) return [pairOrOptions.text_pair ?? null, pairOrOptions];
  const o = options ?? {};
  return [pairOrOptions ?? o.text_pair ?? null, o];
}

export function finish(
  enc: EncodedDict,
  returnTensors: ReturnTensors | null | undefined,
): BatchEncoding<number[]> | TensorEncoding {
  if (returnTensors) return toTensors(enc);
  return new BatchEncoding<number[]>(enc);
}
