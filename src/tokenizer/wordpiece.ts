// HF's WordpieceTokenizer: greedy longest-match-first over the code points of each word, later
// pieces looked up with a "##" prefix; a word longer than max_input_chars_per_word code points, or
// with any piece that matches nothing, is one unknown token as a whole.
import { TokenizerError } from "./errors.js";
import { pySplit } from "./unicode.js";
import { Vocab } from "./vocab.js";

/** Marks an unknown-token piece in an id list (its id is resolved by the caller). */
export const UNK_PIECE = -1;

export interface WordpieceOptions {
  unk_token?: string;
  max_input_chars_per_word?: number;
}

export class WordpieceTokenizer {
  readonly vocab: Vocab;
  readonly unk_token: string;
  readonly max_input_chars_per_word: number;

  constructor(
    vocab: Vocab | readonly string[] | Record<string, number> | Map<string, number>,
    options: WordpieceOptions | string = {},
  ) {
    this.vocab =
      vocab instanceof Vocab
        ? vocab
        : Array.isArray(vocab)
          ? Vocab.fromList(vocab)
          : Vocab.fromObject(vocab as Record<string, number>);
    const o = typeof options === "string" ? { unk_token: options } : (options ?? {});
    this.unk_token = o.unk_token ?? "[UNK]";
    this.max_input_chars_per_word = o.max_input_chars_per_word ?? 100;
  }

  /** HF's WordpieceTokenizer.tokenize: splits on whitespace, then word pieces of each word. */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    const ids: number[] = [];
    if (typeof text !== "string")
      throw new TokenizerError(
        `expected a string to tokenize, got ${text === null ? "null" : typeof text}`,
        "TypeError",
      );
    for (const w of pySplit(text)) this.word(w, tokens, ids);
    return tokens;
  }

  /**
   * Word pieces of one whitespace-free word, appended to `tokens` and `ids` (UNK_PIECE for the
   * unknown token).
   */
  word(w: string, tokens: string[], ids: number[]): void {
    const n = w.length;
    // code point boundaries, only built when the word has surrogates
    let at: number[] | null = null;
    for (let i = 0; i < n; i++) {
      const c = w.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdfff) {
        at = codePointOffsets(w);
        break;
      }
    }
    const count = at ? at.length - 1 : n;
    if (count > this.max_input_chars_per_word) {
      tokens.push(this.unk_token);
      ids.push(UNK_PIECE);
      return;
    }
    const { ids: whole, continuations, maxTokenChars, maxContinuationChars } = this.vocab;
    const base = tokens.length;
    let start = 0;
    while (start < count) {
      const map = start === 0 ? whole : continuations;
      let end = Math.min(count, start + (start === 0 ? maxTokenChars : maxContinuationChars));
      let id: number | undefined;
      let piece = "";
      for (; end > start; end--) {
        piece = at ? w.slice(at[start], at[end]) : w.slice(start, end);
        id = map.get(piece);
        if (id !== undefined) break;
      }
      if (id === undefined) {
        tokens.length = base;
        ids.length = base;
        tokens.push(this.unk_token);
        ids.push(UNK_PIECE);
        return;
      }
      tokens.push(start === 0 ? piece : "##" + piece);
      ids.push(id);
      start = end;
    }
  }
}

function codePointOffsets(w: string): number[] {
  const at: number[] = [];
  for (let i = 0; i < w.length; i++) {
    at.push(i);
    const c = w.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < w.length) {
      const d = w.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  at.push(w.length);
  return at;
}
