// f32 GEMM with a 4x8 register tile, in the manner of XNNPACK's wasmsimd kernels.
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
// Register budget. V8 gives wasm 15 of x64's 16 xmm registers (one is its scratch register), and
// without a fused multiply-add every product needs a temporary: 4 rows x 8 columns = 8
// accumulators + 2 B vectors + 1 A broadcast + 1 product = 12, where a 6x8 tile (16) spills four
// accumulators to the stack on every k step. A is read in place (one pointer per row, K unrolled
// by 4 so that the loads use immediate offsets); packed B has its own loop with immediate offsets.
// Rows are blocked (MC) so that a block of A stays in L2 while the panels of B stream past it;
// K is blocked only past 4096 (KC).
import { madd } from "./math";
import { f32_activation, ACT_GELU, ACT_LINEAR } from "./activations";
import { geluErf4 } from "./math";

/** K block. Measured on Zen 4 (V8 11.3), splitting K only costs here: the hardware prefetchers
 * keep a B panel's k steps coming from L2 (an 8 x 4096 panel is 128 KiB), and a split adds a pass
 * over C per block. So K is split only past 4096 (bert-large's longest K). */
const KC: i32 = 4096;
/** M block (a multiple of 4): 256 rows of A at a time (about 1 MiB at K = 1024). */
const MC: i32 = 256;
/** Columns per panel of packed B, and bytes between its k steps (src/runtime/linear.ts names them too). */
export const PANEL_COLS: i32 = 8;
export const PANEL_K_BYTES: i32 = PANEL_COLS * 4;

// Stores the transpose of the 4x4 block whose rows are x0..x3: its row i (the i-th lanes of
// x0..x3) at d + i·step bytes.
// @ts-ignore: decorator
@inline function storeTransposed4x4(
  d: usize,
  step: usize,
  x0: v128,
  x1: v128,
  x2: v128,
  x3: v128,
): void {
  const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(d + step, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(d + 2 * step, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(d + 3 * step, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/** Packs W[n, k] (row-major, HF's [out, in]) into panels of 8 rows of W: ceil(n/8)·k·8 floats. */
export function f32_pack_panels8(n: i32, k: i32, w: usize, out: usize): void {
  const panels = (n + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const dst = out + ((<usize>p * <usize>k) << 5);
    const full = p * 8 + 8 <= n;
    if (full) {
      // 4 rows x 4 k at a time: two 4x4 transposes per 8-row panel slice
      const src0 = w + ((<usize>(p * 8) * <usize>k) << 2);
      const rowB = (<usize>k) << 2;
      let kk = 0;
      for (; kk + 4 <= k; kk += 4) {
        const s = src0 + ((<usize>kk) << 2);
        const d = dst + ((<usize>kk) << 5);
        for (let half = 0; half < 2; half++) {
          const r = s + <usize>(half * 4) * rowB;
          const x0 = v128.load(r),
            x1 = v128.load(r + rowB),
            x2 = v128.load(r + 2 * rowB),
            x3 = v128.load(r + 3 * rowB);
          storeTransposed4x4(d + ((<usize>half) << 4), 32, x0, x1, x2, x3);
        }
      }
      for (; kk < k; kk++) {
        for (let j = 0; j < 8; j++) {
          store<f32>(
            dst + ((<usize>kk) << 5) + ((<usize>j) << 2),
            load<f32>(src0 + <usize>j * rowB + ((<usize>kk) << 2)),
          );
        }
      }
      continue;
    }
    for (let j = 0; j < 8; j++) {
      const row = p * 8 + j;
      if (row < n) {
        const src = w + ((<usize>row * <usize>k) << 2);
        for (let kk = 0; kk < k; kk++)
          store<f32>(
            dst + ((<usize>kk) << 5) + ((<usize>j) << 2),
            load<f32>(src + ((<usize>kk) << 2)),
          );
      } else {
        for (let kk = 0; kk < k; kk++)
          store<f32>(dst + ((<usize>kk) << 5) + ((<usize>j) << 2), 0.0);
      }
    }
  }
}

// @ts-ignore: decorator
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

// Loads nr (1..8) floats at p as two vectors (lanes past nr are 0); reads nothing past nr.
// @ts-ignore: decorator
@inline function loadRow0(p: usize, nr: i32): v128 {
  if (nr >= 4) return v128.load(p);
  let v = f32x4.splat(0.0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (nr > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (nr > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}
// @ts-ignore: decorator
@inline function loadRow1(p: usize, nr: i32): v128 {
  if (nr == 8) return v128.load(p, 16);
  let v = f32x4.splat(0.0);
  if (nr > 4) v = f32x4.replace_lane(v, 0, load<f32>(p, 16));
  if (nr > 5) v = f32x4.replace_lane(v, 1, load<f32>(p, 20));
  if (nr > 6) v = f32x4.replace_lane(v, 2, load<f32>(p, 24));
  return v;
}

/**
 * Packs B[k, n] (row-major, rows ldb floats apart: attention's V where the projection wrote it)
 * into panels of 8 columns, the layout f32_pack_panels8 gives W: ceil(n/8)·k·8 floats, zero past n.
 */
export function f32_pack_cols8(k: i32, n: i32, b: usize, ldb: i32, out: usize): void {
  const ldbB = (<usize>ldb) << 2;
  const panels = (n + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const dst = out + ((<usize>p * <usize>k) << 5);
    const src = b + ((<usize>(p * 8)) << 2);
    const nr = min(n - p * 8, 8);
    if (nr == 8) {
      for (let kk = 0; kk < k; kk++) {
        const s = src + <usize>kk * ldbB,
          d = dst + ((<usize>kk) << 5);
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
      }
    } else {
      for (let kk = 0; kk < k; kk++) {
        const s = src + <usize>kk * ldbB,
          d = dst + ((<usize>kk) << 5);
        for (let j = 0; j < 8; j++)
          store<f32>(d + ((<usize>j) << 2), j < nr ? load<f32>(s + ((<usize>j) << 2)) : 0.0);
      }
    }
  }
}

// One tile: mr (1..4) rows x nr (1..8) columns over kc steps of k. Rows past mr repeat the last
// valid row of A (in bounds, results discarded).
//   first: start from bias (or 0), else from C (a later K block)
//   last:  add R (when given) and store; otherwise store the partial sums
// @ts-ignore: decorator
@inline function tile4x8(
  mr: i32,
  nr: i32,
  kc: i32,
  a: usize,
  lda: usize,
  b: usize,
  kStride: usize,
  bias: usize,
  first: bool,
  c: usize,
  ldc: usize,
  r0: usize,
  r: usize,
  ldr: usize,
): void {
  let a0 = a;
  let a1 = mr > 1 ? a0 + lda : a0;
  let a2 = mr > 2 ? a1 + lda : a1;
  let a3 = mr > 3 ? a2 + lda : a2;
  let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
  if (first) {
    c00 = f32x4.splat(0.0);
    c01 = f32x4.splat(0.0);
    if (bias) {
      c00 = v128.load(bias);
      c01 = v128.load(bias, 16);
    }
    c10 = c00;
    c11 = c01;
    c20 = c00;
    c21 = c01;
    c30 = c00;
    c31 = c01;
    if (r0) {
      // R added first (only when C is R and K is blocked: R is overwritten by the partial sums)
      c00 = f32x4.add(c00, v128.load(r0));
      c01 = f32x4.add(c01, v128.load(r0, 16));
      if (mr > 1) {
        c10 = f32x4.add(c10, v128.load(r0 + ldr));
        c11 = f32x4.add(c11, v128.load(r0 + ldr, 16));
      }
      if (mr > 2) {
        c20 = f32x4.add(c20, v128.load(r0 + 2 * ldr));
        c21 = f32x4.add(c21, v128.load(r0 + 2 * ldr, 16));
      }
      if (mr > 3) {
        c30 = f32x4.add(c30, v128.load(r0 + 3 * ldr));
        c31 = f32x4.add(c31, v128.load(r0 + 3 * ldr, 16));
      }
    }
  } else {
    c00 = loadRow0(c, nr);
    c01 = loadRow1(c, nr);
    const q1 = mr > 1 ? c + ldc : c;
    const q2 = mr > 2 ? q1 + ldc : q1;
    const q3 = mr > 3 ? q2 + ldc : q2;
    c10 = loadRow0(q1, nr);
    c11 = loadRow1(q1, nr);
    c20 = loadRow0(q2, nr);
    c21 = loadRow1(q2, nr);
    c30 = loadRow0(q3, nr);
    c31 = loadRow1(q3, nr);
  }
  let w = b;
  const end = a0 + ((<usize>kc) << 2);
  // One k step per iteration: V8 unrolls this loop itself. (Unrolling it here lets binaryen
  // regroup the products by accumulator, which keeps every B vector of the unrolled steps live:
  // the stack spills return.)
  while (a0 < end) {
    const b0 = v128.load(w),
      b1 = v128.load(w, 16);
    w += kStride;
    let x = v128.load32_splat(a0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a1);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a2);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(a3);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    a0 += 4;
    a1 += 4;
    a2 += 4;
    a3 += 4;
  }
  if (r) {
    c00 = f32x4.add(c00, v128.load(r));
    c01 = f32x4.add(c01, v128.load(r, 16));
    if (mr > 1) {
      c10 = f32x4.add(c10, v128.load(r + ldr));
      c11 = f32x4.add(c11, v128.load(r + ldr, 16));
    }
    if (mr > 2) {
      c20 = f32x4.add(c20, v128.load(r + 2 * ldr));
      c21 = f32x4.add(c21, v128.load(r + 2 * ldr, 16));
    }
    if (mr > 3) {
      c30 = f32x4.add(c30, v128.load(r + 3 * ldr));
      c31 = f32x4.add(c31, v128.load(r + 3 * ldr, 16));
    }
  }
  storeRow(c, c00, c01, nr);
  if (mr > 1) storeRow(c + ldc, c10, c11, nr);
  if (mr > 2) storeRow(c + 2 * ldc, c20, c21, nr);
  if (mr > 3) storeRow(c + 3 * ldc, c30, c31, nr);
}

/**
 * C[m, n] = A[m, k] · B + bias (+ R). Strides are in elements (lda, ldc, ldr) except the B
 * strides, which are in bytes. bias and r may be 0 (absent); bias must be readable up to a
 * multiple of 8 entries, R like C. C must not overlap A (it may be R).
 */
export function f32_gemm_4x8(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  lda: i32,
  b: usize,
  kStride: i32,
  panelStride: i32,
  bias: usize,
  c: usize,
  ldc: i32,
  r: usize,
  ldr: i32,
): void {
  const ldaB = (<usize>lda) << 2,
    ldcB = (<usize>ldc) << 2,
    ldrB = (<usize>ldr) << 2;
  for (let k0 = 0; k0 < k || k0 == 0; k0 += KC) {
    const kc = min(k - k0, KC);
    const first = k0 == 0,
      last = k0 + kc >= k;
    // R is added after the products, except when C is R and K is blocked (then before them)
    const rEarly = r == c && !(first && last);
    const aK = a + ((<usize>k0) << 2);
    const bK = b + <usize>k0 * <usize>kStride;
    // rows in blocks of MC: the block's A stays in L2 (or close) while every panel of B streams
    // past it
    for (let m0 = 0; m0 < m; m0 += MC) {
      const m1 = min(m, m0 + MC);
      for (let j = 0; j < n; j += 8) {
        const nr = min(n - j, 8);
        const bp = bK + <usize>(j >> 3) * <usize>panelStride;
        const biasJ = bias ? bias + ((<usize>j) << 2) : 0;
        const cj = c + ((<usize>j) << 2);
        const rj = r && last && !rEarly ? r + ((<usize>j) << 2) : 0;
        const r0j = r && first && rEarly ? r + ((<usize>j) << 2) : 0;
        let i = m0;
        for (; i + 4 <= m1; i += 4) {
          tile4x8(
            4,
            nr,
            kc,
            aK + <usize>i * ldaB,
            ldaB,
            bp,
            <usize>kStride,
            biasJ,
            first,
            cj + <usize>i * ldcB,
            ldcB,
            r0j ? r0j + <usize>i * ldrB : 0,
            rj ? rj + <usize>i * ldrB : 0,
            ldrB,
          );
        }
        if (i < m1) {
          tile4x8(
            m1 - i,
            nr,
            kc,
            aK + <usize>i * ldaB,
            ldaB,
            bp,
            <usize>kStride,
            biasJ,
            first,
            cj + <usize>i * ldcB,
            ldcB,
            r0j ? r0j + <usize>i * ldrB : 0,
            rj ? rj + <usize>i * ldrB : 0,
            ldrB,
          );
        }
      }
    }
    if (k == 0) break;
  }
}

// ---- the weights' GEMM: A packed too ------------------------------------------------------
//
// With A read in place, every k step costs four row-pointer increments beside its 16 vector
// multiplies and adds, and the loop cannot be unrolled in source (binaryen regroups an unrolled
// body by accumulator, keeping every B vector live, and V8 then spills). With the tile's 4 rows
// packed side by side ([k][4], 16 bytes a step), one pointer serves all four rows: on Zen 4 that
// is 8-12% more GFLOP/s at BERT's shapes, and packing costs one pass over A, shared by every
// column panel. The sums are formed in the same order as f32_gemm_4x8's: the results are the same
// bits.

/**
 * Packs rows [0, m) of A (row stride lda floats) for f32_gemm_4x8_packed: ceil(m/4) tiles of
 * k·4 floats, tile t holding rows 4t..4t+3 interleaved ([k][4]); a last partial tile repeats its
 * last row.
 */
export function f32_pack_rows4(m: i32, k: i32, a: usize, lda: i32, out: usize): void {
  const ldaB = (<usize>lda) << 2;
  const tiles = (m + 3) >> 2;
  for (let t = 0; t < tiles; t++) {
    const r0 = a + <usize>(t * 4) * ldaB;
    const last = m - 1 - t * 4; // rows of this tile past `last` repeat it
    const p0 = r0;
    const p1 = last >= 1 ? r0 + ldaB : p0;
    const p2 = last >= 2 ? r0 + 2 * ldaB : p1;
    const p3 = last >= 3 ? r0 + 3 * ldaB : p2;
    const dst = out + ((<usize>t * <usize>k) << 4);
    let kk = 0;
    for (; kk + 4 <= k; kk += 4) {
      // a 4x4 transpose: rows' k..k+3 become k steps of 4 rows
      const off = (<usize>kk) << 2;
      const x0 = v128.load(p0 + off),
        x1 = v128.load(p1 + off),
        x2 = v128.load(p2 + off),
        x3 = v128.load(p3 + off);
      storeTransposed4x4(dst + ((<usize>kk) << 4), 16, x0, x1, x2, x3);
    }
    for (; kk < k; kk++) {
      const off = (<usize>kk) << 2;
      const d = dst + ((<usize>kk) << 4);
      store<f32>(d, load<f32>(p0 + off));
      store<f32>(d, load<f32>(p1 + off), 4);
      store<f32>(d, load<f32>(p2 + off), 8);
      store<f32>(d, load<f32>(p3 + off), 12);
    }
  }
}

// One tile of f32_gemm_4x8_packed: mr (1..4) rows x nr (1..8) columns.
// @ts-ignore: decorator
@inline export function tile4x8Packed(
  mr: i32,
  nr: i32,
  k: i32,
  ap: usize,
  b: usize,
  bias: usize,
  c: usize,
  ldc: usize,
  r: usize,
  ldr: usize,
): void {
  let c00 = f32x4.splat(0.0),
    c01 = f32x4.splat(0.0);
  if (bias) {
    c00 = v128.load(bias);
    c01 = v128.load(bias, 16);
  }
  let c10 = c00,
    c11 = c01,
    c20 = c00,
    c21 = c01,
    c30 = c00,
    c31 = c01;
  let w = b;
  let p = ap;
  const end = ap + ((<usize>k) << 4);
  while (p < end) {
    const b0 = v128.load(w),
      b1 = v128.load(w, 16);
    let x = v128.load32_splat(p);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(p, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(p, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(p, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    p += 16;
    w += 32;
  }
  if (r) {
    // R read before C is stored: R may be C (an in-place residual)
    c00 = f32x4.add(c00, loadRow0(r, nr));
    c01 = f32x4.add(c01, loadRow1(r, nr));
    if (mr > 1) {
      c10 = f32x4.add(c10, loadRow0(r + ldr, nr));
      c11 = f32x4.add(c11, loadRow1(r + ldr, nr));
    }
    if (mr > 2) {
      c20 = f32x4.add(c20, loadRow0(r + 2 * ldr, nr));
      c21 = f32x4.add(c21, loadRow1(r + 2 * ldr, nr));
    }
    if (mr > 3) {
      c30 = f32x4.add(c30, loadRow0(r + 3 * ldr, nr));
      c31 = f32x4.add(c31, loadRow1(r + 3 * ldr, nr));
    }
  }
  storeRow(c, c00, c01, nr);
  if (mr > 1) storeRow(c + ldc, c10, c11, nr);
  if (mr > 2) storeRow(c + 2 * ldc, c20, c21, nr);
  if (mr > 3) storeRow(c + 3 * ldc, c30, c31, nr);
}

// The activation on a column panel just stored (m rows x nr columns, still in L1):
// f32_activation's arithmetic, so the same bits as a separate pass. Per panel rather than per tile:
// a long activation (GELU's exponential) needs many independent vectors in flight, and in the tile
// itself V8 spilled the tile loop's accumulators.
export function activatePanel(act: i32, m: i32, nr: i32, c: usize, ldc: usize): void {
  if (act == ACT_GELU && nr == 8) {
    // BERT's case, without f32_activation's per-vector switch (the same arithmetic)
    for (let i = 0; i < m; i++) {
      const p = c + <usize>i * ldc;
      v128.store(p, geluErf4(v128.load(p)));
      v128.store(p, geluErf4(v128.load(p, 16)), 16);
    }
    return;
  }
  for (let i = 0; i < m; i++) {
    const p = c + <usize>i * ldc;
    f32_activation(act, nr, p, p);
  }
}

// One column panel of a packed GEMM: columns [j, j + nr) of C (rows ldcB bytes apart) over all m
// rows of packed A (tiles of 4 rows, tileB = k·16 bytes each) and the panel's f32 weights at bp, then the
// activation. Shared by the f32 and fp16 weights' kernels (the fp16 one widens its panel first).
// @ts-ignore: decorator
@inline export function panel4x8Packed(
  m: i32,
  nr: i32,
  k: i32,
  ap: usize,
  tileB: usize,
  bp: usize,
  j: i32,
  bias: usize,
  c: usize,
  ldcB: usize,
  r: usize,
  ldrB: usize,
  act: i32,
): void {
  const biasJ = bias ? bias + ((<usize>j) << 2) : 0;
  const cj = c + ((<usize>j) << 2);
  const rj = r ? r + ((<usize>j) << 2) : 0;
  let i = 0,
    t: usize = ap;
  for (; i + 4 <= m; i += 4) {
    tile4x8Packed(
      4,
      nr,
      k,
      t,
      bp,
      biasJ,
      cj + <usize>i * ldcB,
      ldcB,
      rj ? rj + <usize>i * ldrB : 0,
      ldrB,
    );
    t += tileB;
  }
  if (i < m)
    tile4x8Packed(
      m - i,
      nr,
      k,
      t,
      bp,
      biasJ,
      cj + <usize>i * ldcB,
      ldcB,
      rj ? rj + <usize>i * ldrB : 0,
      ldrB,
    );
  if (act != ACT_LINEAR) activatePanel(act, m, nr, cj, ldcB);
}

/**
 * C[m, n] = act(A·W + bias (+ R)), act numbered as in activations.ts (0: none). A packed by
 * f32_pack_rows4 (at ap), W packed by f32_pack_panels8 (panels panelStride bytes apart, 32 bytes a
 * k step). ldc/ldr in floats; bias and r may be 0; bias readable up to a multiple of 8 entries.
 * R may be C; C must not overlap A's packing.
 */
export function f32_gemm_4x8_packed(
  m: i32,
  n: i32,
  k: i32,
  ap: usize,
  b: usize,
  panelStride: i32,
  bias: usize,
  c: usize,
  ldc: i32,
  r: usize,
  ldr: i32,
  act: i32,
): void {
  const ldcB = (<usize>ldc) << 2,
    ldrB = (<usize>ldr) << 2;
  const tileB = (<usize>k) << 4;
  for (let j = 0; j < n; j += 8) {
    const nr = min(n - j, 8);
    const bp = b + <usize>(j >> 3) * <usize>panelStride;
    panel4x8Packed(m, nr, k, ap, tileB, bp, j, bias, c, ldcB, r, ldrB, act);
  }
}
