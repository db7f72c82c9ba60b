// Multi-head attention over a range of (batch, head) pairs in one call: scores, relative-position
// terms, masked softmax with the head mask, then P·V into the context rows. One call per
// layer (not one per head) keeps the JS <-> wasm traffic flat, and a range is the unit of work a
// thread takes. Strides are in floats; each tensor is read where its producer wrote it. The
// arguments come as a named block in memory (MhaContext).
import { f32_attn_relative, f32_attn_scores, f32_softmax_rows } from "./attention";
import {
  PANEL_K_BYTES,
  f32_gemm_4x8,
  f32_gemm_4x8_packed,
  f32_pack_cols8,
  f32_pack_rows4,
} from "./gemm";

/** Bytes of packing scratch a (batch, head) pair needs for the packed P·V (see f32_mha). */
export function mhaPackBytes(sq: i32, sk: i32, d: i32): i64 {
  return (<i64>((sq + 3) & ~3) * <i64>sk + <i64>((d + 7) & ~7) * <i64>sk) << 2;
}

export const REL_NONE: i32 = 0;
export const REL_KEY: i32 = 1;
export const REL_KEY_QUERY: i32 = 2;

/**
 * f32_mha's arguments: a block in linear memory that the engine fills once per call (in the manner
 * of XNNPACK's operator contexts). This class is the one list of them: the engine's bindings
 * (src/runtime/kernel_bindings.ts) are generated from it by scripts/gen-kernel-bindings.mjs. Every
 * field is 4 bytes (i32, f32 or a usize pointer), in declaration order.
 */
@unmanaged
export class MhaContext {
  /** heads per sequence: pair bh is batch bh / heads, head bh % heads */
  heads: i32;
  /** queries, keys, head size */
  sq: i32;
  sk: i32;
  d: i32;
  /** Q of batch b, head h at q + 4·(b·qB + h·qH), query rows ldq floats apart */
  q: usize;
  qB: i32;
  qH: i32;
  ldq: i32;
  /** K likewise, key rows ldk floats apart */
  k: usize;
  kB: i32;
  kH: i32;
  ldk: i32;
  /** V likewise */
  v: usize;
  vB: i32;
  vH: i32;
  ldv: i32;
  /** relative positions: REL_NONE, REL_KEY, REL_KEY_QUERY, over the distance table e [2·maxPos - 1, d] */
  rel: i32;
  e: usize;
  maxPos: i32;
  /** query i sits at position l0 + i·lstep (keys at 0 .. sk - 1) */
  l0: i32;
  lstep: i32;
  /** additive mask of batch b at mask + 4·b·maskB, query rows ldm floats apart (ldm 0: one row for all; mask 0: none) */
  mask: usize;
  maskB: i32;
  ldm: i32;
  /** head h's probabilities scaled by headScales[h] (0: none) */
  headScales: usize;
  /** 1/√d */
  scale: f32;
  /** P of pair bh at probs + 4·bh·probsStride; with probsStride 0, thread t's scratch [sq, sk] at probs + 4·t·scratch */
  probs: usize;
  probsStride: i32;
  scratch: i32;
  /** context of batch b, head h at ctx + 4·(b·ctxB + h·d), rows ldc floats apart */
  ctx: usize;
  ctxB: i32;
  ldc: i32;
  /** packing scratch: packBytes per thread from pack (0: none, P·V reads V in place) */
  pack: usize;
  packBytes: i32;
}

/** Bytes of an MhaContext (for the engine's check of its generated bindings). */
export function f32_mha_context_bytes(): i32 {
  return <i32>offsetof<MhaContext>();
}

/**
 * For bh in [bh0, bh1) with b = bh / heads, h = bh % heads (c: an MhaContext, thread: the caller's
 * index, for its scratch):
 *   P = softmax((Q_bh K_bhᵀ + rel) · scale + mask_b) · headScale[h]      [sq, sk]
 *   ctx[b, :, h·d : (h+1)·d] = P · V_bh
 */
export function f32_mha(c: usize, bh0: i32, bh1: i32, thread: i32): void {
  const x = changetype<MhaContext>(c);
  const heads = x.heads,
    sq = x.sq,
    sk = x.sk,
    d = x.d;
  const q = x.q,
    qB = x.qB,
    qH = x.qH,
    ldq = x.ldq;
  const k = x.k,
    kB = x.kB,
    kH = x.kH,
    ldk = x.ldk;
  const v = x.v,
    vB = x.vB,
    vH = x.vH,
    ldv = x.ldv;
  const rel = x.rel,
    e = x.e,
    maxPos = x.maxPos,
    l0 = x.l0,
    lstep = x.lstep;
  const mask = x.mask,
    maskB = x.maskB,
    ldm = x.ldm;
  const headScales = x.headScales,
    scale = x.scale;
  const probsStride = x.probsStride;
  const probs = probsStride ? x.probs : x.probs + ((<usize>thread * <usize>x.scratch) << 2);
  const ctx = x.ctx,
    ctxB = x.ctxB,
    ldc = x.ldc;
  const packBytes = x.packBytes;
  const pack = x.pack ? x.pack + <usize>thread * <usize>packBytes : 0;
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
      f32_gemm_4x8_packed(sq, d, sk, pp, pv, sk * PANEL_K_BYTES, 0, cp, ldc, 0, 0, 0);
    } else {
      // V read in place: its k steps are rows (ldv floats), its panels 8 columns apart
      f32_gemm_4x8(sq, d, sk, s, sk, vp, ldv << 2, PANEL_K_BYTES, 0, cp, ldc, 0, 0);
    }
  }
}
