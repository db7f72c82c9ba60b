#!/usr/bin/env node
// Tokenizer throughput: simdbert's BertTokenizer vs @huggingface/transformers' BertTokenizer (the
// transformers.js one, in bench/package.json), same vocab, same ~1 MB mixed-language
// text, same process. Both encode the whole text to ids ([CLS] ... [SEP], no truncation); we
// report tokens per second, the median of several runs, and the ratio.
//
//   npm run build:ts && node bench/tokenizer.mjs [--runs=7] [--mb=1]
//
// The vocabularies are read from ../shared/fixtures/vocab (bert-base-uncased, bert-base-chinese);
// transformers.js gets a tokenizer.json built here from the same vocab.txt (BertNormalizer,
// BertPreTokenizer, WordPiece, [CLS]/[SEP] template), so nothing is downloaded.
// Each simdbert run uses a fresh tokenizer (its word cache starts empty).
import { readFileSync, existsSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BertTokenizer, Vocab } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const VOCABS = resolve(here, "..", "..", "shared", "fixtures", "vocab");
const arg = (name, dflt) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const RUNS = arg("runs", 7);
const MB = arg("mb", 1);

// ---- the text: deterministic (xorshift), ~1 MB of UTF-8, sentences in many scripts
function makeText(bytes) {
  let s = 0x9e3779b9;
  const rnd = (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
  const langs = [
    // [weight, words, joiner]
    [
      30,
      "the of and to in is was for on that with as by it from at his an were are which this be or had not first one their its new after but who they has have her she two been other when there all during into school time may years more most only over city some world would where later up such used many can state about national out known university united then made".split(
        " ",
      ),
      " ",
    ],
    [
      8,
      "Transformers BERT WordPiece tokenizer's Hugging Face's GPU/CPU 2024-05-01 $19.99 e-mail: user@example.com https://example.org/a?b=c&d=e (see §3.2) — «quoted» \"double\" don't can't it's".split(
        " ",
      ),
      " ",
    ],
    [
      10,
      "café naïve résumé façade Ångström Müller Straße größer über Français garçon élève año niño São Paulo coração Kraków Łódź Zürich".split(
        " ",
      ),
      " ",
    ],
    [
      6,
      "Καλημέρα κόσμε ΟΔΥΣΣΕΥΣ φιλοσοφία Αθήνα Здравствуй мир Москва университет язык программирование".split(
        " ",
      ),
      " ",
    ],
    [
      12,
      "我们 自然 语言 处理 是 人工 智能 的 一个 重要 方向 中华 人民 共和国 北京 上海 学习 模型 数据 计算".split(
        " ",
      ),
      "",
    ],
    [
      6,
      "日本語 の テキスト です 東京 大学 ひらがな カタカナ 한국어 텍스트 서울 대학교".split(" "),
      " ",
    ],
    [3, "🍕 😀 👍🏽 👨‍👩‍👧 ❤️ © € ° ± ™".split(" "), " "],
    [5, "0 1 42 3.14 1,000 2023 100% 7/8 #1 @home".split(" "), " "],
  ];
  const total = langs.reduce((a, l) => a + l[0], 0);
  const enc = new TextEncoder();
  const parts = [];
  let size = 0;
  while (size < bytes) {
    let r = rnd(total);
    let lang = langs[0];
    for (const l of langs) {
      if (r < l[0]) {
        lang = l;
        break;
      }
      r -= l[0];
    }
    const n = 4 + rnd(14);
    const words = [];
    for (let i = 0; i < n; i++) words.push(lang[1][rnd(lang[1].length)]);
    let sentence = words.join(lang[2]);
    sentence =
      sentence[0].toUpperCase() + sentence.slice(1) + [". ", "! ", "? ", "。", ", ", ".\n"][rnd(6)];
    parts.push(sentence);
    size += enc.encode(sentence).length;
  }
  return parts.join("");
}

function tokenizerJson(vocabText, lowercase) {
  const vocab = {};
  vocabText.split(/\r\n|\r|\n/).forEach((t, i) => {
    if (t !== "" || i === 0) vocab[t] = i;
  });
  const special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
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
      handle_chinese_chars: true,
      strip_accents: null,
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
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] },
      },
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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function time(fn) {
  const t = performance.now();
  const out = fn();
  return [performance.now() - t, out];
}

async function main() {
  const vocabFor = (name) => {
    const p = join(VOCABS, name, "vocab.txt");
    if (!existsSync(p))
      throw new Error(
        `missing ${p}: the bench reads vocabularies from ../shared beside the project`,
      );
    return readFileSync(p, "utf8");
  };
  let hf;
  try {
    hf = await import("@huggingface/transformers");
  } catch (e) {
    throw new Error(
      `@huggingface/transformers is not installed (node scripts/deps.mjs bench): ${e.message}`,
      {
        cause: e,
      },
    );
  }
  const text = makeText(MB * 1_000_000);
  const bytes = new TextEncoder().encode(text).length;
  console.log(
    `text: ${(bytes / 1e6).toFixed(2)} MB UTF-8, ${text.length} UTF-16 units; ${RUNS} runs each, median`,
  );
  console.log(`node ${process.version}, transformers.js ${hf.env?.version ?? "?"}\n`);

  const rows = [];
  const notes = [];
  for (const [name, lower] of [
    ["bert-base-uncased", true],
    ["bert-base-chinese", false],
  ]) {
    const vocabText = vocabFor(name);
    const vocab = Vocab.fromText(vocabText);
    const options = { do_lower_case: lower, model_max_length: 512 };
    const theirs = new hf.BertTokenizer(tokenizerJson(vocabText, lower), {
      do_lower_case: lower,
      model_max_length: 512,
      cls_token: "[CLS]",
      sep_token: "[SEP]",
      pad_token: "[PAD]",
      unk_token: "[UNK]",
      mask_token: "[MASK]",
    });

    const ours = () => new BertTokenizer(vocab, options).encode(text);
    const hfEncode = () => theirs.encode(text);
    // warm-up, and the two must agree on the ids (or we say how much they differ)
    const [, a] = time(ours);
    const [, b] = time(hfEncode);
    let same = 0;
    for (let i = 0; i < Math.min(a.length, b.length); i++)
      if (a[i] === b[i]) same++;
      else break;
    let agree = "identical ids";
    if (a.length !== b.length || same !== a.length) {
      const tok = new BertTokenizer(vocab, options);
      if (a.length === b.length) {
        // which tokens differ: transformers.js lowercases whole strings (final sigma -> ς) where
        // HF's Python BertTokenizer lowercases character by character (always σ)
        const kinds = new Map();
        let n = 0;
        for (let i = 0; i < a.length; i++) {
          if (a[i] === b[i]) continue;
          n++;
          const k = `${tok.convert_ids_to_tokens(a[i])} / ${tok.convert_ids_to_tokens(b[i])}`;
          kinds.set(k, (kinds.get(k) ?? 0) + 1);
        }
        agree = `${n} of ${a.length} ids differ`;
        notes.push(
          `${name}: differing tokens (simdbert / transformers.js): ${[...kinds].map(([k, c]) => `${k} x${c}`).join(", ")}`,
        );
      } else {
        agree = `ids differ from token ${same} (${a.length} vs ${b.length} tokens)`;
        const around = (ids) =>
          tok.convert_ids_to_tokens(ids.slice(Math.max(0, same - 3), same + 4)).join(" ");
        notes.push(
          `${name}: first difference at token ${same}: simdbert "${around(a)}" / transformers.js "${around(b)}"`,
        );
      }
    }

    const tOurs = [];
    const tHf = [];
    for (let r = 0; r < RUNS; r++) {
      tOurs.push(time(ours)[0]);
      tHf.push(time(hfEncode)[0]);
    }
    const oursTps = a.length / (median(tOurs) / 1000);
    const hfTps = b.length / (median(tHf) / 1000);
    rows.push({
      name,
      tokens: a.length,
      oursMs: median(tOurs),
      hfMs: median(tHf),
      oursTps,
      hfTps,
      ratio: oursTps / hfTps,
      agree,
    });
  }
  const fmt = (x) => (x >= 1e6 ? (x / 1e6).toFixed(2) + " M" : (x / 1e3).toFixed(0) + " k");
  console.log(
    "vocab               tokens    simdbert ms  tokens/s     transformers.js ms  tokens/s     ratio   check",
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(19)} ${String(r.tokens).padStart(8)}  ${r.oursMs.toFixed(1).padStart(10)}  ${fmt(r.oursTps).padStart(9)}  ` +
        `${r.hfMs.toFixed(1).padStart(17)}  ${fmt(r.hfTps).padStart(9)}   ${r.ratio.toFixed(2)}x   ${r.agree}`,
    );
  }
  for (const n of notes) console.log(n);
}

main().catch((e) => {
  console.error(e.stack ?? String(e));
  process.exit(1);
});
