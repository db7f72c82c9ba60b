// Peak f32x4 throughput probes for the bench (not part of the published kernels).
//
// Each probe runs 12 independent chains for `iters` iterations. m and c are arguments, so the
// engine cannot fold them; with m = 1 and c = 0 the values never change (no denormals, no
// overflow). Flops counted: 8 per chain per iteration (4 lanes x (mul + add)).
//   peak_mul_add:      acc = acc·m + c as f32x4.mul then f32x4.add (what the plain build's GEMM uses)
//   peak_relaxed_madd: acc = relaxed_madd(acc, m, c)             (the relaxed build's GEMM)
// Both return a lane sum so that nothing is dead code.

// @ts-ignore: decorator
@inline function step(acc: v128, m: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(acc, m, c);
  return f32x4.add(f32x4.mul(acc, m), c);
}

function run(iters: i32, mf: f32, cf: f32): f32 {
  const m = f32x4.splat(mf),
    c = f32x4.splat(cf);
  let a0 = f32x4.splat(1.0),
    a1 = f32x4.splat(1.5),
    a2 = f32x4.splat(2.0),
    a3 = f32x4.splat(2.5);
  let a4 = f32x4.splat(3.0),
    a5 = f32x4.splat(3.5),
    a6 = f32x4.splat(4.0),
    a7 = f32x4.splat(4.5);
  let a8 = f32x4.splat(5.0),
    a9 = f32x4.splat(5.5),
    a10 = f32x4.splat(6.0),
    a11 = f32x4.splat(6.5);
  for (let i = 0; i < iters; i++) {
    a0 = step(a0, m, c);
    a1 = step(a1, m, c);
    a2 = step(a2, m, c);
    a3 = step(a3, m, c);
    a4 = step(a4, m, c);
    a5 = step(a5, m, c);
    a6 = step(a6, m, c);
    a7 = step(a7, m, c);
    a8 = step(a8, m, c);
    a9 = step(a9, m, c);
    a10 = step(a10, m, c);
    a11 = step(a11, m, c);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)),
    f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)),
  );
  const t = f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)));
  return (
    f32x4.extract_lane(t, 0) +
    f32x4.extract_lane(t, 1) +
    f32x4.extract_lane(t, 2) +
    f32x4.extract_lane(t, 3)
  );
}

/** Flops per iteration of `peak`. */
export const PEAK_FLOPS_PER_ITER: i32 = 12 * 8;

export function peak(iters: i32, m: f32, c: f32): f32 {
  return run(iters, m, c);
}

/**
 * Mul and add kept off each other's critical path: 6 chains p = p·m and 6 chains s = s + p
 * (the GEMM's shape: its adds form the chains, its multiplies feed them). 8 flops per chain pair
 * and per lane-quad: 48 per iteration.
 */
export function peak_split(iters: i32, mf: f32): f32 {
  const m = f32x4.splat(mf);
  let p0 = f32x4.splat(1.0),
    p1 = f32x4.splat(1.5),
    p2 = f32x4.splat(2.0),
    p3 = f32x4.splat(2.5),
    p4 = f32x4.splat(3.0),
    p5 = f32x4.splat(3.5);
  let s0 = f32x4.splat(0.0),
    s1 = s0,
    s2 = s0,
    s3 = s0,
    s4 = s0,
    s5 = s0;
  for (let i = 0; i < iters; i++) {
    s0 = f32x4.add(s0, p0);
    s1 = f32x4.add(s1, p1);
    s2 = f32x4.add(s2, p2);
    s3 = f32x4.add(s3, p3);
    s4 = f32x4.add(s4, p4);
    s5 = f32x4.add(s5, p5);
    p0 = f32x4.mul(p0, m);
    p1 = f32x4.mul(p1, m);
    p2 = f32x4.mul(p2, m);
    p3 = f32x4.mul(p3, m);
    p4 = f32x4.mul(p4, m);
    p5 = f32x4.mul(p5, m);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)),
    f32x4.add(f32x4.add(s4, s5), f32x4.add(p0, p5)),
  );
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3);
}

/** 1 when this build's `peak` uses f32x4.relaxed_madd. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/**
 * The multiplies fed from memory, as in a GEMM micro-kernel: 8 accumulators (8 add chains, with
 * slack: 2 adds a cycle at latency 3 need only 6), every product independent, its operands loaded
 * each step from a buffer that stays in L1 (buf: FED_STEPS·48 = 18 KiB of small values), so that no
 * compiler can hoist them. What a mul + add (or relaxed_madd) kernel reaches once its own loads and
 * loop are paid: the 12-chain probe above is bound by each chain's mul -> add latency, this one is not.
 * 64 flops per step, FED_STEPS steps per round.
 */
export const FED_STEPS: i32 = 384;
export function peak_fed(rounds: i32, buf: usize): f32 {
  let c0 = f32x4.splat(0.0),
    c1 = c0,
    c2 = c0,
    c3 = c0,
    c4 = c0,
    c5 = c0,
    c6 = c0,
    c7 = c0;
  const end = buf + <usize>FED_STEPS * 48;
  for (let i = 0; i < rounds; i++) {
    let p = buf;
    while (p < end) {
      const b0 = v128.load(p),
        b1 = v128.load(p, 16);
      let x = v128.load32_splat(p, 32);
      c0 = step(x, b0, c0);
      c1 = step(x, b1, c1);
      x = v128.load32_splat(p, 36);
      c2 = step(x, b0, c2);
      c3 = step(x, b1, c3);
      x = v128.load32_splat(p, 40);
      c4 = step(x, b0, c4);
      c5 = step(x, b1, c5);
      x = v128.load32_splat(p, 44);
      c6 = step(x, b0, c6);
      c7 = step(x, b1, c7);
      p += 48;
    }
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)),
    f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)),
  );
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3);
}

// ---- integer dot products (the q8 GEMM's instructions) --------------------------------------
// 12 chains acc = dot(acc, m) + c, m picking each lane's low half (m = 1 in the low i16 or i8 of
// every i32, 0 elsewhere) and c = 0, so that the values never change. Ops counted as the GEMM
// counts them: 2 per multiply-add, i.e. 16 per i32x4.dot_i16x8_s (8 products), 32 per 16-product
// relaxed dot.

// @ts-ignore: decorator
@inline function dot16(acc: v128, m: v128, c: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(acc, m), c);
}

/** i32x4.dot_i16x8_s + i32x4.add: 12·16 ops per iteration (PEAK_DOT_OPS_PER_ITER). */
export const PEAK_DOT_OPS_PER_ITER: i32 = 12 * 16;
export function peak_dot(iters: i32, seed: i32): i32 {
  const m = i32x4.splat(1),
    c = i32x4.splat(0);
  let a0 = i32x4.splat(seed),
    a1 = i32x4.splat(seed + 1),
    a2 = i32x4.splat(seed + 2),
    a3 = i32x4.splat(seed + 3),
    a4 = i32x4.splat(seed + 4),
    a5 = i32x4.splat(seed + 5);
  let a6 = i32x4.splat(seed + 6),
    a7 = i32x4.splat(seed + 7),
    a8 = i32x4.splat(seed + 8),
    a9 = i32x4.splat(seed + 9),
    a10 = i32x4.splat(seed + 10),
    a11 = i32x4.splat(seed + 11);
  for (let i = 0; i < iters; i++) {
    a0 = dot16(a0, m, c);
    a1 = dot16(a1, m, c);
    a2 = dot16(a2, m, c);
    a3 = dot16(a3, m, c);
    a4 = dot16(a4, m, c);
    a5 = dot16(a5, m, c);
    a6 = dot16(a6, m, c);
    a7 = dot16(a7, m, c);
    a8 = dot16(a8, m, c);
    a9 = dot16(a9, m, c);
    a10 = dot16(a10, m, c);
    a11 = dot16(a11, m, c);
  }
  const s = i32x4.add(
    i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3)),
    i32x4.add(i32x4.add(a4, a5), i32x4.add(a6, a7)),
  );
  const t = i32x4.add(s, i32x4.add(i32x4.add(a8, a9), i32x4.add(a10, a11)));
  return i32x4.extract_lane(t, 0) + i32x4.extract_lane(t, 3);
}

// The relaxed build's q8 step: i16x8.relaxed_dot_i8x16_i7x16_s, pairs summed to i32, accumulated
// (the form the q8 kernel uses), and the single-instruction i32x4.relaxed_dot_i8x16_i7x16_add_s.
// @ts-ignore: decorator
@inline function dot8(acc: v128, m: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD)
    return i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(acc, m)), c);
  return acc;
}
// @ts-ignore: decorator
@inline function dot8add(acc: v128, m: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_dot_i8x16_i7x16_add_s(acc, m, c);
  return acc;
}

/** 12·32 ops per iteration (relaxed build only; the plain build returns its input). */
export const PEAK_RDOT_OPS_PER_ITER: i32 = 12 * 32;
function rdotRun(iters: i32, seed: i32, fused: bool): i32 {
  const m = i32x4.splat(1),
    c = i32x4.splat(0);
  let a0 = i32x4.splat(seed),
    a1 = i32x4.splat(seed + 1),
    a2 = i32x4.splat(seed + 2),
    a3 = i32x4.splat(seed + 3),
    a4 = i32x4.splat(seed + 4),
    a5 = i32x4.splat(seed + 5);
  let a6 = i32x4.splat(seed + 6),
    a7 = i32x4.splat(seed + 7),
    a8 = i32x4.splat(seed + 8),
    a9 = i32x4.splat(seed + 9),
    a10 = i32x4.splat(seed + 10),
    a11 = i32x4.splat(seed + 11);
  if (fused) {
    for (let i = 0; i < iters; i++) {
      a0 = dot8add(a0, m, c);
      a1 = dot8add(a1, m, c);
      a2 = dot8add(a2, m, c);
      a3 = dot8add(a3, m, c);
      a4 = dot8add(a4, m, c);
      a5 = dot8add(a5, m, c);
      a6 = dot8add(a6, m, c);
      a7 = dot8add(a7, m, c);
      a8 = dot8add(a8, m, c);
      a9 = dot8add(a9, m, c);
      a10 = dot8add(a10, m, c);
      a11 = dot8add(a11, m, c);
    }
  } else {
    for (let i = 0; i < iters; i++) {
      a0 = dot8(a0, m, c);
      a1 = dot8(a1, m, c);
      a2 = dot8(a2, m, c);
      a3 = dot8(a3, m, c);
      a4 = dot8(a4, m, c);
      a5 = dot8(a5, m, c);
      a6 = dot8(a6, m, c);
      a7 = dot8(a7, m, c);
      a8 = dot8(a8, m, c);
      a9 = dot8(a9, m, c);
      a10 = dot8(a10, m, c);
      a11 = dot8(a11, m, c);
    }
  }
  const s = i32x4.add(
    i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3)),
    i32x4.add(i32x4.add(a4, a5), i32x4.add(a6, a7)),
  );
  const t = i32x4.add(s, i32x4.add(i32x4.add(a8, a9), i32x4.add(a10, a11)));
  return i32x4.extract_lane(t, 0) + i32x4.extract_lane(t, 3);
}
export function peak_relaxed_dot(iters: i32, seed: i32): i32 {
  return rdotRun(iters, seed, false);
}
export function peak_relaxed_dot_add(iters: i32, seed: i32): i32 {
  return rdotRun(iters, seed, true);
}
