// sentence-transformers folders: the shared cases through SentenceTransformer.encode (atol 1e-4
// against sentence-transformers 2.2.2 in float64), several pooling modes concatenated in the fixed
// order, Normalize, max_seq_length and do_lower_case, unsupported modules refused by name, the
// feature-extraction pipeline keeping transformers.js' defaults unless asked to follow the folder,
// and embedding checkpoints that have no pooler.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, SentenceTransformer, pipeline, writeSafetensors } from "../dist/index.js";
import { maxAbsDiff, readSafetensorsFile, sharedPath } from "./support/shared.mjs";
import { TINY, encoderShapes, randomTensors } from "./support/random_model.mjs";

const quiet = { warn: () => {} };

/** A case folder of ../shared/fixtures/st as a file map, its vocab.txt put beside the files. */
function stCase(name) {
  const dir = sharedPath("fixtures", "st", name);
  const files = {};
  const walk = (d, prefix) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p, `${prefix}${f}/`);
      else files[prefix + f] = new Uint8Array(readFileSync(p));
    }
  };
  walk(dir, "");
  const vocab = JSON.parse(readFileSync(join(dir, "vocab_ref.json"), "utf8")).vocab;
  files["vocab.txt"] = new Uint8Array(
    readFileSync(sharedPath("fixtures", "vocab", vocab, "vocab.txt")),
  );
  const texts = readFileSync(join(dir, "texts.txt"), "utf8")
    .split("\n")
    .filter((l) => l.length);
  return {
    files,
    texts,
    expected: readSafetensorsFile(join(dir, "expected.safetensors")).get("embeddings"),
  };
}

for (const name of ["st_cls", "st_max", "st_mean_normalize"]) {
  test(`shared case ${name}: SentenceTransformer.encode within 1e-4 of sentence-transformers`, async () => {
    const { files, texts, expected } = stCase(name);
    const st = await SentenceTransformer.fromPretrained(files, quiet);
    const emb = await st.encode(texts, { batch_size: 3 });
    assert.equal(emb.shape, expected.shape);
    const d = maxAbsDiff(emb.data, expected.data);
    assert.ok(d <= 1e-4, `${name}: max|diff| ${d}`);
    // a single text gives a vector
    const one = await st.encode(texts[0]);
    assert.equal(one.shape, [expected.shape[1]]);
  });
}

test("the pipeline keeps transformers.js' defaults unless asked to follow the folder", async () => {
  const { files, texts, expected } = stCase("st_mean_normalize");
  const plain = await pipeline("feature-extraction", files, quiet);
  const tokens = await plain(texts.slice(0, 2));
  assert.is(tokens.shape.length, 3, "no pooling by default");
  const follow = await pipeline("feature-extraction", files, {
    ...quiet,
    sentenceTransformers: true,
  });
  const emb = await follow(texts);
  assert.ok(maxAbsDiff(emb.data, expected.data) <= 1e-4);
  // a call's own pooling wins over the folder's
  const cls = await follow(texts.slice(0, 1), { pooling: "cls", normalize: false });
  assert.ok(maxAbsDiff(cls.data, tokens.data.subarray(0, cls.data.length)) < 1e-5); // other padding: rounding only
});

/** A tiny model folder with sentence-transformers files of our own. */
function folder(modules, pooling, extra = {}) {
  const c = { ...TINY, vocab_size: 12 };
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e", "f", "g"];
  return {
    "config.json": JSON.stringify(c),
    "model.safetensors": writeSafetensors(
      randomTensors(encoderShapes(c, "", { pooler: false }), 4),
    ),
    "vocab.txt": vocab.join("\n"),
    ...(modules ? { "modules.json": JSON.stringify(modules) } : {}),
    ...(pooling ? { "1_Pooling/config.json": JSON.stringify(pooling) } : {}),
    ...extra,
  };
}
const T = (t, path = "") => ({
  idx: 0,
  name: "0",
  path,
  type: `sentence_transformers.models.${t}`,
});
const P = { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" };
const N = {
  idx: 2,
  name: "2",
  path: "2_Normalize",
  type: "sentence_transformers.models.Normalize",
};
const flags = (o) => ({
  word_embedding_dimension: 16,
  pooling_mode_cls_token: false,
  pooling_mode_mean_tokens: false,
  pooling_mode_max_tokens: false,
  pooling_mode_mean_sqrt_len_tokens: false,
  ...o,
});

test("several modes concatenated as cls, max, mean, mean_sqrt_len (float64 reference); Normalize", async () => {
  const texts = ["a b c", "d", "a a a a e f g"];
  const files = folder([T("Transformer"), P, N], {
    // key order in the file does not matter
    pooling_mode_mean_sqrt_len_tokens: true,
    pooling_mode_mean_tokens: true,
    pooling_mode_max_tokens: true,
    pooling_mode_cls_token: true,
    word_embedding_dimension: 16,
  });
  const st = await SentenceTransformer.fromPretrained(files, quiet);
  assert.is(st.dimension, 64);
  const got = await st.encode(texts);
  const tok = await pipeline("feature-extraction", files, quiet);
  const H = 16;
  for (let i = 0; i < texts.length; i++) {
    const h = (await tok([texts[i]])).data; // one text: no padding
    const L = h.length / H;
    const v = [];
    for (let j = 0; j < H; j++) v.push(h[j]);
    for (let j = 0; j < H; j++)
      v.push(Math.max(...Array.from({ length: L }, (_, s) => h[s * H + j])));
    const sum = Array.from({ length: H }, (_, j) => {
      let s = 0;
      for (let t = 0; t < L; t++) s += h[t * H + j];
      return s;
    });
    for (let j = 0; j < H; j++) v.push(sum[j] / L);
    for (let j = 0; j < H; j++) v.push(sum[j] / Math.sqrt(L));
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    const want = v.map((x) => x / norm);
    const row = got.data.subarray(i * 64, (i + 1) * 64);
    assert.ok(maxAbsDiff(row, want) < 1e-6, `text ${i}: ${maxAbsDiff(row, want)}`);
  }
  // normalize_embeddings on a folder without Normalize
  const plain = await SentenceTransformer.fromPretrained(
    folder([T("Transformer"), P], flags({ pooling_mode_mean_tokens: true })),
    quiet,
  );
  const e = await plain.encode(texts, { normalize_embeddings: true });
  for (let i = 0; i < texts.length; i++) {
    const r = e.data.subarray(i * 16, (i + 1) * 16);
    assert.ok(Math.abs(Math.hypot(...r) - 1) < 1e-6);
  }
  await assert.not.throws(() => plain.encode(texts, { batch_size: 1 }));
  let err = await plain.encode(texts, { batchsize: 2 }).catch((x) => x);
  assert.match(err.message, /unknown option "batchsize"/);
});

test("no modules.json: mean pooling, no normalization; max_seq_length and do_lower_case", async () => {
  const texts = ["a b c d e f g a b c", "  A B  "];
  const files = folder(null, null, {
    "sentence_bert_config.json": JSON.stringify({ max_seq_length: 5, do_lower_case: true }),
  });
  const st = await SentenceTransformer.fromPretrained(files, quiet);
  assert.is(st.max_seq_length, 5);
  const got = await st.encode(texts);
  const tok = await pipeline("feature-extraction", files, { ...quiet, maxLength: 5 });
  // "a b c" (5 tokens with [CLS] [SEP]) and the lowercased, stripped "a b"
  for (const [i, t] of [
    [0, "a b c"],
    [1, "a b"],
  ]) {
    const want = (await tok([t], { pooling: "mean" })).data;
    assert.ok(maxAbsDiff(got.data.subarray(i * 16, (i + 1) * 16), want) < 1e-6, t);
  }
});

test("unsupported modules and modes are refused by name", async () => {
  const cases = [
    [
      folder(
        [
          T("Transformer"),
          P,
          { idx: 2, name: "2", path: "2_Dense", type: "sentence_transformers.models.Dense" },
        ],
        flags({ pooling_mode_mean_tokens: true }),
      ),
      /models\.Dense/,
    ],
    [
      folder([T("Transformer"), P], flags({ pooling_mode_weightedmean_tokens: true })),
      /weightedmean/,
    ],
    [folder([T("Transformer"), P], flags({ pooling_mode_lasttoken: true })), /lasttoken/],
    [folder([T("Transformer"), P], flags({})), /no pooling mode/],
    [
      folder([T("Transformer", "0_Transformer"), P], flags({ pooling_mode_mean_tokens: true })),
      /subfolder/,
    ],
    [folder([T("Transformer")], null), /no Pooling module/],
    [folder([T("Transformer"), P], null), /1_Pooling\/config\.json is missing/],
  ];
  for (const [files, re] of cases) {
    const e = await SentenceTransformer.fromPretrained(files, quiet).catch((x) => x);
    assert.instance(e, ConfigError, String(e));
    assert.match(e.message, re);
  }
});

test("a checkpoint without pooler weights (masked LM) embeds, without a warning about the pooler", async () => {
  const c = { ...TINY, vocab_size: 12 };
  const shapes = encoderShapes(c, "bert.", { pooler: false });
  shapes["cls.predictions.bias"] = [12];
  const files = {
    ...folder(null, null),
    "model.safetensors": writeSafetensors(randomTensors(shapes, 8)),
  };
  const warnings = [];
  const st = await SentenceTransformer.fromPretrained(files, { warn: (m) => warnings.push(m) });
  const e = await st.encode(["a b"]);
  assert.equal(e.shape, [1, 16]);
  // a checkpoint with a pooler: its weights are not used and not complained about
  const w2 = [];
  await SentenceTransformer.fromPretrained(
    {
      ...folder(null, null),
      "model.safetensors": writeSafetensors(randomTensors(encoderShapes(c), 8)),
    },
    { warn: (m) => w2.push(m) },
  );
  assert.equal(w2, []);
  assert.ok(
    warnings.every((m) => !/pooler/.test(m)),
    warnings.join("\n"),
  );
});

test.run();
