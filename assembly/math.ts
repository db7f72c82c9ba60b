// Vector math on f32x4, accurate to 1-2 ulp. WebAssembly (and JavaScript) has no exp, erf or tanh
// instruction, so these are range reduction + polynomial; coefficients come from
// scripts/fit_coeffs.py (least squares on Chebyshev nodes, checked in f32 against mpmath).
//
// The activations are written so that the small tail of each function keeps its relative accuracy:
// 1 + tanh(u) is evaluated as 2·sigmoid(2u) and 1 + erf(z) as erfc(-z), which avoids the
// cancellation of the textbook forms for negative inputs.

// Fused multiply-add where the build has relaxed SIMD (it may or may not fuse, by machine);
// plain mul + add otherwise. Only the GEMM family uses it: the math below stays deterministic.
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline function poly(x: v128, c0: f32, c1: f32, c2: f32, c3: f32, c4: f32): v128 {
  let p = f32x4.splat(c4);
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(c3));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(c2));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(c1));
  return f32x4.add(f32x4.mul(p, x), f32x4.splat(c0));
}

const SIGN: v128 = i32x4(0x80000000, 0x80000000, 0x80000000, 0x80000000);

// @ts-ignore: decorator
@inline function copysign(mag: v128, sgn: v128): v128 {
  return v128.or(mag, v128.and(sgn, SIGN));
}

// The exponential's constants, shared by exp4/expNeg4 (expClamped) and geluErf4.
/** log2(e) */
const LOG2E: f32 = 1.4426950408889634;
/** -log2(e)/2: n for e^{-a²/2} */
const NEG_HALF_LOG2E: f32 = -0.7213475204444817;
/** ln 2 = LN2_HI + LN2_LO, LN2_HI with trailing zero bits so that n·LN2_HI is exact */
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.428606765330187e-6;
/** e^r = 1 + r + r²·(EXP_P0 + EXP_P1·r + ... + EXP_P4·r⁴) on |r| <= ln2/2 (scripts/fit_coeffs.py) */
const EXP_P0: f32 = 0.49999988079071045;
const EXP_P1: f32 = 0.166665181517601;
const EXP_P2: f32 = 0.04166953265666962;
const EXP_P3: f32 = 0.008368915878236294;
const EXP_P4: f32 = 0.0013751407386735082;
/** 2^n from the bits of n + EXP2_MAGIC (1.5·2^23 + 127), minus EXP2_MAGIC_BITS, shifted into the exponent */
const EXP2_MAGIC: f32 = 12583039.0;
const EXP2_MAGIC_BITS: i32 = 0x4b400000;
/** exp's argument range: below EXP_MIN the result is 0, above EXP_MAX +inf; arguments are clamped
 * to [EXP_CLAMP_LO, EXP_CLAMP_HI] before the reduction */
const EXP_MIN: f32 = -87.33654;
const EXP_MAX: f32 = 88.72283;
const EXP_CLAMP_LO: f32 = -87.34;
const EXP_CLAMP_HI: f32 = 88.37;

// e^xc for xc in [EXP_CLAMP_LO, EXP_CLAMP_HI] (NaN kept): the core of exp4 and expNeg4.
// @ts-ignore: decorator
@inline function expClamped(xc: v128): v128 {
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(LOG2E)));
  // r = x - n·ln2 in two steps (ln2_hi has trailing zero bits, so n·ln2_hi is exact)
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  // e^r = 1 + r + r²·P(r) on |r| <= ln2/2
  const p = poly(r, EXP_P0, EXP_P1, EXP_P2, EXP_P3, EXP_P4);
  const er = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(r, r), p), r), f32x4.splat(1.0));
  // 2^n (n an integer in [-126, 128], exact): n + 127 read from the bits of n + EXP2_MAGIC; the
  // same as trunc_sat(n) + 127, which V8 lowers to about eight instructions
  const scale = i32x4.shl(
    i32x4.sub(f32x4.add(n, f32x4.splat(EXP2_MAGIC)), i32x4.splat(EXP2_MAGIC_BITS)),
    23,
  );
  return f32x4.mul(er, scale);
}

/** exp(x), 1 ulp. Below -87.34 (the smallest normal result) it returns 0; above 88.72, +inf. */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  // pmin/pmax (one minps/maxps each) instead of min/max (about seven instructions each in V8 for
  // their NaN and -0 rules): with x first they still return x when x is NaN, and the bounds are
  // not zero, so the result is the same.
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_CLAMP_LO)), f32x4.splat(EXP_CLAMP_HI));
  const y = v128.andnot(expClamped(xc), f32x4.lt(x, f32x4.splat(EXP_MIN)));
  return v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x, f32x4.splat(EXP_MAX)));
}

/** exp4 for x <= 0 (or NaN), as in softmax after the max is taken: the same bits, without the
 * overflow bound. */
// @ts-ignore: decorator
@inline export function expNeg4(x: v128): v128 {
  return v128.andnot(
    expClamped(f32x4.pmax(x, f32x4.splat(EXP_CLAMP_LO))),
    f32x4.lt(x, f32x4.splat(EXP_MIN)),
  );
}

/** tanh(x), 1 ulp: odd polynomial near 0, 1 - 2/(e^{2|x|} + 1) beyond. */
// @ts-ignore: decorator
@inline export function tanh4(x: v128): v128 {
  const a = f32x4.abs(x);
  const s = f32x4.mul(x, x);
  const p = poly(
    s,
    -0.3333328068256378,
    0.13331381976604462,
    -0.05373531952500343,
    0.020626291632652283,
    -0.005691985599696636,
  );
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(x, s), p));
  const e = exp4(f32x4.add(a, a));
  const big = f32x4.sub(
    f32x4.splat(1.0),
    f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))),
  );
  // tanh is odd: the sign of x (also for ±0, which the polynomial would turn into +0)
  return copysign(v128.bitselect(f32x4.abs(small), big, f32x4.lt(a, f32x4.splat(0.625))), x);
}

/** sigmoid(x) = 1/(1 + e^{-x}), relative accuracy kept for x << 0 (e^{x}/(1 + e^{x})). */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const e = exp4(f32x4.neg(f32x4.abs(x)));
  const s = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  return v128.bitselect(s, f32x4.mul(e, s), f32x4.ge(x, f32x4.splat(0.0)));
}

// erf(z) ≈ z·P(z²) on |z| < 0.9
// @ts-ignore: decorator
@inline function erfSmall(z: v128): v128 {
  const s = f32x4.mul(z, z);
  let p = f32x4.splat(8.508394967066124e-5);
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-0.000817448366433382));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(0.005203752778470516));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-0.026860462501645088));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(0.11283714324235916));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-0.37612634897232056));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(1.128379225730896));
  return f32x4.mul(z, p);
}

// erfc(a) for a >= 0.45: e^{-a²}·t·Q(t), t = 1/(1 + a/2). a² is split as hi² + lo·(a + hi), hi
// being a with its low 12 bits cleared (hi² is exact in f32), so that the rounding of a² does not
// cost up to a² ulp in the exponential.
// @ts-ignore: decorator
@inline function erfcLarge(a0: v128): v128 {
  // erfc(10) = 2e-45 is below f32's normal range: past it the result is 0 (and ±inf stays finite)
  const a = f32x4.pmin(a0, f32x4.splat(10.0)); // = min(a0, 10), NaN kept (see exp4)
  const t = f32x4.div(
    f32x4.splat(1.0),
    f32x4.add(f32x4.splat(1.0), f32x4.mul(a, f32x4.splat(0.5))),
  );
  let q = f32x4.splat(0.030236968770623207);
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(-0.1834130585193634));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.4077572524547577));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(-0.3757820427417755));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.08838935941457748));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(-0.044351521879434586));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.09042277932167053));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.17566891014575958));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.24686405062675476));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.28209421038627625));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.282094806432724));
  const hi = v128.and(a, i32x4.splat(0xfffff000));
  const lo = f32x4.sub(a, hi);
  // e^{-s}, s = lo·(a + hi), |s| < 0.05 where e^{-a²} is a normal f32: its Taylor polynomial of
  // degree 4 is within 2e-9 (cheaper than a second exp4)
  const s = f32x4.mul(lo, f32x4.add(a, hi));
  let es = f32x4.sub(f32x4.splat(1.0), f32x4.mul(s, f32x4.splat(0.25)));
  es = f32x4.sub(f32x4.splat(1.0), f32x4.mul(f32x4.mul(s, f32x4.splat(0.3333333432674408)), es));
  es = f32x4.sub(f32x4.splat(1.0), f32x4.mul(f32x4.mul(s, f32x4.splat(0.5)), es));
  es = f32x4.sub(f32x4.splat(1.0), f32x4.mul(s, es));
  const e = f32x4.mul(exp4(f32x4.neg(f32x4.mul(hi, hi))), es);
  return f32x4.mul(e, f32x4.mul(t, q));
}

/** erf(x), about 1 ulp (2 at worst near |x| = 0.9). */
// @ts-ignore: decorator
@inline export function erf4(x: v128): v128 {
  const a = f32x4.abs(x);
  const big = copysign(f32x4.sub(f32x4.splat(1.0), erfcLarge(a)), x);
  return v128.bitselect(erfSmall(x), big, f32x4.lt(a, f32x4.splat(0.9)));
}

/**
 * 1 + erf(z), i.e. erfc(-z): accurate in relative terms also where it is small (z < 0): below
 * z = -0.45 it is erfc(|z|) itself rather than 1 + erf(z), which would cancel.
 */
// @ts-ignore: decorator
@inline export function onePlusErf4(z: v128): v128 {
  const a = f32x4.abs(z);
  const c = erfcLarge(a);
  const series = f32x4.add(f32x4.splat(1.0), erfSmall(z));
  const pos = v128.bitselect(series, f32x4.sub(f32x4.splat(2.0), c), f32x4.lt(a, f32x4.splat(0.9)));
  const neg = v128.bitselect(series, c, f32x4.lt(a, f32x4.splat(0.45)));
  return v128.bitselect(pos, neg, f32x4.gt(z, f32x4.splat(0.0)));
}

// x·Φ(x) (Φ the standard normal CDF), the exact GELU, evaluated on x itself. With a = |x|,
// x·Φ(x) = max(x, 0) - a·Φ(-a), and Φ(-a) = e^{-a²/2}·R(a), R a rational function of degree 4/5
// fitted for relative error 5e-9 on [0, 13.2] (scripts/fit_coeffs.py). One exponential, one
// division and no cancellation: the tail x << 0 keeps its relative accuracy, and for x > 0 the
// subtracted term is at most half of x. a²/2 enters the exponential without its rounding: a is
// split as hi + lo (hi with 12 significant bits, so hi²/2 is exact) and the reduction
// r = -hi²/2 - n·ln2_hi is exact (Sterbenz), lo·(a + hi)/2 and n·ln2_lo being subtracted after.
// Past a = 13.2 the term is below f32's normal range and taken as 0 (so ±Inf give Inf and 0).
// @ts-ignore: decorator
@inline export function geluErf4(x: v128): v128 {
  const a0 = f32x4.abs(x);
  const a = f32x4.pmin(a0, f32x4.splat(13.2)); // NaN kept (see exp4)
  const hi = v128.and(a, i32x4.splat(0xfffff000));
  const lo = f32x4.sub(a, hi);
  const h = f32x4.mul(f32x4.mul(hi, hi), f32x4.splat(0.5));
  const l = f32x4.mul(f32x4.mul(lo, f32x4.splat(0.5)), f32x4.add(a, hi));
  const n = f32x4.nearest(f32x4.mul(f32x4.mul(a, a), f32x4.splat(NEG_HALF_LOG2E)));
  let r = f32x4.sub(f32x4.neg(h), f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.add(l, f32x4.mul(n, f32x4.splat(LN2_LO))));
  // e^r = 1 + r + r²·P(r), P as in exp4, by Estrin's scheme (a shorter dependency chain)
  const r2 = f32x4.mul(r, r);
  const p01 = f32x4.add(f32x4.mul(r, f32x4.splat(EXP_P1)), f32x4.splat(EXP_P0));
  const p23 = f32x4.add(f32x4.mul(r, f32x4.splat(EXP_P3)), f32x4.splat(EXP_P2));
  const p234 = f32x4.add(f32x4.mul(r2, f32x4.splat(EXP_P4)), p23);
  const pe = f32x4.add(f32x4.mul(r2, p234), p01);
  const er = f32x4.add(f32x4.add(f32x4.mul(r2, pe), r), f32x4.splat(1.0));
  // n in [-126, 0]: 2^n as in exp4
  const scale = i32x4.shl(
    i32x4.sub(f32x4.add(n, f32x4.splat(EXP2_MAGIC)), i32x4.splat(EXP2_MAGIC_BITS)),
    23,
  );
  // R = P(a)/Q(a) (Horner: these are off the critical path, which is the exponential's)
  let p = f32x4.splat(0.00401227455586195);
  p = f32x4.add(f32x4.mul(p, a), f32x4.splat(0.0399305559694767));
  p = f32x4.add(f32x4.mul(p, a), f32x4.splat(0.18114706873893738));
  p = f32x4.add(f32x4.mul(p, a), f32x4.splat(0.43546953797340393));
  p = f32x4.add(f32x4.mul(p, a), f32x4.splat(0.5));
  let q = f32x4.splat(0.010057135485112667);
  q = f32x4.add(f32x4.mul(q, a), f32x4.splat(0.10009852796792984));
  q = f32x4.add(f32x4.mul(q, a), f32x4.splat(0.46395885944366455));
  q = f32x4.add(f32x4.mul(q, a), f32x4.splat(1.1938189268112183));
  q = f32x4.add(f32x4.mul(q, a), f32x4.splat(1.6688239574432373));
  q = f32x4.add(f32x4.mul(q, a), f32x4.splat(1.0));
  // a·R·e^r, scaled last so that a result below the normal range is rounded once
  let t = f32x4.mul(f32x4.mul(f32x4.mul(a, f32x4.div(p, q)), er), scale);
  t = v128.andnot(t, f32x4.gt(a0, f32x4.splat(13.2)));
  return f32x4.sub(f32x4.pmax(x, f32x4.splat(0.0)), t);
}
