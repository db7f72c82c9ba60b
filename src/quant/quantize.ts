// Low-precision weights: the numbers of simdbert's q8 and fp16 formats (docs/quantization.md).
//
// q8: symmetric int8 with one f32 scale per row of a [rows, cols] matrix: per output channel for
// a Linear weight [out, in] (HF's layout), per row (token) for an embedding table. For a row w:
//   scale = fround(max|w| / 127)          (1 when the row is all zeros: q is 0, scale stays valid)
//   q[j]  = clamp(roundHalfEven(w[j] / scale), -127, 127)   (w / scale evaluated in float64)
// so w[j] ≈ q[j]·scale with |error| <= scale / 2. -128 is never produced: the range is symmetric,
// and the kernels may negate a weight without overflow. Ties round to even as torch.round,
// numpy.round and onnxruntime's QuantizeLinear do.
//
// fp16: IEEE binary16, round to nearest, ties to even (what torch's .half() and numpy's
// astype(float16) do); overflow gives ±Infinity, NaN stays NaN.
import { SimdbertError } from "../errors.js";

/** The precisions a model's weights can be held in (transformers.js' names). */
export const WEIGHT_DTYPES = ["fp32", "fp16", "q8"] as const;
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];

export class QuantizationError extends SimdbertError {
  override name = "QuantizationError";
}

/** Checks a user's dtype option: one of WEIGHT_DTYPES, else a typed error listing them. */
export function checkDtype(value: unknown, what = "dtype"): WeightDtype {
  if (typeof value === "string" && (WEIGHT_DTYPES as readonly string[]).includes(value))
    return value as WeightDtype;
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  throw new QuantizationError(
    `${what} must be one of ${WEIGHT_DTYPES.map((d) => `"${d}"`).join(", ")}; got ${shown}`,
  );
}

/** x rounded to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties toward +Infinity
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The q8 scale of a row whose largest magnitude is maxAbs (finite). */
export function rowScale(maxAbs: number): number {
  if (maxAbs === 0) return 1;
  const s = Math.fround(maxAbs / 127);
  // a row of subnormals can round its scale to 0: the smallest positive f32 still represents it
  return s > 0 ? s : 2 ** -149;
}

/**
 * Quantizes rows [0, rows) of the [rows, cols] matrix `w` (row-major) into `q` (same layout) and
 * `scales[scaleAt + r]`. Non-finite weights are refused (QuantizationError naming `name` and the
 * row), since no scale represents them.
 */
export function quantizeRows(
  w: ArrayLike<number>,
  rows: number,
  cols: number,
  q: Int8Array,
  scales: Float32Array,
  scaleAt = 0,
  name = "tensor",
  rowBase = 0,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = 0;
    for (let j = 0; j < cols; j++) {
      const a = Math.abs(w[o + j]);
      if (!(a <= 3.4028234663852886e38))
        throw new QuantizationError(
          `${name}: row ${rowBase + r} has a non-finite weight (${w[o + j]}) at column ${j}: it cannot be quantized`,
        );
      if (a > m) m = a;
    }
    const s = rowScale(m);
    scales[scaleAt + r] = s;
    for (let j = 0; j < cols; j++) {
      const v = roundHalfEven(w[o + j] / s);
      q[o + j] = v > 127 ? 127 : v < -127 ? -127 : v;
    }
  }
}

/** out[r, j] = q[r, j]·scales[r] (f32), for rows [0, rows). */
export function dequantizeRows(
  q: Int8Array,
  scales: ArrayLike<number>,
  rows: number,
  cols: number,
  out: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const s = scales[r];
    const o = r * cols;
    for (let j = 0; j < cols; j++) out[o + j] = q[o + j] * s;
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits of x (rounded to f32 first), round to nearest even. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // a binary16 subnormal (units of 2^-24) or zero
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is right (up to Infinity)
  return sign | h;
}

/** The f32 value of binary16 bits (exact). */
export function f16BitsToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** dst[i] = binary16(src[i]), round to nearest even. */
export function f32ToF16(src: ArrayLike<number>, dst: Uint16Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = f32ToF16Bits(src[i]);
}
