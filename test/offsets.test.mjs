// BertTokenizer's character offsets (return_offsets_mapping, tokenizeWithOffsets), by property:
// on the shared tokenizer cases and on seeded texts in many scripts, the tokens are tokenize()'s,
// the text at each offset, normalized as the tokenizer normalizes (control characters dropped,
// lowercased, accents stripped), is the token without "##", offsets never go back, and special
// tokens and padding get (0, 0) in encodings (pairs, truncation, batches).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { BertTokenizer } from "../dist/index.js";
import { charClass, DROP, lowerPerChar, stripAccents } from "../dist/tokenizer/unicode.js";
import { sharedPath } from "./support/shared.mjs";
import { rng } from "./support/random_model.mjs";

const { cases } = JSON.parse(
  readFileSync(sharedPath("fixtures", "tokenizer", "cases.json"), "utf8"),
);
const vocabDir = (name) => sharedPath("fixtures", "vocab", name);

/** The text of a span as the tokenizer sees it. */
function normalize(tok, s) {
  const basic = tok.basic_tokenizer;
  let out = "";
  for (const ch of s) {
    if (basic && charClass(ch.codePointAt(0)) === DROP) continue; // _clean_text
    out += ch;
  }
  if (tok.do_lower_case) out = lowerPerChar(out);
  const strip = basic
    ? basic.do_lower_case
      ? basic.strip_accents !== false
      : !!basic.strip_accents
    : false;
  return strip ? stripAccents(out) : out;
}

function checkText(tok, text, where) {
  const { tokens, offsets } = tok.tokenizeWithOffsets(text);
  assert.equal(tokens, tok.tokenize(text), `${where}: tokens differ from tokenize()`);
  let last = 0;
  const specials = new Set(tok.all_special_tokens);
  tokens.forEach((t, i) => {
    const [s, e] = offsets[i];
    assert.ok(s >= last && s <= e && e <= text.length, `${where}: offsets [${s}, ${e}) of ${t}`);
    last = s;
    if (t === tok.unk_token && !specials.has(text.slice(s, e))) {
      assert.ok(e > s, `${where}: [UNK] covers nothing`);
      return;
    }
    const got = specials.has(t) ? text.slice(s, e) : normalize(tok, text.slice(s, e));
    const want = i > 0 && t.startsWith("##") && !specials.has(t) ? t.slice(2) : t;
    // a word piece's own text, or a token that is the piece itself ("##" as a vocab entry), or
    // one of the pieces one character decomposes into (Hangul syllables into jamo)
    const oneChar = [...text.slice(s, e)].length === 1;
    assert.ok(
      got === want || got === t || (oneChar && got.includes(want)),
      `${where}: ${JSON.stringify(t)} at [${s}, ${e}) is ${JSON.stringify(got)}`,
    );
  });
}

test("the shared tokenizer cases: tokens as tokenize(), each offset's text is its token", async () => {
  const cache = new Map();
  let n = 0;
  for (const c of cases) {
    const texts = [c.call?.text, c.call?.text_pair].filter((t) => typeof t === "string");
    if (!texts.length || !c.vocab) continue;
    const key = `${c.vocab}|${JSON.stringify(c.init ?? {})}`;
    if (!cache.has(key)) {
      try {
        cache.set(key, await BertTokenizer.fromPretrained(vocabDir(c.vocab), c.init ?? {}));
      } catch {
        cache.set(key, null); // an init HF refuses
      }
    }
    const tok = cache.get(key);
    if (!tok) continue;
    for (const t of texts) {
      checkText(tok, t, c.id);
      n++;
    }
  }
  assert.ok(n > 100, `only ${n} texts checked`);
});

const SCRIPTS = [
  "The quick brown fox, jumps! over the lazy dog's back...",
  "Ünïcödé àccénts: Crème brûlée, naïve façade, Ångström, São Paulo",
  "Ελληνικά: ΟΔΥΣΣΕΥΣ και ο Σωκράτης.",
  "Русский текст: Съешь же ещё этих мягких французских булок!",
  "العربية: مرحبا بالعالم، كيف حالك؟",
  "עברית: שלום עולם!",
  "हिन्दी: नमस्ते दुनिया। यह एक परीक्षण है।",
  "ไทย: สวัสดีชาวโลก",
  "中文：我爱北京天安门。日本語：東京タワー、ひらがな。",
  "한국어: 안녕하세요 세계!",
  "Emoji 😀👍🏽 and flags 🇫🇷, ZWJ 👨‍👩‍👧 family",
  "Decomposed e\u0301 and a\u0308 and o\u0302\u0323, precomposed é ä ộ",
  "İstanbul DİYARBAKIR ǅemal ﬁne ß ẞ",
  "Control\u0000chars\u0007in\u200bwords\ufeff and tabs\tnew\nlines\r\n",
  "[CLS] literal [SEP] specials [MASK] in [UNK] the text [PAD]",
  "mixed123numbers4.5e-6 and url https://example.com/a?b=c&d=e",
  "   leading and trailing spaces   ",
  "",
  "\u00a0non\u00a0breaking\u2003em\u3000ideographic\u202fnarrow",
  "a".repeat(150) + " long word then short",
];

test("texts in many scripts, seeded mixtures, four vocabularies and settings", async () => {
  const toks = [
    await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased")),
    await BertTokenizer.fromPretrained(vocabDir("bert-base-cased"), { do_lower_case: false }),
    await BertTokenizer.fromPretrained(vocabDir("bert-base-multilingual-cased"), {
      do_lower_case: false,
    }),
    await BertTokenizer.fromPretrained(vocabDir("bert-base-chinese")),
    await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"), { strip_accents: false }),
    await BertTokenizer.fromPretrained(vocabDir("bert-base-cased"), {
      do_lower_case: false,
      strip_accents: true,
      tokenize_chinese_chars: false,
    }),
    await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"), { do_basic_tokenize: false }),
    await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"), { never_split: ["[FOO]"] }),
  ];
  const r = rng(20261202);
  const chars = [...SCRIPTS.join("")];
  const mixtures = Array.from({ length: 60 }, () =>
    Array.from(
      { length: 1 + Math.floor(r() * 60) },
      () => chars[Math.floor(r() * chars.length)],
    ).join(""),
  );
  toks.forEach((tok, k) => {
    for (const t of [...SCRIPTS, ...mixtures, "x [FOO] y"])
      checkText(tok, t, `tokenizer ${k}: ${JSON.stringify(t.slice(0, 30))}`);
  });
});

test("encodings: specials and padding (0, 0), pairs, truncation, batches, left padding", async () => {
  const tok = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"));
  const a = "Hello, World!";
  const b = "Renée visited Köln.";
  const e = tok.encode_plus(a, b, { return_offsets_mapping: true });
  assert.equal(e.offset_mapping, [
    [0, 0],
    [0, 5],
    [5, 6],
    [7, 12],
    [12, 13],
    [0, 0],
    [0, 5],
    [6, 13],
    [14, 18],
    [18, 19],
    [0, 0],
  ]);
  assert.is(e.offset_mapping.length, e.input_ids.length);
  const t = tok.encode_plus(a, b, {
    return_offsets_mapping: true,
    truncation: "only_second",
    max_length: 8,
  });
  assert.equal(t.offset_mapping, [
    [0, 0],
    [0, 5],
    [5, 6],
    [7, 12],
    [12, 13],
    [0, 0],
    [0, 5],
    [0, 0],
  ]);
  const batch = tok.call([a, "Hi"], { return_offsets_mapping: true, padding: true });
  assert.is(batch.offset_mapping.length, 2);
  assert.equal(batch.offset_mapping[0], [
    [0, 0],
    [0, 5],
    [5, 6],
    [7, 12],
    [12, 13],
    [0, 0],
  ]);
  assert.equal(batch.offset_mapping[1], [
    [0, 0],
    [0, 2],
    [0, 0],
    [0, 0],
    [0, 0],
    [0, 0],
  ]);
  const left = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"), {
    padding_side: "left",
  });
  const lb = left.call([a, b], {
    return_offsets_mapping: true,
    padding: "max_length",
    max_length: 9,
  });
  assert.equal(lb.offset_mapping[1].slice(0, 4), [
    [0, 0],
    [0, 0],
    [0, 0],
    [0, 0],
  ]);
  assert.equal(lb.offset_mapping[1][4], [0, 5]);
  // pre-split words or ids have no text to point into
  assert.throws(
    () => tok.encode_plus(["a", "b"], { return_offsets_mapping: true, is_split_into_words: true }),
    /as a string/,
  );
});

test.run();
