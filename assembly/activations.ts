// Every hidden_act of Hugging Face's ACT2FN (transformers 4.30.2 activations.py), elementwise.
// The ACT_* ids are the one list of them: scripts/gen-kernel-bindings.mjs copies them into
// src/runtime/kernel_bindings.ts, and src/config.ts maps HF's names onto them.
import { exp4, tanh4, sigmoid4, onePlusErf4, geluErf4 } from "./math";

export const ACT_LINEAR: i32 = 0;
export const ACT_GELU: i32 = 1; // x/2·(1 + erf(x/√2)); also gelu_python
export const ACT_GELU_TANH: i32 = 2; // gelu_new, gelu_pytorch_tanh, gelu_accurate: x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))
export const ACT_GELU_FAST: i32 = 3; // x/2·(1 + tanh(0.7978845608·x·(1 + 0.044715x²)))
export const ACT_GELU_10: i32 = 4; // clip(gelu(x), -10, 10)
export const ACT_QUICK_GELU: i32 = 5; // x·sigmoid(1.702x)
export const ACT_RELU: i32 = 6;
export const ACT_RELU2: i32 = 7; // relu(x)²
export const ACT_RELU6: i32 = 8;
export const ACT_SILU: i32 = 9; // silu, swish
export const ACT_MISH: i32 = 10; // x·tanh(softplus(x)), softplus with torch's threshold 20
export const ACT_SIGMOID: i32 = 11;
export const ACT_TANH: i32 = 12;
export const ACT_LAPLACE: i32 = 13; // (1 + erf((x - 0.707107)/(0.282095·√2)))/2
export const ACT_LEAKY_RELU: i32 = 14; // slope 0.01

const INV_SQRT2: f32 = 0.7071067811865476;
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;

// 0.5·(1 + tanh(u)) == sigmoid(2u): no cancellation where tanh(u) ≈ -1
// @ts-ignore: decorator
@inline function halfOnePlusTanh(u: v128): v128 {
  return sigmoid4(f32x4.add(u, u));
}

// @ts-ignore: decorator
@inline export function activate4(kind: i32, x: v128): v128 {
  switch (kind) {
    case ACT_GELU:
      return geluErf4(x);
    case ACT_GELU_TANH: {
      const x3 = f32x4.mul(f32x4.mul(x, x), x);
      const u = f32x4.mul(
        f32x4.splat(SQRT_2_OVER_PI),
        f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), x3)),
      );
      return f32x4.mul(x, halfOnePlusTanh(u));
    }
    case ACT_GELU_FAST: {
      const inner = f32x4.add(f32x4.splat(1.0), f32x4.mul(f32x4.mul(f32x4.splat(0.044715), x), x));
      const u = f32x4.mul(f32x4.mul(x, f32x4.splat(0.7978845608)), inner);
      return f32x4.mul(x, halfOnePlusTanh(u));
    }
    case ACT_GELU_10: {
      const g = geluErf4(x);
      return f32x4.min(f32x4.max(g, f32x4.splat(-10.0)), f32x4.splat(10.0));
    }
    case ACT_QUICK_GELU:
      return f32x4.mul(x, sigmoid4(f32x4.mul(x, f32x4.splat(1.702))));
    case ACT_RELU:
      return f32x4.max(x, f32x4.splat(0.0));
    case ACT_RELU2: {
      const r = f32x4.max(x, f32x4.splat(0.0));
      return f32x4.mul(r, r);
    }
    case ACT_RELU6:
      return f32x4.min(f32x4.max(x, f32x4.splat(0.0)), f32x4.splat(6.0));
    case ACT_SILU:
      return f32x4.mul(x, sigmoid4(x));
    case ACT_MISH: {
      // tanh(log(1 + e^x)) = n/(n + 2) with n = e^x·(e^x + 2); exact algebra, no log needed
      const e = exp4(f32x4.min(x, f32x4.splat(20.0)));
      const n = f32x4.mul(e, f32x4.add(e, f32x4.splat(2.0)));
      const m = f32x4.mul(x, f32x4.div(n, f32x4.add(n, f32x4.splat(2.0))));
      return v128.bitselect(x, m, f32x4.gt(x, f32x4.splat(20.0)));
    }
    case ACT_SIGMOID:
      return sigmoid4(x);
    case ACT_TANH:
      return tanh4(x);
    case ACT_LAPLACE: {
      // σ·√2 rounded once to f32, as torch does (0.282095 * sqrt(2) in double, then the division)
      const z = f32x4.div(
        f32x4.sub(x, f32x4.splat(0.707107)),
        f32x4.splat(<f32>0.39894257487763823),
      );
      return f32x4.mul(f32x4.splat(0.5), onePlusErf4(z));
    }
    case ACT_LEAKY_RELU:
      return v128.bitselect(x, f32x4.mul(x, f32x4.splat(0.01)), f32x4.gt(x, f32x4.splat(0.0)));
    default:
      return x;
  }
}

/** y[i] = act(x[i]) for i < n (x and y may be the same buffer). */
export function f32_activation(kind: i32, n: i32, x: usize, y: usize): void {
  if (kind == ACT_LINEAR) {
    if (x != y) memory.copy(y, x, (<usize>n) << 2);
    return;
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    v128.store(y + off, activate4(kind, v128.load(x + off)));
  }
  if (i < n) {
    // tail: go through a vector with the remaining lanes zero-filled
    let v = f32x4.splat(0.0);
    const rest = n - i;
    const p = x + ((<usize>i) << 2);
    v = f32x4.replace_lane(v, 0, load<f32>(p));
    if (rest > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
    if (rest > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
    const r = activate4(kind, v);
    const q = y + ((<usize>i) << 2);
    store<f32>(q, f32x4.extract_lane(r, 0));
    if (rest > 1) store<f32>(q, f32x4.extract_lane(r, 1), 4);
    if (rest > 2) store<f32>(q, f32x4.extract_lane(r, 2), 8);
  }
}

/** Scalar entry for tests: act(x). */
export function f32_activation1(kind: i32, x: f32): f32 {
  return f32x4.extract_lane(activate4(kind, f32x4.splat(x)), 0);
}
