// BertTokenizer. Every reference case of ../shared/fixtures/tokenizer/cases.json (HF
// transformers 4.30.2, slow BertTokenizer) through the library API and through `simdbert
// tokenize`, then our own: random Unicode (lone surrogates, controls, every script), megabyte
// inputs, missing special tokens, tokenizer.json built here from a vocab, tensors for the model.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AddedToken,
  BasicTokenizer,
  BertModel,
  BertTokenizer,
  Tensor,
  TokenizerError,
  Vocab,
  WordpieceTokenizer,
} from "../dist/index.js";
import { sharedPath } from "./support/shared.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const { cases } = JSON.parse(
  readFileSync(sharedPath("fixtures", "tokenizer", "cases.json"), "utf8"),
);
const vocabDir = (name) => sharedPath("fixtures", "vocab", name);
const vocabText = (name) => readFileSync(join(vocabDir(name), "vocab.txt"), "utf8");

// ---- the reference cases through the library ------------------------------------------------

const tokenizers = new Map();
async function tokenizerFor(c) {
  const key = `${c.vocab ?? JSON.stringify(c.vocab_inline ?? null)}|${JSON.stringify(c.init ?? {})}`;
  if (!tokenizers.has(key)) {
    const init = c.init ?? {};
    const t = c.vocab
      ? await BertTokenizer.fromPretrained(vocabDir(c.vocab), init)
      : new BertTokenizer(c.vocab_inline ?? ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], init);
    tokenizers.set(key, t);
  }
  return tokenizers.get(key);
}

function vocabOf(c) {
  return c.vocab ? Vocab.fromText(vocabText(c.vocab)) : Vocab.fromList(c.vocab_inline);
}

/** What a case's `call` gives through the public API, with the fields of `expected`. */
async function viaLibrary(c) {
  const { method, text, text_pair, ...options } = c.call;
  const init = c.init ?? {};
  if (method === "basic_tokenize") return { tokens: new BasicTokenizer(init).tokenize(text) };
  if (method === "wordpiece_tokenize")
    return {
      tokens: new WordpieceTokenizer(vocabOf(c), { unk_token: "[UNK]", ...init }).tokenize(text),
    };
  const tok = await tokenizerFor(c);
  if (method === "tokenize") {
    const tokens = tok.tokenize(text);
    return { tokens, token_ids: tok.convert_tokens_to_ids(tokens) };
  }
  if (method === "encode_plus") {
    const enc = tok.encode_plus(text, text_pair ?? null, options);
    const out = { tokens: tok.tokenize(text), ...enc.toJSON() };
    if (text_pair !== undefined && text_pair !== null) out.tokens_pair = tok.tokenize(text_pair);
    out.input_tokens = tok.convert_ids_to_tokens(enc.input_ids);
    out.decoded = tok.decode(enc.input_ids);
    out.decoded_skip_special = tok.decode(enc.input_ids, { skip_special_tokens: true });
    return out;
  }
  if (method === "batch_encode_plus") {
    const enc = tok.batch_encode_plus(text, options);
    const pair = (it) => Array.isArray(it);
    return {
      tokens: text.map((it) => tok.tokenize(pair(it) ? it[0] : it)),
      tokens_pair: text.map((it) => (pair(it) ? tok.tokenize(it[1]) : null)),
      ...enc.toJSON(),
      input_tokens: enc.input_ids.map((r) => tok.convert_ids_to_tokens(r)),
      decoded: enc.input_ids.map((r) => tok.decode(r)),
      decoded_skip_special: enc.input_ids.map((r) => tok.decode(r, { skip_special_tokens: true })),
    };
  }
  throw new Error(`unknown method ${method}`);
}

test(`all ${cases.length} reference cases through the library API`, async () => {
  const failures = [];
  for (const c of cases) {
    let got;
    try {
      got = await viaLibrary(c);
    } catch (e) {
      if ("error" in c.expected && e instanceof TokenizerError) continue;
      failures.push(`${c.id}: threw ${e.message}`);
      continue;
    }
    if ("error" in c.expected) {
      failures.push(`${c.id}: expected ${c.expected.error}, got a result`);
      continue;
    }
    for (const [k, want] of Object.entries(c.expected)) {
      if (JSON.stringify(got[k]) !== JSON.stringify(want)) {
        failures.push(
          `${c.id}: ${k} got ${JSON.stringify(got[k])?.slice(0, 120)} want ${JSON.stringify(want).slice(0, 120)}`,
        );
        break;
      }
    }
  }
  assert.equal(failures, [], failures.slice(0, 10).join("\n"));
});

// ---- the reference cases through the CLI ----------------------------------------------------

function runCli(dir, lines) {
  const r = spawnSync(process.execPath, [CLI, "tokenize", dir], {
    input: lines.join("\n") + "\n",
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  assert.is(r.status, 0, `simdbert tokenize exited ${r.status}: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter((l) => l.length)
    .map((l) => JSON.parse(l));
}

test(`all ${cases.length} reference cases through simdbert tokenize`, () => {
  const groups = new Map();
  for (const c of cases) {
    const key = c.vocab ?? JSON.stringify(c.vocab_inline ?? null);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(c);
  }
  const failures = [];
  for (const group of groups.values()) {
    let dir = group[0].vocab ? vocabDir(group[0].vocab) : null;
    let tmp = null;
    if (!dir) {
      tmp = dir = mkdtempSync(join(tmpdir(), "simdbert-tok-"));
      writeFileSync(
        join(dir, "vocab.txt"),
        (group[0].vocab_inline ?? ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]).join("\n") + "\n",
      );
    }
    try {
      const answers = runCli(
        dir,
        group.map((c) => JSON.stringify({ init: c.init ?? {}, call: c.call })),
      );
      assert.is(answers.length, group.length, "one answer per request");
      group.forEach((c, i) => {
        const got = answers[i];
        if ("error" in c.expected) {
          if (!("error" in got)) failures.push(`${c.id}: expected an error`);
          return;
        }
        for (const [k, want] of Object.entries(c.expected)) {
          if (JSON.stringify(got[k]) !== JSON.stringify(want)) {
            failures.push(
              `${c.id}: ${k} got ${JSON.stringify(got[k])?.slice(0, 120)} want ${JSON.stringify(want).slice(0, 120)}`,
            );
            break;
          }
        }
      });
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  }
  assert.equal(failures, [], failures.slice(0, 10).join("\n"));
});

test("simdbert tokenize: basic_tokenize, wordpiece_tokenize, tokenize, errors, bad JSON", () => {
  const lines = [
    {
      init: { do_lower_case: true },
      call: { method: "basic_tokenize", text: "Héllo, WORLD! 你好" },
    },
    {
      init: { unk_token: "[UNK]" },
      call: { method: "wordpiece_tokenize", text: "unaffable xyzzyq h\u00e9" },
    },
    { init: { do_lower_case: true }, call: { method: "tokenize", text: "Hello [MASK]!" } },
    { init: { padding_side: "middle" }, call: { method: "encode_plus", text: "x" } },
    { init: {}, call: { method: "encode_plus", text: "x", padding: "sideways" } },
  ].map((l) => JSON.stringify(l));
  lines.push("{not json");
  const [basic, wp, tok, side, pad, bad] = runCli(vocabDir("bert-base-uncased"), lines);
  assert.equal(basic.tokens, ["hello", ",", "world", "!", "你", "好"]);
  assert.equal(wp.tokens, ["una", "##ffa", "##ble", "x", "##y", "##zzy", "##q", "[UNK]"]);
  assert.equal(tok, { tokens: ["hello", "[MASK]", "!"], token_ids: [7592, 103, 999] });
  assert.is(side.error, "ValueError");
  assert.is(pad.error, "ValueError");
  assert.is(bad.error, "JSONDecodeError");
});

test("simdbert tokenize gives missing special tokens new ids, as Python does", () => {
  const dir = mkdtempSync(join(tmpdir(), "simdbert-tok-"));
  try {
    writeFileSync(
      join(dir, "vocab.txt"),
      ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello"].join("\n") + "\n",
    );
    const call = { method: "encode_plus", text: "hello [MASK]" };
    const [hf, strict] = runCli(dir, [
      JSON.stringify({ init: {}, call }),
      JSON.stringify({ init: { add_missing_special_tokens: false }, call }),
    ]);
    assert.equal(hf.input_ids, [2, 4, 5, 3]);
    assert.equal(hf.input_tokens, ["[CLS]", "hello", "[MASK]", "[SEP]"]);
    assert.is(hf.decoded_skip_special, "hello");
    assert.is(strict.error, "KeyError");
    assert.match(strict.message, /mask_token/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- random Unicode ---------------------------------------------------------------------------

function rng(seed) {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

const range = (a, b) => Array.from({ length: b - a }, (_, i) => String.fromCodePoint(a + i));
const POOLS = [
  range(0x20, 0x7f),
  range(0xa0, 0x250),
  range(0x300, 0x370),
  [...range(0x370, 0x400), "Σ", "Σ", "ς"],
  range(0x400, 0x530),
  range(0x4e00, 0x4e40),
  [...range(0x20000, 0x20010), ...range(0x2f800, 0x2f805)],
  [...range(0x3040, 0x3100), ...range(0xac00, 0xac20)],
  [...range(0x1f300, 0x1f320), "\u200d", "\ufe0f"],
  [
    ...range(0, 0x20),
    "\x7f",
    "\x85",
    "\xad",
    "\u200b",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ufffd",
    "\ue000",
    "\u0378",
    "\u00a0",
    "\u3000",
  ],
  ["\ud800", "\udc00", "\udbff", "\udfff", "\ud83d"],
  ["[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[mask]", " [MASK] ", "[MA", "SK]"],
  [...range(0x2010, 0x2070), ...range(0xff00, 0xff70)],
  ["İ", "ẞ", "ß", "ﬁ", "K", "Ω", "Å", "῏", ";", "ΐ", "ǅ", "x".repeat(120)],
];

function randomText(r, n) {
  let s = "";
  for (let i = 0; i < n; i++) {
    const pool = POOLS[r(POOLS.length)];
    s += pool[r(pool.length)];
  }
  return s;
}

test("random Unicode (lone surrogates, controls, specials): never throws, ids valid, HF's invariants hold", async () => {
  const r = rng(12345);
  const uncased = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"), {
    model_max_length: 512,
  });
  const multi = await BertTokenizer.fromPretrained(vocabDir("bert-base-multilingual-cased"), {
    do_lower_case: false,
    model_max_length: 512,
  });
  const basicTok = new BertTokenizer(Vocab.fromText(vocabText("bert-base-cased")), {
    do_basic_tokenize: false,
  });
  for (let i = 0; i < 1500; i++) {
    const tok = [uncased, multi, basicTok][i % 3];
    const text = randomText(r, [0, 1, 5, 40, 300][r(5)]);
    const pair = r(3) === 0 ? randomText(r, 20) : null;
    const tokens = tok.tokenize(text);
    const ids = tok.convert_tokens_to_ids(tokens);
    for (const id of ids)
      assert.ok(Number.isInteger(id) && id >= 0 && id < tok.vocab_size, `id ${id} out of range`);
    assert.equal(
      tok.encode(text, { add_special_tokens: false }),
      ids,
      "encode == convert_tokens_to_ids(tokenize)",
    );
    const enc = tok.encode_plus(text, pair, {
      truncation: r(2) === 0,
      max_length: 3 + r(40),
      padding: ["max_length", true, false][r(3)],
    });
    assert.is(enc.input_ids.length, enc.attention_mask.length);
    assert.is(enc.input_ids.length, enc.token_type_ids.length);
    const decoded = tok.decode(enc.input_ids, { skip_special_tokens: true });
    assert.type(decoded, "string");
    // special tokens typed in the text are never cut
    if (text.includes("[MASK]") && tok.do_basic_tokenize) assert.ok(tokens.includes("[MASK]"));
  }
});

test("BasicTokenizer on random Unicode: no whitespace or deleted characters survive", () => {
  const r = rng(777);
  const bt = new BasicTokenizer({ do_lower_case: true });
  for (let i = 0; i < 1000; i++) {
    for (const t of bt.tokenize(randomText(r, 60))) {
      assert.ok(t.length > 0);
      // eslint-disable-next-line no-control-regex
      assert.not.ok(/[\s\u0000-\u001f\u007f\u0085\u200b\ufeff\ufffd]/.test(t), JSON.stringify(t));
      assert.not.ok(
        /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(t),
        "lone surrogate kept",
      );
    }
  }
});

// ---- big inputs -------------------------------------------------------------------------------

test("1 MB+ inputs: fast, and the same tokens as line by line", async () => {
  const tok = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"), {
    model_max_length: 512,
  });
  const r = rng(99);
  const lines = [];
  let size = 0;
  while (size < 1_200_000) {
    const line = randomText(r, 80).replace(/[\n\r\u2028\u2029[\]]/g, " ");
    lines.push(line);
    size += line.length;
  }
  const text = lines.join("\n");
  const t0 = performance.now();
  const ids = tok.encode(text, { add_special_tokens: false });
  const ms = performance.now() - t0;
  assert.ok(ms < 20_000, `1.2 MB took ${ms.toFixed(0)} ms`);
  const byLine = lines.flatMap((l) => tok.encode(l, { add_special_tokens: false }));
  assert.equal(ids.length, byLine.length);
  assert.ok(
    ids.every((x, i) => x === byLine[i]),
    "whole text and line-by-line ids differ",
  );

  // pathological shapes, each a megabyte
  const mb = 1 << 20;
  assert.equal(tok.tokenize("a".repeat(mb)), ["[UNK]"], "one huge word is one [UNK]");
  assert.is(tok.tokenize("!".repeat(mb)).length, mb, "every punctuation mark is a token");
  assert.is(tok.tokenize("中".repeat(mb)).length, mb, "every ideograph is a token");
  assert.equal(tok.tokenize("\ud800".repeat(mb)), [], "lone surrogates are deleted");
  assert.equal(tok.tokenize("\u0000 \u200b\t".repeat(mb / 4)), []);
  assert.is(tok.tokenize("[MASK]".repeat(mb / 6)).length, Math.floor(mb / 6));
});

test("10 MB of mixed text does not throw", async () => {
  const tok = await BertTokenizer.fromPretrained(vocabDir("bert-base-multilingual-cased"), {
    do_lower_case: false,
  });
  const r = rng(5);
  const block = randomText(r, 20_000);
  const text = block.repeat(Math.ceil(10_000_000 / block.length));
  const enc = tok.encode_plus(text, null, {
    truncation: true,
    max_length: 512,
    return_overflowing_tokens: true,
  });
  assert.is(enc.input_ids.length, 512);
  assert.ok(enc.overflowing_tokens.length > 1_000_000);
});

// ---- missing special tokens -----------------------------------------------------------------

test("a vocab without the special tokens it needs gets a clear error", () => {
  const words = ["hello", "world", "##s"];
  const noCls = new BertTokenizer(["[PAD]", "[UNK]", "[SEP]", "[MASK]", ...words]);
  assert.equal(
    noCls.tokenize("hello worlds"),
    ["hello", "world", "##s"],
    "tokenize needs no special token",
  );
  assert.equal(noCls.encode("hello", { add_special_tokens: false }), [4]);
  assert.throws(
    () => noCls.encode_plus("hello"),
    (e) =>
      e instanceof TokenizerError &&
      /"\[CLS\]" \(cls_token\) is not in the vocabulary/.test(e.message),
  );

  const noUnk = new BertTokenizer(["[PAD]", "[CLS]", "[SEP]", "[MASK]", ...words]);
  assert.equal(noUnk.encode("hello world"), [1, 4, 5, 2]);
  assert.throws(
    () => noUnk.encode("hello xyz"),
    (e) => e instanceof TokenizerError && /\[UNK\]/.test(e.message),
  );

  const noPad = new BertTokenizer(["[UNK]", "[CLS]", "[SEP]", "[MASK]", ...words]);
  assert.equal(noPad.encode_plus("hello").input_ids, [1, 4, 2]);
  assert.throws(
    () => noPad.call(["hello", "hello world"], { padding: true }),
    (e) => e instanceof TokenizerError && /\[PAD\]/.test(e.message),
  );

  const noMask = new BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", ...words]);
  assert.equal(noMask.encode("hello"), [2, 4, 3], "[MASK] is only needed when the text has it");
  assert.throws(
    () => noMask.encode("hello [MASK]"),
    (e) => e instanceof TokenizerError && /mask_token/.test(e.message),
  );

  // HF's own behaviour on request: missing special tokens get ids after the vocabulary
  const hfLike = new BertTokenizer(["[PAD]", "[UNK]", "[SEP]", ...words], {
    add_missing_special_tokens: true,
  });
  assert.is(hfLike.cls_token_id, 6);
  assert.is(hfLike.mask_token_id, 7);
  assert.equal(hfLike.encode("hello [MASK]"), [6, 3, 7, 2]);
  assert.is(hfLike.length, 8);
});

// ---- tokenizer.json -------------------------------------------------------------------------

function tokenizerJson(vocabList, { lowercase = true, strip_accents = null, chinese = true } = {}) {
  const vocab = Object.fromEntries(vocabList.map((t, i) => [t, i]));
  const special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].filter((t) => t in vocab);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special.map((t) => ({
      id: vocab[t],
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: chinese,
      strip_accents,
      lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {},
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

test("tokenizer.json built from a vocab gives the same encodings as vocab.txt", async () => {
  for (const [name, opts, lowercase] of [
    ["bert-base-uncased", { do_lower_case: true }, true],
    ["bert-base-chinese", { do_lower_case: false }, false],
  ]) {
    const list = vocabText(name).split("\n");
    if (list[list.length - 1] === "") list.pop();
    const fromJson = await BertTokenizer.fromPretrained(
      { "tokenizer.json": JSON.stringify(tokenizerJson(list, { lowercase })) },
      { model_max_length: 512 },
    );
    const fromTxt = await BertTokenizer.fromPretrained(vocabDir(name), {
      ...opts,
      model_max_length: 512,
    });
    assert.is(fromJson.vocab_size, fromTxt.vocab_size);
    assert.is(fromJson.basic_tokenizer.do_lower_case, lowercase);
    const texts = cases
      .filter((c) => c.vocab === name && typeof c.call.text === "string")
      .map((c) => c.call.text);
    const r = rng(3);
    for (let i = 0; i < 300; i++) texts.push(randomText(r, 50));
    for (const t of texts) {
      assert.equal(
        fromJson.encode_plus(t, "a pair", { truncation: true, max_length: 64 }).toJSON(),
        fromTxt.encode_plus(t, "a pair", { truncation: true, max_length: 64 }).toJSON(),
        t,
      );
    }
  }
});

test("tokenizer.json: settings read, unsupported pipelines refused", async () => {
  const list = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "café", "x"];
  const strip = await BertTokenizer.fromPretrained({
    "tokenizer.json": tokenizerJson(list, { lowercase: false, strip_accents: true }),
  });
  assert.equal(strip.tokenize("café CAFE"), ["cafe", "[UNK]"]);
  const keep = await BertTokenizer.fromPretrained({
    "tokenizer.json": tokenizerJson(list, { lowercase: true, strip_accents: false }),
  });
  assert.equal(keep.tokenize("CAFÉ"), ["café"]);
  const bpe = { ...tokenizerJson(list), model: { type: "BPE", vocab: {}, merges: [] } };
  let err = null;
  try {
    await BertTokenizer.fromPretrained({ "tokenizer.json": bpe });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof TokenizerError && /not WordPiece/.test(err.message), String(err));
  err = null;
  try {
    await BertTokenizer.fromPretrained({ "config.json": {} });
  } catch (e) {
    err = e;
  }
  assert.ok(
    err instanceof TokenizerError && /neither vocab.txt nor tokenizer.json/.test(err.message),
    String(err),
  );
});

test("from_pretrained reads tokenizer_config.json and special_tokens_map.json; options win", async () => {
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "hello", "Hello"].join("\n");
  const files = {
    "vocab.txt": vocab,
    "tokenizer_config.json": { do_lower_case: false, model_max_length: 8 },
    "special_tokens_map.json": { cls_token: "<s>" },
  };
  const t = await BertTokenizer.fromPretrained(files);
  assert.equal(t.tokenize("Hello"), ["Hello"]);
  assert.equal(t.encode("Hello"), [5, 7, 3]);
  assert.is(t.model_max_length, 8);
  assert.is(t.encode_plus("hello ".repeat(20), { truncation: true }).input_ids.length, 8);
  const t2 = await BertTokenizer.fromPretrained(files, { do_lower_case: true, cls_token: "[CLS]" });
  assert.equal(t2.encode("Hello"), [2, 6, 3]);
});

// ---- the API ----------------------------------------------------------------------------------

test("tensors for BertModel.forward: int64, [batch, seq], padded", async () => {
  const tok = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"));
  const enc = tok.call(["Hello world", "A somewhat longer sentence"], {
    text_pair: ["first", "second one"],
    padding: true,
    return_tensors: "pt",
  });
  assert.ok(enc.input_ids instanceof Tensor);
  assert.is(enc.input_ids.dtype, "int64");
  assert.equal(enc.input_ids.shape, [2, 9]);
  assert.equal(enc.input_ids.tolist()[0], [101, 7592, 2088, 102, 2034, 102, 0, 0, 0]);
  assert.equal(enc.token_type_ids.tolist()[0], [0, 0, 0, 0, 1, 1, 0, 0, 0]);
  assert.equal(enc.attention_mask.tolist()[0], [1, 1, 1, 1, 1, 1, 0, 0, 0]);
  const single = tok.encode_plus("Hello world", { return_tensors: "pt" });
  assert.equal(single.input_ids.shape, [1, 4]);
  assert.equal(tok.encode_plus("Hello world").toTensors().input_ids.shape, [1, 4]);
  assert.throws(
    () => tok.call(["a", "a b c"], { return_tensors: "pt" }),
    /activate truncation and\/or padding/,
  );
  assert.equal(tok.batch_decode(enc.input_ids, { skip_special_tokens: true }), [
    "hello world first",
    "a somewhat longer sentence second one",
  ]);
});

test("tokenizer output runs through BertModel.forward", async () => {
  const dir = sharedPath("fixtures", "bert", "a_tiny_encoder");
  const model = await BertModel.fromPretrained(dir);
  const words = Array.from({ length: 100 }, (_, i) => `w${i}`);
  const tok = new BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...words]);
  const enc = tok.call(["w1 w2 w3", "w4 w99 unknown"], {
    text_pair: ["w5", "w6 w7"],
    padding: true,
    return_tensors: "pt",
  });
  const out = await model.forward(enc);
  assert.equal(out.last_hidden_state.shape, [2, enc.input_ids.shape[1], 32]);
  const plain = await model.forward(
    tok.call(["w1 w2 w3", "w4 w99 unknown"], { text_pair: ["w5", "w6 w7"], padding: true }),
  );
  assert.equal(Array.from(plain.last_hidden_state.data), Array.from(out.last_hidden_state.data));
});

test("BasicTokenizer and WordpieceTokenizer on their own, as HF's", () => {
  const bt = new BasicTokenizer();
  assert.equal(bt.tokenize(" \tHeLLo!how  \n Are yoU?  "), [
    "hello",
    "!",
    "how",
    "are",
    "you",
    "?",
  ]);
  assert.equal(bt.tokenize("H\u00E9llo"), ["hello"]);
  assert.equal(
    new BasicTokenizer({ do_lower_case: false }).tokenize(" \tHeLLo!how  \n Are yoU?  "),
    ["HeLLo", "!", "how", "Are", "yoU", "?"],
  );
  assert.equal(
    new BasicTokenizer({ do_lower_case: true, strip_accents: false }).tokenize(
      " \tHäLLo!how  \n Are yoU?  ",
    ),
    ["hällo", "!", "how", "are", "you", "?"],
  );
  assert.equal(
    new BasicTokenizer({ do_lower_case: false, strip_accents: true }).tokenize(
      " \tHäLLo!how  \n Are yoU?  ",
    ),
    ["HaLLo", "!", "how", "Are", "yoU", "?"],
  );
  assert.equal(
    new BasicTokenizer({ do_lower_case: false, never_split: ["[UNK]"] }).tokenize(
      " \tHeLLo!how  \n Are yoU? [UNK]",
    ),
    ["HeLLo", "!", "how", "Are", "yoU", "?", "[UNK]"],
  );
  assert.equal(bt.tokenize("ah\u535A\u63A8zz"), ["ah", "\u535A", "\u63A8", "zz"]);
  assert.equal(new BasicTokenizer({ tokenize_chinese_chars: false }).tokenize("ah\u535A\u63A8zz"), [
    "ah\u535A\u63A8zz",
  ]);
  // whole-word lowercasing here (no pre-pass): a final capital sigma becomes ς, as Python's lower()
  assert.equal(bt.tokenize("ΟΔΟΣ"), ["οδος"]);
  assert.equal(bt.tokenize("a\u2028b a\u00a0b"), ["a", "b", "a", "b"]);

  const vocab = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing"];
  const wp = new WordpieceTokenizer(vocab, { unk_token: "[UNK]" });
  assert.equal(wp.tokenize(""), []);
  assert.equal(wp.tokenize("unwanted running"), ["un", "##want", "##ed", "runn", "##ing"]);
  assert.equal(wp.tokenize("unwantedX running"), ["[UNK]", "runn", "##ing"]);
  assert.equal(
    new WordpieceTokenizer(vocab, { max_input_chars_per_word: 4 }).tokenize("want wanted"),
    ["want", "[UNK]"],
  );
  // lengths in code points: 100 astral characters are one word of 100
  const astral = new WordpieceTokenizer(["[UNK]", "\u{1F600}", "##\u{1F600}"]);
  assert.is(astral.tokenize("\u{1F600}".repeat(100)).length, 100);
  assert.equal(astral.tokenize("\u{1F600}".repeat(101)), ["[UNK]"]);
});

test("BertTokenizer API: tokens <-> ids, decode, special tokens, added tokens", async () => {
  const tok = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"), {
    model_max_length: 512,
  });
  assert.is(tok.vocab_size, 30522);
  assert.equal(tok.all_special_tokens, ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]);
  assert.equal(tok.all_special_ids, [100, 102, 0, 101, 103]);
  assert.equal(
    [tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id, tok.mask_token_id],
    [101, 102, 0, 100, 103],
  );
  assert.equal(tok.convert_tokens_to_ids(["hello", "not-a-token"]), [7592, 100]);
  assert.is(tok.convert_tokens_to_ids("hello"), 7592);
  assert.is(tok.convert_ids_to_tokens(7592), "hello");
  assert.equal(tok.convert_ids_to_tokens([101, 7592, 999999, -5]), [
    "[CLS]",
    "hello",
    "[UNK]",
    "[UNK]",
  ]);
  assert.is(tok.convert_tokens_to_string(["un", "##aff", "##able", ",", "yes"]), "unaffable , yes");
  assert.is(tok.decode([101, 2009, 1005, 1055, 2025, 1012, 102]), "[CLS] it's not. [SEP]");
  assert.is(
    tok.decode([101, 2009, 1005, 1055, 102], {
      skip_special_tokens: true,
      clean_up_tokenization_spaces: false,
    }),
    "it ' s",
  );
  assert.equal(tok.get_special_tokens_mask([5, 6], [7]), [1, 0, 0, 1, 0, 1]);
  assert.equal(
    tok.encode_plus("a b", "c", { return_special_tokens_mask: true, return_length: true }).toJSON(),
    {
      input_ids: [101, 1037, 1038, 102, 1039, 102],
      token_type_ids: [0, 0, 0, 0, 1, 1],
      special_tokens_mask: [1, 0, 0, 1, 0, 1],
      attention_mask: [1, 1, 1, 1, 1, 1],
      length: 6,
    },
  );
  // pre-split words, tokens and ids as inputs
  assert.equal(
    tok.encode(["Hello", "world!"], { is_split_into_words: true }),
    [101, 7592, 2088, 999, 102],
  );
  assert.equal(tok.encode(["hello", "world"]), [101, 7592, 2088, 102]);
  assert.equal(tok.encode([7592, 2088]), [101, 7592, 2088, 102]);
  assert.throws(() => tok.encode([]), /is not valid/);

  // added tokens: new ids after the vocabulary, never split, lowercased with do_lower_case
  const t2 = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"));
  assert.is(t2.add_tokens(["NewWord", "hello"]), 1);
  assert.is(t2.convert_tokens_to_ids("newword"), 30522);
  assert.equal(t2.tokenize("xNEWWORDy"), ["x", "newword", "y"]);
  assert.is(t2.decode(t2.encode("a newword b")), "[CLS] a newword b [SEP]");
  assert.is(t2.add_special_tokens({ additional_special_tokens: ["<ent>"] }), 1);
  assert.equal(t2.tokenize("a<ent>b"), ["a", "<ent>", "b"]);

  // AddedToken flags decide which side's whitespace a special token takes
  const t3 = new BertTokenizer(Vocab.fromText(vocabText("bert-base-uncased")), {
    mask_token: new AddedToken("[MASK]", { lstrip: true }),
  });
  assert.equal(t3.tokenize("a [MASK] b"), ["a", "[MASK]", "b"]);
});

test("pad() after the fact, a vocab file path, non-strings refused", async () => {
  const tok = await BertTokenizer.fromPretrained(join(vocabDir("bert-base-uncased"), "vocab.txt"));
  const a = tok.encode_plus("hello world");
  const b = tok.encode_plus("hi");
  const padded = tok.pad([a.toJSON(), b.toJSON()], { padding: "longest" });
  assert.equal(padded.input_ids, [
    [101, 7592, 2088, 102],
    [101, 7632, 102, 0],
  ]);
  assert.equal(padded.attention_mask, [
    [1, 1, 1, 1],
    [1, 1, 1, 0],
  ]);
  assert.equal(
    tok.pad(b, { padding: "max_length", max_length: 5, return_tensors: "pt" }).input_ids.shape,
    [1, 5],
  );
  assert.throws(
    () => tok.tokenize(null),
    (e) => e instanceof TokenizerError && e.pyType === "TypeError",
  );
  assert.throws(
    () => new BasicTokenizer().tokenize(42),
    (e) => e instanceof TokenizerError,
  );
});

test("options as HF resolves them", async () => {
  const tok = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"), {
    model_max_length: 10,
  });
  const long = "one two three four five six seven eight nine ten eleven twelve";
  assert.is(
    tok.encode(long, { truncation: true }).length,
    10,
    "truncation=true uses model_max_length",
  );
  assert.is(tok.encode(long, { max_length: 5 }).length, 5, "max_length alone truncates");
  assert.is(
    tok.encode(long, { max_length: 5, padding: true }).length,
    14,
    "max_length with padding=true and no truncation is ignored",
  );
  assert.is(tok.encode_plus("one", { padding: "max_length" }).input_ids.length, 10);
  assert.throws(
    () =>
      tok.encode_plus("one", {
        padding: "max_length",
        truncation: true,
        max_length: 6,
        pad_to_multiple_of: 4,
      }),
    /not a multiple of pad_to_multiple_of/,
  );
  assert.throws(
    () => tok.encode_plus("one", { truncation: "sideways" }),
    /is not a valid TruncationStrategy/,
  );
  assert.equal(
    tok
      .encode_plus("", { add_special_tokens: false, padding: "max_length", max_length: 4 })
      .toJSON(),
    { input_ids: [], token_type_ids: [], attention_mask: [] },
  );
  const ov = tok.encode_plus("one two three", { return_overflowing_tokens: true, max_length: 20 });
  assert.is(ov.num_truncated_tokens, -15);
  assert.throws(
    () => tok.encode_plus("x", { return_token_type_ids: true, add_special_tokens: false }),
    /undefined behavior/,
  );
  const noTypes = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"), {
    model_input_names: ["input_ids", "attention_mask"],
  });
  assert.equal(Object.keys(noTypes.encode_plus("x").toJSON()), ["input_ids", "attention_mask"]);
  // no model_max_length configured: padding to max_length does nothing, truncation=true neither
  const free = await BertTokenizer.fromPretrained(vocabDir("bert-base-uncased"));
  assert.is(free.encode(long, { truncation: true }).length, 14);
});

test.run();
