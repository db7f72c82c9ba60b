// Character facts BertTokenizer needs, answered the way CPython 3.11 (unicodedata 14.0.0) answers
// them for HF: the general-category classes come from a table generated from unicodedata 14, so
// every runtime (whatever its ICU) gives the same tokens. Lowercasing and NFD use the runtime: for
// every character assigned in Unicode 14 they agree with CPython's (checked over all code points
// when the table was generated; later versions never changed them for existing characters).
import { CLASS_RUNS } from "./char_classes_data.js";

export const OTHER = 0;
/** deleted by HF's _clean_text: U+0000, U+FFFD, category C* except \t \n \r */
export const DROP = 1;
/** splits words: \t \n \r, category Zs (turned into " "), U+2028/U+2029 (str.split() splits on them) */
export const SPACE = 2;
/** HF's _is_punctuation: ASCII 33-47, 58-64, 91-96, 123-126, or category P* */
export const PUNCT = 3;
/** category Mn, removed when accents are stripped */
export const MARK = 4;

let bmp: Uint8Array | null = null;
let astralStarts: Uint32Array;
let astralClasses: Uint8Array;

function decodeTable(): Uint8Array {
  const table = new Uint8Array(0x10000);
  const starts: number[] = [];
  const classes: number[] = [];
  let cp = 0;
  for (const run of CLASS_RUNS.split(",")) {
    const k = run.charCodeAt(0) - 48;
    const end = cp + parseInt(run.slice(1), 16);
    if (cp < 0x10000) table.fill(k, cp, Math.min(end, 0x10000));
    if (end > 0x10000) {
      starts.push(Math.max(cp, 0x10000));
      classes.push(k);
    }
    cp = end;
  }
  if (cp !== 0x110000) throw new Error("simdbert: corrupt character class table");
  astralStarts = Uint32Array.from(starts);
  astralClasses = Uint8Array.from(classes);
  bmp = table;
  return table;
}

/** The BMP part of the class table (index by UTF-16 code unit; lone surrogates are DROP). */
export function bmpClasses(): Uint8Array {
  return bmp ?? decodeTable();
}

/** Class of a code point (OTHER, DROP, SPACE, PUNCT or MARK). */
export function charClass(cp: number): number {
  if (cp < 0x10000) return (bmp ?? decodeTable())[cp];
  if (!bmp) decodeTable();
  let lo = 0;
  let hi = astralStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (astralStarts[mid] <= cp) lo = mid;
    else hi = mid - 1;
  }
  return astralClasses[lo];
}

/** HF's _is_chinese_char: the CJK Unified Ideographs blocks (not kana, not hangul). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Python's str.isspace() for one UTF-16 code unit (every such character is in the BMP). */
export function isPySpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Python's str.lstrip() with no argument. */
export function pyLstrip(s: string): string {
  let i = 0;
  while (i < s.length && isPySpace(s.charCodeAt(i))) i++;
  return i === 0 ? s : s.slice(i);
}

/** Python's str.rstrip() with no argument. */
export function pyRstrip(s: string): string {
  let j = s.length;
  while (j > 0 && isPySpace(s.charCodeAt(j - 1))) j--;
  return j === s.length ? s : s.slice(0, j);
}

/** Python's str.split() with no argument: runs of whitespace separate, no empty strings. */
export function pySplit(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    if (isPySpace(s.charCodeAt(i))) {
      if (start >= 0) out.push(s.slice(start, i));
      start = -1;
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(s.slice(start));
  return out;
}

const CAPITAL_SIGMA = /\u03a3/g;

/**
 * Lowercases one character at a time, as HF's tokenize() pre-pass does (a regex matching one
 * character, each lowercased alone). The only context-sensitive lowercase mapping outside the
 * tr/az/lt locales is Final_Sigma, so this is the whole-string lowercase with every capital sigma
 * lowered on its own first (Σ alone is σ, never ς).
 */
export function lowerPerChar(s: string): string {
  return s.replace(CAPITAL_SIGMA, "\u03c3").toLowerCase();
}

// Python decides Final_Sigma with the Cased and Case_Ignorable properties of Unicode 14; these
// characters have other values in later Unicode versions (checked against ICU 78 / Unicode 17).
const CASED_14 = new Map<number, boolean>([
  [0x295, true],
  [0x10fc, false],
  [0xa7f2, false],
  [0xa7f3, false],
  [0xa7f4, false],
  [0xab69, false],
]);
const IGNORABLE_14 = new Map<number, boolean>([[0x1171e, true]]);
const CASED = /\p{Cased}/u;
const CASE_IGNORABLE = /\p{Case_Ignorable}/u;

function isCased(cp: number): boolean {
  return CASED_14.get(cp) ?? CASED.test(String.fromCodePoint(cp));
}
function isCaseIgnorable(cp: number): boolean {
  return IGNORABLE_14.get(cp) ?? CASE_IGNORABLE.test(String.fromCodePoint(cp));
}

/**
 * Python's str.lower() of a whole string: as JS's, except that the Final_Sigma context of a
 * capital sigma is decided here with Unicode 14's properties (runtimes differ on a few characters).
 */
export function pyLower(s: string): string {
  if (s.indexOf("\u03a3") < 0) return s.toLowerCase();
  const cps = Array.from(s, (c) => c.codePointAt(0)!);
  let out = "";
  for (let i = 0; i < cps.length; i++) {
    if (cps[i] !== 0x3a3) {
      out += String.fromCodePoint(cps[i]);
      continue;
    }
    let j = i - 1;
    while (j >= 0 && isCaseIgnorable(cps[j])) j--;
    let final = j >= 0 && isCased(cps[j]);
    if (final && i + 1 < cps.length) {
      let k = i + 1;
      while (k < cps.length && isCaseIgnorable(cps[k])) k++;
      final = k === cps.length || !isCased(cps[k]);
    }
    out += final ? "\u03c2" : "\u03c3";
  }
  return out.toLowerCase();
}

/** True when s has no UTF-16 unit >= 0x80. */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * HF's _run_strip_accents: NFD, then drop category Mn. Characters below U+00C0 neither decompose
 * nor are marks, so such words are returned as they are.
 */
export function stripAccents(s: string): string {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) < 0xc0) i++;
  if (i === s.length) return s;
  const d = s.normalize("NFD");
  const table = bmpClasses();
  let out = "";
  let from = 0;
  for (let j = 0; j < d.length; j++) {
    let c = d.charCodeAt(j);
    let len = 1;
    if (c >= 0xd800 && c <= 0xdbff && j + 1 < d.length) {
      const e = d.charCodeAt(j + 1);
      if (e >= 0xdc00 && e <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (e - 0xdc00) + 0x10000;
        len = 2;
      }
    }
    const k = c < 0x10000 ? table[c] : charClass(c);
    if (k === MARK) {
      out += d.slice(from, j);
      from = j + len;
    }
    j += len - 1;
  }
  return from === 0 ? d : out + d.slice(from);
}
