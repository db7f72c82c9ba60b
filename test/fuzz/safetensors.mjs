// Fuzzer of the safetensors reader (src/safetensors.ts) and of checkpoint loading through it
// (src/loading/source.ts: in-memory files and files read in place from a directory; then
// src/loading/weights.ts).
//
// Each case builds a file (a random generic file, or a tiny BERT checkpoint with F32/F16/BF16/F64
// tensors), breaks it in one of the ways below, and loads it. An independent validator written
// from the format's rules says whether the file is valid and what is wrong with it; the reader must
// agree: accept exactly the valid files, and reject the others with a SafetensorsError whose
// message names one of the problems. Checkpoints that load must answer what the float64 reference
// answers with the tensors the validator decoded. A rejected load may not grow the engine's
// memory, and no load may allocate more than the file's size.
//
//   truncation at every region, header lengths near 2^64 / past the file / off by a few, offsets
//   reversed / overlapping / out of range / with holes / not integers, shapes whose product
//   overflows or disagrees with the bytes, unknown dtypes, duplicate / __proto__ / odd keys,
//   __metadata__ of every type, non-UTF-8 headers, deeply nested JSON, random byte mutations.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BertModel,
  BufferSource,
  Engine,
  SafetensorsError,
  WeightsError,
  headerLength,
  parseHeader,
} from "../../dist/index.js";
import {
  attempt,
  closeness,
  isTyped,
  judge,
  largestAllocation,
  sameBits,
  show,
  watchAllocations,
  U64_MAX,
} from "./lib.mjs";
import { TINY, bertForward64, encoderShapes, quiet, randomTensors } from "./models.mjs";

export const name = "safetensors";

const DTYPES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};
const FLOAT_DTYPES = ["F32", "F16", "BF16", "F64"];
const MAX_HEADER = 32 * 2 ** 20;
const MAX_TENSORS = 1 << 16;
const enc = new TextEncoder();

// ------------------------------------------------------------------ writing files

/** f32 -> f16 bits, round to nearest even (enough for weights of magnitude ~1). */
function f32ToF16(x) {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1),
      half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}
function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
function f32ToBf16(x) {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}
function bf16ToF32(h) {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0];
}

/** Encodes f32 values as `dtype` bytes (float dtypes) . */
function encodeFloats(data, dtype) {
  const n = data.length;
  if (dtype === "F32") return new Uint8Array(Float32Array.from(data).buffer);
  if (dtype === "F64") return new Uint8Array(Float64Array.from(data).buffer);
  const u16 = new Uint16Array(n);
  for (let i = 0; i < n; i++) u16[i] = dtype === "F16" ? f32ToF16(data[i]) : f32ToBf16(data[i]);
  return new Uint8Array(u16.buffer);
}

/** Decodes float tensor bytes to float64 values (the validator's own reading of the data). */
function decodeFloats(bytes, dtype) {
  const b = bytes.slice();
  const dv = new DataView(b.buffer);
  const size = DTYPES[dtype],
    n = b.length / size;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (dtype === "F32") out[i] = dv.getFloat32(i * 4, true);
    else if (dtype === "F64") out[i] = dv.getFloat64(i * 8, true);
    else if (dtype === "F16") out[i] = f16ToF32(dv.getUint16(i * 2, true));
    else out[i] = bf16ToF32(dv.getUint16(i * 2, true));
  }
  return out;
}

/**
 * A file from entries [{ name, dtype, shape, bytes }] laid out in `order`, with a header written
 * by hand (key order, spacing, metadata and padding chosen by r).
 */
function writeFile(r, entries, metadata = null) {
  const order = r.chance(0.3) ? r.shuffle([...entries.keys()]) : [...entries.keys()];
  let off = 0;
  const offsets = new Map();
  for (const i of order) {
    offsets.set(i, [off, off + entries[i].bytes.length]);
    off += entries[i].bytes.length;
  }
  const parts = entries.map(
    (e, i) =>
      `${JSON.stringify(e.name)}:{"dtype":${JSON.stringify(e.dtype)},"shape":${JSON.stringify(e.shape)},"data_offsets":${JSON.stringify(offsets.get(i))}}`,
  );
  if (metadata)
    parts.splice(r.int(0, parts.length + 1), 0, `"__metadata__":${JSON.stringify(metadata)}`);
  const sep = r.chance(0.2) ? ", " : ",";
  let text = `{${parts.join(sep)}}`;
  if (r.chance(0.3)) text += " ".repeat(r.int(0, 8)); // HF pads the header to 8 bytes with spaces
  const data = new Uint8Array(off);
  for (const i of order) data.set(entries[i].bytes, offsets.get(i)[0]);
  return assemble(enc.encode(text), data);
}

function assemble(headerBytes, data, lengthField = BigInt(headerBytes.length)) {
  const f = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(f.buffer).setBigUint64(0, BigInt.asUintN(64, lengthField), true);
  f.set(headerBytes, 8);
  f.set(data, 8 + headerBytes.length);
  return f;
}

/** Splits a file into its header text (when it decodes) and data. */
function split(file) {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return {
    header: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))),
    data: file.subarray(8 + n),
    n,
  };
}

const NAMES = [
  "a",
  "w",
  "x.weight",
  "layer.0.bias",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "",
  " ",
  "ñ",
  "名前",
  "😀",
  "a\u0000b",
  "\\",
  '"',
  "x".repeat(300),
];

function randomEntries(r) {
  const count = r.int(0, 7);
  const used = new Set();
  const out = [];
  for (let k = 0; k < count; k++) {
    let nm = r.chance(0.5) ? r.pick(NAMES) : `t${r.int(0, 1000)}`;
    if (used.has(nm)) nm += `.${k}`;
    used.add(nm);
    const dtype = r.pick(Object.keys(DTYPES));
    const rank = r.int(0, 5);
    const shape = Array.from({ length: rank }, () => (r.chance(0.1) ? 0 : r.int(1, 6)));
    const n = shape.reduce((a, b) => a * b, 1);
    out.push({ name: nm, dtype, shape, bytes: r.bytes(n * DTYPES[dtype]) });
  }
  return out;
}

/** A tiny BERT checkpoint: every encoder tensor in a random float dtype (the same dtype for all, or mixed). */
function modelEntries(r, tensors) {
  const one = r.chance(0.5) ? r.pick(FLOAT_DTYPES) : null;
  const prefix = r.chance(0.2) ? "bert." : "";
  const out = [];
  for (const [nm, t] of tensors) {
    const dtype = one ?? r.pick(FLOAT_DTYPES);
    let name = prefix + nm;
    if (r.chance(0.05) && /LayerNorm\.(weight|bias)$/.test(name))
      name = name.replace(/weight$/, "gamma").replace(/bias$/, "beta");
    out.push({ name, dtype, shape: t.shape, bytes: encodeFloats(t.data, dtype) });
  }
  if (r.chance(0.2))
    out.push({
      name: "embeddings.position_ids",
      dtype: "I64",
      shape: [1, TINY.max_position_embeddings],
      bytes: new Uint8Array(TINY.max_position_embeddings * 8),
    });
  return out;
}

// ------------------------------------------------------------------ the independent validator

/**
 * Reads a file by the format's rules. Returns { ok: true, tensors: Map, dataStart } or
 * { ok: false, problems: [category, ...] } where the categories say what a message must name.
 */
function validate(file, size = file.length) {
  if (size < 8 || file.length < 8) return { ok: false, problems: ["short"] };
  const n = new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(size - 8)) return { ok: false, problems: ["hlen-past"] };
  if (n > BigInt(MAX_HEADER) || n < 2n) return { ok: false, problems: ["hlen"] };
  const N = Number(n);
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(file.subarray(8, 8 + N));
  } catch {
    return { ok: false, problems: ["utf8"] };
  }
  let obj;
  try {
    obj = JSON.parse(text);
  } catch {
    return { ok: false, problems: ["json"] };
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj))
    return { ok: false, problems: ["notobject"] };
  const dataLen = size - 8 - N;
  const problems = [];
  if (Object.keys(obj).filter((k) => k !== "__metadata__").length > MAX_TENSORS)
    return { ok: false, problems: ["count"] };
  const tensors = new Map();
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (key === "__metadata__") {
      if (v === null) continue;
      if (
        typeof v !== "object" ||
        Array.isArray(v) ||
        Object.values(v).some((x) => typeof x !== "string")
      )
        problems.push("metadata");
      continue;
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      problems.push("entry");
      continue;
    }
    if (typeof v.dtype !== "string" || !Object.hasOwn(DTYPES, v.dtype)) {
      problems.push("dtype");
      continue;
    }
    const shape = v.shape;
    if (
      !Array.isArray(shape) ||
      shape.length > 16 ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
    ) {
      problems.push("shape");
      continue;
    }
    const o = v.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((x) => Number.isSafeInteger(x) && x >= 0)) {
      problems.push("offsets");
      continue;
    }
    if (o[1] < o[0]) {
      problems.push("reversed");
      continue;
    }
    if (o[1] > dataLen) {
      problems.push("range");
      continue;
    }
    const need = shape.reduce((a, d) => a * BigInt(d), 1n) * BigInt(DTYPES[v.dtype]);
    if (need !== BigInt(o[1] - o[0])) {
      problems.push("bytes");
      continue;
    }
    tensors.set(key, { dtype: v.dtype, shape, begin: o[0], end: o[1] });
  }
  if (problems.length) return { ok: false, problems };
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const t of sorted) {
    if (t.begin !== at) return { ok: false, problems: [t.begin < at ? "overlap" : "hole"] };
    at = t.end;
  }
  if (at !== dataLen) return { ok: false, problems: [at < dataLen ? "trailing" : "range"] };
  return { ok: true, tensors, dataStart: 8 + N };
}

/** What a message must mention for each problem. */
const NAMES_PROBLEM = {
  short: /too short|8-byte/,
  "hlen-past": /header length \d+ runs past the end/,
  hlen: /header length/,
  utf8: /UTF-8/,
  json: /JSON/,
  notobject: /must be a JSON object/,
  metadata: /__metadata__/,
  entry: /tensor ".*"(?:\.\.\. \(\d+ characters\))?: entry must be an object/s,
  dtype: /tensor ".*"(?:\.\.\. \(\d+ characters\))?: unknown dtype/s,
  shape: /tensor ".*"(?:\.\.\. \(\d+ characters\))?: shape/s,
  offsets: /tensor ".*"(?:\.\.\. \(\d+ characters\))?: data_offsets must be/s,
  reversed: /reversed/,
  range: /past the end|truncated/,
  bytes: /needs \d+ bytes but data_offsets give \d+/,
  overlap: /overlaps/,
  hole: /belong to no tensor/,
  trailing: /trailing bytes/,
  count: /more than \d+ tensors/,
};

/** Whether a checkpoint (as validated) has every BertModel weight with the right shape and a float dtype. */
function modelVerdict(v) {
  const need = encoderShapes(TINY, "", { pooler: true });
  const byName = new Map();
  for (const [k, t] of v.tensors)
    byName.set(k.replace(/\.gamma$/, ".weight").replace(/\.beta$/, ".bias"), { ...t, name: k });
  const tensors = new Map();
  for (const [nm, shape] of Object.entries(need)) {
    const t = byName.get(nm) ?? byName.get("bert." + nm);
    if (
      !t ||
      t.shape.length !== shape.length ||
      t.shape.some((d, i) => d !== shape[i]) ||
      !FLOAT_DTYPES.includes(t.dtype)
    )
      return { loads: false, missing: nm };
    tensors.set(nm, t);
  }
  return { loads: true, tensors };
}

// ------------------------------------------------------------------ mutations

const HLEN_VALUES = (n, size) => [
  0n,
  1n,
  2n,
  U64_MAX,
  U64_MAX - 7n,
  1n << 63n,
  (1n << 63n) - 1n,
  1n << 53n,
  (1n << 53n) + 1n,
  1n << 40n,
  1n << 32n,
  (1n << 32n) - 1n,
  1n << 31n,
  BigInt(size - 8 + 1),
  BigInt(size - 7),
  BigInt(size),
  BigInt(size - 8),
  BigInt(Math.max(0, n - 1)),
  BigInt(n + 1),
  BigInt(n + 8),
  BigInt(MAX_HEADER + 1),
];

const BAD_OFFSET = [-1, 0.5, "0", null, 2 ** 53, 2 ** 64, Infinity, true, [0], {}];
const BAD_DIM = [-1, 0.5, "2", null, 2 ** 53, Infinity, [2], {}, true];
const BAD_DTYPE = [
  "Q4",
  "f32",
  "",
  "F32 ",
  "FLOAT",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  null,
  32,
  ["F32"],
  {},
  true,
];
const BAD_META = [
  [],
  1,
  "x",
  true,
  { a: 1 },
  { a: null },
  { a: ["x"] },
  { a: { b: "c" } },
  { a: "x", b: 2 },
];

function nestedArrays(depth) {
  return "[".repeat(depth) + "]".repeat(depth);
}
function nestedObjects(depth) {
  return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** Rewrites the header of a well-formed file with fn(header object) and re-assembles it. */
function rewrite(file, fn) {
  const { header, data } = split(file);
  const h = fn(header) ?? header;
  return assemble(enc.encode(typeof h === "string" ? h : JSON.stringify(h)), data);
}

/** Tensor entries of a header (names except __metadata__). */
const tensorKeys = (h) => Object.keys(h).filter((k) => k !== "__metadata__");

function sortedByOffset(h) {
  return tensorKeys(h).sort((a, b) => h[a].data_offsets[0] - h[b].data_offsets[0]);
}

/** One mutation of a valid file. Returns { file, what }. */
function mutate(r, file) {
  const { n } = split(file);
  const size = file.length;
  const kind = r.weighted([
    [4, "truncate"],
    [3, "hlen"],
    [3, "offsets"],
    [3, "shape"],
    [2, "dtype"],
    [2, "keys"],
    [2, "metadata"],
    [2, "utf8"],
    [2, "nested"],
    [2, "json"],
    [4, "bytes"],
    [1, "append"],
  ]);
  switch (kind) {
    case "truncate": {
      // a cut inside a chosen region: the prefix, the header, or one tensor's bytes
      const { header } = split(file);
      const regions = [
        [0, 8],
        [8, 8 + n],
      ];
      for (const k of sortedByOffset(header)) {
        const [b, e] = header[k].data_offsets;
        if (e > b) regions.push([8 + n + b, 8 + n + e]);
      }
      const [lo, hi] = r.pick(regions);
      const at = r.int(lo, hi);
      return {
        file: file.slice(0, at),
        what: `truncated at ${at} of ${size} (region [${lo}, ${hi}))`,
      };
    }
    case "hlen": {
      const v = r.chance(0.8)
        ? r.pick(HLEN_VALUES(n, size))
        : BigInt.asUintN(64, (BigInt(r.int(0, 2 ** 30)) << 32n) | BigInt(r.int(0, 2 ** 30)));
      const f = file.slice();
      new DataView(f.buffer).setBigUint64(0, v, true);
      return { file: f, what: `header length field set to ${v}` };
    }
    case "offsets": {
      const sub = r.pick(["reverse", "overlap", "range", "hole", "bad", "arity", "swap"]);
      return {
        file: rewrite(file, (h) => {
          const ks = tensorKeys(h);
          if (!ks.length) {
            h.x = { dtype: "F32", shape: [1], data_offsets: [0, 4] };
            return;
          }
          const t = h[r.pick(ks)];
          const o = t.data_offsets;
          if (sub === "reverse") t.data_offsets = [o[1], o[0]];
          else if (sub === "overlap")
            t.data_offsets = [Math.max(0, o[0] - r.int(1, 9)), Math.max(0, o[1] - r.int(1, 9))];
          else if (sub === "range") t.data_offsets = [o[0] + r.int(1, 1000), o[1] + r.int(1, 1000)];
          else if (sub === "hole") t.data_offsets = [o[0] + r.int(1, 5), o[1] + r.int(1, 5)];
          else if (sub === "bad") t.data_offsets[r.int(0, 2)] = r.pick(BAD_OFFSET);
          else if (sub === "arity") t.data_offsets = r.chance(0.5) ? [o[0]] : [o[0], o[1], o[1]];
          else {
            const u = h[r.pick(ks)];
            [t.data_offsets, u.data_offsets] = [u.data_offsets, t.data_offsets];
          }
        }),
        what: `data_offsets: ${sub}`,
      };
    }
    case "shape": {
      const sub = r.pick(["overflow", "disagree", "bad", "rank", "scalar", "notarray"]);
      return {
        file: rewrite(file, (h) => {
          const ks = tensorKeys(h);
          if (!ks.length) return;
          const t = h[r.pick(ks)];
          if (sub === "overflow")
            t.shape = r.pick([
              [2 ** 32, 2 ** 32, 2 ** 32],
              [2 ** 53 - 1, 2 ** 53 - 1],
              [2 ** 31, 2 ** 31, 0],
              [2 ** 40, 2 ** 40],
              [2 ** 53 - 1, 2],
            ]);
          else if (sub === "disagree") {
            if (!t.shape.length) t.shape = [2];
            else t.shape[r.int(0, t.shape.length)] += r.pick([-1, 1, 2]);
          } else if (sub === "bad") {
            if (!t.shape.length) t.shape = [r.pick(BAD_DIM)];
            else t.shape[r.int(0, t.shape.length)] = r.pick(BAD_DIM);
          } else if (sub === "rank") t.shape = Array(17).fill(1);
          else if (sub === "scalar") t.shape = [];
          else t.shape = r.pick([null, 4, "4", { 0: 4 }]);
        }),
        what: `shape: ${sub}`,
      };
    }
    case "dtype":
      return {
        file: rewrite(file, (h) => {
          const ks = tensorKeys(h);
          if (!ks.length) return;
          const t = h[r.pick(ks)];
          if (r.chance(0.3)) t.dtype = r.pick(Object.keys(DTYPES));
          else if (r.chance(0.1)) delete t.dtype;
          else t.dtype = r.pick(BAD_DTYPE);
        }),
        what: "dtype",
      };
    case "keys": {
      const sub = r.pick(["duplicate", "proto", "odd", "entry", "extra-field"]);
      const { header, data } = split(file);
      const ks = tensorKeys(header);
      let text = JSON.stringify(header);
      if (sub === "duplicate" && ks.length) {
        // the same name twice in the JSON text: JSON.parse keeps the last
        const k = r.pick(ks);
        const dup = r.chance(0.5) ? header[k] : header[r.pick(ks)];
        text = text.slice(0, -1) + `,${JSON.stringify(k)}:${JSON.stringify(dup)}}`;
      } else if (sub === "proto") {
        text = text.replace(
          /^\{/,
          `{"__proto__":${r.chance(0.5) ? '{"dtype":"F32","shape":[0],"data_offsets":[0,0]}' : r.pick(['{"polluted":1}', "null", "[]", "1"])}${text.length > 2 ? "," : ""}`,
        );
        if (text.endsWith(",}")) text = text.slice(0, -2) + "}";
      } else if (sub === "odd") {
        const k = r.pick([
          "constructor",
          "toString",
          "valueOf",
          "hasOwnProperty",
          "__defineGetter__",
          "prototype",
        ]);
        text = text.replace(
          /^\{/,
          `{${JSON.stringify(k)}:{"dtype":"U8","shape":[0],"data_offsets":[0,0]}${text.length > 2 ? "," : ""}`,
        );
        if (text.endsWith(",}")) text = text.slice(0, -2) + "}";
      } else if (sub === "entry" && ks.length) {
        header[r.pick(ks)] = r.pick([null, 1, "x", [], true]);
        text = JSON.stringify(header);
      } else if (ks.length) {
        header[r.pick(ks)].extra = r.pick([1, "x", null, { deep: [1] }]);
        text = JSON.stringify(header);
      }
      return { file: assemble(enc.encode(text), data), what: `keys: ${sub}` };
    }
    case "metadata":
      return {
        file: rewrite(
          file,
          (h) =>
            void (h.__metadata__ = r.chance(0.2)
              ? null
              : r.chance(0.3)
                ? { format: "pt", x: "ü" }
                : r.pick(BAD_META)),
        ),
        what: "__metadata__",
      };
    case "utf8": {
      const bad = r.pick([
        [0xff],
        [0xc0, 0x80],
        [0xed, 0xa0, 0x80],
        [0xe2, 0x82],
        [0xf4, 0x90, 0x80, 0x80],
        [0x80],
        [0xfe, 0xff],
      ]);
      const { data } = split(file);
      const h = file.subarray(8, 8 + n);
      // inside a string (a name) when there is one, else anywhere
      const q = h.indexOf(0x22);
      const at = q >= 0 && r.chance(0.7) ? q + 1 : r.int(0, h.length + 1);
      const nh = new Uint8Array(h.length + bad.length);
      nh.set(h.subarray(0, at));
      nh.set(bad, at);
      nh.set(h.subarray(at), at + bad.length);
      return {
        file: assemble(nh, data),
        what: `non-UTF-8 bytes ${bad.map((b) => b.toString(16)).join(" ")} at ${at}`,
      };
    }
    case "nested": {
      const depth = r.pick([100, 1000, 10_000, 100_000]);
      const sub = r.pick(["whole", "shape", "meta", "entry", "objects"]);
      const { data } = split(file);
      let text;
      if (sub === "whole") text = nestedArrays(depth);
      else if (sub === "objects") text = nestedObjects(depth);
      else if (sub === "meta") text = `{"__metadata__":{"a":${nestedArrays(depth)}}}`;
      else if (sub === "entry") text = `{"t":${nestedObjects(depth)}}`;
      else text = `{"t":{"dtype":"F32","shape":${nestedArrays(depth)},"data_offsets":[0,0]}}`;
      return {
        file: assemble(enc.encode(text), data),
        what: `nested JSON (${sub}, depth ${depth})`,
      };
    }
    case "json": {
      const { data } = split(file);
      const text = r.pick([
        "",
        " ",
        "{",
        "}",
        "{}}",
        "{,}",
        '{"a":}',
        "null",
        "[]",
        '"x"',
        "42",
        "true",
        "{} x",
        '{"a":1,}',
        "{'a':1}",
        "\u0000{}",
        "\ufeff{}",
        "{}\u0000",
        "NaN",
        '{"a": NaN}',
        "/*c*/{}",
      ]);
      return { file: assemble(enc.encode(text), data), what: `header ${JSON.stringify(text)}` };
    }
    case "bytes": {
      const f = file.slice();
      const count = r.int(1, 9);
      const region = r.pick(["any", "prefix", "header", "data"]);
      const lo = region === "prefix" ? 0 : region === "header" ? 8 : region === "data" ? 8 + n : 0;
      const hi = region === "prefix" ? 8 : region === "header" ? 8 + n : f.length;
      if (hi <= lo) return { file: f, what: "no-op" };
      for (let k = 0; k < count; k++) {
        const at = r.int(lo, hi);
        f[at] = r.chance(0.5) ? f[at] ^ (1 << r.int(0, 8)) : r.int(0, 256);
      }
      return { file: f, what: `${count} random bytes changed in ${region}` };
    }
    case "append": {
      const extra = r.bytes(r.int(1, 16));
      const f = new Uint8Array(file.length + extra.length);
      f.set(file);
      f.set(extra, file.length);
      return { file: f, what: `${extra.length} bytes appended` };
    }
  }
  return { file, what: "none" };
}

// ------------------------------------------------------------------ the surface

export async function setup(ctx) {
  watchAllocations();
  const tensors = randomTensors(encoderShapes(TINY), 77);
  const probe = {
    input_ids: [
      [1, 5, 9, 36, 0],
      [2, 3, 4, 5, 6],
    ],
    attention_mask: [
      [1, 1, 1, 1, 0],
      [1, 1, 1, 1, 1],
    ],
    token_type_ids: [
      [0, 0, 1, 1, 2],
      [0, 1, 0, 1, 0],
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), "simdbert-fuzz-"));
  return { tensors, probe, dir, engine: await Engine.create(), ctx };
}

export async function teardown(state) {
  rmSync(state.dir, { recursive: true, force: true });
}

/** Loads a checkpoint through the public API; the engine is shared until a load succeeds. */
async function load(state, bytes, viaDir, ctx) {
  const config = JSON.stringify(TINY);
  let source = { "config.json": config, "model.safetensors": bytes };
  if (viaDir) {
    const d = join(state.dir, `c${ctx.i}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "config.json"), config);
    writeFileSync(join(d, "model.safetensors"), bytes);
    source = d;
  }
  const before = state.engine.memoryBytes;
  const { result, worst } = await largestAllocation(() =>
    BertModel.fromPretrained(source, { ...quiet, engine: state.engine }),
  );
  if (viaDir) rmSync(source, { recursive: true, force: true });
  const [model, err, ok] = result;
  if (worst > bytes.length + 65536) {
    ctx.stats.fail(
      "overAlloc",
      ctx.i,
      `${viaDir ? "directory" : "in-memory"} load of a ${bytes.length}-byte file allocated ${worst} bytes`,
    );
  }
  if (ok) state.engine = await Engine.create();
  else if (state.engine.memoryBytes !== before) {
    ctx.stats.add("memGrowthBytes", state.engine.memoryBytes - before);
    ctx.stats.fail(
      "memGrowth",
      ctx.i,
      `a rejected load grew the engine's memory by ${state.engine.memoryBytes - before} bytes (${err?.message})`,
    );
    state.engine = await Engine.create();
  }
  return [model, err, ok];
}

export async function runCase(state, r, ctx) {
  const { stats, i } = ctx;
  const isModel = r.chance(0.35);
  const entries = isModel ? modelEntries(r, state.tensors) : randomEntries(r);
  const meta = r.chance(0.2) ? { format: "pt" } : null;
  const base = writeFile(r, entries, meta);
  // a tenth of the files stay valid (the accepting paths are fuzzed too)
  const m = r.chance(0.1) ? { file: base, what: "valid file" } : mutate(r, base);
  const file = m.file;
  const v = validate(file);
  const label = `${isModel ? "checkpoint" : "file"} (${file.length} bytes), ${m.what}`;
  if (ctx.verbose)
    ctx.log(`case ${i}: ${label}; validator: ${v.ok ? "valid" : v.problems.join(", ")}`);
  stats.add("tried");

  // 1. the reader on its own
  const { result, worst } = await largestAllocation(() => new BufferSource(file));
  const [src, err, ok] = result;
  if (worst > file.length + 65536)
    stats.fail("overAlloc", i, `${label}: parsing allocated ${worst} bytes`);
  const expect = v.ok
    ? null
    : {
        re: new RegExp(v.problems.map((p) => NAMES_PROBLEM[p].source).join("|"), "s"),
        what: v.problems.join(", "),
        type: SafetensorsError,
      };
  if (judge(ctx, expect, err, ok, `BufferSource: ${label}`)) return;
  if (ok) {
    // the accepted header must be the validator's reading
    const h = src.header;
    const same =
      h.dataStart === v.dataStart &&
      h.tensors.size === v.tensors.size &&
      [...v.tensors].every(([k, t]) => {
        const u = h.tensors.get(k);
        return (
          u &&
          u.dtype === t.dtype &&
          u.begin === t.begin &&
          u.end === t.end &&
          u.shape.length === t.shape.length &&
          u.shape.every((d, j) => d === t.shape[j])
        );
      });
    stats.add("checks");
    if (!same)
      return stats.fail(
        "wrong",
        i,
        `${label}: header read differently from the format's rules: ${show([...h.tensors.values()])}`,
      );
  }

  // 2. loading the checkpoint (in memory, and for some cases from a directory)
  if (!isModel && !r.chance(0.05)) return;
  const viaDir = r.chance(0.2);
  const [model, lerr, lok] = await load(state, file, false, ctx);
  const mv = v.ok ? modelVerdict(v) : null;
  const lexpect = !v.ok
    ? expect
    : mv.loads
      ? null
      : {
          re: /missing from the checkpoint|checkpoint has shape|cannot be used as a float weight/,
          what: `weights: ${mv.missing}`,
          type: WeightsError,
        };
  if (judge(ctx, lexpect, lerr, lok, `fromPretrained: ${label}`)) return;
  let answer = null;
  if (lok) {
    const out = await model.forward(state.probe);
    answer = out.last_hidden_state.data;
    // the float64 reference with the tensors as the validator decodes them
    const decoded = new Map();
    let sane = true;
    for (const [nm, t] of mv.tensors) {
      const data = decodeFloats(file.subarray(v.dataStart + t.begin, v.dataStart + t.end), t.dtype);
      if (!data.every((x) => Number.isFinite(x) && Math.abs(x) < 1e3)) sane = false;
      decoded.set(nm, { shape: t.shape, data });
    }
    if (sane) {
      const want = bertForward64(TINY, decoded, state.probe);
      const c1 = closeness(answer, want.last_hidden_state.data, 2e-4, 1e-4);
      const c2 = closeness(out.pooler_output.data, want.pooler_output.data, 2e-4, 1e-4);
      stats.add("checks");
      if (!(c1 <= 1 && c2 <= 1))
        return stats.fail(
          "wrong",
          i,
          `${label}: loaded model disagrees with the float64 reference on the decoded weights (closeness ${c1}, ${c2}; dtypes ${[...new Set([...mv.tensors.values()].map((t) => t.dtype))]})`,
        );
    }
  }
  if (viaDir) {
    const [dmodel, derr, dok] = await load(state, file, true, ctx);
    stats.add("checks");
    if (!dok && !isTyped(derr))
      return stats.fail("crashes", i, `${label}: directory load: ${derr?.name}: ${derr?.message}`);
    if (dok !== lok)
      return stats.fail(
        "wrong",
        i,
        `${label}: the directory load ${dok ? "succeeded" : `failed (${derr?.name}: ${derr?.message})`} but the in-memory load ${lok ? "succeeded" : `failed (${lerr?.name}: ${lerr?.message})`}`,
      );
    if (!dok) {
      if (derr.name !== lerr.name)
        return stats.fail(
          "wrong",
          i,
          `${label}: directory load failed with ${derr.name}, in-memory with ${lerr.name}`,
        );
    } else {
      const out = await dmodel.forward(state.probe);
      if (!sameBits(out.last_hidden_state.data, answer))
        return stats.fail(
          "wrong",
          i,
          `${label}: the directory load answers differently from the in-memory load`,
        );
    }
  }
}

/** Direct calls of headerLength / parseHeader with sizes no test file could have. */
export async function runDirect(state, r, ctx) {
  const { stats, i } = ctx;
  stats.add("tried");
  const prefix = new Uint8Array(8);
  const n = r.pick([
    0n,
    1n,
    2n,
    BigInt(MAX_HEADER),
    BigInt(MAX_HEADER + 1),
    1n << 33n,
    1n << 40n,
    U64_MAX,
    1n << 63n,
  ]);
  new DataView(prefix.buffer).setBigUint64(0, n, true);
  const size = r.pick([8, 9, 1000, 2 ** 32, 2 ** 40, 2 ** 52, Number.MAX_SAFE_INTEGER]);
  const valid = n >= 2n && n <= BigInt(MAX_HEADER) && n <= BigInt(size - 8);
  const { result, worst } = await largestAllocation(() => headerLength(prefix, size));
  const [got, err, ok] = result;
  if (worst > 64)
    stats.fail("overAlloc", i, `headerLength(${n}, size ${size}) allocated ${worst} bytes`);
  if (
    judge(
      ctx,
      valid
        ? null
        : {
            re: /header length|too short/,
            what: `header length ${n} for a ${size}-byte file`,
            type: SafetensorsError,
          },
      err,
      ok,
      `headerLength(${n}, ${size})`,
    )
  )
    return;
  if (ok && got !== Number(n)) stats.fail("wrong", i, `headerLength returned ${got} for ${n}`);
  // parseHeader told a file size that disagrees with the header's data
  const [text, need] = r.pick([
    ["{}", 0],
    ['{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}', 0],
    ['{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', 4],
  ]);
  const json = enc.encode(text);
  const fake = r.int(0, 8 + json.length + 8);
  const [, e2, ok2] = await attempt(() => parseHeader(json, fake));
  stats.add("tried");
  const fine = fake - 8 - json.length === need;
  judge(
    ctx,
    fine
      ? null
      : {
          re: /past the end|trailing|truncated/,
          what: `parseHeader with file size ${fake}`,
          type: SafetensorsError,
        },
    e2,
    ok2,
    `parseHeader(${text}, ${fake})`,
  );
}

/**
 * Header sizes: headers of tens of thousands of (zero-size) tensors around the tensor-count cap,
 * names holding commas, braces and quotes (the count before parsing must not be fooled by them),
 * and valid headers padded to just under (or over) the header-size cap. Accepted exactly when
 * within both caps; a rejection is fast (before parsing millions of keys) and names the cap.
 */
export async function runHeaderSizes(state, r, ctx) {
  const { stats, i } = ctx;
  stats.add("tried");
  // padded with spaces (valid JSON) to just under or over the header-size cap: few tensors then
  const padded = r.chance(0.2);
  const count = padded
    ? r.int(1, 100)
    : r.pick([
        1,
        MAX_TENSORS - 1,
        MAX_TENSORS,
        MAX_TENSORS + 1,
        MAX_TENSORS + r.int(2, 1000),
        200_000,
      ]);
  const odd = r.chance(0.5);
  const parts = ["{"];
  const meta = r.chance(0.3);
  if (meta) parts.push('"__metadata__":{"a,b":"{,}"}');
  for (let k = 0; k < count; k++) {
    const nm = odd && k % 7 === 0 ? `t${k},{"[\\` : `t${k}`;
    parts.push(
      `${k || meta ? "," : ""}${JSON.stringify(nm)}:{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`,
    );
  }
  parts.push("}");
  let text = parts.join("");
  // padded with spaces (valid JSON) to just under or over the header-size cap
  const pad = padded ? MAX_HEADER - text.length + r.int(-8, 9) : 0;
  if (pad > 0) text += " ".repeat(pad);
  const json = enc.encode(text);
  const file = new Uint8Array(8 + json.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  const valid = count <= MAX_TENSORS && json.length <= MAX_HEADER;
  const label = `a header of ${count} tensors${odd ? " (odd names)" : ""}, ${json.length} bytes`;
  // timed by the CPU it takes (a loaded machine stretches the wall time, not the work)
  const cpu0 = process.cpuUsage();
  const [src, err, ok] = await attempt(() => new BufferSource(file));
  const cpu = process.cpuUsage(cpu0);
  const dt = (cpu.user + cpu.system) / 1000;
  if (
    judge(
      ctx,
      valid
        ? null
        : {
            re:
              json.length > MAX_HEADER ? /larger than the \d+-byte limit/ : /more than \d+ tensors/,
            what: label,
            type: SafetensorsError,
          },
      err,
      ok,
      label,
    )
  )
    return;
  stats.add("checks");
  if (ok && src.header.tensors.size !== count)
    stats.fail("wrong", i, `${label}: read ${src.header.tensors.size} tensors`);
  if (!ok && dt > 1000)
    stats.fail("slow", i, `${label}: rejected after ${dt.toFixed(0)} ms of CPU`);
}

export const surface = {
  name,
  setup,
  teardown,
  async run(state, r, ctx) {
    if (r.chance(0.05)) return runDirect(state, r, ctx);
    if (r.chance(0.03)) return runHeaderSizes(state, r, ctx);
    return runCase(state, r, ctx);
  },
};
