// Fuzzer of the tokenizer (src/tokenizer/, BertTokenizer) with the real bert-base-uncased and
// bert-base-multilingual-cased vocabularies from ../shared/fixtures/vocab.
//
// Text: random code points from every plane (controls, whitespace of every kind, combining marks,
// CJK, emoji and ZWJ sequences, private use, noncharacters, NUL, U+FFFD), lone and reversed
// surrogates, long combining runs, 1 MB words (letters, accented letters, CJK, punctuation,
// combining marks), special-token text. Calls: tokenize, encode, call() with random padding /
// truncation / lengths / pairs / tensors / batches, decode; and wrongly typed texts and options.
//
// Every call must succeed or throw a TokenizerError with a message. Answers must hold HF's
// invariants: tokens are well-formed strings from the vocabulary (or [UNK], or never-split text),
// ids index the vocabulary, sequences and masks agree in length, padding and truncation honour
// max_length; the same text gives the same tokens on a fresh tokenizer (no state leaks through
// the word cache); decode never fails on ids it produced.
import { readFileSync } from "node:fs";
import * as lib from "../../dist/index.js";
import { attempt, judge, show } from "./lib.mjs";
import { sharedPath } from "../support/shared.mjs";

export const name = "tokenizer";

export async function skip() {
  if (typeof lib.BertTokenizer !== "function")
    return "BertTokenizer is not exported from dist/index.js yet";
  return null;
}

const VOCABS = [
  ["bert-base-uncased", {}],
  ["bert-base-multilingual-cased", { do_lower_case: false }],
];

// ------------------------------------------------------------------ text

const RANGES = [
  [0x20, 0x7f],
  [0x00, 0x20],
  [0x7f, 0xa0],
  [0xa0, 0x250],
  [0x300, 0x370],
  [0x370, 0x530],
  [0x590, 0x700],
  [0x900, 0xe00],
  [0x1100, 0x1200],
  [0x2000, 0x2070],
  [0x2e80, 0x2fe0],
  [0x3000, 0x3100],
  [0x3400, 0x4dc0],
  [0x4e00, 0xa000],
  [0xac00, 0xd7a4],
  [0xd800, 0xe000],
  [0xe000, 0xf900],
  [0xf900, 0xfb00],
  [0xfe00, 0xfe10],
  [0xfe20, 0xfe30],
  [0xfff0, 0x10000],
  [0x10000, 0x10100],
  [0x1d400, 0x1d800],
  [0x1f300, 0x1fa00],
  [0x20000, 0x2a6e0],
  [0x2f800, 0x2fa20],
  [0x30000, 0x31350],
  [0xe0000, 0xe0080],
  [0xe0100, 0xe01f0],
  [0xf0000, 0xf0100],
  [0x10fff0, 0x110000],
];
const SPECIAL = [
  " ",
  "\t",
  "\n",
  "\r\n",
  "\u00a0",
  "\u2028",
  "\u3000",
  "\u200b",
  "\u200d",
  "\ufeff",
  "\ufffd",
  "\u0000",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "[UNK]",
  "[PAD]",
  "##",
  "##a",
  "'",
  '"',
  "…",
  "——",
  "e\u0301",
  "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67",
  "\ud800",
  "\udc00",
  "\udc00\ud800",
];

function randomText(r) {
  const n = r.chance(0.1) ? r.int(0, 2000) : r.int(0, 40);
  let s = "";
  for (let k = 0; k < n; k++) {
    if (r.chance(0.15)) s += r.pick(SPECIAL);
    else if (r.chance(0.4)) s += String.fromCharCode(r.int(0x61, 0x7b));
    else {
      const [lo, hi] = r.pick(RANGES);
      const cp = r.int(lo, hi);
      s += cp >= 0xd800 && cp < 0xe000 ? String.fromCharCode(cp) : String.fromCodePoint(cp);
    }
  }
  return s;
}

function bigText(r) {
  const n = r.pick([1 << 16, 1 << 20]);
  switch (
    r.pick([
      "letters",
      "accented",
      "cjk",
      "punct",
      "combining",
      "spaces",
      "mixed-word",
      "surrogates",
    ])
  ) {
    case "letters":
      return "a".repeat(n);
    case "accented":
      return "é".repeat(n / 2);
    case "cjk":
      return "中".repeat(n / 8);
    case "punct":
      return "!".repeat(n / 8);
    case "combining":
      return "e" + "\u0301".repeat(n);
    case "spaces":
      return " ".repeat(n) + "x";
    case "mixed-word":
      return ("abc\u0301déf" + "\ud83d\ude00").repeat(n / 8);
    default:
      return "\ud800".repeat(n / 4) + "a" + "\udc00".repeat(n / 4);
  }
}

// ------------------------------------------------------------------ options

const PADDING = [undefined, true, false, "longest", "max_length", "do_not_pad", "bogus", 1, null];
const TRUNCATION = [
  undefined,
  true,
  false,
  "longest_first",
  "only_first",
  "only_second",
  "do_not_truncate",
  "bogus",
  1,
  null,
];
const LENGTHS = [undefined, null, 0, 1, 2, 3, 5, 8, 17, 512, -1, 2.5, NaN, "8", 1e9];
const TENSORS = [undefined, null, "pt", "np", "tf", "bogus"];

function randomOptions(r) {
  const o = {};
  if (r.chance(0.5)) o.padding = r.pick(PADDING);
  if (r.chance(0.5)) o.truncation = r.pick(TRUNCATION);
  if (r.chance(0.5)) o.max_length = r.pick(LENGTHS);
  if (r.chance(0.15)) o.stride = r.pick([0, 1, 2, -1, 0.5]);
  if (r.chance(0.15)) o.pad_to_multiple_of = r.pick([null, 1, 3, 8, 0, -2]);
  if (r.chance(0.2)) o.return_tensors = r.pick(TENSORS);
  if (r.chance(0.2)) o.add_special_tokens = r.chance(0.5);
  if (r.chance(0.1)) o.return_overflowing_tokens = true;
  if (r.chance(0.1)) o.return_special_tokens_mask = true;
  if (r.chance(0.1)) o.return_length = true;
  if (r.chance(0.05)) o.return_offsets_mapping = true;
  return o;
}

/**
 * Tokenizer bugs found by this fuzzer and reported (src/tokenizer/ is not ours to change). With
 * --skip-known (the short run inside npm test) these inputs are not tried but counted; without it
 * they are, and show as crashes until fixed.
 *   T1  py.ts pyRepr / strategies.ts: padding, truncation or max_length holding a BigInt, a cyclic
 *       object or a 100k-deep list: TypeError / RangeError from JSON.stringify in the message
 *   T2  bert_tokenizer.ts inputIds: encode(text) with such a text: the same, from its message
 *   T3  padding to max_length 1e9 (or any huge length): Array.prototype.fill aborts the process
 *       (fatal out of memory) instead of a TokenizerError
 * All three are fixed (py.ts pyRepr, prepare.ts MAX_PADDED); their inputs stay in the corpus.
 */
function knownBug() {
  // T1-T3 (repr of bigint/cyclic/deep values, huge padding) are fixed; kept as the hook for the next one
  return null;
}

// ------------------------------------------------------------------ the surface

export async function setup() {
  console.warn = () => {};
  const toks = [];
  for (const [name, init] of VOCABS) {
    const dir = sharedPath("fixtures", "vocab", name);
    const words = readFileSync(`${dir}/vocab.txt`, "utf8").split("\n");
    if (words.at(-1) === "") words.pop();
    const load = () => lib.BertTokenizer.fromPretrained(dir, { model_max_length: 512, ...init });
    toks.push({ name, init, load, tok: await load(), vocab: new Set(words), size: words.length });
  }
  return { toks, fresh: toks.map(() => null) };
}

const wellFormed = (s) => typeof s === "string" && s.isWellFormed();

/** Tokens must be vocabulary entries, [UNK], or never-split / special text kept whole. */
function checkTokens(v, tokens, errs) {
  if (!Array.isArray(tokens)) return errs.push(`tokenize returned ${typeof tokens}`);
  for (const t of tokens) {
    if (!wellFormed(t))
      return errs.push(`token ${show(t)} is not a well-formed string (lone surrogate?)`);
    if (!v.vocab.has(t) && t !== "[UNK]" && !/^\[(CLS|SEP|PAD|MASK|UNK)\]$/.test(t))
      return errs.push(`token ${show(t)} is not in ${v.name}'s vocabulary`);
  }
}

function checkIds(v, ids, errs, what) {
  if (!Array.isArray(ids)) return errs.push(`${what}: not a list`);
  for (const id of ids)
    if (!Number.isInteger(id) || id < 0 || id >= v.size)
      return errs.push(`${what}: id ${id} outside the vocabulary of ${v.size}`);
}

export async function run(state, r, ctx) {
  const { stats, i } = ctx;
  const vi = r.int(0, state.toks.length);
  const v = state.toks[vi];
  const kind = r.weighted([
    [5, "tokenize"],
    [3, "call"],
    [1, "big"],
    [1, "junk"],
    [1, "decode"],
    [1, "padbatch"],
  ]);
  const errs = [];
  let label;
  stats.add("tried");
  if (kind === "tokenize" || kind === "big") {
    const text = kind === "big" ? bigText(r) : randomText(r);
    label = `${v.name}.tokenize(${show(text, 120)})`;
    if (ctx.verbose) ctx.log(`case ${i}: ${label}`);
    const [tokens, err, ok] = await attempt(() => v.tok.tokenize(text));
    if (judge(ctx, null, err, ok, label)) return;
    checkTokens(v, tokens, errs);
    // the same text on a fresh tokenizer (every call above went through this one's word cache)
    if (kind !== "big" && r.chance(0.2)) {
      if (!state.fresh[vi] || r.chance(0.1)) state.fresh[vi] = await v.load();
      const again = state.fresh[vi].tokenize(text);
      stats.add("checks");
      if (again.length !== tokens.length || again.some((t, k) => t !== tokens[k]))
        errs.push(`a fresh tokenizer gives ${show(again, 200)}, this one ${show(tokens, 200)}`);
    }
    const [ids, e2, ok2] = await attempt(() =>
      v.tok.encode(text, { add_special_tokens: r.chance(0.5) }),
    );
    if (judge(ctx, null, e2, ok2, `${v.name}.encode(${show(text, 120)})`)) return;
    checkIds(v, ids, errs, "encode");
    const [dec, e3, ok3] = await attempt(() =>
      v.tok.decode(ids, { skip_special_tokens: r.chance(0.5) }),
    );
    if (judge(ctx, null, e3, ok3, `${v.name}.decode(encode(${show(text, 80)}))`)) return;
    if (typeof dec !== "string") errs.push(`decode returned ${typeof dec}`);
  } else if (kind === "call") {
    const batch = r.chance(0.4);
    const text = batch ? Array.from({ length: r.int(1, 4) }, () => randomText(r)) : randomText(r);
    const o = randomOptions(r);
    if (r.chance(0.3)) o.text_pair = batch ? text.map(() => randomText(r)) : randomText(r);
    if (ctx.skipKnown && knownBug("call", text, o)) {
      stats.add("known");
      o.max_length = 512;
    }
    label = `${v.name}.call(${show(text, 120)}, ${show(o, 200)})`;
    if (ctx.verbose) ctx.log(`case ${i}: ${label}`);
    const [enc, err, ok] = await attempt(() => v.tok.call(text, o));
    if (!ok) {
      // option combinations HF refuses: a TokenizerError with a message is the right answer
      if (judge(ctx, { re: /./, what: "options HF may refuse" }, err, ok, label)) return;
      return;
    }
    stats.add("ok");
    const get = (k) => {
      const x = enc[k] ?? (typeof enc.get === "function" ? enc.get(k) : undefined);
      if (x && typeof x.tolist === "function") return x.tolist();
      return x;
    };
    const rowsOf = (x) =>
      x === undefined ? undefined : batch || (Array.isArray(x) && Array.isArray(x[0])) ? x : [x];
    const ids = rowsOf(get("input_ids"));
    if (!Array.isArray(ids)) return stats.fail("wrong", i, `${label}: no input_ids`);
    const masks = rowsOf(get("attention_mask"));
    const types = rowsOf(get("token_type_ids"));
    ids.forEach((row, k) => {
      checkIds(v, row, errs, `input_ids[${k}]`);
      if (masks && (masks[k].length !== row.length || masks[k].some((m) => m !== 0 && m !== 1)))
        errs.push(`attention_mask[${k}] does not match input_ids[${k}]`);
      if (types && (types[k].length !== row.length || types[k].some((m) => m !== 0 && m !== 1)))
        errs.push(`token_type_ids[${k}] does not match input_ids[${k}]`);
      const ml = o.max_length;
      const truncating =
        o.truncation === true ||
        o.truncation === "longest_first" ||
        o.truncation === "only_first" ||
        o.truncation === "only_second";
      // HF leaves a sequence alone when truncating would have to cut into the special tokens
      if (
        Number.isInteger(ml) &&
        ml >= 3 &&
        ml <= 512 &&
        truncating &&
        o.truncation !== "only_second" &&
        !o.text_pair &&
        o.stride === undefined &&
        row.length > Math.max(ml, 2)
      ) {
        errs.push(`input_ids[${k}] has ${row.length} ids with truncation to max_length ${ml}`);
      }
    });
    if (batch && ids.length !== text.length && !o.return_overflowing_tokens)
      errs.push(`${ids.length} rows for ${text.length} texts`);
    stats.add("checks");
  } else if (kind === "padbatch") {
    // batches padded to max_length: the total (texts x padded length) is capped, not only each row
    const n = r.pick([1, 2, 3, 17, 64, 100, 128]);
    const over = r.chance(0.5);
    const cap = 1 << 24;
    const target = over
      ? Math.floor(cap / n) + r.int(1, r.chance(0.5) ? 4 : 2 ** 20) // just over the cap, or far
      : r.int(1, Math.max(2, Math.floor((1 << 18) / n))); // well under it (fast to build)
    const o = { padding: "max_length", max_length: target };
    if (r.chance(0.2)) o.pad_to_multiple_of = r.pick([8, 64]);
    const padded = o.pad_to_multiple_of
      ? Math.ceil(target / o.pad_to_multiple_of) * o.pad_to_multiple_of
      : target;
    const texts = Array.from({ length: n }, () => "hello world");
    label = `${v.name}.call(${n} texts, ${show(o)})`;
    if (ctx.verbose) ctx.log(`case ${i}: ${label}`);
    const [enc, err, ok] = await attempt(() => v.tok.call(texts, o));
    if (n * padded > cap) {
      if (
        judge(
          ctx,
          { re: /padding .*more than simdbert pads/, what: "a batch padded past the cap" },
          err,
          ok,
          label,
        )
      )
        return;
      return;
    }
    if (judge(ctx, null, err, ok, label)) return;
    const rows = enc.input_ids;
    stats.add("checks");
    if (rows.length !== n || rows.some((row) => row.length !== Math.max(padded, row.length)))
      errs.push(`rows not padded to ${padded}`);
  } else if (kind === "decode") {
    const ids = Array.from({ length: r.int(0, 50) }, () =>
      r.chance(0.9) ? r.int(0, v.size) : r.pick([-1, v.size, 2 ** 40, 1.5, NaN, "3", null]),
    );
    const valid = ids.every((x) => Number.isInteger(x) && x >= 0 && x < v.size);
    label = `${v.name}.decode(${show(ids, 200)})`;
    const [dec, err, ok] = await attempt(() =>
      v.tok.decode(ids, {
        skip_special_tokens: r.chance(0.5),
        clean_up_tokenization_spaces: r.chance(0.5),
      }),
    );
    if (valid) {
      if (judge(ctx, null, err, ok, label)) return;
      if (!wellFormed(dec)) errs.push(`decode gave ${show(dec)}`);
    } else {
      // HF decodes out-of-range ids to None tokens and fails or skips; any typed outcome is fine
      if (!ok) judge(ctx, { re: /./, what: "ids outside the vocabulary" }, err, ok, label);
      else stats.add("ok");
      return;
    }
  } else {
    const cyclic = { a: 1 };
    cyclic.self = cyclic;
    let deep = ["x"];
    for (let k = 0; k < 100000; k++) deep = [deep];
    const junk = r.pick([
      null,
      undefined,
      42,
      {},
      [1, "a"],
      [[["x"]]],
      Symbol("s"),
      3n,
      () => "x",
      new String("boxed"),
      ["a", null],
      [NaN],
      cyclic,
      deep,
      [cyclic],
    ]);
    const how = r.pick(["tokenize", "encode", "call", "options"]);
    label = `${v.name}.${how}(${show(junk, 80)})`;
    if (ctx.skipKnown && knownBug(how === "options" ? "junk-options" : "junk-text", junk))
      return stats.add("known");
    if (ctx.verbose) ctx.log(`case ${i}: ${label}`);
    const [, err, ok] = await attempt(() => {
      if (how === "tokenize") return v.tok.tokenize(junk);
      if (how === "encode") return v.tok.encode(junk);
      if (how === "call") return v.tok.call(junk);
      return v.tok.call("hello world", { padding: junk, truncation: junk, max_length: junk });
    });
    // wrong types may be refused (TokenizerError) or read as HF reads them; never anything else
    if (!ok) judge(ctx, { re: /./, what: "wrongly typed text or options" }, err, ok, label);
    else stats.add("ok");
    return;
  }
  if (errs.length) stats.fail("wrong", i, `${label}: ${errs.slice(0, 3).join("; ")}`);
  else stats.add("ok");
}

export const surface = { name, skip, setup, run };
