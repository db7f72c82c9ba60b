// simdbert's low-precision checkpoints (docs/quantization.md): which tensors are stored in low
// precision, the config entry that says so, and the conversion of a checkpoint tensor by tensor
// (peak memory: one tensor), used by `simdbert quantize`.
//
// q8: every 2-D floating tensor named "*.weight" (the Linear weights [out, in] and the word
// embedding table [vocab, hidden]) except the small tables the engine keeps in f32 (position and
// token-type embeddings, attention's distance_embedding) becomes
//   "<name>"        I8  [rows, cols]  q, row-major, symmetric (-127..127)
//   "<name>_scale"  F32 [rows]        one positive finite scale per row: w ≈ q·scale
// and config.json gets "quantization_config": {"quant_method": "simdbert", "dtype": "q8", ...}
// (transformers' key: HF Python then refuses the checkpoint instead of loading int8 as floats).
// fp16: the same tensors become F16 (round to nearest even) and config.json says
// "torch_dtype": "float16", so HF Python loads it as it loads any half checkpoint.
// Everything else (biases, LayerNorm, the small tables) is written as F32, so that a converted
// checkpoint loads into exactly what the dtype option makes of the float one at load.
import { safetensorsLayout, type TensorInfo, type TensorSource } from "../safetensors.js";
import {
  f16BitsToF32,
  f32ToF16,
  QuantizationError,
  quantizeRows,
  type WeightDtype,
} from "./quantize.js";

/** Suffix of a q8 tensor's per-row scales. */
export const SCALE_SUFFIX = "_scale";
export const QUANT_METHOD = "simdbert";
export const FORMAT_VERSION = 1;

/** The config.json entry of a q8 checkpoint. */
export function q8QuantizationConfig(): Record<string, unknown> {
  return {
    quant_method: QUANT_METHOD,
    dtype: "q8",
    format_version: FORMAT_VERSION,
    bits: 8,
    symmetric: true,
    granularity: "per_row",
    scale_suffix: SCALE_SUFFIX,
  };
}

const FLOATS = ["F32", "F16", "BF16", "F64"];

/** Whether `simdbert quantize` stores this checkpoint tensor in low precision. */
export function isLowPrecisionTarget(t: { name: string; shape: number[]; dtype: string }): boolean {
  return (
    t.shape.length === 2 &&
    FLOATS.includes(t.dtype) &&
    /(^|\.)weight$/.test(t.name) &&
    !/(^|\.)(distance_embedding|position_embeddings|token_type_embeddings)\.weight$/.test(t.name)
  );
}

/**
 * The weight precision a checkpoint declares: "q8" for quantization_config {quant_method:
 * "simdbert", dtype: "q8"}, else null. Other quantization methods (bitsandbytes, GPTQ, AWQ...) are
 * refused with a typed error: their tensors are not simdbert's.
 */
export function declaredDtype(config: Record<string, unknown>, where = "config.json"): "q8" | null {
  const q = config.quantization_config;
  if (q === undefined || q === null) return null;
  if (typeof q !== "object" || Array.isArray(q))
    throw new QuantizationError(`${where}: quantization_config must be an object`);
  const m = (q as Record<string, unknown>).quant_method;
  if (m !== QUANT_METHOD)
    throw new QuantizationError(
      `${where}: quantization_config.quant_method ${JSON.stringify(m)} is not supported (simdbert reads its own "${QUANT_METHOD}" q8 checkpoints: make one with \`simdbert quantize MODEL OUT_DIR --dtype q8\` from the float checkpoint)`,
    );
  const d = (q as Record<string, unknown>).dtype;
  const v = (q as Record<string, unknown>).format_version;
  if (d !== "q8")
    throw new QuantizationError(
      `${where}: quantization_config.dtype must be "q8", got ${JSON.stringify(d)}`,
    );
  if (v !== undefined && v !== FORMAT_VERSION)
    throw new QuantizationError(
      `${where}: quantization_config.format_version ${JSON.stringify(v)} is not supported (this simdbert reads version ${FORMAT_VERSION})`,
    );
  return "q8";
}

/** config.json of the converted checkpoint. */
export function convertedConfig(
  config: Record<string, unknown>,
  dtype: Exclude<WeightDtype, "fp32">,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  delete out.quantization_config;
  if (dtype === "q8") {
    out.quantization_config = q8QuantizationConfig();
    out.torch_dtype = "float32"; // the float tensors (biases, LayerNorm)
  } else out.torch_dtype = "float16";
  return out;
}

/** A checkpoint tensor decoded to f32 (F32, F16, BF16, F64). */
export async function readFloatTensor(source: TensorSource, t: TensorInfo): Promise<Float32Array> {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const raw = new Uint8Array(t.end - t.begin);
  await source.read(t, raw);
  switch (t.dtype) {
    case "F32":
      return new Float32Array(raw.buffer, 0, n);
    case "F64":
      return Float32Array.from(new Float64Array(raw.buffer, 0, n));
    case "F16": {
      const u = new Uint16Array(raw.buffer, 0, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32(u[i]);
      return out;
    }
    case "BF16": {
      const u = new Uint16Array(raw.buffer, 0, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = u[i] << 16;
      return out;
    }
    default:
      throw new QuantizationError(`${t.name}: dtype ${t.dtype} is not a float`);
  }
}

interface Planned {
  src: TensorInfo;
  name: string;
  dtype: string;
  shape: number[];
  /** "q8" weight, its "scale", an "fp16" weight, "f32" (floats widened/narrowed), or "copy" (non-float, as is). */
  kind: "q8" | "scale" | "fp16" | "f32" | "copy";
}

function plan(source: TensorSource, dtype: "q8" | "fp16"): Planned[] {
  const out: Planned[] = [];
  const tensors = [...source.header.tensors.values()].sort((a, b) => a.begin - b.begin);
  for (const t of tensors) {
    if (t.dtype === "I8" || t.name.endsWith(SCALE_SUFFIX))
      throw new QuantizationError(
        `${t.name}: the checkpoint is already quantized (${t.dtype}): convert the float checkpoint`,
      );
    if (isLowPrecisionTarget(t)) {
      if (dtype === "q8") {
        out.push({ src: t, name: t.name, dtype: "I8", shape: t.shape, kind: "q8" });
        out.push({
          src: t,
          name: t.name + SCALE_SUFFIX,
          dtype: "F32",
          shape: [t.shape[0]],
          kind: "scale",
        });
      } else out.push({ src: t, name: t.name, dtype: "F16", shape: t.shape, kind: "fp16" });
    } else if (FLOATS.includes(t.dtype))
      out.push({ src: t, name: t.name, dtype: "F32", shape: t.shape, kind: "f32" });
    else out.push({ src: t, name: t.name, dtype: t.dtype, shape: t.shape, kind: "copy" });
  }
  return out;
}

/** What a conversion wrote. */
export interface ConversionSummary {
  tensors: number;
  lowPrecision: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Converts a float checkpoint to simdbert's q8 or fp16 format, tensor by tensor, calling `write`
 * with consecutive pieces of the new safetensors file (the header first). Tensors keep the source
 * file's order, each "_scale" right after its weight. Memory: one tensor (its f32 decoding and
 * its converted bytes).
 */
export async function convertCheckpoint(
  source: TensorSource,
  dtype: "q8" | "fp16",
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<ConversionSummary> {
  const entries = plan(source, dtype);
  const { header, dataBytes } = safetensorsLayout(entries, {
    format: "pt",
    simdbert_dtype: dtype,
  });
  await write(header);
  let lowPrecision = 0,
    bytesIn = 0;
  let pendingScales: Float32Array | null = null;
  for (const e of entries) {
    const t = e.src;
    if (e.kind === "scale") {
      await write(bytes(pendingScales!));
      pendingScales = null;
      continue;
    }
    bytesIn += t.end - t.begin;
    if (e.kind === "copy") {
      const raw = new Uint8Array(t.end - t.begin);
      await source.read(t, raw);
      await write(raw);
      continue;
    }
    const w = await readFloatTensor(source, t);
    if (e.kind === "f32") await write(bytes(w));
    else if (e.kind === "fp16") {
      const h = new Uint16Array(w.length);
      f32ToF16(w, h);
      for (let i = 0; i < w.length; i++)
        if (Number.isFinite(w[i]) && !Number.isFinite(f16BitsToF32(h[i])))
          throw new QuantizationError(
            `${t.name}: weight ${w[i]} at index ${i} overflows float16 (largest 65504): keep this model in fp32 or q8`,
          );
      await write(bytes(h));
      lowPrecision++;
    } else {
      const [rows, cols] = t.shape;
      const q = new Int8Array(rows * cols);
      pendingScales = new Float32Array(rows);
      quantizeRows(w, rows, cols, q, pendingScales, 0, t.name);
      await write(bytes(q));
      lowPrecision++;
    }
  }
  return { tensors: entries.length, lowPrecision, bytesIn, bytesOut: header.length + dataBytes };
}

const bytes = (a: Float32Array | Int8Array | Uint16Array): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
