// Special and added tokens: how they are given (plain strings, or AddedToken objects with
// lstrip/rstrip flags, as in tokenizer_config.json / special_tokens_map.json) and how HF's
// PreTrainedTokenizer.tokenize keeps them whole in text.
import { TokenizerError } from "./errors.js";
import { lowerPerChar, pyLstrip, pyRstrip } from "./unicode.js";

export interface AddedTokenInit {
  content: string;
  lstrip?: boolean;
  rstrip?: boolean;
  single_word?: boolean;
  normalized?: boolean;
  special?: boolean;
}

/** HF's AddedToken: a token string plus whether it eats the whitespace on its left / right. */
export class AddedToken {
  readonly content: string;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly single_word: boolean;
  readonly normalized: boolean;
  constructor(content: string, o: Omit<AddedTokenInit, "content"> = {}) {
    this.content = content;
    this.lstrip = !!o.lstrip;
    this.rstrip = !!o.rstrip;
    this.single_word = !!o.single_word;
    this.normalized = o.normalized ?? true;
  }
  toString(): string {
    return this.content;
  }
}

export type TokenSpec = string | AddedToken | AddedTokenInit;

/** A special token option as HF accepts it: a string, an AddedToken (or its JSON form), or None. */
export function tokenSpec(name: string, v: unknown): string | AddedToken | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string" || v instanceof AddedToken) return v;
  if (typeof v === "object" && typeof (v as AddedTokenInit).content === "string") {
    const o = v as AddedTokenInit;
    return new AddedToken(o.content, o);
  }
  throw new TokenizerError(
    `${name} must be a string or an AddedToken, got ${JSON.stringify(v)}`,
    "TypeError",
  );
}

export function tokenText(t: string | AddedToken): string {
  return typeof t === "string" ? t : t.content;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** Python's sorted() order on strings: by code point, not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // a surrogate (an astral code point) sorts after every other BMP unit
    const sx = x >= 0xd800 && x <= 0xdfff ? x + 0x10000 : x;
    const sy = y >= 0xd800 && y <= 0xdfff ? y + 0x10000 : y;
    return sx - sy;
  }
  return a.length - b.length;
}

/** A segment of text between / at no-split tokens. */
export interface Segment {
  text: string;
  special: boolean;
}

/**
 * The no-split machinery of HF's PreTrainedTokenizer.tokenize:
 *  - `lowerOutside`: the do_lower_case pre-pass, which lowercases each character except inside
 *    special-token strings (a Python regex alternation: leftmost match, first listed alternative);
 *  - `split`: its Trie split (leftmost match, longest token at that position), then the whitespace
 *    next to each no-split token stripped (both sides, or as its AddedToken flags say).
 */
export class NoSplitTokens {
  readonly tokens: ReadonlySet<string>;
  private readonly lowerRe: RegExp | null;
  private readonly splitRe: RegExp | null;
  private readonly extended: ReadonlyMap<string, AddedToken>;

  /**
   * @param noSplit HF's unique_no_split_tokens (sorted)
   * @param lowerProtected unique_no_split_tokens + all_special_tokens, in that order
   * @param extended special tokens given as AddedToken, by content
   */
  constructor(
    noSplit: readonly string[],
    lowerProtected: readonly string[],
    extended: ReadonlyMap<string, AddedToken>,
  ) {
    const ns = noSplit.filter((t) => t.length > 0);
    this.tokens = new Set(ns);
    this.extended = extended;
    const prot = lowerProtected.filter((t) => t.length > 0);
    this.lowerRe = prot.length ? new RegExp(prot.map(escapeRegExp).join("|"), "g") : null;
    const longestFirst = [...new Set(ns)].sort((a, b) => b.length - a.length);
    this.splitRe = longestFirst.length
      ? new RegExp(longestFirst.map(escapeRegExp).join("|"), "g")
      : null;
  }

  lowerOutside(text: string): string {
    const re = this.lowerRe;
    if (!re) return lowerPerChar(text);
    re.lastIndex = 0;
    let out = "";
    let from = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      out += lowerPerChar(text.slice(from, m.index)) + m[0];
      from = m.index + m[0].length;
    }
    return from === 0 ? lowerPerChar(text) : out + lowerPerChar(text.slice(from));
  }

  split(text: string): Segment[] {
    const re = this.splitRe;
    if (!re) return text ? [{ text, special: false }] : [];
    re.lastIndex = 0;
    const parts: string[] = [];
    let from = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m.index > from) parts.push(text.slice(from, m.index));
      parts.push(m[0]);
      from = m.index + m[0].length;
    }
    if (from < text.length) parts.push(text.slice(from));
    // whitespace around no-split tokens, in HF's order (each strip sees earlier strips)
    for (let i = 0; i < parts.length; i++) {
      if (!this.tokens.has(parts[i])) continue;
      const ext = this.extended.get(parts[i]);
      const stripRight = ext ? ext.rstrip : true;
      const stripLeft = ext ? ext.lstrip : true;
      if (stripRight && i + 1 < parts.length && parts[i + 1]) parts[i + 1] = pyLstrip(parts[i + 1]);
      if (stripLeft && i > 0 && parts[i - 1]) parts[i - 1] = pyRstrip(parts[i - 1]);
    }
    const out: Segment[] = [];
    for (const p of parts) if (p) out.push({ text: p, special: this.tokens.has(p) });
    return out;
  }
}
