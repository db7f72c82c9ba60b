// Padding / truncation options resolved exactly as PreTrainedTokenizerBase's
// _get_padding_truncation_strategies does in transformers 4.30.2, including its legacy rules:
// max_length alone means longest_first truncation, padding=true means "longest",
// "max_length" without a max_length falls back to model_max_length.
import { TokenizerError } from "./errors.js";
import { pyMod, pyRepr } from "./py.js";

export type PaddingStrategy = "longest" | "max_length" | "do_not_pad";
export type TruncationStrategy = "only_first" | "only_second" | "longest_first" | "do_not_truncate";

/** What a caller may pass (HF's names and values); null is Python's None. */
export type PaddingOption = boolean | PaddingStrategy | null;
export type TruncationOption = boolean | TruncationStrategy | null;

const PADDINGS: readonly string[] = ["longest", "max_length", "do_not_pad"];
const TRUNCATIONS: readonly string[] = [
  "only_first",
  "only_second",
  "longest_first",
  "do_not_truncate",
];

/** HF's LARGE_INTEGER: a model_max_length above it means "no limit known". */
export const LARGE_INTEGER = 1e20;
/** HF's VERY_LARGE_INTEGER: model_max_length when none is configured. */
export const VERY_LARGE_INTEGER = 1e30;

export interface StrategyHost {
  readonly model_max_length: number;
  /** Throws HF's error when there is no padding token. */
  checkCanPad(): void;
}

export interface Strategies {
  padding: PaddingStrategy;
  truncation: TruncationStrategy;
  max_length: number | null;
}

function paddingStrategy(v: unknown): PaddingStrategy {
  if (typeof v === "string" && PADDINGS.includes(v)) return v as PaddingStrategy;
  throw new TokenizerError(
    `${pyRepr(v)} is not a valid PaddingStrategy, please select one of ['longest', 'max_length', 'do_not_pad']`,
  );
}

function truncationStrategy(v: unknown): TruncationStrategy {
  if (typeof v === "string" && TRUNCATIONS.includes(v)) return v as TruncationStrategy;
  throw new TokenizerError(
    `${pyRepr(v)} is not a valid TruncationStrategy, please select one of ['only_first', 'only_second', 'longest_first', 'do_not_truncate']`,
  );
}

/**
 * @param padding undefined = not passed (False)
 * @param truncation undefined = not passed (None)
 */
export function resolveStrategies(
  host: StrategyHost,
  padding: unknown,
  truncation: unknown,
  maxLength: number | null,
  padToMultipleOf: number | null,
): Strategies {
  if (padding === undefined) padding = false;
  if (truncation === undefined) truncation = null;
  let max_length = maxLength;

  // legacy: max_length alone activates truncation
  if (max_length !== null && padding === false && truncation === null) truncation = "longest_first";

  let pad: PaddingStrategy;
  if (padding !== false) pad = padding === true ? "longest" : paddingStrategy(padding);
  else pad = "do_not_pad";

  let trunc: TruncationStrategy;
  if (truncation !== false && truncation !== null)
    trunc = truncation === true ? "longest_first" : truncationStrategy(truncation);
  else trunc = "do_not_truncate";

  if (max_length === null) {
    if (pad === "max_length") {
      if (host.model_max_length > LARGE_INTEGER) pad = "do_not_pad";
      else max_length = host.model_max_length;
    }
    if (trunc !== "do_not_truncate") {
      if (host.model_max_length > LARGE_INTEGER) trunc = "do_not_truncate";
      else max_length = host.model_max_length;
    }
  }

  if (pad !== "do_not_pad") host.checkCanPad();

  if (
    trunc !== "do_not_truncate" &&
    pad !== "do_not_pad" &&
    padToMultipleOf !== null &&
    max_length !== null &&
    pyMod(max_length, padToMultipleOf) !== 0
  ) {
    throw new TokenizerError(
      `Truncation and padding are both activated but truncation length (${max_length}) is not a multiple of pad_to_multiple_of (${padToMultipleOf}).`,
    );
  }
  return { padding: pad, truncation: trunc, max_length };
}
