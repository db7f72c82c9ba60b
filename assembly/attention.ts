// Attention for one (batch, head), reading Q, K, V where the projections wrote them:
// row i of a head is at base + i·ld (ld = the projection's row stride), its d values contiguous.
// No transposing copies: Q·Kᵀ is a strided dot-product kernel; P·V is f32_gemm_4x8 reading V
// rows in place (see gemm.ts). Strides are in elements. Q·Kᵀ is of the GEMM family: the
// relaxed build fuses its multiply-adds (madd), like the GEMM's.
import { expNeg4, madd } from "./math";

// [Σa, Σb, Σc, Σd] of four vectors
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 2, 6), v128.shuffle<f32>(a, b, 1, 5, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 2, 6), v128.shuffle<f32>(c, d, 1, 5, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

// @ts-ignore: decorator
@inline function hsum(a: v128): f32 {
  return (
    f32x4.extract_lane(a, 0) +
    f32x4.extract_lane(a, 1) +
    f32x4.extract_lane(a, 2) +
    f32x4.extract_lane(a, 3)
  );
}

// @ts-ignore: decorator
@inline function dot(x: usize, y: usize, d: i32): f32 {
  let acc = f32x4.splat(0.0);
  let t = 0;
  for (; t + 4 <= d; t += 4)
    acc = f32x4.add(
      acc,
      f32x4.mul(v128.load(x + ((<usize>t) << 2)), v128.load(y + ((<usize>t) << 2))),
    );
  let s = hsum(acc);
  for (; t < d; t++) s += load<f32>(x + ((<usize>t) << 2)) * load<f32>(y + ((<usize>t) << 2));
  return s;
}

// One query row against 4 keys: [S[i, j..j+3]]
// @ts-ignore: decorator
@inline function dot1x4(
  qi: usize,
  k0: usize,
  k1: usize,
  k2: usize,
  k3: usize,
  d: i32,
  d4: i32,
): v128 {
  let a0 = f32x4.splat(0.0),
    a1 = f32x4.splat(0.0),
    a2 = f32x4.splat(0.0),
    a3 = f32x4.splat(0.0);
  for (let t = 0; t < d4; t += 4) {
    const off = (<usize>t) << 2;
    const x = v128.load(qi + off);
    a0 = madd(x, v128.load(k0 + off), a0);
    a1 = madd(x, v128.load(k1 + off), a1);
    a2 = madd(x, v128.load(k2 + off), a2);
    a3 = madd(x, v128.load(k3 + off), a3);
  }
  let r = hsum4(a0, a1, a2, a3);
  for (let t = d4; t < d; t++) {
    const off = (<usize>t) << 2;
    const x = load<f32>(qi + off);
    let t4 = f32x4.splat(x * load<f32>(k0 + off));
    t4 = f32x4.replace_lane(t4, 1, x * load<f32>(k1 + off));
    t4 = f32x4.replace_lane(t4, 2, x * load<f32>(k2 + off));
    t4 = f32x4.replace_lane(t4, 3, x * load<f32>(k3 + off));
    r = f32x4.add(r, t4);
  }
  return r;
}

/**
 * S[i, j] = Σ_t Q[i, t]·K[j, t] for i < sq, j < sk (unscaled).
 * Tiles of 2 query rows x 4 keys: each K vector loaded feeds two rows (8 accumulators, 12 vector
 * registers with the operands); every sum is accumulated in the same order as a 1 x 4 tile's.
 * The last 1-3 keys run as a tile too (its missing keys repeat the last one and are not stored):
 * a key's score is the same bits wherever it falls, so a sequence's scores do not depend on how
 * many padded keys follow it (the server batches inputs of different lengths on that).
 */
export function f32_attn_scores(
  sq: i32,
  sk: i32,
  d: i32,
  q: usize,
  ldq: i32,
  k: usize,
  ldk: i32,
  s: usize,
  lds: i32,
): void {
  const ldqB = (<usize>ldq) << 2,
    ldkB = (<usize>ldk) << 2,
    ldsB = (<usize>lds) << 2;
  const d4 = d & ~3;
  const dB = (<usize>d4) << 2;
  let i = 0;
  for (; i + 2 <= sq; i += 2) {
    const q0 = q + <usize>i * ldqB,
      q1 = q0 + ldqB;
    const s0 = s + <usize>i * ldsB,
      s1 = s0 + ldsB;
    for (let j = 0; j < sk; j += 4) {
      const k0 = keyRow(k, j, sk, ldkB),
        k1 = keyRow(k, j + 1, sk, ldkB),
        k2 = keyRow(k, j + 2, sk, ldkB),
        k3 = keyRow(k, j + 3, sk, ldkB);
      let a00 = f32x4.splat(0.0),
        a01 = a00,
        a02 = a00,
        a03 = a00;
      let a10 = a00,
        a11 = a00,
        a12 = a00,
        a13 = a00;
      for (let off: usize = 0; off < dB; off += 16) {
        const x0 = v128.load(q0 + off),
          x1 = v128.load(q1 + off);
        let y = v128.load(k0 + off);
        a00 = madd(x0, y, a00);
        a10 = madd(x1, y, a10);
        y = v128.load(k1 + off);
        a01 = madd(x0, y, a01);
        a11 = madd(x1, y, a11);
        y = v128.load(k2 + off);
        a02 = madd(x0, y, a02);
        a12 = madd(x1, y, a12);
        y = v128.load(k3 + off);
        a03 = madd(x0, y, a03);
        a13 = madd(x1, y, a13);
      }
      let r0 = hsum4(a00, a01, a02, a03);
      let r1 = hsum4(a10, a11, a12, a13);
      for (let t = d4; t < d; t++) {
        const off = (<usize>t) << 2;
        const y0 = load<f32>(k0 + off),
          y1 = load<f32>(k1 + off),
          y2 = load<f32>(k2 + off),
          y3 = load<f32>(k3 + off);
        let x = load<f32>(q0 + off);
        let t4 = f32x4.splat(x * y0);
        t4 = f32x4.replace_lane(t4, 1, x * y1);
        t4 = f32x4.replace_lane(t4, 2, x * y2);
        t4 = f32x4.replace_lane(t4, 3, x * y3);
        r0 = f32x4.add(r0, t4);
        x = load<f32>(q1 + off);
        t4 = f32x4.splat(x * y0);
        t4 = f32x4.replace_lane(t4, 1, x * y1);
        t4 = f32x4.replace_lane(t4, 2, x * y2);
        t4 = f32x4.replace_lane(t4, 3, x * y3);
        r1 = f32x4.add(r1, t4);
      }
      storeKeys(s0 + ((<usize>j) << 2), r0, sk - j);
      storeKeys(s1 + ((<usize>j) << 2), r1, sk - j);
    }
  }
  for (; i < sq; i++) {
    const qi = q + <usize>i * ldqB;
    const si = s + <usize>i * ldsB;
    for (let j = 0; j < sk; j += 4) {
      const r = dot1x4(
        qi,
        keyRow(k, j, sk, ldkB),
        keyRow(k, j + 1, sk, ldkB),
        keyRow(k, j + 2, sk, ldkB),
        keyRow(k, j + 3, sk, ldkB),
        d,
        d4,
      );
      storeKeys(si + ((<usize>j) << 2), r, sk - j);
    }
  }
}

// Key j's row, or the last key's past the end (a tile's missing keys: computed, never stored).
// @ts-ignore: decorator
@inline function keyRow(k: usize, j: i32, sk: i32, ldkB: usize): usize {
  return k + <usize>min(j, sk - 1) * ldkB;
}

// e = exp(x - mx) of the row's entry j (x <= mx), stored in place: expNeg4's bits, as in the body.
// @ts-ignore: decorator
@inline function expTail(row: usize, j: i32, mx: f32): f32 {
  const p = row + ((<usize>j) << 2);
  const e = f32x4.extract_lane(expNeg4(f32x4.splat(load<f32>(p) - mx)), 0);
  store<f32>(p, e);
  return e;
}

// The first min(n, 4) lanes of v at p.
// @ts-ignore: decorator
@inline function storeKeys(p: usize, v: v128, n: i32): void {
  if (n >= 4) v128.store(p, v);
  else {
    store<f32>(p, f32x4.extract_lane(v, 0));
    if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
    if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
  }
}

/**
 * Relative position scores (Shaw et al.; HF's relative_key / relative_key_query), added to S:
 *   S[i, j] += Σ_t X[r, t]·E[l(i) - j + maxPos - 1, t],  l(i) = l0 + i·lstep,
 * with r = i (X = Q, "bhld,lrd->bhlr") or r = j (X = K, "bhrd,lrd->bhlr") when byKey.
 * E is distance_embedding [2·maxPos - 1, d]; callers check that every index is in range.
 */
export function f32_attn_relative(
  sq: i32,
  sk: i32,
  d: i32,
  x: usize,
  ldx: i32,
  byKey: bool,
  e: usize,
  maxPos: i32,
  l0: i32,
  lstep: i32,
  s: usize,
  lds: i32,
): void {
  const ldxB = (<usize>ldx) << 2,
    ldsB = (<usize>lds) << 2,
    rowE = (<usize>d) << 2;
  for (let i = 0; i < sq; i++) {
    const l = l0 + i * lstep;
    const si = s + <usize>i * ldsB;
    for (let j = 0; j < sk; j++) {
      const xr = x + <usize>(byKey ? j : i) * ldxB;
      const er = e + <usize>(l - j + maxPos - 1) * rowE;
      const p = si + ((<usize>j) << 2);
      store<f32>(p, load<f32>(p) + dot(xr, er, d));
    }
  }
}

/**
 * In place, row by row (n valid entries, stride lds):
 *   P = softmax(S·scale + M)·headScale
 * M is the additive mask (HF's (1 - mask)·finfo.min), row i at mask + i·ldm (ldm 0 broadcasts one
 * row; mask 0 means none). A fully masked row has all entries equal to finfo.min, so it comes out
 * uniform, as in HF.
 */
export function f32_softmax_rows(
  rows: i32,
  n: i32,
  s: usize,
  lds: i32,
  scale: f32,
  mask: usize,
  ldm: i32,
  headScale: f32,
): void {
  const n4 = n & ~3;
  const nB = (<usize>n4) << 2;
  const vscale = f32x4.splat(scale);
  for (let i = 0; i < rows; i++) {
    const row = s + ((<usize>i * <usize>lds) << 2);
    const mrow = mask ? mask + ((<usize>i * <usize>ldm) << 2) : 0;
    // 1. x = S·scale + M in place, and the row's max (pmax: one instruction; a NaN makes the
    //    sum, so the whole row, NaN anyway)
    let vmax = f32x4.splat(-Infinity);
    if (mrow) {
      for (let off: usize = 0; off < nB; off += 16) {
        const v = f32x4.add(f32x4.mul(v128.load(row + off), vscale), v128.load(mrow + off));
        v128.store(row + off, v);
        vmax = f32x4.pmax(vmax, v);
      }
    } else {
      for (let off: usize = 0; off < nB; off += 16) {
        const v = f32x4.mul(v128.load(row + off), vscale);
        v128.store(row + off, v);
        vmax = f32x4.pmax(vmax, v);
      }
    }
    let mx = max(
      max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)),
      max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)),
    );
    for (let j = n4; j < n; j++) {
      const off = (<usize>j) << 2;
      let v = load<f32>(row + off) * scale;
      if (mrow) v += load<f32>(mrow + off);
      store<f32>(row + off, v);
      mx = max(mx, v);
    }
    // 2. e = exp(x - max) in place, and its sum
    const vm = f32x4.splat(mx);
    let vsum = f32x4.splat(0.0);
    // four vectors a step: their exponentials overlap; the sum keeps its order
    let off: usize = 0;
    for (; off + 64 <= nB; off += 64) {
      const e0 = expNeg4(f32x4.sub(v128.load(row + off), vm));
      const e1 = expNeg4(f32x4.sub(v128.load(row + off, 16), vm));
      const e2 = expNeg4(f32x4.sub(v128.load(row + off, 32), vm));
      const e3 = expNeg4(f32x4.sub(v128.load(row + off, 48), vm));
      v128.store(row + off, e0);
      v128.store(row + off, e1, 16);
      v128.store(row + off, e2, 32);
      v128.store(row + off, e3, 48);
      vsum = f32x4.add(f32x4.add(f32x4.add(f32x4.add(vsum, e0), e1), e2), e3);
    }
    for (; off < nB; off += 16) {
      const e = expNeg4(f32x4.sub(v128.load(row + off), vm));
      v128.store(row + off, e);
      vsum = f32x4.add(vsum, e);
    }
    // the last 1-3 entries as one more vector whose missing lanes are 0: the sum is then the same
    // bits as for the row followed by masked (zero-probability) keys up to a multiple of 4
    if (n4 < n) {
      const r = n - n4;
      const e0 = expTail(row, n4, mx);
      let t = f32x4.replace_lane(f32x4.splat(0.0), 0, e0);
      if (r > 1) t = f32x4.replace_lane(t, 1, expTail(row, n4 + 1, mx));
      if (r > 2) t = f32x4.replace_lane(t, 2, expTail(row, n4 + 2, mx));
      vsum = f32x4.add(vsum, t);
    }
    const sum = hsum(vsum);
    // 3. P = e / sum (times the head mask)
    const inv = f32x4.splat(1.0 / sum);
    if (headScale != 1.0) {
      const hs = f32x4.splat(headScale);
      for (let off: usize = 0; off < nB; off += 16)
        v128.store(row + off, f32x4.mul(f32x4.mul(v128.load(row + off), inv), hs));
    } else {
      for (let off: usize = 0; off < nB; off += 16)
        v128.store(row + off, f32x4.mul(v128.load(row + off), inv));
    }
    for (let j = n4; j < n; j++) {
      const off = (<usize>j) << 2;
      let p = load<f32>(row + off) * f32x4.extract_lane(inv, 0);
      if (headScale != 1.0) p *= headScale;
      store<f32>(row + off, p);
    }
  }
}
