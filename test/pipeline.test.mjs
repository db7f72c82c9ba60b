// The feature-extraction pipeline on the shared fixture models, against mean / CLS
// pooling of the float64 reference's last_hidden_state, with padded rows in every batch.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import { pipeline } from "../dist/index.js";
import { bertCases, readSafetensorsFile } from "./support/shared.mjs";
import { bertForward64 } from "./support/reference_bert.mjs";
import { rng } from "./support/random_model.mjs";

/** A vocab for a fixture model of `size` ids: specials, then words w5..w(size-1) ("##x" pieces every 7th). */
function vocabFor(size) {
  const v = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  for (let i = 5; i < size; i++) v.push(i % 7 === 0 ? `##x${i}` : `w${i}`);
  return v;
}

function fixture(name) {
  const c = bertCases().find((x) => x.name === name);
  assert.ok(c, `fixture ${name} missing from ../shared`);
  const config = JSON.parse(readFileSync(join(c.dir, "config.json"), "utf8"));
  const bytes = readFileSync(join(c.dir, "model.safetensors"));
  const vocab = vocabFor(config.vocab_size);
  return {
    config,
    tensors: readSafetensorsFile(join(c.dir, "model.safetensors")),
    vocab,
    files: {
      "config.json": config,
      "model.safetensors": new Uint8Array(bytes),
      "vocab.txt": vocab.join("\n") + "\n",
    },
  };
}

function randomTexts(r, vocab, n, maxWords) {
  const words = vocab.slice(5).filter((w) => !w.startsWith("##"));
  return Array.from({ length: n }, () =>
    Array.from(
      { length: 1 + Math.floor(r() * maxWords) },
      () => words[Math.floor(r() * words.length)],
    ).join(" "),
  );
}

/** pooled float64 reference of one text, run alone (no padding). */
function reference(fx, ids, pooling) {
  const out = bertForward64(fx.config, fx.tensors, { input_ids: [ids] }).last_hidden_state.data;
  const H = fx.config.hidden_size;
  const res = new Float64Array(H);
  if (pooling === "cls") res.set(out.subarray(0, H));
  else {
    for (let s = 0; s < ids.length; s++) for (let j = 0; j < H; j++) res[j] += out[s * H + j];
    for (let j = 0; j < H; j++) res[j] /= ids.length;
  }
  return res;
}

function maxDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

for (const name of ["a_tiny_encoder", "i_odd_sizes", "k_minilm_shape"]) {
  test(`${name}: mean and CLS pooling equal the float64 reference, padded rows included`, async () => {
    const fx = fixture(name);
    const extractor = await pipeline("feature-extraction", fx.files, {
      warn: () => {},
      batchSize: 4,
    });
    const r = rng(name.length);
    const texts = randomTexts(r, fx.vocab, 9, name === "k_minilm_shape" ? 60 : 20);
    const H = fx.config.hidden_size;
    for (const pooling of ["mean", "cls"]) {
      const emb = await extractor(texts, { pooling });
      assert.equal(emb.shape, [texts.length, H]);
      texts.forEach((t, i) => {
        const ids = extractor.tokenizer.encode(t, {
          truncation: true,
          max_length: extractor.maxLength,
        });
        const d = maxDiff(emb.data.subarray(i * H, (i + 1) * H), reference(fx, ids, pooling));
        assert.ok(d <= 1e-5, `${name} ${pooling} text ${i} (${ids.length} tokens): max|diff| ${d}`);
      });
    }
    // normalize: unit rows, same direction
    const mean = await extractor(texts, { pooling: "mean" });
    const unit = await extractor(texts, { pooling: "mean", normalize: true });
    for (let i = 0; i < texts.length; i++) {
      const row = mean.data.subarray(i * H, (i + 1) * H);
      const norm = Math.hypot(...row);
      const u = unit.data.subarray(i * H, (i + 1) * H);
      assert.ok(Math.abs(Math.hypot(...u) - 1) < 1e-6);
      assert.ok(
        maxDiff(
          u,
          row.map((x) => x / norm),
        ) < 1e-6,
      );
    }
  });
}

test("pooling none: [n, longest, hidden] as one padded batch (HF's model(**tokenizer(texts, padding=True)))", async () => {
  const fx = fixture("a_tiny_encoder");
  const extractor = await pipeline("feature-extraction", fx.files, {
    warn: () => {},
    batchSize: 2,
  });
  const texts = randomTexts(rng(3), fx.vocab, 5, 12);
  const out = await extractor(texts);
  const ids = texts.map((t) => extractor.tokenizer.encode(t));
  const L = Math.max(...ids.map((x) => x.length));
  assert.equal(out.shape, [5, L, 32]);
  const input_ids = ids.map((x) => [...x, ...new Array(L - x.length).fill(0)]);
  const attention_mask = ids.map((x) => [...x.map(() => 1), ...new Array(L - x.length).fill(0)]);
  const ref = bertForward64(fx.config, fx.tensors, { input_ids, attention_mask }).last_hidden_state
    .data;
  assert.ok(maxDiff(out.data, ref) < 1e-5, `none: ${maxDiff(out.data, ref)}`);
});

test("truncation to tokenizer_config's model_max_length, and its do_lower_case", async () => {
  const fx = fixture("a_tiny_encoder");
  const files = {
    ...fx.files,
    "tokenizer_config.json": { model_max_length: 10, do_lower_case: true },
  };
  const extractor = await pipeline("feature-extraction", files, { warn: () => {} });
  assert.is(extractor.maxLength, 10);
  const long =
    randomTexts(rng(8), fx.vocab, 1, 1)[0].repeat(1) +
    " " +
    fx.vocab
      .slice(5, 40)
      .filter((w) => !w.startsWith("#"))
      .join(" ");
  const emb = await extractor([long], { pooling: "mean" });
  const ids = extractor.tokenizer.encode(long, { truncation: true, max_length: 10 });
  assert.is(ids.length, 10);
  assert.ok(maxDiff(emb.data, reference(fx, ids, "mean")) < 1e-5);
  // lower-casing from tokenizer_config.json: "W7 W8" becomes "w7 w8"
  const upper = await extractor(["W5 W6 W8"], { pooling: "cls" });
  const lower = await extractor(["w5 w6 w8"], { pooling: "cls" });
  assert.equal(Array.from(upper.data), Array.from(lower.data));
  const cased = await pipeline(
    "feature-extraction",
    { ...fx.files, "tokenizer_config.json": { do_lower_case: false } },
    { warn: () => {} },
  );
  assert.equal(cased.tokenizer.encode("W5 w6"), [2, 1, 6, 3]);
  // without tokenizer_config.json: max_position_embeddings
  const plain = await pipeline("feature-extraction", fx.files, { warn: () => {} });
  assert.is(plain.maxLength, 64);
});

test("simdbert embed: JSON lines and .npy", async () => {
  const fx = fixture("a_tiny_encoder");
  const dir = mkdtempSync(join(tmpdir(), "simdbert-embed-"));
  try {
    writeFileSync(join(dir, "config.json"), JSON.stringify(fx.config));
    writeFileSync(join(dir, "model.safetensors"), fx.files["model.safetensors"]);
    writeFileSync(join(dir, "vocab.txt"), fx.files["vocab.txt"]);
    const texts = ["w5 w6 w8", "w9 w10", "w11 w12 w13 w15 w16"];
    const cli = join(process.cwd(), "dist", "cli", "main.js");
    const out = execFileSync(
      process.execPath,
      [cli, "embed", dir, "--pooling", "mean", "--normalize"],
      { input: texts.join("\n") + "\n", encoding: "utf8" },
    );
    const rows = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.is(rows.length, 3);
    const extractor = await pipeline("feature-extraction", dir, { warn: () => {} });
    const lib = await extractor(texts, { pooling: "mean", normalize: true });
    assert.ok(maxDiff(rows.flat(), lib.data) < 1e-7);
    execFileSync(
      process.execPath,
      [cli, "embed", dir, "--pooling", "cls", "--out", join(dir, "e.npy")],
      { input: texts.join("\n") },
    );
    const npy = readFileSync(join(dir, "e.npy"));
    assert.equal([...npy.subarray(0, 6)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
    const hlen = npy.readUInt16LE(8);
    const header = npy.subarray(10, 10 + hlen).toString("latin1");
    assert.match(header, /'shape': \(3, 32\)/);
    assert.is((10 + hlen) % 64, 0);
    const data = new Float32Array(
      npy.buffer.slice(npy.byteOffset + 10 + hlen, npy.byteOffset + npy.length),
    );
    const cls = await extractor(texts, { pooling: "cls" });
    assert.equal(Array.from(data), Array.from(cls.data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
