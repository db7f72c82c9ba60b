// Int8 GEMM for q8 Linear layers: int8 weights x int8 activations -> int32, dequantized in the
// epilogue.
//
//   C[m, n] = act(sa[i]·sw[j]·Σ_t (qa[i, t] - za[i])·W[j, t] + bias[j] (+ R[i, j]))
//
// ---- Representation (shared with the loader: src/quant/ produces the unpacked form) ----------
// Unpacked (a q8 checkpoint, or the quantizer run on f32/f16/bf16 weights at load):
//   W: int8 [n, k] row-major (HF's Linear [out, in]), symmetric, values in [-127, 127] (-128 never
//      appears: a relaxed-dot kernel's no-saturation bound needs |w| <= 127);
//   sw: f32 [n], one scale per output channel, finite and > 0: weight[j, t] ≈ sw[j]·W[j, t].
// Packed (q8_pack_weights, once at load):
//   kp = k rounded up to a multiple of 4; panels of 8 output channels, panel p at w + p·8·kp bytes;
//   in a panel, k group g (4 steps of k) at 32·g bytes: bytes 0..15 hold channels 8p..8p+3 with
//   their 4 k values each (channel-major: c0 k0..k3, c1 k0..k3, ...), bytes 16..31 channels
//   8p+4..8p+7. Zero past n and past k. Beside it, per channel (8·panels entries, zero past n):
//   f32 scale sw[j] and i32 wsum[j] = Σ_t W[j, t] (for the activations' zero point).
//
// ---- Activations: dynamic per-row quantization fused with packing A (q8_pack_rows4) -----------
// Per row i: lo = min(0, min_t x), hi = max(0, max_t x), sa = (hi - lo)/(QMAX - QMIN) (1 if the
// row is all zeros), za = clamp(round(QMIN - lo·(1/sa))), qa = clamp(round(x·(1/sa)) + za, QMIN, QMAX),
// rounding to nearest even, all in f32. Zero is exact (x = 0 gives qa = za), the range is the row's
// own, asymmetric. NaN in a row makes its scale NaN (the row's outputs are NaN, as in f32).
// * QMIN..QMAX = -128..127 (8 bits) in every build and kernel: the kernels below compute the same
//   exact integer sums acc = Σ_t (qa - za)·W, so every kernel gives the same bits.
// * Kernel Q8_I16 (every build): A packed as i16 (qa - za) in [-255, 255] (tile of 4 rows: k group
//   g at 32·g, row r at 8·r, 4 values), so za is folded in and the epilogue's zero point is 0.
//   Micro-kernel: i32x4.dot_i16x8_s on sign-extended weights (XNNPACK's "dot16x2" idea, our
//   layout): a row's 4 k values broadcast to both halves (load64_splat) against 2 channels x 4 k
//   values gives per lane the sum over a k pair; 4 rows x 4 channels a tile, two accumulators per
//   row, the pairs folded at the end. Every product |w·a| <= 127·255 and a lane sums 2 of them:
//   exact; K <= 4096 keeps the i32 sums exact (127·255·4096 < 2^31).
// * Kernels Q8_DOT_U8 / Q8_DOT_S8 (relaxed build): i32x4.relaxed_dot_i8x16_i7x16_add_s(W, A, acc),
//   one instruction for 16 multiply-adds (vpdpbusd on x86 with AVX-VNNI, sdot on ARM). Its result
//   is implementation-defined when the second operand's top bit is set, so the first use probes it
//   (q8_kernel, as XNNPACK probes its engine) and picks the kernel exact under what it does:
//   - read as unsigned, no saturation (x86 AVX-VNNI): A as u8 qa + 128 in 0..255 (Q8_DOT_U8);
//   - read as signed (ARM sdot): A as i8 qa in -128..127 (Q8_DOT_S8);
//   - anything else (x86 without VNNI saturates pairs in pmaddubsw; V8 11.3's baseline compiler
//     returns wrong sums): Q8_I16, as the plain build.
//   A as bytes: tile of 4 rows, k group g at 16·g, row r at 4·r (4 values); the lanes of W's packed
//   half-panel are channels, 4 k values each: W's layout is the dot's. 4 rows x 8 channels a tile,
//   8 accumulators; the epilogue subtracts za'·wsum[j] (za' = za + 128 or za, exact in wrapping i32
//   arithmetic since the true sum fits). 7-bit activations (exact under every behaviour) were
//   measured before: worse sentence embeddings than transformers.js' q8 graph (docs/quantization.md).
// Row parameters at rq: 8 bytes per row, f32 sa then i32 the epilogue's zero point (0 for Q8_I16: za
// is folded into the packed values; za + 128 for Q8_DOT_U8, za for Q8_DOT_S8).
//
// ---- Epilogue ---------------------------------------------------------------------------------
// y = f32(acc)·(sa·sw[j]) (+ bias[j]) (+ R[i, j]), acc = Σ_t (qa - za)·W, then the activation per
// column panel (gemm.ts's activatePanel: the f32 path's arithmetic). act = -1 stores the exact
// integer sum acc (i32) instead: the tests compare it bit for bit with an integer reference.
import { activatePanel } from "./gemm";
import { ACT_LINEAR } from "./activations";

const QMIN: i32 = -128;
const QMAX: i32 = 127;

/** Bytes of packed A per k group of a 4-row tile: 4 rows x 4 values, i16 (Q8_I16). */
const A_GROUP: i32 = 32;
/** The same for the relaxed-dot kernels: 4 rows x 4 values, bytes. */
const A_GROUP8: i32 = 16;

/** Kernels (see the header): i16 dot (every build), relaxed dot on u8 or i8 activations. */
export const Q8_I16: i32 = 0;
export const Q8_DOT_U8: i32 = 1;
export const Q8_DOT_S8: i32 = 2;
let KERNEL: i32 = -1;

// The probe's operands (in memory, so that no optimizer can fold the relaxed dot): per lane 4 bytes
// of W (within ±127), 4 bytes of A (top bits set, pair sums past i16 in lanes 0 and 1), then the
// i32 addends.
const PROBE = memory.data<u8>([
  0x81, 0x81, 0x7f, 0x05, 0x7f, 0x7e, 0xfd, 0x00, 0x01, 0xff, 0x02, 0xfe, 0x9c, 0x32, 0x07, 0xf9,
  0xff, 0xc8, 0x80, 0x7f, 0xff, 0xfe, 0x01, 0x00, 0x80, 0x81, 0x82, 0x83, 0x03, 0xfa, 0x7f, 0x00,
  0xe8, 0x03, 0x00, 0x00, 0x18, 0xfc, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x15, 0xcd, 0x5b, 0x07,
]);

/**
 * The q8 kernel this instance runs (Q8_I16, Q8_DOT_U8 or Q8_DOT_S8), chosen at first use: the plain
 * build has only Q8_I16; the relaxed build probes its relaxed dot (see the header).
 */
export function q8_kernel(): i32 {
  if (KERNEL < 0) KERNEL = probeKernel();
  return KERNEL;
}

/**
 * Forces a kernel (tests: every kernel this engine can run exactly against the others). Returns 0
 * and changes nothing when this instance cannot run it exactly.
 */
export function q8_use_kernel(kernel: i32): i32 {
  const probed = probeKernel();
  if (kernel != Q8_I16 && kernel != probed) return 0;
  KERNEL = kernel;
  return 1;
}

// Lane `lane` of the probe's dot as an engine reading A unsigned (signed = false) or signed.
function probeLane(lane: i32, signed: bool): i32 {
  let sum = load<i32>(PROBE + 32 + ((<usize>lane) << 2));
  for (let j = 0; j < 4; j++) {
    const w = <i32>load<i8>(PROBE + <usize>(4 * lane + j));
    const a = signed
      ? <i32>load<i8>(PROBE + 16 + <usize>(4 * lane + j))
      : <i32>load<u8>(PROBE + 16 + <usize>(4 * lane + j));
    sum += w * a;
  }
  return sum;
}

function probeKernel(): i32 {
  if (!ASC_FEATURE_RELAXED_SIMD) return Q8_I16;
  const got = i32x4.relaxed_dot_i8x16_i7x16_add_s(
    v128.load(PROBE),
    v128.load(PROBE, 16),
    v128.load(PROBE, 32),
  );
  const g0 = i32x4.extract_lane(got, 0),
    g1 = i32x4.extract_lane(got, 1),
    g2 = i32x4.extract_lane(got, 2),
    g3 = i32x4.extract_lane(got, 3);
  const unsigned =
    g0 == probeLane(0, false) &&
    g1 == probeLane(1, false) &&
    g2 == probeLane(2, false) &&
    g3 == probeLane(3, false);
  const signed =
    g0 == probeLane(0, true) &&
    g1 == probeLane(1, true) &&
    g2 == probeLane(2, true) &&
    g3 == probeLane(3, true);
  if (unsigned) return Q8_DOT_U8;
  if (signed) return Q8_DOT_S8;
  return Q8_I16;
}

/** k rounded up to a multiple of 4. */
// @ts-ignore: decorator
@inline function padK(k: i32): i32 {
  return (k + 3) & ~3;
}

/** Bytes q8_pack_rows4 writes for m rows of k (for this instance's kernel). */
export function q8_packed_a_bytes(m: i32, k: i32): i32 {
  return ((m + 3) >> 2) * (padK(k) >> 2) * (q8_kernel() == Q8_I16 ? A_GROUP : A_GROUP8);
}

/** Bytes q8_pack_weights writes for n channels of k (sums and scales apart). */
export function q8_packed_w_bytes(n: i32, k: i32): i32 {
  return ((n + 7) >> 3) * 8 * padK(k);
}

/** Activation levels QMIN, QMAX of this build (for the tests and the loader). */
export function q8_qmin(): i32 {
  return QMIN;
}

/**
 * Packs W (int8 [n, k] row-major, values in [-127, 127]) at w into panels (see above) at out, and
 * writes wsum[j] = Σ_t W[j, t] (i32, 8·ceil(n/8) entries, zero past n) at sums.
 */
export function q8_pack_weights(n: i32, k: i32, w: usize, out: usize, sums: usize): void {
  const kp = padK(k);
  const panels = (n + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const dst = out + <usize>p * 8 * <usize>kp;
    for (let j = 0; j < 8; j++) {
      const row = p * 8 + j;
      // channel j of the panel: its 4 k values of group g at 32·g + 16·(j >> 2) + 4·(j & 3)
      const col = dst + ((<usize>(j >> 2)) << 4) + ((<usize>(j & 3)) << 2);
      let sum = 0;
      if (row < n) {
        const src = w + <usize>row * <usize>k;
        for (let t = 0; t < kp; t++) {
          const v: i32 = t < k ? <i32>load<i8>(src + <usize>t) : 0;
          sum += v;
          store<i8>(col + ((<usize>(t >> 2)) << 5) + <usize>(t & 3), <i8>v);
        }
      } else {
        for (let t = 0; t < kp; t++) store<i8>(col + ((<usize>(t >> 2)) << 5) + <usize>(t & 3), 0);
      }
      store<i32>(sums + ((<usize>row) << 2), sum);
    }
  }
}

// Loads n (1..4) floats at p (lanes past n are 0); reads nothing past n.
// @ts-ignore: decorator
@inline function load4(p: usize, n: i32): v128 {
  if (n >= 4) return v128.load(p);
  let v = f32x4.splat(0.0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

// Stores the first n (1..4) lanes of v at p.
// @ts-ignore: decorator
@inline function store4(p: usize, v: v128, n: i32): void {
  if (n >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

// One row's quantization parameters (see above); writes sa and the epilogue's zero point at rq.
// Returns the multiplier 1/sa and, through ZP, za.
let ZP: i32 = 0;
function rowParams(x: usize, k: i32, rq: usize): f32 {
  let lo = f32x4.splat(0.0),
    hi = f32x4.splat(0.0),
    nan = i32x4.splat(0);
  let t = 0;
  for (; t + 4 <= k; t += 4) {
    const v = v128.load(x + ((<usize>t) << 2));
    lo = f32x4.pmin(lo, v);
    hi = f32x4.pmax(hi, v);
    nan = v128.or(nan, f32x4.ne(v, v));
  }
  let l = min(
    min(f32x4.extract_lane(lo, 0), f32x4.extract_lane(lo, 1)),
    min(f32x4.extract_lane(lo, 2), f32x4.extract_lane(lo, 3)),
  );
  let h = max(
    max(f32x4.extract_lane(hi, 0), f32x4.extract_lane(hi, 1)),
    max(f32x4.extract_lane(hi, 2), f32x4.extract_lane(hi, 3)),
  );
  let bad = v128.any_true(nan);
  for (; t < k; t++) {
    const v = load<f32>(x + ((<usize>t) << 2));
    if (v < l) l = v;
    if (v > h) h = v;
    if (v != v) bad = true;
  }
  let s: f32 = (h - l) / <f32>(QMAX - QMIN);
  if (s == 0) s = 1;
  const inv: f32 = 1.0 / s;
  let z = <i32>nearest(<f32>QMIN - l * inv);
  z = max(QMIN, min(QMAX, z));
  if (bad) s = NaN;
  ZP = z;
  store<f32>(rq, s);
  // Q8_I16: za folded into the packed values; the byte kernels: za as the bytes are stored
  const kernel = q8_kernel();
  store<i32>(rq, kernel == Q8_I16 ? 0 : kernel == Q8_DOT_U8 ? z + 128 : z, 4);
  return inv;
}

/**
 * Quantizes rows [0, m) of A (f32, row stride lda floats) per row and packs them for
 * q8_gemm_packed at out (q8_packed_a_bytes(m, k) bytes; a last partial tile repeats its last row);
 * the rows' parameters at rq (8 bytes a row). k is padded to 4 with zero-valued entries.
 */
export function q8_pack_rows4(m: i32, k: i32, a: usize, lda: i32, out: usize, rq: usize): void {
  const ldaB = (<usize>lda) << 2;
  const groups = padK(k) >> 2;
  const kernel = q8_kernel();
  if (kernel != Q8_I16) {
    packRowsBytes(m, k, a, ldaB, out, rq, groups, kernel == Q8_DOT_U8 ? 128 : 0);
    return;
  }
  const tileB = <usize>groups * <usize>A_GROUP;
  const qmin = i32x4.splat(QMIN),
    qmax = i32x4.splat(QMAX);
  const tiles = (m + 3) >> 2;
  for (let i = 0; i < tiles * 4; i++) {
    const row = min(i, m - 1);
    const x = a + <usize>row * ldaB;
    const inv = rowParams(x, k, rq + ((<usize>row) << 3));
    const zp = i32x4.splat(ZP);
    const vinv = f32x4.splat(inv);
    // row i's slot in its tile
    const dst = out + <usize>(i >> 2) * tileB + <usize>((i & 3) * (A_GROUP >> 2));
    let t = 0;
    for (; t < k; t += 4) {
      const v = load4(x + ((<usize>t) << 2), k - t);
      let q = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, vinv)));
      q = i32x4.min_s(i32x4.max_s(i32x4.add(q, zp), qmin), qmax);
      if (k - t < 4) {
        // padding entries quantize 0 (= za): the weights there are 0 anyway
        const lanes = k - t;
        if (lanes < 4) q = i32x4.replace_lane(q, 3, ZP);
        if (lanes < 3) q = i32x4.replace_lane(q, 2, ZP);
        if (lanes < 2) q = i32x4.replace_lane(q, 1, ZP);
      }
      const d = dst + <usize>(t >> 2) * <usize>A_GROUP;
      const c = i32x4.sub(q, zp);
      v128.store64_lane(d, i16x8.narrow_i32x4_s(c, c), 0);
    }
  }
}

// q8_pack_rows4 for the byte kernels: qa + off stored as a byte (off 128: u8 0..255; 0: i8).
function packRowsBytes(
  m: i32,
  k: i32,
  a: usize,
  ldaB: usize,
  out: usize,
  rq: usize,
  groups: i32,
  off: i32,
): void {
  const tileB = <usize>groups * <usize>A_GROUP8;
  const qmin = i32x4.splat(QMIN + off),
    qmax = i32x4.splat(QMAX + off);
  const tiles = (m + 3) >> 2;
  for (let i = 0; i < tiles * 4; i++) {
    const row = min(i, m - 1);
    const x = a + <usize>row * ldaB;
    const inv = rowParams(x, k, rq + ((<usize>row) << 3));
    const zp = i32x4.splat(ZP + off);
    const vinv = f32x4.splat(inv);
    const dst = out + <usize>(i >> 2) * tileB + <usize>((i & 3) << 2);
    for (let t = 0; t < k; t += 4) {
      const v = load4(x + ((<usize>t) << 2), k - t);
      let q = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, vinv)));
      // padding entries (past k) meet zero weights: their value does not matter
      q = i32x4.min_s(i32x4.max_s(i32x4.add(q, zp), qmin), qmax);
      const h = i16x8.narrow_i32x4_s(q, q);
      const b = off ? i8x16.narrow_i16x8_u(h, h) : i8x16.narrow_i16x8_s(h, h);
      v128.store32_lane(dst + <usize>(t >> 2) * <usize>A_GROUP8, b, 0);
    }
  }
}

// The epilogue for one row and 4 channels (nc of them stored).
// @ts-ignore: decorator
@inline function finish(
  acc: v128,
  nc: i32,
  act: i32,
  rq: usize,
  sw: v128,
  bias: v128,
  c: usize,
  r: usize,
): void {
  if (act < 0) {
    store4(c, acc, nc);
    return;
  }
  let y = f32x4.mul(f32x4.convert_i32x4_s(acc), f32x4.mul(v128.load32_splat(rq), sw));
  y = f32x4.add(y, bias);
  if (r) y = f32x4.add(y, load4(r, nc));
  store4(c, y, nc);
}

// A tile of mr (1..4) rows x 4 channels (nc stored) over `groups` k groups.
// b: the panel's half (channels 0-3 or 4-7) of k group 0; 32 bytes a group.
// @ts-ignore: decorator
@inline function tilePlain(
  mr: i32,
  nc: i32,
  groups: i32,
  ap: usize,
  b: usize,
  rq: usize,
  sw: v128,
  bias: v128,
  c: usize,
  ldc: usize,
  r: usize,
  ldr: usize,
  act: i32,
): void {
  let c00 = i32x4.splat(0),
    c01 = c00,
    c10 = c00,
    c11 = c00,
    c20 = c00,
    c21 = c00,
    c30 = c00,
    c31 = c00;
  let p = ap,
    w = b;
  const end = ap + <usize>groups * 32;
  while (p < end) {
    const bw = v128.load(w);
    const b01 = i16x8.extend_low_i8x16_s(bw),
      b23 = i16x8.extend_high_i8x16_s(bw);
    let x = v128.load64_splat(p);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x, b01));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x, b23));
    x = v128.load64_splat(p, 8);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x, b01));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x, b23));
    x = v128.load64_splat(p, 16);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x, b01));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x, b23));
    x = v128.load64_splat(p, 24);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x, b01));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x, b23));
    p += 32;
    w += 32;
  }
  // lanes (c0 k01, c0 k23, c1 k01, c1 k23) and (c2 .., c3 ..) -> (c0, c1, c2, c3)
  const s0 = i32x4.add(
    v128.shuffle<i32>(c00, c01, 0, 2, 4, 6),
    v128.shuffle<i32>(c00, c01, 1, 3, 5, 7),
  );
  finish(s0, nc, act, rq, sw, bias, c, r);
  if (mr > 1) {
    const s1 = i32x4.add(
      v128.shuffle<i32>(c10, c11, 0, 2, 4, 6),
      v128.shuffle<i32>(c10, c11, 1, 3, 5, 7),
    );
    finish(s1, nc, act, rq + 8, sw, bias, c + ldc, r ? r + ldr : 0);
  }
  if (mr > 2) {
    const s2 = i32x4.add(
      v128.shuffle<i32>(c20, c21, 0, 2, 4, 6),
      v128.shuffle<i32>(c20, c21, 1, 3, 5, 7),
    );
    finish(s2, nc, act, rq + 16, sw, bias, c + 2 * ldc, r ? r + 2 * ldr : 0);
  }
  if (mr > 3) {
    const s3 = i32x4.add(
      v128.shuffle<i32>(c30, c31, 0, 2, 4, 6),
      v128.shuffle<i32>(c30, c31, 1, 3, 5, 7),
    );
    finish(s3, nc, act, rq + 24, sw, bias, c + 3 * ldc, r ? r + 3 * ldr : 0);
  }
}

// A tile of mr (1..4) rows x 8 channels (nr stored, 1..8) over `groups` k groups, byte kernels.
// b: the panel's k group 0 (32 bytes a group); ws: the panel's weight sums; sw, bias: its 8
// channels' scales and biases as two halves.
// @ts-ignore: decorator
@inline function tileDot(
  mr: i32,
  nr: i32,
  groups: i32,
  ap: usize,
  b: usize,
  rq: usize,
  ws0: v128,
  ws1: v128,
  sw0: v128,
  sw1: v128,
  bias0: v128,
  bias1: v128,
  c: usize,
  ldc: usize,
  r: usize,
  ldr: usize,
  act: i32,
): void {
  if (!ASC_FEATURE_RELAXED_SIMD) return;
  let c00 = i32x4.splat(0),
    c01 = c00,
    c10 = c00,
    c11 = c00,
    c20 = c00,
    c21 = c00,
    c30 = c00,
    c31 = c00;
  let p = ap,
    w = b;
  const end = ap + <usize>groups * A_GROUP8;
  while (p < end) {
    const w0 = v128.load(w),
      w1 = v128.load(w, 16);
    let x = v128.load32_splat(p);
    c00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, x, c00);
    c01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, x, c01);
    x = v128.load32_splat(p, 4);
    c10 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, x, c10);
    c11 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, x, c11);
    x = v128.load32_splat(p, 8);
    c20 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, x, c20);
    c21 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, x, c21);
    x = v128.load32_splat(p, 12);
    c30 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, x, c30);
    c31 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, x, c31);
    p += A_GROUP8;
    w += 32;
  }
  const nc0 = min(nr, 4),
    nc1 = nr - 4;
  // acc - za'·wsum: the exact sums of (qa - za)·W (wrapping i32 arithmetic, true result in range)
  let z = v128.load32_splat(rq, 4);
  finish(i32x4.sub(c00, i32x4.mul(z, ws0)), nc0, act, rq, sw0, bias0, c, r);
  if (nc1 > 0)
    finish(i32x4.sub(c01, i32x4.mul(z, ws1)), nc1, act, rq, sw1, bias1, c + 16, r ? r + 16 : 0);
  if (mr > 1) {
    z = v128.load32_splat(rq, 12);
    const c1 = c + ldc,
      r1 = r ? r + ldr : 0;
    finish(i32x4.sub(c10, i32x4.mul(z, ws0)), nc0, act, rq + 8, sw0, bias0, c1, r1);
    if (nc1 > 0)
      finish(
        i32x4.sub(c11, i32x4.mul(z, ws1)),
        nc1,
        act,
        rq + 8,
        sw1,
        bias1,
        c1 + 16,
        r1 ? r1 + 16 : 0,
      );
  }
  if (mr > 2) {
    z = v128.load32_splat(rq, 20);
    const c2 = c + 2 * ldc,
      r2 = r ? r + 2 * ldr : 0;
    finish(i32x4.sub(c20, i32x4.mul(z, ws0)), nc0, act, rq + 16, sw0, bias0, c2, r2);
    if (nc1 > 0)
      finish(
        i32x4.sub(c21, i32x4.mul(z, ws1)),
        nc1,
        act,
        rq + 16,
        sw1,
        bias1,
        c2 + 16,
        r2 ? r2 + 16 : 0,
      );
  }
  if (mr > 3) {
    z = v128.load32_splat(rq, 28);
    const c3 = c + 3 * ldc,
      r3 = r ? r + 3 * ldr : 0;
    finish(i32x4.sub(c30, i32x4.mul(z, ws0)), nc0, act, rq + 24, sw0, bias0, c3, r3);
    if (nc1 > 0)
      finish(
        i32x4.sub(c31, i32x4.mul(z, ws1)),
        nc1,
        act,
        rq + 24,
        sw1,
        bias1,
        c3 + 16,
        r3 ? r3 + 16 : 0,
      );
  }
}

// q8_gemm_packed for the byte kernels: 4 rows x 8 channels a tile.
function gemmDot(
  m: i32,
  n: i32,
  k: i32,
  ap: usize,
  rq: usize,
  w: usize,
  sw: usize,
  ws: usize,
  bias: usize,
  c: usize,
  ldcB: usize,
  r: usize,
  ldrB: usize,
  act: i32,
): void {
  const groups = padK(k) >> 2;
  const tileB = <usize>groups * <usize>A_GROUP8;
  const panelB = <usize>groups * 32;
  const zero = f32x4.splat(0.0);
  for (let j = 0; j < n; j += 8) {
    const nr = min(n - j, 8);
    const bp = w + <usize>(j >> 3) * panelB;
    const jB = (<usize>j) << 2;
    const cj = c + jB;
    const rj = r ? r + jB : 0;
    const sw0 = v128.load(sw + jB),
      sw1 = v128.load(sw + jB, 16);
    const ws0 = v128.load(ws + jB),
      ws1 = v128.load(ws + jB, 16);
    const b0 = bias ? v128.load(bias + jB) : zero,
      b1 = bias ? v128.load(bias + jB, 16) : zero;
    let i = 0,
      t: usize = ap;
    for (; i + 4 <= m; i += 4) {
      tileDot(
        4,
        nr,
        groups,
        t,
        bp,
        rq + ((<usize>i) << 3),
        ws0,
        ws1,
        sw0,
        sw1,
        b0,
        b1,
        cj + <usize>i * ldcB,
        ldcB,
        rj ? rj + <usize>i * ldrB : 0,
        ldrB,
        act,
      );
      t += tileB;
    }
    if (i < m)
      tileDot(
        m - i,
        nr,
        groups,
        t,
        bp,
        rq + ((<usize>i) << 3),
        ws0,
        ws1,
        sw0,
        sw1,
        b0,
        b1,
        cj + <usize>i * ldcB,
        ldcB,
        rj ? rj + <usize>i * ldrB : 0,
        ldrB,
        act,
      );
    if (act > ACT_LINEAR) activatePanel(act, m, nr, cj, ldcB);
  }
}

/**
 * C[m, n] = act(dequantized A·Wᵀ + bias (+ R)) (see the header). A packed by q8_pack_rows4 at ap
 * with its row parameters at rq; W packed by q8_pack_weights at w (panels 8·kp bytes apart), its
 * scales (f32) at sw, readable up to a multiple of 8 entries (ws, its sums, is not read by this
 * kernel: it is there for zero-point kernels); bias (may be
 * 0) likewise. ldc/ldr in floats; r may be 0 or C. act as in activations.ts, -1: the i32 sums.
 */
export function q8_gemm_packed(
  m: i32,
  n: i32,
  k: i32,
  ap: usize,
  rq: usize,
  w: usize,
  sw: usize,
  ws: usize,
  bias: usize,
  c: usize,
  ldc: i32,
  r: usize,
  ldr: i32,
  act: i32,
): void {
  const ldcB = (<usize>ldc) << 2,
    ldrB = (<usize>ldr) << 2;
  if (ASC_FEATURE_RELAXED_SIMD && q8_kernel() != Q8_I16) {
    gemmDot(m, n, k, ap, rq, w, sw, ws, bias, c, ldcB, r, ldrB, act);
    return;
  }
  const groups = padK(k) >> 2;
  const tileB = <usize>groups * <usize>A_GROUP;
  const panelB = <usize>groups * 32;
  const zero = f32x4.splat(0.0);
  for (let j = 0; j < n; j += 8) {
    const nr = min(n - j, 8);
    const bp = w + <usize>(j >> 3) * panelB;
    const jB = (<usize>j) << 2;
    const cj = c + jB;
    const rj = r ? r + jB : 0;
    {
      for (let h = 0; h < 2; h++) {
        const nc = min(nr - 4 * h, 4);
        if (nc <= 0) break;
        const hB = (<usize>h) << 4;
        const swh = v128.load(sw + jB + hB);
        const bh = bias ? v128.load(bias + jB + hB) : zero;
        let i = 0,
          t: usize = ap;
        for (; i + 4 <= m; i += 4) {
          tilePlain(
            4,
            nc,
            groups,
            t,
            bp + hB,
            rq + ((<usize>i) << 3),
            swh,
            bh,
            cj + hB + <usize>i * ldcB,
            ldcB,
            rj ? rj + hB + <usize>i * ldrB : 0,
            ldrB,
            act,
          );
          t += tileB;
        }
        if (i < m)
          tilePlain(
            m - i,
            nc,
            groups,
            t,
            bp + hB,
            rq + ((<usize>i) << 3),
            swh,
            bh,
            cj + hB + <usize>i * ldcB,
            ldcB,
            rj ? rj + hB + <usize>i * ldrB : 0,
            ldrB,
            act,
          );
      }
    }
    if (act > ACT_LINEAR) activatePanel(act, m, nr, cj, ldcB);
  }
}

// ---- Load time: weights quantized tensor by tensor; int8 embedding rows -----------------------

/**
 * Quantizes rows [0, rows) of a [rows, k] f32 matrix at src into int8 at q and one f32 scale per row
 * at scales, as src/quant/quantize.ts's quantizeRows (docs/quantization.md): scale = f32(max|w|/127)
 * (1 for an all-zero row; the smallest positive f32 if it underflows to 0), q = clamp(round half
 * even(w/scale in f64), -127, 127). Returns the index of the first row with a non-finite weight
 * (nothing is written from it on), or -1.
 */
export function q8_quantize_rows(rows: i32, k: i32, src: usize, q: usize, scales: usize): i32 {
  for (let r = 0; r < rows; r++) {
    const x = src + ((<usize>r * <usize>k) << 2);
    let m: f32 = 0;
    for (let t = 0; t < k; t++) {
      const a = abs(load<f32>(x + ((<usize>t) << 2)));
      if (!(a <= F32.MAX_VALUE)) return r;
      if (a > m) m = a;
    }
    let s: f32 = m == 0 ? 1 : <f32>(<f64>m / 127.0);
    if (s == 0) s = F32.MIN_VALUE;
    store<f32>(scales + ((<usize>r) << 2), s);
    const d = q + <usize>r * <usize>k;
    const sd = <f64>s;
    for (let t = 0; t < k; t++) {
      const v = nearest(<f64>load<f32>(x + ((<usize>t) << 2)) / sd);
      store<i8>(d + <usize>t, <i8>(<i32>max(-127.0, min(127.0, v))));
    }
  }
  return -1;
}

/** out[r, :] = scales[ids[r]]·table[ids[r], :] (int8 [vocab, h] rows, f32 out): the q8 gather. */
export function q8_gather_rows(
  rows: i32,
  h: i32,
  table: usize,
  scales: usize,
  ids: usize,
  out: usize,
): void {
  for (let r = 0; r < rows; r++) {
    const v = <usize>load<i32>(ids + ((<usize>r) << 2));
    const s = load<f32>(scales + (v << 2));
    const src = table + v * <usize>h;
    const o = out + ((<usize>r * <usize>h) << 2);
    const vs = f32x4.splat(s);
    let j = 0;
    for (; j + 4 <= h; j += 4) {
      const w = i32x4.extend_low_i16x8_s(
        i16x8.extend_low_i8x16_s(v128.load32_zero(src + <usize>j)),
      );
      v128.store(o + ((<usize>j) << 2), f32x4.mul(f32x4.convert_i32x4_s(w), vs));
    }
    for (; j < h; j++) store<f32>(o + ((<usize>j) << 2), <f32>load<i8>(src + <usize>j) * s);
  }
}

/**
 * out[r, :] = sw[v]·W[v, :] for v = ids[r], W (int8 [n, k]) read from its packed panels
 * (q8_pack_weights) with its channel scales sw: a tied MLM decoder's weight read as the word
 * embeddings (one int8 copy of the table). The same values as q8_gather_rows on the unpacked rows.
 */
export function q8_gather_packed_rows(
  rows: i32,
  k: i32,
  w: usize,
  sw: usize,
  ids: usize,
  out: usize,
): void {
  const panelB = (<usize>padK(k)) << 3;
  for (let r = 0; r < rows; r++) {
    const v = <usize>load<i32>(ids + ((<usize>r) << 2));
    const s = load<f32>(sw + (v << 2));
    // channel v: panel v >> 3, half (v >> 2) & 1 at 16 bytes, 4 bytes a channel in its half
    const src = w + (v >> 3) * panelB + (((v >> 2) & 1) << 4) + ((v & 3) << 2);
    const o = out + ((<usize>r * <usize>k) << 2);
    const vs = f32x4.splat(s);
    let t = 0;
    for (; t + 4 <= k; t += 4) {
      const q = i32x4.extend_low_i16x8_s(
        i16x8.extend_low_i8x16_s(v128.load32_zero(src + ((<usize>t) << 3))),
      );
      v128.store(o + ((<usize>t) << 2), f32x4.mul(f32x4.convert_i32x4_s(q), vs));
    }
    for (; t < k; t++)
      store<f32>(
        o + ((<usize>t) << 2),
        <f32>load<i8>(src + ((<usize>(t >> 2)) << 5) + <usize>(t & 3)) * s,
      );
  }
}
