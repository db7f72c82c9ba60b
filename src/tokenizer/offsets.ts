// Character offsets for BertTokenizer's tokens (what HF's fast tokenizers return as
// offset_mapping), computed by running the slow tokenizer's own steps while tracking where each
// character came from: the lowercase pre-pass (which can lengthen a character: "İ" -> "i̇"), the
// no-split tokens and the whitespace stripped around them, deleted control characters, CJK
// ideographs, accent stripping (NFD then marks dropped), punctuation splits and word pieces. Each
// token maps to the span [start, end) of the ORIGINAL text (UTF-16 indices, so text.slice(start,
// end) is what the token came from); "##" pieces cover only their own characters; [UNK] covers
// its whole word piece.
import type { BasicTokenizer } from "./basic.js";
import type { NoSplitTokens } from "./special_tokens.js";
import {
  bmpClasses,
  charClass,
  DROP,
  isChineseChar,
  isPySpace,
  lowerPerChar,
  PUNCT,
  SPACE,
  stripAccents,
} from "./unicode.js";
import type { WordpieceTokenizer } from "./wordpiece.js";

export interface OffsetsHost {
  noSplit: NoSplitTokens;
  lowerPrepass: boolean;
  basicNeverSplit: Set<string>;
  basic: BasicTokenizer | null;
  wordpiece: WordpieceTokenizer;
}

export interface TokensWithOffsets {
  tokens: string[];
  offsets: [number, number][];
}

/** The tokens of `text` (as tokenize() gives them) and the span of the text each came from. */
export function tokenizeWithOffsets(host: OffsetsHost, text: string): TokensWithOffsets {
  const out: TokensWithOffsets = { tokens: [], offsets: [] };
  // 1. the lowercase pre-pass, with each unit of the lowered text mapped to its source character
  let low = text;
  let srcStart: Int32Array | null = null; // lowered unit -> original [start, end)
  let srcEnd: Int32Array | null = null;
  if (host.lowerPrepass) {
    low = host.noSplit.lowerOutside(text);
    if (low.length !== text.length) {
      srcStart = new Int32Array(low.length);
      srcEnd = new Int32Array(low.length);
      let j = 0;
      for (let i = 0; i < text.length;) {
        const cp = text.codePointAt(i)!;
        const n = cp > 0xffff ? 2 : 1;
        const m = lowerPerChar(text.slice(i, i + n)).length;
        for (let k = 0; k < m && j < low.length; k++, j++) {
          srcStart[j] = i;
          srcEnd[j] = i + n;
        }
        i += n;
      }
    }
  }
  const origStart = (p: number) => (srcStart ? srcStart[p] : p);
  const origEnd = (p: number) => (srcEnd ? srcEnd[p] : p + 1);
  /** a token made of the lowered units `units` */
  const emit = (token: string, units: ArrayLike<number>) => {
    let s = Infinity;
    let e = -Infinity;
    for (let i = 0; i < units.length; i++) {
      s = Math.min(s, origStart(units[i]));
      e = Math.max(e, origEnd(units[i]));
    }
    out.tokens.push(token);
    out.offsets.push(units.length ? [s, e] : [0, 0]);
  };

  // 2. no-split tokens: the segments, found again in the lowered text in order
  let cursor = 0;
  for (const seg of host.noSplit.split(low)) {
    const at = low.indexOf(seg.text, cursor);
    const start = at < 0 ? cursor : at;
    cursor = start + seg.text.length;
    const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
    if (seg.special) {
      emit(seg.text, range(start, start + seg.text.length));
      continue;
    }
    if (!host.basic) {
      // whitespace-separated words straight to WordPiece
      let w0 = -1;
      for (let i = 0; i <= seg.text.length; i++) {
        const space = i === seg.text.length || isPySpace(seg.text.charCodeAt(i));
        if (space && w0 >= 0) {
          wordPieces(host, seg.text.slice(w0, i), range(start + w0, start + i), emit);
          w0 = -1;
        } else if (!space && w0 < 0) w0 = i;
      }
      continue;
    }
    words(host.basic, seg.text, start, (w, units) => basicWord(host, w, units, emit));
  }
  return out;
}

/**
 * BasicTokenizer.words with positions: each word and, per unit of it, its index in the text
 * (deleted characters inside a word are skipped, so a word's units need not be contiguous).
 */
function words(
  bt: BasicTokenizer,
  text: string,
  base: number,
  onWord: (w: string, units: number[]) => void,
): void {
  const table = bmpClasses();
  const cjk = bt.tokenize_chinese_chars;
  let acc = ""; // the word's earlier runs, when deleted characters cut it
  let runStart = -1; // start of the current run of kept units (-1: none)
  let units: number[] = [];
  const flush = (i: number) => {
    const w = runStart >= 0 ? acc + text.slice(runStart, i) : acc;
    if (w) onWord(w, units);
    acc = "";
    runStart = -1;
    units = [];
  };
  for (let i = 0; i < text.length;) {
    let c = text.charCodeAt(i);
    let len = 1;
    let k: number;
    if (c < 0xd800 || c > 0xdbff) k = table[c];
    else {
      const d = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        len = 2;
        k = charClass(c);
      } else k = DROP;
    }
    if (k === SPACE) flush(i);
    else if (k === DROP) {
      // deleted: the word goes on without it
      if (runStart >= 0) acc += text.slice(runStart, i);
      runStart = -1;
    } else if (cjk && c >= 0x3400 && isChineseChar(c)) {
      flush(i);
      onWord(text.slice(i, i + len), len === 2 ? [base + i, base + i + 1] : [base + i]);
    } else {
      if (runStart < 0) runStart = i;
      units.push(base + i);
      if (len === 2) units.push(base + i + 1);
    }
    i += len;
  }
  flush(text.length);
}

/** BasicTokenizer.splitWord (never_split, accents, punctuation) then WordPiece, with positions. */
function basicWord(
  host: OffsetsHost,
  w: string,
  units: number[],
  emit: (token: string, units: ArrayLike<number>) => void,
): void {
  const bt = host.basic!;
  const ns = host.basicNeverSplit;
  if (ns.size > 0 && ns.has(w)) return piece(host, w, units, emit);
  // the word as splitWord transforms it (the text is already lowercased when do_lower_case),
  // one character at a time, so that each unit of the result knows its source units
  // BasicTokenizer: strip when lowercasing unless strip_accents is false; else when it is set
  const strip = bt.do_lower_case ? (bt.strip_accents as unknown) !== false : !!bt.strip_accents;
  let t = w;
  let tUnits = units;
  if (strip) {
    const whole = stripAccents(w);
    if (whole !== w) {
      // each character alone (remembered: long texts repeat few), then its units
      const parts: string[] = [];
      let total = 0;
      for (let i = 0; i < w.length;) {
        const cp = w.codePointAt(i)!;
        const n = cp > 0xffff ? 2 : 1;
        const x = cp < 0xc0 ? w[i] : stripChar(w.slice(i, i + n));
        parts.push(x);
        total += x.length;
        i += n;
      }
      t = parts.join("");
      tUnits = new Array<number>(total);
      if (t === whole) {
        let j = 0;
        for (let i = 0, p = 0; p < parts.length; p++) {
          const n = w.codePointAt(i)! > 0xffff ? 2 : 1;
          for (let k = 0; k < parts[p].length; k++) tUnits[j++] = units[i + Math.min(k, n - 1)];
          i += n;
        }
      } else {
        // canonical reordering made the whole differ from its characters: map by position
        t = whole;
        tUnits = Array.from(
          { length: whole.length },
          (_, k) => units[Math.min(k, units.length - 1)],
        );
      }
    }
  }
  if (t !== w && ns.size > 0 && ns.has(t)) return piece(host, t, tUnits, emit);
  // punctuation: each such character a piece of its own
  const table = bmpClasses();
  let start = 0;
  for (let i = 0; i < t.length;) {
    const cp = t.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    const k = cp > 0xffff ? charClass(cp) : table[cp];
    if (k === PUNCT) {
      if (i > start) piece(host, t.slice(start, i), tUnits.slice(start, i), emit);
      piece(host, t.slice(i, i + n), tUnits.slice(i, i + n), emit);
      start = i + n;
    }
    i += n;
  }
  if (start < t.length) piece(host, t.slice(start), tUnits.slice(start), emit);
}

/** stripAccents of one character, remembered (long texts repeat few characters). */
const stripped = new Map<string, string>();
function stripChar(c: string): string {
  let x = stripped.get(c);
  if (x === undefined) {
    x = stripAccents(c);
    if (stripped.size >= 4096) stripped.clear();
    stripped.set(c, x);
  }
  return x;
}

/** One piece of a word: kept whole when in the tokenizer's never_split, else WordPiece. */
function piece(
  host: OffsetsHost,
  p: string,
  units: number[],
  emit: (token: string, units: ArrayLike<number>) => void,
): void {
  const initNeverSplit = host.basic?.never_split;
  if (initNeverSplit && initNeverSplit.size > 0 && initNeverSplit.has(p)) return emit(p, units);
  wordPieces(host, p, units, emit);
}

function wordPieces(
  host: OffsetsHost,
  p: string,
  units: number[],
  emit: (token: string, units: ArrayLike<number>) => void,
): void {
  const tokens: string[] = [];
  host.wordpiece.word(p, tokens, []);
  if (tokens.length === 1 && tokens[0] === host.wordpiece.unk_token) return emit(tokens[0], units);
  let at = 0;
  tokens.forEach((tok, i) => {
    const n = tok.length - (i > 0 ? 2 : 0);
    emit(tok, units.slice(at, at + n));
    at += n;
  });
}
