// The safetensors format: 8-byte little-endian header length N, N bytes of UTF-8 JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}, then the data.
// Validation follows the reference implementation: offsets inside the data, no overlaps and no
// holes, byte length equal to the shape's element count times the item size. Nothing is
// allocated from an untrusted length before it is checked against the file size.
import { SafetensorsError, brief } from "./errors.js";
export { SafetensorsError };
import { quote } from "./messages.js";

export const DTYPE_BYTES: Record<string, number> = {
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

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Bytes before the data section (8 + header length). */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string> | null;
}

/**
 * Largest header accepted: 32 MiB (the reference implementation allows 100 MB). Real checkpoints'
 * headers are a few hundred KB (one entry of ~100 bytes per tensor); parsing 100 MB of JSON costs
 * seconds and over a GB.
 */
export const MAX_HEADER = 32 * 2 ** 20;
/** Most tensors a header may list: BERT-large has ~400, the largest sharded checkpoints thousands. */
export const MAX_TENSORS = 1 << 16;

/** Reads the 8-byte prefix: the header length, checked against the file size. */
export function headerLength(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8)
    throw new SafetensorsError(`file too short (${fileSize} bytes): no 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) {
    throw new SafetensorsError(
      `header length ${n} runs past the end of the file (${fileSize} bytes): truncated or not a safetensors file`,
    );
  }
  if (n > BigInt(MAX_HEADER))
    throw new SafetensorsError(`header length ${n} is larger than the ${MAX_HEADER}-byte limit`);
  if (n < 2n) throw new SafetensorsError(`header length ${n} is too small for a JSON object`);
  return Number(n);
}

/** Parses and validates the JSON header (bytes 8 .. 8+N of the file). */
export function parseHeader(json: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataStart = 8 + json.length;
  const dataLen = fileSize - dataStart;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(json);
  } catch {
    throw new SafetensorsError("header is not valid UTF-8");
  }
  // counted before parsing: a header of millions of tiny entries costs seconds and a GB to parse
  const listed = countTensors(json);
  if (listed > MAX_TENSORS)
    throw new SafetensorsError(
      `header lists more than ${MAX_TENSORS} tensors (${listed}): not a checkpoint simdbert reads`,
    );
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj))
    throw new SafetensorsError("header must be a JSON object");
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> | null = null;
  for (const [name, raw] of Object.entries(obj as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null) continue;
      if (typeof raw !== "object" || Array.isArray(raw))
        throw new SafetensorsError("__metadata__ must be an object of strings");
      metadata = Object.create(null) as Record<string, string>;
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string")
          throw new SafetensorsError(`__metadata__[${quote(k)}] must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.set(name, checkEntry(name, raw, dataLen));
  }
  if (tensors.size > MAX_TENSORS)
    throw new SafetensorsError(
      `header lists more than ${MAX_TENSORS} tensors (${tensors.size}): not a checkpoint simdbert reads`,
    );
  // no overlaps, no holes: sorted by offset, the entries must tile [0, dataLen)
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const t of sorted) {
    if (t.begin < at)
      throw new SafetensorsError(
        `tensor ${quote(t.name)} [${t.begin}, ${t.end}) overlaps another tensor's bytes`,
      );
    if (t.begin > at)
      throw new SafetensorsError(
        `bytes [${at}, ${t.begin}) of the data belong to no tensor (hole before ${quote(t.name)})`,
      );
    at = t.end;
  }
  if (at !== dataLen) {
    throw new SafetensorsError(
      at < dataLen
        ? `the data section has ${dataLen - at} trailing bytes that belong to no tensor`
        : `tensor data ends at ${at}, past the end of the file's data (${dataLen} bytes): truncated`,
    );
  }
  return { dataStart, tensors, metadata };
}

const METADATA_KEY = new TextEncoder().encode('"__metadata__"');
/** Longest JSON string (quotes included) that may decode to "__metadata__": 12 \uXXXX escapes. */
const METADATA_KEY_MAX = 2 + 12 * 6;

/**
 * The keys of the top-level JSON object other than "__metadata__" (a duplicated key counts each
 * time), by one pass over the bytes: the tensors the header lists, before any parsing. Strings
 * are skipped whole (names may hold commas, braces and quotes); a key is recognised as the one
 * after "{" or "," at depth 1. Text that is not JSON gets some count and fails to parse later.
 */
function countTensors(json: Uint8Array): number {
  let depth = 0,
    count = 0,
    expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === 0x22) {
      const start = i;
      let escaped = false;
      for (i++; i < json.length && json[i] !== 0x22; i++) {
        if (json[i] === 0x5c) {
          escaped = true;
          i++; // backslash: skip the escaped byte
        }
      }
      if (depth === 1 && expectKey) {
        expectKey = false;
        if (!isMetadataKey(json, start, i + 1, escaped)) count++;
      }
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      expectKey = depth === 1 && c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && depth === 1) expectKey = true;
  }
  return count;
}

/** Whether the JSON string json[start, end) (quotes included) is "__metadata__". */
function isMetadataKey(json: Uint8Array, start: number, end: number, escaped: boolean): boolean {
  if (!escaped) {
    if (end - start !== METADATA_KEY.length) return false;
    for (let k = 0; k < METADATA_KEY.length; k++)
      if (json[start + k] !== METADATA_KEY[k]) return false;
    return true;
  }
  // an escaped spelling ("\u005f_metadata__"): short enough to decode
  if (end - start > METADATA_KEY_MAX) return false;
  try {
    return JSON.parse(new TextDecoder().decode(json.subarray(start, end))) === "__metadata__";
  } catch {
    return false;
  }
}

function checkEntry(name: string, raw: unknown, dataLen: number): TensorInfo {
  if (!raw || typeof raw !== "object" || Array.isArray(raw))
    throw new SafetensorsError(`tensor ${quote(name)}: entry must be an object`);
  const e = raw as Record<string, unknown>;
  const dtype = e.dtype;
  if (typeof dtype !== "string" || !Object.prototype.hasOwnProperty.call(DTYPE_BYTES, dtype)) {
    throw new SafetensorsError(`tensor ${quote(name)}: unknown dtype ${brief(dtype)}`);
  }
  const shape = e.shape;
  if (!Array.isArray(shape) || shape.length > 16)
    throw new SafetensorsError(`tensor ${quote(name)}: shape must be a list of at most 16 sizes`);
  let count = 1n;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw new SafetensorsError(
        `tensor ${quote(name)}: shape [${shape.map(brief).join(", ")}] has an invalid size ${brief(d)}`,
      );
    }
    count *= BigInt(d);
  }
  const offs = e.data_offsets;
  if (
    !Array.isArray(offs) ||
    offs.length !== 2 ||
    !offs.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)
  ) {
    throw new SafetensorsError(
      `tensor ${quote(name)}: data_offsets must be two non-negative integers`,
    );
  }
  const [begin, end] = offs as number[];
  if (end < begin)
    throw new SafetensorsError(
      `tensor ${quote(name)}: data_offsets [${begin}, ${end}] are reversed`,
    );
  if (end > dataLen) {
    throw new SafetensorsError(
      `tensor ${quote(name)}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes): truncated file?`,
    );
  }
  const bytes = count * BigInt(DTYPE_BYTES[dtype]);
  if (bytes !== BigInt(end - begin)) {
    throw new SafetensorsError(
      `tensor ${quote(name)}: shape [${shape.join(", ")}] of ${dtype} needs ${bytes} bytes but data_offsets give ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Where tensor bytes come from: a buffer in memory, a file, or a stream. */
export interface TensorSource {
  readonly header: SafetensorsHeader;
  /**
   * Copies the bytes of `t` into `dst` (dst.length === t.end - t.begin). Callers ask in
   * increasing offset order, so a streaming source never has to seek back.
   */
  read(t: TensorInfo, dst: Uint8Array): Promise<void>;
  close?(): Promise<void>;
}

/** A whole safetensors file in memory. */
export class BufferSource implements TensorSource {
  readonly header: SafetensorsHeader;
  constructor(private readonly bytes: Uint8Array) {
    const n = headerLength(bytes, bytes.length);
    this.header = parseHeader(bytes.subarray(8, 8 + n), bytes.length);
  }
  async read(t: TensorInfo, dst: Uint8Array): Promise<void> {
    const s = this.header.dataStart;
    dst.set(this.bytes.subarray(s + t.begin, s + t.end));
  }
}

/** Decodes one tensor from an in-memory file into a typed array (for small inputs such as inputs.safetensors). */
export function readTensor(
  bytes: Uint8Array,
  header: SafetensorsHeader,
  name: string,
): { dtype: string; shape: number[]; data: Float32Array | BigInt64Array | Int32Array } {
  const t = header.tensors.get(name);
  if (!t) throw new SafetensorsError(`no tensor named ${quote(name)}`);
  const raw = bytes.slice(header.dataStart + t.begin, header.dataStart + t.end);
  const n = t.shape.reduce((a, b) => a * b, 1);
  switch (t.dtype) {
    case "F32":
      return { dtype: t.dtype, shape: t.shape, data: new Float32Array(raw.buffer, 0, n) };
    case "F64":
      return {
        dtype: t.dtype,
        shape: t.shape,
        data: Float32Array.from(new Float64Array(raw.buffer, 0, n)),
      };
    case "F16":
    case "BF16": {
      const u16 = new Uint16Array(raw.buffer, 0, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++)
        out[i] = t.dtype === "BF16" ? bf16ToF32(u16[i]) : f16ToF32(u16[i]);
      return { dtype: t.dtype, shape: t.shape, data: out };
    }
    case "I64":
      return { dtype: t.dtype, shape: t.shape, data: new BigInt64Array(raw.buffer, 0, n) };
    case "I32":
      return { dtype: t.dtype, shape: t.shape, data: new Int32Array(raw.buffer, 0, n) };
    default:
      throw new SafetensorsError(`tensor ${quote(name)}: dtype ${t.dtype} is not supported here`);
  }
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
function bf16ToF32(h: number): number {
  u32buf[0] = h << 16;
  return f32buf[0];
}
function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A tensor to write: F32 data, or explicit dtype with raw element data (I8, F16 as bits, ...). */
export interface WritableTensor {
  shape: number[];
  data: Float32Array | Int8Array | Uint16Array | Uint8Array | Int32Array | BigInt64Array;
  /** Default F32 (data a Float32Array). */
  dtype?: string;
}

/**
 * The header block (8-byte length + JSON, padded with spaces to a multiple of 8 as HF's writer
 * does) of a safetensors file holding `entries` in the given order, and each one's data offsets.
 * With it a file can be written tensor by tensor (peak memory: one tensor).
 */
export function safetensorsLayout(
  entries: { name: string; dtype: string; shape: number[] }[],
  metadata?: Record<string, string>,
): { header: Uint8Array; offsets: number[]; dataBytes: number } {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const offsets: number[] = [];
  for (const e of entries) {
    const size = DTYPE_BYTES[e.dtype];
    if (!size) throw new SafetensorsError(`tensor "${e.name}": unknown dtype ${e.dtype}`);
    const bytes = e.shape.reduce((a, b) => a * b, 1) * size;
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + bytes] };
    offsets.push(off);
    off += bytes;
  }
  let text = JSON.stringify(header);
  const len = new TextEncoder().encode(text).length;
  text += " ".repeat((8 - (len % 8)) % 8);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return { header: out, offsets, dataBytes: off };
}

/** Writes tensors as a safetensors file (names sorted, as HF's writer does); F32 unless a tensor says otherwise. */
export function writeSafetensors(
  tensors: Map<string, WritableTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const entries = names.map((name) => {
    const t = tensors.get(name)!;
    const dtype = t.dtype ?? "F32";
    const need = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (t.data.byteLength !== need)
      throw new SafetensorsError(
        `tensor "${name}": shape [${t.shape.join(", ")}] of ${dtype} needs ${need} bytes, the data has ${t.data.byteLength}`,
      );
    return { name, dtype, shape: t.shape };
  });
  const { header, offsets, dataBytes } = safetensorsLayout(entries, metadata);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header, 0);
  names.forEach((n, i) => {
    const d = tensors.get(n)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), header.length + offsets[i]);
  });
  return out;
}
