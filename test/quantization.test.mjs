// Low-precision weights: the q8 / fp16 numbers (src/quant/quantize.ts), simdbert's quantized
// checkpoint format (src/quant/checkpoint.ts, docs/quantization.md), loading it (WeightLoader),
// its bad inputs, and `simdbert quantize`.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  BertModel,
  BufferSource,
  QuantizationError,
  WeightsError,
  checkDtype,
  convertCheckpoint,
  convertedConfig,
  declaredDtype,
  dequantizeRows,
  f16BitsToF32,
  f32ToF16Bits,
  quantizeRows,
  roundHalfEven,
  writeSafetensors,
} from "../dist/index.js";
import { TINY, encoderShapes, randomIds, randomTensors, rng } from "./support/random_model.mjs";

const quiet = { warn: () => {} };

async function rejects(fn, type, pattern) {
  try {
    await fn();
  } catch (e) {
    if (type) assert.instance(e, type, `expected ${type.name}, got ${e.name}: ${e.message}`);
    assert.match(e.message, pattern);
    return e;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

// ------------------------------------------------------------------ numbers

test("roundHalfEven: ties to even, everything else to nearest", () => {
  const cases = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, -0],
    [-1.5, -2],
    [-2.5, -2],
    [126.5, 126],
    [127.5, 128],
    [-126.5, -126],
    [0.49999999999999994, 0],
    [2.5000000000000004, 3],
    [-3.7, -4],
    [3.2, 3],
  ];
  for (const [x, want] of cases) assert.is(roundHalfEven(x), want, `roundHalfEven(${x})`);
});

test("f32 -> f16: every half round-trips; midpoints tie to even; overflow, subnormals, NaN", () => {
  for (let h = 0; h < 0x10000; h++) {
    const x = f16BitsToF32(h);
    if (Number.isNaN(x)) {
      assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(x))));
      continue;
    }
    assert.is(f32ToF16Bits(x), h, `half ${h.toString(16)}`);
  }
  // midpoints between consecutive positive halves (exact in f32) go to the even one; just above goes up
  for (let h = 0; h < 0x7bff; h += 7) {
    const a = f16BitsToF32(h),
      b = f16BitsToF32(h + 1);
    const mid = (a + b) / 2;
    assert.is(Math.fround(mid), mid);
    assert.is(f32ToF16Bits(mid), h % 2 === 0 ? h : h + 1, `mid of ${h}`);
    const above = Math.fround(mid + (b - a) / 1024);
    if (above > mid && above < b) assert.is(f32ToF16Bits(above), h + 1);
    assert.is(f32ToF16Bits(-mid), 0x8000 | (h % 2 === 0 ? h : h + 1));
  }
  assert.is(f32ToF16Bits(65504), 0x7bff);
  assert.is(f32ToF16Bits(65519.99), 0x7bff);
  assert.is(f32ToF16Bits(65520), 0x7c00); // ties to even: up to Infinity
  assert.is(f32ToF16Bits(1e6), 0x7c00);
  assert.is(f32ToF16Bits(-Infinity), 0xfc00);
  assert.is(f32ToF16Bits(2 ** -25), 0); // tie between 0 and the smallest subnormal
  assert.is(f32ToF16Bits(Math.fround(2 ** -25 * 1.0001)), 1);
  assert.is(f32ToF16Bits(2 ** -26), 0);
  assert.is(f32ToF16Bits(-0), 0x8000);
});

test("quantizeRows: per-row symmetric int8, |error| <= scale/2, the largest weight at ±127", () => {
  const r = rng(3);
  for (const [rows, cols] of [
    [1, 1],
    [13, 17],
    [100, 3],
    [7, 384],
  ]) {
    const w = new Float32Array(rows * cols);
    for (let i = 0; i < w.length; i++) w[i] = Math.fround((r() - 0.5) * 2 ** (r() * 8 - 4));
    const q = new Int8Array(w.length);
    const s = new Float32Array(rows);
    quantizeRows(w, rows, cols, q, s);
    const back = new Float32Array(w.length);
    dequantizeRows(q, s, rows, cols, back);
    for (let row = 0; row < rows; row++) {
      let m = 0,
        mq = 0;
      for (let j = 0; j < cols; j++) {
        m = Math.max(m, Math.abs(w[row * cols + j]));
        mq = Math.max(mq, Math.abs(q[row * cols + j]));
      }
      assert.is(s[row], Math.fround(m / 127), `scale of row ${row}`);
      assert.is(mq, 127);
      for (let j = 0; j < cols; j++) {
        const i = row * cols + j;
        assert.ok(q[i] >= -127 && q[i] <= 127);
        assert.is(q[i], Math.max(-127, Math.min(127, roundHalfEven(w[i] / s[row]))));
        assert.ok(Math.abs(back[i] - w[i]) <= s[row] / 2 + 1e-7 * Math.abs(w[i]), `error at ${i}`);
        assert.is(back[i], Math.fround(q[i] * s[row]));
      }
    }
  }
  // an all-zero row (BERT's [PAD] embedding) keeps a valid scale
  const q = new Int8Array(6);
  const s = new Float32Array(2);
  quantizeRows(Float32Array.of(0, 0, 0, 1, -2, 0.5), 2, 3, q, s);
  assert.equal([...s], [1, Math.fround(2 / 127)]);
  assert.equal([...q], [0, 0, 0, 64, -127, 32]);
  // a tie: 0.5 -> 0 (even), 1.5 -> 2
  quantizeRows(Float32Array.of(127, 0.5, 1.5), 1, 3, q, s);
  assert.equal([...q.subarray(0, 3)], [127, 0, 2]);
  for (const bad of [NaN, Infinity, -Infinity])
    assert.throws(
      () => quantizeRows(Float32Array.of(1, bad), 1, 2, q, s, 0, "x.weight"),
      (e) => e instanceof QuantizationError && /x\.weight: row 0 .*column 1/.test(e.message),
    );
});

test("checkDtype: fp32, fp16, q8; anything else listed", () => {
  for (const d of ["fp32", "fp16", "q8"]) assert.is(checkDtype(d), d);
  for (const d of ["int8", "q4", "FP16", "", null, 8, undefined])
    assert.throws(
      () => checkDtype(d),
      (e) => e instanceof QuantizationError && /"fp32", "fp16", "q8"/.test(e.message),
    );
});

// ------------------------------------------------------------------ checkpoints

const config = { ...TINY, hidden_size: 20, num_attention_heads: 4, intermediate_size: 36 };
const shapes = encoderShapes(config);
const tensors = randomTensors(shapes, 5);
const f32File = writeSafetensors(tensors);
// [PAD]: an all-zero embedding row
tensors.get("embeddings.word_embeddings.weight").data.fill(0, 0, config.hidden_size);

async function convert(file, dtype) {
  const parts = [];
  const summary = await convertCheckpoint(new BufferSource(file), dtype, async (b) => {
    parts.push(Uint8Array.from(b));
  });
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  assert.is(out.length, summary.bytesOut);
  return out;
}

/** The tensors a low-precision file stands for, as f32 (what a model loaded from it must compute with). */
function decodeAll(file) {
  const src = new BufferSource(file);
  const raw = (t) => file.slice(src.header.dataStart + t.begin, src.header.dataStart + t.end);
  const out = new Map();
  for (const [name, t] of src.header.tensors) {
    if (name.endsWith("_scale")) continue;
    const b = raw(t);
    const n = t.shape.reduce((a, c) => a * c, 1);
    let data;
    if (t.dtype === "F32") data = new Float32Array(b.buffer, 0, n);
    else if (t.dtype === "F16")
      data = Float32Array.from(new Uint16Array(b.buffer, 0, n), f16BitsToF32);
    else if (t.dtype === "I8") {
      const s = new Float32Array(raw(src.header.tensors.get(name + "_scale")).buffer);
      data = new Float32Array(n);
      dequantizeRows(new Int8Array(b.buffer, 0, n), s, t.shape[0], t.shape[1], data);
    } else throw new Error(`${name}: ${t.dtype}`);
    out.set(name, { shape: t.shape, data });
  }
  return out;
}

const inputs = (() => {
  const r = rng(11);
  const ids = randomIds(r, 2, 13, config.vocab_size);
  ids[1][0] = 0;
  return { input_ids: ids, attention_mask: ids.map((row) => row.map((_, s) => (s < 10 ? 1 : 0))) };
})();

/** Outputs of a model loaded with weights held in f32 (a q8 file dequantized: exactly q·scale). */
async function run(files) {
  const model = await BertModel.fromPretrained(files, { ...quiet, dtype: "fp32" });
  const out = await model.forward(inputs);
  return [out.last_hidden_state.data, out.pooler_output.data];
}

for (const dtype of ["q8", "fp16"]) {
  test(`${dtype} checkpoint: the layout, and a load that computes exactly with the weights it stands for`, async () => {
    const file = await convert(writeSafetensors(tensors), dtype);
    const h = new BufferSource(file).header;
    assert.is(h.metadata.simdbert_dtype, dtype);
    for (const [name, shape] of Object.entries(shapes)) {
      const t = h.tensors.get(name);
      const low = shape.length === 2 && !/position|token_type/.test(name);
      assert.is(t.dtype, low ? (dtype === "q8" ? "I8" : "F16") : "F32", name);
      assert.equal(t.shape, shape);
      const s = h.tensors.get(name + "_scale");
      if (low && dtype === "q8") assert.equal([s.dtype, s.shape], ["F32", [shape[0]]]);
      else assert.not.ok(s);
    }
    const a = await run({ "config.json": config, "model.safetensors": file });
    const b = await run({
      "config.json": config,
      "model.safetensors": writeSafetensors(decodeAll(file)),
    });
    for (let i = 0; i < 2; i++)
      assert.ok(
        a[i].every((x, j) => Object.is(x, b[i][j])),
        "same bits",
      );
    // and it is not the f32 model (the test can fail)
    const c = await run({ "config.json": config, "model.safetensors": writeSafetensors(tensors) });
    assert.ok(c[0].some((x, j) => x !== a[0][j]));
  });
}

test("dtype q8: a q8 file and the f32 file quantized at load give the same bits, in int8 memory", async () => {
  const q8 = await convert(writeSafetensors(tensors), "q8");
  const f32 = writeSafetensors(tensors);
  const load = (file, dtype) =>
    BertModel.fromPretrained(
      { "config.json": config, "model.safetensors": file },
      { ...quiet, dtype },
    );
  const [a, b, c] = await Promise.all([load(q8, "q8"), load(f32, "q8"), load(f32, "fp32")]);
  const [ya, yb, yc] = await Promise.all([a, b, c].map((m) => m.forward(inputs)));
  assert.ok(
    ya.last_hidden_state.data.every((x, i) => Object.is(x, yb.last_hidden_state.data[i])),
    "same bits",
  );
  assert.ok(ya.last_hidden_state.data.some((x, i) => x !== yc.last_hidden_state.data[i]));
  assert.ok(a.engine.weightBytes < c.engine.weightBytes / 2, "int8 weights in memory");
  assert.is(a.engine.weightBytes, b.engine.weightBytes);
  // a q8 checkpoint loads as q8 by default (its config says so)
  const d = await BertModel.fromPretrained(
    { "config.json": convertedConfig(config, "q8"), "model.safetensors": q8 },
    quiet,
  );
  const yd = await d.forward(inputs);
  assert.ok(yd.last_hidden_state.data.every((x, i) => Object.is(x, ya.last_hidden_state.data[i])));
  assert.is(d.engine.weightBytes, a.engine.weightBytes);
});

test("declaredDtype: simdbert q8 only; other methods refused by name", () => {
  assert.is(declaredDtype({}), null);
  assert.is(
    declaredDtype({ quantization_config: { quant_method: "simdbert", dtype: "q8" } }),
    "q8",
  );
  for (const [q, re] of [
    [{ quant_method: "bitsandbytes", load_in_8bit: true }, /"bitsandbytes" is not supported/],
    [{ quant_method: "simdbert", dtype: "q4" }, /dtype must be "q8"/],
    [{ quant_method: "simdbert", dtype: "q8", format_version: 2 }, /format_version 2/],
    ["q8", /must be an object/],
  ])
    assert.throws(
      () => declaredDtype({ quantization_config: q }),
      (e) => e instanceof QuantizationError && re.test(e.message),
    );
});

// ------------------------------------------------------------------ bad quantized checkpoints

/** A q8 checkpoint's tensors (raw typed arrays), to be broken and written again. */
async function q8Tensors() {
  const file = await convert(f32File, "q8");
  const src = new BufferSource(file);
  const m = new Map();
  for (const [name, t] of src.header.tensors) {
    const b = file.slice(src.header.dataStart + t.begin, src.header.dataStart + t.end);
    const data = t.dtype === "I8" ? new Int8Array(b.buffer) : new Float32Array(b.buffer);
    m.set(name, { shape: t.shape, dtype: t.dtype, data });
  }
  return m;
}

const W = "encoder.layer.1.attention.self.key.weight";
const breakings = [
  [
    "missing scales",
    (m) => m.delete(W + "_scale"),
    /key\.weight: dtype I8 .*no ".*key\.weight_scale"/,
  ],
  [
    "zero scale",
    (m) => (m.get(W + "_scale").data[3] = 0),
    /key\.weight_scale: scale 0 of row 3 is zero/,
  ],
  ["negative scale", (m) => (m.get(W + "_scale").data[0] = -0.1), /row 0 is negative/],
  ["NaN scale", (m) => (m.get(W + "_scale").data[19] = NaN), /row 19 is NaN/],
  ["infinite scale", (m) => (m.get(W + "_scale").data[5] = Infinity), /row 5 is infinite/],
  [
    "scales of the wrong shape",
    (m) => m.set(W + "_scale", { shape: [19], data: new Float32Array(19).fill(0.1) }),
    /key\.weight_scale: .* F32 \[19\]; they must be F32 \[20\]/,
  ],
  [
    "F16 scales",
    (m) =>
      m.set(W + "_scale", { shape: [20], dtype: "F16", data: new Uint16Array(20).fill(0x3c00) }),
    /key\.weight_scale: .* F16 \[20\]; they must be F32/,
  ],
  [
    "I8 LayerNorm weight",
    (m) => {
      const n = "encoder.layer.0.output.LayerNorm.weight";
      m.set(n, { shape: [20], dtype: "I8", data: new Int8Array(20).fill(100) });
      m.set(n + "_scale", { shape: [20], data: new Float32Array(20).fill(0.01) });
    },
    /LayerNorm\.weight: dtype I8 cannot be used as a float weight/,
  ],
  [
    "I8 bias",
    (m) => m.set("pooler.dense.bias", { shape: [20], dtype: "I8", data: new Int8Array(20) }),
    /pooler\.dense\.bias: dtype I8 cannot be used/,
  ],
  [
    "I8 weight of the wrong shape",
    (m) => m.set(W, { shape: [20, 19], dtype: "I8", data: new Int8Array(380) }),
    /key\.weight: checkpoint has shape \[20, 19\], the model needs \[20, 20\]/,
  ],
];
for (const [what, breakIt, re] of breakings) {
  test(`q8 checkpoint with ${what}: a WeightsError naming the tensor, memory not grown`, async () => {
    const m = await q8Tensors();
    breakIt(m);
    const { Engine } = await import("../dist/index.js");
    const engine = await Engine.create();
    const before = engine.memoryBytes;
    await rejects(
      () =>
        BertModel.fromPretrained(
          { "config.json": config, "model.safetensors": writeSafetensors(m) },
          { ...quiet, engine },
        ),
      WeightsError,
      re,
    );
    assert.is(engine.memoryBytes, before, "memory grown by a rejected load");
  });
}

// ------------------------------------------------------------------ simdbert quantize

const exec = promisify(execFile);
// 37 tokens: the random model's vocabulary
const VOCAB =
  ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "of", "a", "dog", "and", "or", "is"]
    .concat("bcefghijklmnopqrstuvwxyz".split("").slice(0, 26))
    .join("\n") + "\n";
const near1 = (x) => assert.ok(Math.abs(x - 1) < 1e-5, `norm ${x}`);
const CLI = new URL("../dist/cli/main.js", import.meta.url).pathname;

test("simdbert quantize: q8 and fp16 folders that load; tokenizer files copied; bad options", async () => {
  const dir = mkdtempSync(join(tmpdir(), "simdbert-quantize-"));
  try {
    const src = join(dir, "src");
    mkdirSync(join(src, "1_Pooling"), { recursive: true });
    writeFileSync(join(src, "config.json"), JSON.stringify(config));
    writeFileSync(join(src, "model.safetensors"), writeSafetensors(tensors));
    writeFileSync(join(src, "vocab.txt"), VOCAB);
    writeFileSync(join(src, "texts.txt"), "the cat\nof a dog\n");
    writeFileSync(join(src, "1_Pooling", "config.json"), '{"pooling_mode_mean_tokens": true}');
    for (const dtype of ["q8", "fp16"]) {
      const out = join(dir, dtype);
      await exec(process.execPath, [CLI, "quantize", src, out, "--dtype", dtype]);
      assert.is(readFileSync(join(out, "vocab.txt"), "utf8"), VOCAB);
      assert.ok(existsSync(join(out, "1_Pooling", "config.json")));
      const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
      if (dtype === "q8") assert.equal(cfg.quantization_config.dtype, "q8");
      else assert.is(cfg.torch_dtype, "float16");
      const file = new Uint8Array(readFileSync(join(out, "model.safetensors")));
      assert.equal(file, await convert(writeSafetensors(tensors), dtype));
      const a = await run(out);
      // embed --dtype on the converted folder: mean pooled, normalized rows of the hidden size
      const { stdout } = await exec(process.execPath, [
        CLI,
        "embed",
        out,
        "--pooling",
        "mean",
        "--normalize",
        "--dtype",
        dtype,
        "--input",
        join(src, "texts.txt"),
      ]);
      const rows = stdout.trim().split("\n").map(JSON.parse);
      assert.is(rows.length, 2);
      for (const e of rows) {
        assert.is(e.length, config.hidden_size);
        near1(Math.hypot(...e));
      }
      const b = await run({
        "config.json": config,
        "model.safetensors": writeSafetensors(decodeAll(file)),
      });
      assert.ok(a[0].every((x, j) => Object.is(x, b[0][j])));
    }
    for (const [args, re] of [
      [["--dtype", "int4"], /--dtype must be one of q8, fp16, got "int4"/],
      [["--dtype", "fp32"], /--dtype must be one of q8, fp16, got "fp32"/],
      [[], /--dtype is required/],
    ]) {
      const e = await exec(process.execPath, [CLI, "quantize", src, join(dir, "x"), ...args]).then(
        () => null,
        (err) => err,
      );
      assert.ok(e, `${args} accepted`);
      assert.match(e.stderr, re);
    }
    // an already quantized checkpoint is not quantized again
    const e = await exec(process.execPath, [
      CLI,
      "quantize",
      join(dir, "q8"),
      join(dir, "y"),
      "--dtype",
      "q8",
    ]).then(
      () => null,
      (err) => err,
    );
    assert.match(e.stderr, /already quantized/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("simdbert quantize reads what from_pretrained reads: a sharded pytorch_model.bin", async () => {
  const fixture = new URL("../../shared/fixtures/formats/c_bin_sharded", import.meta.url).pathname;
  if (!existsSync(fixture)) return; // the shared fixtures sit beside the worktree
  const dir = mkdtempSync(join(tmpdir(), "simdbert-quantize-bin-"));
  try {
    await exec(process.execPath, [CLI, "quantize", fixture, dir, "--dtype", "q8"]);
    const req = JSON.parse(readFileSync(join(fixture, "inputs.json"), "utf8")).forward_kwargs;
    const a = (await (await BertModel.fromPretrained(fixture, quiet)).forward(req))
      .last_hidden_state;
    const b = (await (await BertModel.fromPretrained(dir, quiet)).forward(req)).last_hidden_state;
    const H = a.shape[2];
    let worst = 1;
    for (let r = 0; r < a.data.length / H; r++) {
      const x = a.data.subarray(r * H, (r + 1) * H),
        y = b.data.subarray(r * H, (r + 1) * H);
      let xy = 0,
        xx = 0,
        yy = 0;
      for (let j = 0; j < H; j++) ((xy += x[j] * y[j]), (xx += x[j] * x[j]), (yy += y[j] * y[j]));
      worst = Math.min(worst, xy / Math.sqrt(xx * yy));
    }
    // q8 weights: close to the float model, not equal to it
    assert.ok(worst > 0.999 && worst < 1, `worst token cosine ${worst}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
