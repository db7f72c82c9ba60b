// f32 GEMM with a 6x8 register tile, in the manner of XNNPACK's wasmsimd kernels.
//
//   C[M, N] = A[M, K] · B[K, N] + bias[N] (+ R[M, N])
//
// B is read as "panels" of 8 columns: the 8 values B[kk, 8p .. 8p+7] sit at
//   b + p·panelStride + kk·kStride.
// * Packed weights (f32_pack_panels8): HF's Linear weight W[N, K] laid out once at load time so
//   that kStride = 32 bytes and panelStride = 32·K: the micro-kernel streams 32 contiguous bytes
//   per k step. Panels are zero-padded past N.
// * A row-major matrix read in place, e.g. V in attention (P·V): kStride = row stride,
//   panelStride = 32 bytes. Columns past N may be read (never stored): callers leave 32 bytes of
//   readable memory after such a matrix.
//
// 6 rows x 8 columns = 12 accumulators + 2 B vectors + 1 A broadcast = 15 of the 16 vector
// registers that x64 and arm64 engines give wasm.
import { madd } from "./math";

/** Packs W[n, k] (row-major, HF's [out, in]) into panels of 8 rows of W: ceil(n/8)·k·8 floats. */
export function f32_pack_panels8(n: i32, k: i32, w: usize, out: usize): void {
  const panels = (n + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const dst = out + (<usize>p * <usize>k << 5);
    for (let j = 0; j < 8; j++) {
      const row = p * 8 + j;
      if (row < n) {
        const src = w + (<usize>row * <usize>k << 2);
        for (let kk = 0; kk < k; kk++) store<f32>(dst + (<usize>kk << 5) + (<usize>j << 2), load<f32>(src + (<usize>kk << 2)));
      } else {
        for (let kk = 0; kk < k; kk++) store<f32>(dst + (<usize>kk << 5) + (<usize>j << 2), 0.0);
      }
    }
  }
}

@inline function storeRow(p: usize, v0: v128, v1: v128, nr: i32): void {
  if (nr == 8) {
    v128.store(p, v0);
    v128.store(p, v1, 16);
    return;
  }
  let v = v0;
  let q = p;
  let rest = nr;
  if (rest >= 4) {
    v128.store(q, v0);
    v = v1;
    q += 16;
    rest -= 4;
  }
  if (rest > 0) store<f32>(q, f32x4.extract_lane(v, 0));
  if (rest > 1) store<f32>(q, f32x4.extract_lane(v, 1), 4);
  if (rest > 2) store<f32>(q, f32x4.extract_lane(v, 2), 8);
}

// One tile: mr (1..6) rows x nr (1..8) columns. Rows past mr repeat the last valid row of A
// (in bounds, results discarded).
@inline function tile6x8(
  mr: i32, nr: i32, k: i32,
  a: usize, lda: usize,
  b: usize, kStride: usize,
  bias: usize,
  c: usize, ldc: usize,
  r: usize, ldr: usize,
): void {
  const a0 = a;
  const a1 = mr > 1 ? a0 + lda : a0;
  const a2 = mr > 2 ? a1 + lda : a1;
  const a3 = mr > 3 ? a2 + lda : a2;
  const a4 = mr > 4 ? a3 + lda : a3;
  const a5 = mr > 5 ? a4 + lda : a4;
  let c00 = f32x4.splat(0.0), c01 = f32x4.splat(0.0);
  if (bias) {
    c00 = v128.load(bias);
    c01 = v128.load(bias, 16);
  }
  let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00, c51 = c01;
  let w = b;
  const end = <usize>k << 2;
  for (let off: usize = 0; off < end; off += 4) {
    const b0 = v128.load(w);
    const b1 = v128.load(w, 16);
    w += kStride;
    let x = v128.load32_splat(a0 + off);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a1 + off);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a2 + off);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(a3 + off);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    x = v128.load32_splat(a4 + off);
    c40 = madd(x, b0, c40);
    c41 = madd(x, b1, c41);
    x = v128.load32_splat(a5 + off);
    c50 = madd(x, b0, c50);
    c51 = madd(x, b1, c51);
  }
  if (r) {
    c00 = f32x4.add(c00, v128.load(r));
    c01 = f32x4.add(c01, v128.load(r, 16));
    if (mr > 1) { c10 = f32x4.add(c10, v128.load(r + ldr)); c11 = f32x4.add(c11, v128.load(r + ldr, 16)); }
    if (mr > 2) { c20 = f32x4.add(c20, v128.load(r + 2 * ldr)); c21 = f32x4.add(c21, v128.load(r + 2 * ldr, 16)); }
    if (mr > 3) { c30 = f32x4.add(c30, v128.load(r + 3 * ldr)); c31 = f32x4.add(c31, v128.load(r + 3 * ldr, 16)); }
    if (mr > 4) { c40 = f32x4.add(c40, v128.load(r + 4 * ldr)); c41 = f32x4.add(c41, v128.load(r + 4 * ldr, 16)); }
    if (mr > 5) { c50 = f32x4.add(c50, v128.load(r + 5 * ldr)); c51 = f32x4.add(c51, v128.load(r + 5 * ldr, 16)); }
  }
  storeRow(c, c00, c01, nr);
  if (mr > 1) storeRow(c + ldc, c10, c11, nr);
  if (mr > 2) storeRow(c + 2 * ldc, c20, c21, nr);
  if (mr > 3) storeRow(c + 3 * ldc, c30, c31, nr);
  if (mr > 4) storeRow(c + 4 * ldc, c40, c41, nr);
  if (mr > 5) storeRow(c + 5 * ldc, c50, c51, nr);
}

/**
 * C[m, n] = A[m, k] · B + bias (+ R). Strides are in elements (lda, ldc, ldr) except the B
 * strides, which are in bytes. bias and r may be 0 (absent); bias must be readable up to a
 * multiple of 8 entries, R like C.
 */
export function f32_gemm_6x8(
  m: i32, n: i32, k: i32,
  a: usize, lda: i32,
  b: usize, kStride: i32, panelStride: i32,
  bias: usize,
  c: usize, ldc: i32,
  r: usize, ldr: i32,
): void {
  const ldaB = <usize>lda << 2, ldcB = <usize>ldc << 2, ldrB = <usize>ldr << 2;
  for (let j = 0; j < n; j += 8) {
    const nr = min(n - j, 8);
    const bp = b + <usize>(j >> 3) * <usize>panelStride;
    const biasJ = bias ? bias + (<usize>j << 2) : 0;
    for (let i = 0; i < m; i += 6) {
      const mr = min(m - i, 6);
      tile6x8(
        mr, nr, k,
        a + <usize>i * ldaB, ldaB,
        bp, <usize>kStride,
        biasJ,
        c + <usize>i * ldcB + (<usize>j << 2), ldcB,
        r ? r + <usize>i * ldrB + (<usize>j << 2) : 0, ldrB,
      );
    }
  }
}
