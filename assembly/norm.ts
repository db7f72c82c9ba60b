// LayerNorm over the last axis, as torch.nn.LayerNorm: biased variance, eps inside the sqrt.
// Mean and variance are accumulated in f64 (two passes), so the statistics are exact to f32
// rounding whatever the width; the normalisation itself is f32.

@inline function sumRow(x: usize, n: i32): f64 {
  let lo = f64x2.splat(0.0), hi = f64x2.splat(0.0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const v = v128.load(x + (<usize>j << 2));
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
    hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
  }
  const acc = f64x2.add(lo, hi);
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; j < n; j++) s += <f64>load<f32>(x + (<usize>j << 2));
  return s;
}

@inline function sumSquaredDev(x: usize, n: i32, mean: f64): f64 {
  const m = f64x2.splat(mean);
  let lo = f64x2.splat(0.0), hi = f64x2.splat(0.0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const v = v128.load(x + (<usize>j << 2));
    const a = f64x2.sub(f64x2.promote_low_f32x4(v), m);
    const b = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), m);
    lo = f64x2.add(lo, f64x2.mul(a, a));
    hi = f64x2.add(hi, f64x2.mul(b, b));
  }
  const acc = f64x2.add(lo, hi);
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; j < n; j++) {
    const t = <f64>load<f32>(x + (<usize>j << 2)) - mean;
    s += t * t;
  }
  return s;
}

/** y[r] = (x[r] - mean)/sqrt(var + eps)·gamma + beta for each of `rows` rows of n (x may be y). */
export function f32_layernorm(rows: i32, n: i32, x: usize, ldx: i32, gamma: usize, beta: usize, eps: f64, y: usize, ldy: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>ldx << 2);
    const yr = y + (<usize>r * <usize>ldy << 2);
    const mean = sumRow(xr, n) / <f64>n;
    const variance = sumSquaredDev(xr, n, mean) / <f64>n;
    const rstd = <f32>(1.0 / Math.sqrt(variance + eps));
    const vm = f32x4.splat(<f32>mean), vr = f32x4.splat(rstd);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const off = <usize>j << 2;
      const t = f32x4.mul(f32x4.sub(v128.load(xr + off), vm), vr);
      v128.store(yr + off, f32x4.add(f32x4.mul(t, v128.load(gamma + off)), v128.load(beta + off)));
    }
    for (; j < n; j++) {
      const off = <usize>j << 2;
      const t = (load<f32>(xr + off) - <f32>mean) * rstd;
      store<f32>(yr + off, t * load<f32>(gamma + off) + load<f32>(beta + off));
    }
  }
}
