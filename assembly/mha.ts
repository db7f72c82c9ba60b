// Multi-head attention over a range of (batch, head) pairs in one call: scores, relative-position
// terms, masked softmax with the head mask, then P·V into the context rows. One call per
// layer (not one per head) keeps the JS <-> wasm traffic flat, and a range is the unit of work a
// thread takes. Strides are in floats; each tensor is read where its producer wrote it.
import { f32_attn_relative, f32_attn_scores, f32_softmax_rows } from "./attention";
import { f32_gemm_4x8, f32_gemm_4x8_packed, f32_pack_cols8, f32_pack_rows4 } from "./gemm";

/** Bytes of packing scratch a (batch, head) pair needs for the packed P·V (see f32_mha). */
export function mhaPackBytes(sq: i32, sk: i32, d: i32): i64 {
  return (<i64>((sq + 3) & ~3) * <i64>sk + <i64>((d + 7) & ~7) * <i64>sk) << 2;
}

export const REL_NONE: i32 = 0;
export const REL_KEY: i32 = 1;
export const REL_KEY_QUERY: i32 = 2;

/**
 * For bh in [bh0, bh1) with b = bh / heads, h = bh % heads:
 *   P = softmax((Q_bh K_bhᵀ + rel) · scale + mask_b) · headScale[h]      [sq, sk], at probs + bh·probsStride
 *   ctx[b, :, h·d : (h+1)·d] = P · V_bh
 * Q_bh at q + b·qB + h·qH, rows ldq apart (K, V likewise); mask_b at mask + b·maskB, query rows
 * ldm apart (0: one row for all). probsStride 0 reuses one [sq, sk] scratch for every pair.
 * pack: packBytes of scratch for packing (0: none), see below.
 */
export function f32_mha(
  bh0: i32,
  bh1: i32,
  heads: i32,
  sq: i32,
  sk: i32,
  d: i32,
  q: usize,
  qB: i32,
  qH: i32,
  ldq: i32,
  k: usize,
  kB: i32,
  kH: i32,
  ldk: i32,
  v: usize,
  vB: i32,
  vH: i32,
  ldv: i32,
  rel: i32,
  e: usize,
  maxPos: i32,
  l0: i32,
  lstep: i32,
  mask: usize,
  maskB: i32,
  ldm: i32,
  headScales: usize,
  scale: f32,
  probs: usize,
  probsStride: i32,
  ctx: usize,
  ctxB: i32,
  ldc: i32,
  pack: usize,
  packBytes: i32,
): void {
  // With packing scratch that holds a pair's P and V, P·V runs on the weights' micro-kernel
  // (f32_gemm_4x8_packed: one A pointer, V as panels of 8 columns); else it reads V in place.
  // The sums are the same, in the same order. (Q·Kᵀ stays a dot-product kernel: as a GEMM over
  // d its sums would run in sequence, about twice the rounding error of its four lanes.)
  const packed = pack != 0 && mhaPackBytes(sq, sk, d) <= <i64>packBytes;
  const pp = pack;
  const pv = pp + ((<usize>((sq + 3) & ~3) * <usize>sk) << 2);
  for (let bh = bh0; bh < bh1; bh++) {
    const b = bh / heads,
      h = bh % heads;
    const qp = q + ((<usize>(b * qB + h * qH)) << 2);
    const kp = k + ((<usize>(b * kB + h * kH)) << 2);
    const vp = v + ((<usize>(b * vB + h * vH)) << 2);
    const s = probs + ((<usize>bh * <usize>probsStride) << 2);
    f32_attn_scores(sq, sk, d, qp, ldq, kp, ldk, s, sk);
    if (rel != REL_NONE) {
      f32_attn_relative(sq, sk, d, qp, ldq, false, e, maxPos, l0, lstep, s, sk);
      if (rel == REL_KEY_QUERY)
        f32_attn_relative(sq, sk, d, kp, ldk, true, e, maxPos, l0, lstep, s, sk);
    }
    const hs: f32 = headScales ? load<f32>(headScales + ((<usize>h) << 2)) : 1.0;
    f32_softmax_rows(sq, sk, s, sk, scale, mask ? mask + ((<usize>(b * maskB)) << 2) : 0, ldm, hs);
    const cp = ctx + ((<usize>(b * ctxB + h * d)) << 2);
    if (packed) {
      f32_pack_rows4(sq, sk, s, sk, pp);
      f32_pack_cols8(sk, d, vp, ldv, pv);
      f32_gemm_4x8_packed(sq, d, sk, pp, pv, sk * 32, 0, cp, ldc, 0, 0, 0);
    } else {
      f32_gemm_4x8(sq, d, sk, s, sk, vp, ldv * 4, 32, 0, cp, ldc, 0, 0);
    }
  }
}
