// From ids to model inputs, as PreTrainedTokenizerBase does it in transformers 4.30.2:
// prepare_for_model (truncate, add special tokens, type ids), truncate_sequences and pad / _pad,
// kept close to HF's control flow so that its corner cases come out the same (untruncated input
// when a sequence is too short to cut, negative num_truncated_tokens, no padding of an empty
// encoding, Python's slicing with negative windows...).
import { TokenizerError } from "./errors.js";
import { pyFloorDiv, pyMod, pySlice } from "./py.js";
import {
  resolveStrategies,
  type PaddingStrategy,
  type StrategyHost,
  type TruncationStrategy,
} from "./strategies.js";

export type Side = "left" | "right";

export interface PrepareHost extends StrategyHost {
  readonly padding_side: Side;
  readonly truncation_side: Side;
  readonly model_input_names: readonly string[];
  readonly pad_token_type_id: number;
  padTokenId(): number;
  build_inputs_with_special_tokens(ids: number[], pair?: number[] | null): number[];
  create_token_type_ids_from_sequences(ids: number[], pair?: number[] | null): number[];
  get_special_tokens_mask(ids: number[], pair?: number[] | null): number[];
  num_special_tokens_to_add(pair: boolean): number;
}

/** One encoding as a dict of HF's keys. */
export type EncodedDict = Record<string, unknown>;

export interface PrepareOptions {
  add_special_tokens: boolean;
  padding: PaddingStrategy;
  truncation: TruncationStrategy;
  max_length: number | null;
  stride: number;
  pad_to_multiple_of: number | null;
  return_token_type_ids: boolean | null;
  return_attention_mask: boolean | null;
  return_overflowing_tokens: boolean;
  return_special_tokens_mask: boolean;
  return_length: boolean;
}

export function prepareForModel(
  host: PrepareHost,
  ids: number[],
  pairIds: number[] | null,
  o: PrepareOptions,
): EncodedDict {
  // HF re-resolves the (already resolved) strategies here; it can only re-check them
  const { padding, truncation, max_length } = resolveStrategies(
    host,
    o.padding,
    o.truncation,
    o.max_length,
    o.pad_to_multiple_of,
  );
  const pair = pairIds !== null;
  let returnTypeIds = o.return_token_type_ids;
  let returnMask = o.return_attention_mask;

  if (returnTypeIds && !o.add_special_tokens) {
    throw new TokenizerError(
      "Asking to return token_type_ids while setting add_special_tokens to False results in an undefined behavior. " +
        "Please set add_special_tokens to True or set return_token_type_ids to None.",
    );
  }
  if (o.return_overflowing_tokens && truncation === "longest_first" && pair) {
    throw new TokenizerError(
      "Not possible to return overflowing tokens for pair of sequences with the `longest_first`. " +
        "Please select another truncation strategy than `longest_first`, for instance `only_second` or `only_first`.",
    );
  }
  if (returnTypeIds === null) returnTypeIds = host.model_input_names.includes("token_type_ids");
  if (returnMask === null) returnMask = host.model_input_names.includes("attention_mask");

  const out: EncodedDict = {};
  const totalLen =
    ids.length +
    (pair ? pairIds!.length : 0) +
    (o.add_special_tokens ? host.num_special_tokens_to_add(pair) : 0);

  let overflowing: number[] = [];
  if (truncation !== "do_not_truncate" && max_length && totalLen > max_length) {
    [ids, pairIds, overflowing] = truncateSequences(
      host,
      ids,
      pairIds,
      totalLen - max_length,
      truncation,
      o.stride,
    );
  }
  if (o.return_overflowing_tokens) {
    if (max_length === null)
      throw new TokenizerError(
        "unsupported operand type(s) for -: 'int' and 'NoneType'",
        "TypeError",
      );
    out.overflowing_tokens = overflowing;
    out.num_truncated_tokens = totalLen - max_length;
  }

  let sequence: number[];
  let typeIds: number[];
  if (o.add_special_tokens) {
    sequence = host.build_inputs_with_special_tokens(ids, pairIds);
    typeIds = host.create_token_type_ids_from_sequences(ids, pairIds);
  } else {
    sequence = pair ? ids.concat(pairIds!) : ids.slice();
    typeIds = filled(ids.length + (pair ? pairIds!.length : 0), 0);
  }
  out.input_ids = sequence;
  if (returnTypeIds) out.token_type_ids = typeIds;
  if (o.return_special_tokens_mask) {
    out.special_tokens_mask = o.add_special_tokens
      ? host.get_special_tokens_mask(ids, pairIds)
      : filled(sequence.length, 0);
  }

  let result = out;
  if (padding !== "do_not_pad" || returnMask) {
    result = pad(host, out, padding, max_length, o.pad_to_multiple_of, returnMask);
  }
  if (o.return_length) result.length = (result.input_ids as number[]).length;
  return result;
}

/** HF's truncate_sequences: returns [ids, pair_ids, overflowing_tokens]. */
export function truncateSequences(
  host: PrepareHost,
  ids: number[],
  pairIds: number[] | null,
  remove: number,
  strategy: TruncationStrategy,
  stride: number,
): [number[], number[] | null, number[]] {
  if (remove <= 0) return [ids, pairIds, []];
  const side = host.truncation_side;
  let overflowing: number[] = [];
  if (strategy === "only_first" || (strategy === "longest_first" && pairIds === null)) {
    if (ids.length > remove) {
      const window = Math.min(ids.length, stride + remove);
      if (side === "left") {
        overflowing = pySlice(ids, undefined, window);
        ids = pySlice(ids, remove);
      } else {
        overflowing = pySlice(ids, -window);
        ids = pySlice(ids, undefined, -remove);
      }
    }
    // else: HF only logs an error and leaves the sequence untruncated
  } else if (strategy === "longest_first") {
    let a = ids;
    let b = pairIds!;
    // one token at a time from the longer sequence (the second one on ties)
    for (let k = 0; k < remove; k++) {
      if (a.length > b.length)
        a = side === "right" ? a.slice(0, Math.max(0, a.length - 1)) : a.slice(1);
      else b = side === "right" ? b.slice(0, Math.max(0, b.length - 1)) : b.slice(1);
    }
    ids = a;
    pairIds = b;
  } else if (strategy === "only_second" && pairIds !== null) {
    if (pairIds.length > remove) {
      const window = Math.min(pairIds.length, stride + remove);
      if (side === "right") {
        overflowing = pySlice(pairIds, -window);
        pairIds = pySlice(pairIds, undefined, -remove);
      } else {
        overflowing = pySlice(pairIds, undefined, window);
        pairIds = pySlice(pairIds, remove);
      }
    }
  }
  return [ids, pairIds, overflowing];
}

/** HF's pad() for one encoding (lists) or a batch (lists of lists). */
export function pad(
  host: PrepareHost,
  enc: EncodedDict,
  padding: PaddingStrategy,
  maxLength: number | null,
  padToMultipleOf: number | null,
  returnMask: boolean | null,
): EncodedDict {
  const main = host.model_input_names[0];
  if (!(main in enc)) {
    throw new TokenizerError(
      `You should supply an encoding or a list of encodings to this method that includes ${main}, but you provided ${JSON.stringify(Object.keys(enc))}`,
    );
  }
  const required = enc[main] as unknown[];
  if (!required || required.length === 0) {
    if (returnMask) enc.attention_mask = [];
    return enc;
  }
  const s = resolveStrategies(host, padding, undefined, maxLength, padToMultipleOf);
  let strategy = s.padding;
  let max_length = s.max_length;
  if (!Array.isArray(required[0]))
    return padOne(host, enc, max_length, strategy, padToMultipleOf, returnMask);

  if (strategy === "longest") {
    max_length = 0;
    for (const r of required as unknown[][]) max_length = Math.max(max_length, r.length);
    strategy = "max_length";
  }
  // the cap on one padded sequence (filled) does not bound a batch: 64 sequences padded to 16 M
  // tokens each would exhaust the JS heap, so the batch's total is capped too
  let total = 0;
  let longest = 0;
  for (const r of required) {
    const n = Array.isArray(r) ? r.length : 0;
    const target = strategy === "do_not_pad" ? n : (targetLength(max_length, padToMultipleOf) ?? n);
    longest = Math.max(longest, target);
    total += Math.max(n, target);
  }
  if (total > MAX_PADDED)
    throw new TokenizerError(
      `padding this batch of ${required.length} sequences (to ${longest} tokens) makes ${total} tokens, more than simdbert pads in one batch (${MAX_PADDED}): check max_length / pad_to_multiple_of, or pad smaller batches`,
      "MemoryError",
    );
  const batch: EncodedDict = {};
  for (let i = 0; i < required.length; i++) {
    const item: EncodedDict = {};
    for (const [k, v] of Object.entries(enc)) item[k] = (v as unknown[])[i];
    const padded = padOne(host, item, max_length, strategy, padToMultipleOf, returnMask);
    for (const [k, v] of Object.entries(padded)) ((batch[k] ??= []) as unknown[]).push(v);
  }
  return batch;
}

/** HF's _pad. */
function padOne(
  host: PrepareHost,
  enc: EncodedDict,
  maxLength: number | null,
  strategy: PaddingStrategy,
  padToMultipleOf: number | null,
  returnMask: boolean | null,
): EncodedDict {
  if (returnMask === null) returnMask = host.model_input_names.includes("attention_mask");
  const main = host.model_input_names[0];
  const required = enc[main] as number[];
  const max_length = targetLength(
    strategy === "longest" ? required.length : maxLength,
    padToMultipleOf,
  );
  const needsPadding = strategy !== "do_not_pad" && required.length !== max_length;
  if (returnMask && !("attention_mask" in enc)) enc.attention_mask = filled(required.length, 1);
  if (needsPadding) {
    const diff = Math.max(0, (max_length as number) - required.length); // Python: [x] * negative == []
    const fill = (v: number) => filled(diff, v);
    const padId = diff > 0 ? host.padTokenId() : 0;
    const join =
      host.padding_side === "right"
        ? (a: unknown, b: number[]) => (a as number[]).concat(b)
        : (a: unknown, b: number[]) => b.concat(a as number[]);
    if (returnMask) enc.attention_mask = join(enc.attention_mask, fill(0));
    if ("token_type_ids" in enc)
      enc.token_type_ids = join(enc.token_type_ids, fill(host.pad_token_type_id));
    if ("special_tokens_mask" in enc)
      enc.special_tokens_mask = join(enc.special_tokens_mask, fill(1));
    enc[main] = join(required, fill(padId));
  }
  return enc;
}

/** _pad's target length: max_length (or the sequence's own), rounded up to pad_to_multiple_of. */
function targetLength(maxLength: number | null, padToMultipleOf: number | null): number | null {
  let max_length = maxLength;
  if (max_length !== null && padToMultipleOf !== null && pyMod(max_length, padToMultipleOf) !== 0) {
    max_length = (pyFloorDiv(max_length, padToMultipleOf) + 1) * padToMultipleOf;
  }
  return max_length;
}

/** Longest sequence (and batch, in total) padding may build: past it Python would raise MemoryError; here a TokenizerError. */
const MAX_PADDED = 1 << 24;

function filled(n: number, v: number): number[] {
  if (n > MAX_PADDED)
    throw new TokenizerError(
      `padding to ${n} tokens is more than simdbert pads to (${MAX_PADDED}): check max_length / pad_to_multiple_of`,
      "MemoryError",
    );
  return new Array(n).fill(v);
}
