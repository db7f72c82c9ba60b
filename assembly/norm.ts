// LayerNorm over the last axis, as torch.nn.LayerNorm: biased variance, eps inside the sqrt.
// Mean and variance are accumulated in f64 (two passes), so the statistics are exact to f32
// rounding whatever the width; the normalisation itself is f32.

// @ts-ignore: decorator
@inline function sumRow(x: usize, n: i32): f64 {
  let lo = f64x2.splat(0.0),
    hi = f64x2.splat(0.0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const v = v128.load(x + ((<usize>j) << 2));
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
    hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
  }
  const acc = f64x2.add(lo, hi);
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; j < n; j++) s += <f64>load<f32>(x + ((<usize>j) << 2));
  return s;
}

// @ts-ignore: decorator
@inline function sumSquaredDev(x: usize, n: i32, mean: f64): f64 {
  const m = f64x2.splat(mean);
  let lo = f64x2.splat(0.0),
    hi = f64x2.splat(0.0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const v = v128.load(x + ((<usize>j) << 2));
    const a = f64x2.sub(f64x2.promote_low_f32x4(v), m);
    const b = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), m);
    lo = f64x2.add(lo, f64x2.mul(a, a));
    hi = f64x2.add(hi, f64x2.mul(b, b));
  }
  const acc = f64x2.add(lo, hi);
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; j < n; j++) {
    const t = <f64>load<f32>(x + ((<usize>j) << 2)) - mean;
    s += t * t;
  }
  return s;
}

/** y[r] = (x[r] - mean)/sqrt(var + eps)·gamma + beta for each of `rows` rows of n (x may be y). */
export function f32_layernorm(
  rows: i32,
  n: i32,
  x: usize,
  ldx: i32,
  gamma: usize,
  beta: usize,
  eps: f64,
  y: usize,
  ldy: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * <usize>ldx) << 2);
    const yr = y + ((<usize>r * <usize>ldy) << 2);
    const mean = sumRow(xr, n) / <f64>n;
    const variance = sumSquaredDev(xr, n, mean) / <f64>n;
    // (x - mean)·rstd·gamma + beta in f64, rounded once: the statistics are exact to f64 and the
    // output carries half an ulp of error, not four
    const rstd = 1.0 / Math.sqrt(variance + eps);
    const vm = f64x2.splat(mean),
      vr = f64x2.splat(rstd);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const off = (<usize>j) << 2;
      const xv = v128.load(xr + off),
        gv = v128.load(gamma + off),
        bv = v128.load(beta + off);
      const lo = f64x2.add(
        f64x2.mul(
          f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(xv), vm), vr),
          f64x2.promote_low_f32x4(gv),
        ),
        f64x2.promote_low_f32x4(bv),
      );
      const xh = v128.shuffle<f32>(xv, xv, 2, 3, 0, 1),
        gh = v128.shuffle<f32>(gv, gv, 2, 3, 0, 1),
        bh = v128.shuffle<f32>(bv, bv, 2, 3, 0, 1);
      const hi = f64x2.add(
        f64x2.mul(
          f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(xh), vm), vr),
          f64x2.promote_low_f32x4(gh),
        ),
        f64x2.promote_low_f32x4(bh),
      );
      v128.store(
        yr + off,
        v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5),
      );
    }
    for (; j < n; j++) {
      const off = (<usize>j) << 2;
      const t = (<f64>load<f32>(xr + off) - mean) * rstd;
      store<f32>(yr + off, <f32>(t * <f64>load<f32>(gamma + off) + <f64>load<f32>(beta + off)));
    }
  }
}
