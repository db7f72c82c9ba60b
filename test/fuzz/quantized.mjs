// Fuzzer of loading simdbert's quantized checkpoints (docs/quantization.md: I8 "<name>" + F32
// "<name>_scale" per row; WeightLoader's checks).
//
// Each case takes a small q8 checkpoint (every 2-D weight I8, or a random subset of them, the rest
// F32), breaks it in one to three of the ways below, writes it, and loads it. An independent
// verdict written from the format's rules says whether the model must load and, if not, which
// tensor the message must name. Loaded with dtype fp32, a model must answer bit for bit what a
// model loaded from an F32 checkpoint of the decoded weights (q·scale rounded to f32) answers;
// with dtype q8 (int8 rows packed as they are), what a second load of the same file answers. A load rejected
// by a header or scale problem may not grow the engine's memory.
//
//   scales: zero, -0, negative, NaN, ±Infinity, subnormal, huge (valid), missing, F16 / F64 / I8 /
//   I32 / BF16, shapes [rows ± 1], [rows, 1], [], [1]; weights: -128 anywhere, random bytes (valid),
//   I8 for a LayerNorm weight or a bias (with or without scales), I8 of the wrong shape, a stray
//   "_scale" beside an F32 weight (valid), all-zero rows with scale 1 (valid), the table loaded
//   through a directory.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BertModel,
  BufferSource,
  Engine,
  WeightsError,
  convertCheckpoint,
  writeSafetensors,
} from "../../dist/index.js";
import { attempt, judge, sameBits } from "./lib.mjs";
import { TINY, encoderShapes, quiet, randomTensors } from "./models.mjs";

export const name = "quantized";

const CONFIG = { ...TINY, hidden_size: 12, num_attention_heads: 3, intermediate_size: 20 };

async function q8File(tensors) {
  const parts = [];
  await convertCheckpoint(new BufferSource(writeSafetensors(tensors)), "q8", async (b) => {
    parts.push(Uint8Array.from(b));
  });
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** name -> { shape, dtype, data (typed array of that dtype) } of a safetensors file. */
function entries(file) {
  const src = new BufferSource(file);
  const m = new Map();
  for (const [n, t] of src.header.tensors) {
    const b = file.slice(src.header.dataStart + t.begin, src.header.dataStart + t.end);
    const data = t.dtype === "I8" ? new Int8Array(b.buffer) : new Float32Array(b.buffer);
    m.set(n, { shape: t.shape, dtype: t.dtype, data });
  }
  return m;
}

export async function setup() {
  const tensors = randomTensors(encoderShapes(CONFIG), 91);
  const probe = {
    input_ids: [
      [1, 5, 9, 36, 0],
      [2, 3, 4, 5, 6],
    ],
    attention_mask: [
      [1, 1, 1, 1, 0],
      [1, 1, 1, 1, 1],
    ],
  };
  return {
    tensors,
    q8: entries(await q8File(tensors)),
    probe,
    dir: mkdtempSync(join(tmpdir(), "simdbert-fuzz-q8-")),
    engine: await Engine.create(),
  };
}

export async function teardown(state) {
  rmSync(state.dir, { recursive: true, force: true });
}

const clone = (m) =>
  new Map([...m].map(([n, t]) => [n, { ...t, shape: [...t.shape], data: t.data.slice() }]));

/** The breakings: each edits the tensor map and returns what the verdict needs to know. */
function breakOne(r, m) {
  const q8 = [...m.keys()].filter((n) => m.get(n).dtype === "I8" && m.get(n).shape.length === 2);
  if (!q8.length) return { what: "nothing", bad: null };
  const oneD = [...m.keys()].filter((n) => m.get(n).shape.length === 1 && !n.endsWith("_scale"));
  const w = r.pick(q8);
  const s = w + "_scale";
  const rows = m.get(w).shape[0];
  const sc = m.get(s);
  const scaled = sc && sc.dtype === "F32" && sc.data.length === rows;
  const setScale = (v, what, bad) => {
    if (!scaled) return { what: "nothing", bad: null };
    const row = r.int(0, rows);
    m.get(s).data[row] = v;
    return { what: `${s}[${row}] = ${what}`, bad: bad ? s : null, late: false };
  };
  const kind = r.int(0, 19);
  switch (kind) {
    case 0:
      return setScale(0, "0", true);
    case 1:
      return setScale(-0, "-0", true);
    case 2:
      return setScale(-Math.fround(r.f() + 1e-3), "negative", true);
    case 3:
      return setScale(NaN, "NaN", true);
    case 4:
      return setScale(r.chance(0.5) ? Infinity : -Infinity, "±Infinity", true);
    case 5:
      return setScale(2 ** -140, "a subnormal", false);
    case 6:
      return setScale(1e30, "1e30", false);
    case 7:
      m.delete(s);
      return { what: `${s} deleted`, bad: w };
    case 8: {
      const [dtype, data] = r.pick([
        ["F16", new Uint16Array(rows).fill(0x3c00)],
        ["BF16", new Uint16Array(rows).fill(0x3f80)],
        ["F64", new Float64Array(rows).fill(0.01)],
        ["I8", new Int8Array(rows).fill(1)],
        ["I32", new Int32Array(rows).fill(1)],
      ]);
      m.set(s, { shape: [rows], dtype, data });
      return { what: `${s} as ${dtype}`, bad: s };
    }
    case 9: {
      const shape = r.pick([[rows + 1], [rows - 1], [rows, 1], [], [1]]);
      const n = shape.reduce((a, b) => a * b, 1);
      if (shape.length === 1 && shape[0] === rows) return { what: "nothing", bad: null };
      m.set(s, { shape, dtype: "F32", data: new Float32Array(n).fill(0.01) });
      return { what: `${s} of shape [${shape}]`, bad: s };
    }
    case 10: {
      const t = m.get(w);
      const i = r.int(0, t.data.length);
      t.data[i] = -128;
      return { what: `${w}[${i}] = -128`, bad: w, late: true };
    }
    case 11: {
      const t = m.get(w);
      for (let i = 0; i < t.data.length; i++) t.data[i] = r.int(-127, 128);
      return { what: `${w} random bytes`, bad: null };
    }
    case 12:
    case 13: {
      const n = r.pick(oneD);
      const len = m.get(n).shape[0];
      m.set(n, { shape: [len], dtype: "I8", data: new Int8Array(len).fill(3) });
      if (kind === 13)
        m.set(n + "_scale", { shape: [len], dtype: "F32", data: new Float32Array(len).fill(0.1) });
      return { what: `${n} as I8${kind === 13 ? " with scales" : ""}`, bad: n };
    }
    case 14: {
      const [a, b] = m.get(w).shape;
      const shape = r.pick([[a, b + 1], [a + 1, b], [a * b]]);
      m.set(w, { shape, dtype: "I8", data: new Int8Array(shape.reduce((x, y) => x * y, 1)) });
      return { what: `${w} of shape [${shape}]`, bad: w };
    }
    case 15: {
      const f = [...m.keys()].filter(
        (n) => m.get(n).dtype === "F32" && m.get(n).shape.length === 2,
      );
      if (!f.length) return { what: "nothing", bad: null };
      const n = r.pick(f);
      m.set(n + "_scale", {
        shape: [m.get(n).shape[0]],
        dtype: "F32",
        data: new Float32Array(m.get(n).shape[0]).fill(0.5),
      });
      return { what: `stray ${n}_scale`, bad: null, stray: n + "_scale" };
    }
    case 16: {
      if (!scaled) return { what: "nothing", bad: null };
      const t = m.get(w);
      const row = r.int(0, rows);
      const cols = t.shape[1];
      t.data.fill(0, row * cols, (row + 1) * cols);
      m.get(s).data[row] = 1;
      return { what: `${w} row ${row} zero, scale 1`, bad: null };
    }
    default:
      return { what: "valid", bad: null };
  }
}

/** F32 tensors a valid (broken but loadable) q8 map stands for: q·scale in f32. */
function decoded(m) {
  const out = new Map();
  for (const [n, t] of m) {
    if (n.endsWith("_scale")) continue; // scales, and stray ones (unused)
    if (t.dtype === "I8") {
      const s = m.get(n + "_scale").data;
      const cols = t.shape[1];
      out.set(n, {
        shape: t.shape,
        data: Float32Array.from(t.data, (v, i) => Math.fround(v * s[Math.floor(i / cols)])),
      });
    } else out.set(n, { shape: t.shape, data: t.data });
  }
  return out;
}

async function load(state, m, viaDir, ctx, dtype) {
  const bytes = writeSafetensors(m);
  let source = { "config.json": CONFIG, "model.safetensors": bytes };
  if (viaDir) {
    const d = join(state.dir, `c${ctx.i}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "config.json"), JSON.stringify(CONFIG));
    writeFileSync(join(d, "model.safetensors"), bytes);
    source = d;
  }
  const before = state.engine.memoryBytes;
  const res = await attempt(() =>
    BertModel.fromPretrained(source, { ...quiet, engine: state.engine, dtype }),
  );
  if (viaDir) rmSync(source, { recursive: true, force: true });
  return { res, grew: state.engine.memoryBytes - before };
}

export const surface = {
  name,
  setup,
  teardown,
  async run(state, r, ctx) {
    const { stats, i } = ctx;
    const m = clone(state.q8);
    // a random subset of the q8 weights back to F32 (mixed checkpoints are valid)
    if (r.chance(0.3))
      for (const [n, t] of [...m])
        if (t.dtype === "I8" && r.chance(0.3)) {
          m.set(n, { shape: t.shape, dtype: "F32", data: state.tensors.get(n).data.slice() });
          m.delete(n + "_scale");
        }
    if (![...m.values()].some((t) => t.dtype === "I8")) return;
    const changes = [];
    for (let k = r.int(1, 4); k > 0; k--) changes.push(breakOne(r, m));
    // a change can undo an earlier one (a tensor replaced): judge the final map by the rules
    const verdict = judgeMap(m);
    const label = `q8 checkpoint: ${changes.map((c) => c.what).join("; ")}`;
    stats.add("tried");
    const viaDir = r.chance(0.15);
    // held in f32 (dequantized: the q·scale oracle), or as q8 (int8 rows straight into the packed
    // layout: the oracle is a second load of the same file)
    const dtype = r.chance(0.5) ? "fp32" : "q8";
    const { res, grew } = await load(state, m, viaDir, ctx, dtype);
    const [model, err, ok] = res;
    const expect = verdict.ok
      ? null
      : {
          re: new RegExp(verdict.names.map((n) => n.replace(/\./g, "\\.")).join("|")),
          what: verdict.why,
          type: WeightsError,
        };
    if (judge(ctx, expect, err, ok, label)) {
      state.engine = await Engine.create();
      return;
    }
    if (!ok) {
      if (grew && !verdict.late)
        stats.fail("memGrowth", i, `${label}: a rejected load grew memory by ${grew} bytes`);
      state.engine = await Engine.create();
      return;
    }
    state.engine = await Engine.create();
    stats.add("checks");
    const got = (await model.forward(state.probe)).last_hidden_state.data;
    const want = (
      await (
        await BertModel.fromPretrained(
          {
            "config.json": CONFIG,
            "model.safetensors": writeSafetensors(dtype === "fp32" ? decoded(m) : m),
          },
          { ...quiet, dtype },
        )
      ).forward(state.probe)
    ).last_hidden_state.data;
    if (!sameBits(got, want))
      stats.fail(
        "wrong",
        i,
        `${label} (dtype ${dtype}): the loaded model does not compute with ${dtype === "fp32" ? "q·scale" : "the same weights twice"}`,
      );
  },
};

/** The format's rules on the final map: which tensors are wrong (any may be named), or ok. */
function judgeMap(m) {
  const names = [];
  const why = [];
  let late = false;
  const need = encoderShapes(CONFIG);
  for (const [n, shape] of Object.entries(need)) {
    const t = m.get(n);
    if (!t) {
      names.push(n);
      why.push(`${n} missing`);
      continue;
    }
    if (t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
      names.push(n);
      why.push(`${n} shape`);
      continue;
    }
    if (t.dtype !== "I8") continue;
    if (shape.length !== 2) {
      names.push(n);
      why.push(`${n} I8 but 1-D`);
      continue;
    }
    const s = m.get(n + "_scale");
    if (!s) {
      names.push(n);
      why.push(`${n} has no scales`);
      continue;
    }
    if (s.dtype !== "F32" || s.shape.length !== 1 || s.shape[0] !== shape[0]) {
      names.push(s === undefined ? n : n + "_scale");
      why.push(`${n}_scale dtype/shape`);
      continue;
    }
    if (!s.data.every((v) => v > 0 && v <= 3.4028234663852886e38)) {
      names.push(n + "_scale");
      why.push(`${n}_scale value`);
      continue;
    }
    if (t.data.includes(-128)) {
      names.push(n);
      why.push(`${n} has -128`);
      late = true;
    }
  }
  // a data problem is only found while streaming; header problems first
  if (names.length && why.some((w) => !w.endsWith("-128"))) late = false;
  return { ok: names.length === 0, names, why: why.join(", "), late };
}
