// f32 GEMM on fp16 weights: W kept as IEEE binary16 in memory (half of f32's bytes), widened to f32
// one column panel at a time into a scratch buffer (8·k floats, L1/L2-resident), which the f32
// micro-kernel (gemm.ts's tile4x8Packed) then multiplies with every row tile of A. Widening costs
// n·k conversions per call against m·n·k multiply-adds: 1/m of the work (m = batch x sequence).
// Widening is exact, so the result is the same bits as f32_gemm_4x8_packed on the widened weights.
//
// Packed layout (f16_pack_panels8): f32_pack_panels8's with 2-byte elements: panel p at
// out + p·16·k bytes, k step t at 16·t, channel j of the panel at 2·j; zero past n.
import { panel4x8Packed } from "./gemm";

/** Packs W (f16 bits [n, k], row-major) into panels of 8 channels: ceil(n/8)·8·k halves. */
export function f16_pack_panels8(n: i32, k: i32, w: usize, out: usize): void {
  const panels = (n + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const dst = out + ((<usize>p * <usize>k) << 4);
    for (let j = 0; j < 8; j++) {
      const row = p * 8 + j;
      const d = dst + ((<usize>j) << 1);
      if (row < n) {
        const src = w + ((<usize>row * <usize>k) << 1);
        for (let t = 0; t < k; t++)
          store<u16>(d + ((<usize>t) << 4), load<u16>(src + ((<usize>t) << 1)));
      } else {
        for (let t = 0; t < k; t++) store<u16>(d + ((<usize>t) << 4), 0);
      }
    }
  }
}

// 4 halves (zero-extended into i32 lanes) -> 4 floats, exact: the magnitude's bits shifted into
// f32's place and scaled by 2^112 (normal and subnormal halves alike), Inf/NaN given f32's
// all-ones exponent, then the sign.
// @ts-ignore: decorator
@inline function widen4(h: v128): v128 {
  const mag = v128.and(h, i32x4.splat(0x7fff));
  const bits = i32x4.shl(mag, 13);
  const f = f32x4.mul(bits, f32x4.splat(5.192296858534828e33));
  const special = v128.or(bits, i32x4.splat(0x7f800000));
  const v = v128.bitselect(special, f, i32x4.ge_s(mag, i32x4.splat(0x7c00)));
  return v128.or(v, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** out[0 .. 8k) = f32 of the f16 panel at src (8·k halves). */
function widenPanel(k: i32, src: usize, out: usize): void {
  const end = src + ((<usize>k) << 4);
  let s = src,
    d = out;
  while (s < end) {
    const h = v128.load(s);
    v128.store(d, widen4(i32x4.extend_low_i16x8_u(h)));
    v128.store(d, widen4(i32x4.extend_high_i16x8_u(h)), 16);
    s += 16;
    d += 32;
  }
}

/** out[i] = f32(f16 in[i]) for i < n, n a multiple of 8 (the tests' entry to widen4). */
export function f16_widen(n: i32, src: usize, out: usize): void {
  widenPanel(n >> 3, src, out);
}

/**
 * C[m, n] = act(A·W + bias (+ R)) with W packed by f16_pack_panels8 (panels 16·k bytes apart):
 * f32_gemm_4x8_packed's contract otherwise (A packed by f32_pack_rows4). scratch: 32·k bytes.
 */
export function f16_gemm_4x8_packed(
  m: i32,
  n: i32,
  k: i32,
  ap: usize,
  b: usize,
  bias: usize,
  c: usize,
  ldc: i32,
  r: usize,
  ldr: i32,
  act: i32,
  scratch: usize,
): void {
  const ldcB = (<usize>ldc) << 2,
    ldrB = (<usize>ldr) << 2;
  const tileB = (<usize>k) << 4;
  for (let j = 0; j < n; j += 8) {
    const nr = min(n - j, 8);
    widenPanel(k, b + ((<usize>(j >> 3) * <usize>k) << 4), scratch);
    panel4x8Packed(m, nr, k, ap, tileB, scratch, j, bias, c, ldcB, r, ldrB, act);
  }
}

/**
 * out[i] = f16 bits of f32 src[i], round to nearest even (overflow to ±Inf, NaN kept quiet): what
 * torch's .half() gives, for fp16 weights made at load from F32 / BF16 checkpoints.
 */
export function f32_to_f16(n: i32, src: usize, out: usize): void {
  for (let i = 0; i < n; i++) {
    const u = load<u32>(src + ((<usize>i) << 2));
    const sign = (u >> 16) & 0x8000;
    const exp = <i32>((u >> 23) & 0xff);
    const mant = u & 0x7fffff;
    let h: u32;
    if (exp == 0xff) h = sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0);
    else {
      const e = exp - 112;
      if (e >= 31) h = sign | 0x7c00;
      else if (e <= 0) {
        if (e < -10) h = sign;
        else {
          const m = mant | 0x800000;
          const shift = <u32>(14 - e);
          let v = m >> shift;
          const rem = m & ((1 << shift) - 1);
          const half: u32 = 1 << (shift - 1);
          if (rem > half || (rem == half && v & 1)) v++;
          h = sign | v;
        }
      } else {
        let v = ((<u32>e) << 10) | (mant >> 13);
        const rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && v & 1)) v++; // a carry into the exponent is right
        h = sign | v;
      }
    }
    store<u16>(out + ((<usize>i) << 1), <u16>h);
  }
}

/** out[r, :] = f32(table[ids[r], :]) (f16 [vocab, h] rows): the fp16 embedding gather, exact. */
export function f16_gather_rows(rows: i32, h: i32, table: usize, ids: usize, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const v = <usize>load<i32>(ids + ((<usize>r) << 2));
    const src = table + ((v * <usize>h) << 1);
    const o = out + ((<usize>r * <usize>h) << 2);
    let j = 0;
    for (; j + 4 <= h; j += 4)
      v128.store(o + ((<usize>j) << 2), widen4(v128.load16x4_u(src + ((<usize>j) << 1))));
    for (; j < h; j++) {
      const x = f32x4.extract_lane(widen4(i32x4.splat(<i32>load<u16>(src + ((<usize>j) << 1)))), 0);
      store<f32>(o + ((<usize>j) << 2), x);
    }
  }
}
