// Small numeric helpers for the kernel tests: a seeded PRNG, float32 ulp, and float64 erf/erfc
// (JavaScript has no erf). Reference code only: clarity over speed.

/** mulberry32: a tiny seeded 32-bit PRNG. Returns a function giving floats in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in [lo, hi), never exactly 0 (a zero input can hide a wrong index or a missing term). */
export function uniformNonZero(r, lo, hi) {
  for (;;) {
    const v = Math.fround(lo + (hi - lo) * r());
    if (v !== 0) return v;
  }
}

/** Fills a Float32Array view with uniform non-zero values in [lo, hi). */
export function fillRandom(view, r, lo = -1, hi = 1) {
  for (let i = 0; i < view.length; i++) view[i] = uniformNonZero(r, lo, hi);
  return view;
}

/** Unit of the last place of float32 at |x| (subnormal spacing 2^-149 below 2^-126). */
export function ulp32(x) {
  const a = Math.abs(x);
  if (!Number.isFinite(a)) return NaN;
  if (a < 2 ** -126) return 2 ** -149;
  const e = Math.floor(Math.log2(a));
  // log2 can be off by one at exact powers of two and near them
  const ee = 2 ** e > a ? e - 1 : 2 ** (e + 1) <= a ? e + 1 : e;
  return 2 ** (Math.min(ee, 127) - 23);
}

/** float32 unit roundoff 2^-24 (|fl(x) - x| <= u·|x| for a normal result). */
export const U32 = 2 ** -24;

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π
const ONE_OVER_SQRT_PI = 0.5641895835477563; // 1/√π

// erf(x) = 2x/√π · e^{-x²} · Σ_n (2x²)^n / (1·3·5···(2n+1)): every term positive, so no
// cancellation; used for |x| < 2 (about 60 terms at worst).
function erfSeries(x) {
  const x2 = x * x;
  let term = 1,
    sum = 1;
  for (let n = 0; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 3);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * x * Math.exp(-x2) * sum;
}

// erfc(x) for x >= 2 by the continued fraction
//   erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
// evaluated backwards from a fixed depth (plenty for x >= 2: ~1e-17 relative).
function erfcContinuedFraction(x) {
  const depth = x < 3 ? 400 : x < 6 ? 120 : 60;
  let f = x;
  for (let n = depth; n >= 1; n--) f = x + n / 2 / f;
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

/** erfc(x) in float64, relative accuracy ~1e-14 everywhere, including the far tail. */
export function erfc(x) {
  if (Number.isNaN(x)) return NaN;
  if (x >= 2) return x === Infinity ? 0 : erfcContinuedFraction(x);
  if (x > -2) return 1 - erfSeries(x);
  return 2 - (x === -Infinity ? 0 : erfcContinuedFraction(-x));
}

/** erf(x) in float64, accurate to a few 1e-16. */
export function erf(x) {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 2) return erfSeries(x);
  const v = 1 - (a === Infinity ? 0 : erfcContinuedFraction(a));
  return x < 0 ? -v : v;
}
