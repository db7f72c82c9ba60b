// HF's BasicTokenizer (tokenization_bert.py, transformers 4.30.2): clean the text, put spaces
// around CJK ideographs, split on whitespace, lowercase / strip accents each word unless it is in
// never_split, then split every punctuation character off. Written as one pass over UTF-16 code
// units with a class table, because this runs over every character of every input.
import { TokenizerError } from "./errors.js";
import { truthy } from "./py.js";
import {
  bmpClasses,
  charClass,
  DROP,
  isChineseChar,
  PUNCT,
  pyLower,
  SPACE,
  stripAccents,
} from "./unicode.js";

export interface BasicTokenizerOptions {
  do_lower_case?: boolean;
  never_split?: Iterable<string> | null;
  tokenize_chinese_chars?: boolean;
  /** null (default): strip accents exactly when lowercasing; true / false: always / never */
  strip_accents?: boolean | null;
}

export class BasicTokenizer {
  readonly do_lower_case: boolean;
  readonly never_split: Set<string>;
  readonly tokenize_chinese_chars: boolean;
  readonly strip_accents: boolean | null;
  // HF: `if do_lower_case: ...; if strip_accents is not False: strip` / `elif strip_accents: strip`
  private readonly stripWhenLower: boolean;
  private readonly stripWhenCased: boolean;

  constructor(options: BasicTokenizerOptions = {}) {
    const o = options ?? {};
    this.do_lower_case = o.do_lower_case === undefined ? true : truthy(o.do_lower_case);
    this.never_split = new Set(o.never_split ?? []);
    this.tokenize_chinese_chars =
      o.tokenize_chinese_chars === undefined ? true : truthy(o.tokenize_chinese_chars);
    this.strip_accents = o.strip_accents ?? null;
    this.stripWhenLower = (o.strip_accents as unknown) !== false;
    this.stripWhenCased = truthy(o.strip_accents);
  }

  /** HF's BasicTokenizer.tokenize(text, never_split). */
  tokenize(text: string, never_split?: Iterable<string> | null): string[] {
    const ns = never_split ? new Set([...this.never_split, ...never_split]) : this.never_split;
    const out: string[] = [];
    const emit = (p: string) => void out.push(p);
    if (typeof text !== "string")
      throw new TokenizerError(
        `expected a string to tokenize, got ${text === null ? "null" : typeof text}`,
        "TypeError",
      );
    this.words(text, (w) => this.splitWord(w, ns, false, emit));
    return out;
  }

  /**
   * The words HF's whitespace_tokenize sees after _clean_text and _tokenize_chinese_chars: deleted
   * characters vanish (joining their neighbours), whitespace separates, each CJK ideograph is a
   * word of its own.
   */
  words(text: string, onWord: (w: string) => void): void {
    const table = bmpClasses();
    const cjk = this.tokenize_chinese_chars;
    const n = text.length;
    let inWord = false;
    let segStart = 0; // start of the current run of kept units of the word
    let acc = ""; // the word's earlier runs, when deleted characters cut it
    let i = 0;
    while (i < n) {
      let c = text.charCodeAt(i);
      let len = 1;
      let k: number;
      if (c < 0xd800 || c > 0xdbff) {
        k = table[c];
      } else {
        const d = i + 1 < n ? text.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          len = 2;
          k = charClass(c);
        } else {
          k = DROP; // lone surrogate: category Cs
        }
      }
      if (k === SPACE) {
        if (inWord) {
          onWord(acc + text.slice(segStart, i));
          inWord = false;
        }
      } else if (k === DROP) {
        if (inWord) {
          acc += text.slice(segStart, i);
          segStart = i + len;
        }
      } else if (cjk && c >= 0x3400 && isChineseChar(c)) {
        if (inWord) {
          onWord(acc + text.slice(segStart, i));
          inWord = false;
        }
        onWord(text.slice(i, i + len));
      } else if (!inWord) {
        inWord = true;
        segStart = i;
        acc = "";
      }
      i += len;
    }
    if (inWord) onWord(acc + text.slice(segStart, n));
  }

  /**
   * One word: unless it is in never_split, lowercase it (skipped when the caller already
   * lowercased the text character by character, which gives the same result) and strip accents,
   * then split off each punctuation character. Emits non-empty pieces.
   */
  splitWord(
    w: string,
    neverSplit: Set<string>,
    lowered: boolean,
    emit: (piece: string) => void,
  ): void {
    if (neverSplit.size > 0 && neverSplit.has(w)) {
      emit(w);
      return;
    }
    let t = w;
    if (this.do_lower_case) {
      if (!lowered) t = pyLower(t);
      if (this.stripWhenLower) t = stripAccents(t);
    } else if (this.stripWhenCased) {
      t = stripAccents(t);
    }
    if (t !== w && neverSplit.size > 0 && neverSplit.has(t)) {
      emit(t);
      return;
    }
    splitOnPunctuation(t, emit);
  }
}

/** HF's _run_split_on_punc: every punctuation character becomes a piece of its own. */
export function splitOnPunctuation(t: string, emit: (piece: string) => void): void {
  const table = bmpClasses();
  let start = 0;
  const n = t.length;
  for (let i = 0; i < n; i++) {
    const c = t.charCodeAt(i);
    let k: number;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = t.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        k = charClass(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000);
        if (k === PUNCT) {
          if (i > start) emit(t.slice(start, i));
          emit(t.slice(i, i + 2));
          start = i + 2;
        }
        i++;
        continue;
      }
    }
    k = table[c];
    if (k === PUNCT) {
      if (i > start) emit(t.slice(start, i));
      emit(t[i]);
      start = i + 1;
    }
  }
  if (start === 0) {
    if (n > 0) emit(t);
  } else if (start < n) emit(t.slice(start));
}
