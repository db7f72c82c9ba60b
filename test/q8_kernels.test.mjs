// The low-precision GEMM kernels (assembly/gemm_q8.ts, assembly/gemm_f16.ts) against references
// on fresh seeded-random data at odd and round sizes:
// - the activations' per-row quantization: every parameter and every packed value equal to a
//   JavaScript replay of the documented f32 formula;
// - the int8 GEMM's integer sums bit for bit against an exact integer reference;
// - the epilogue (dequantization, bias, residual, activation) against float64 of the same integers,
//   with a stated tolerance, and the whole GEMM against float64 of the unquantized product within
//   the quantization's own bound;
// - a GEMM split the way the thread pool splits it (column panels, row tiles) equal to one call;
// - fp16: the widening exact for all 65536 halves, the fp16 GEMM the same bits as the f32 GEMM on
//   the widened weights.
// Builds: plain always; relaxed in this process when the runtime validates relaxed SIMD, else in a
// child Node with --experimental-wasm-relaxed-simd (Node 20).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { rng, erf } from "./support/numeric.mjs";

const U = 2 ** -24;
const BUILD = new URL("../build/", import.meta.url);
const WANT = (process.env.SIMDBERT_Q8_BUILDS ?? "plain,relaxed").split(",");

function canRelaxed() {
  try {
    new WebAssembly.Module(readFileSync(new URL("simdbert-relaxed.wasm", BUILD)));
    return true;
  } catch {
    return false;
  }
}

const KERNELS = ["i16 dot", "relaxed dot u8", "relaxed dot i8"];

/** An instance of a build; `kernel` forces its q8 kernel (else the one it picks). */
function instance(file, kernel) {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536 });
  const mod = new WebAssembly.Module(readFileSync(new URL(file, BUILD)));
  const k = new WebAssembly.Instance(mod, { env: { memory } }).exports;
  if (kernel !== undefined && k.q8_use_kernel(kernel) !== 1)
    throw new Error(`${file}: q8 kernel ${kernel} refused`);
  let top = Math.ceil(k.heap_base() / 64) * 64;
  return {
    name: `${file.includes("relaxed") ? "relaxed" : "plain"} (${KERNELS[k.q8_kernel()]})`,
    k,
    memory,
    reset() {
      top = Math.ceil(k.heap_base() / 64) * 64;
    },
    /** bytes, 64-aligned, followed by 64 bytes of slack */
    alloc(bytes) {
      const p = top;
      top = Math.ceil((p + bytes + 64) / 64) * 64;
      if (top > memory.buffer.byteLength)
        memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536));
      return p;
    },
    get f32() {
      return new Float32Array(memory.buffer);
    },
    get i32() {
      return new Int32Array(memory.buffer);
    },
    get i8() {
      return new Int8Array(memory.buffer);
    },
    get u8() {
      return new Uint8Array(memory.buffer);
    },
    get i16() {
      return new Int16Array(memory.buffer);
    },
    get u16() {
      return new Uint16Array(memory.buffer);
    },
  };
}

// the plain build; the relaxed build with the kernel it picks and, when that is a relaxed-dot
// kernel, with the i16 kernel too (the same exact sums: the same bits)
const builds = [];
if (WANT.includes("plain")) builds.push(instance("simdbert.wasm"));
if (WANT.includes("relaxed") && canRelaxed()) {
  const picked = instance("simdbert-relaxed.wasm");
  builds.push(picked);
  if (picked.k.q8_kernel() !== 0) builds.push(instance("simdbert-relaxed.wasm", 0));
}
const relaxedInChild = WANT.includes("plain") && WANT.includes("relaxed") && !canRelaxed();

const fr = Math.fround;
/** round to nearest, ties to even (f32.nearest on an f32 value) */
function nearest(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The documented quantization of one row, replayed in f32: { s, z, q[] } */
function quantizeRow(x, qmin, qmax) {
  let l = 0,
    h = 0;
  for (const v of x) {
    if (v < l) l = v;
    if (v > h) h = v;
  }
  let s = fr(fr(h - l) / (qmax - qmin));
  if (s === 0) s = 1;
  const inv = fr(1 / s);
  let z = nearest(fr(qmin - fr(l * inv)));
  z = Math.max(qmin, Math.min(qmax, z));
  const q = x.map((v) => Math.max(qmin, Math.min(qmax, nearest(fr(v * inv)) + z)));
  return { s, z, q };
}

/** Random activations with varied rows: mixed signs, all positive, all negative, zeros, an outlier. */
function activations(r, m, k) {
  const a = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    const kind = i % 5;
    const amp = 0.1 + 4 * r();
    for (let t = 0; t < k; t++) {
      let v = (r() * 2 - 1) * amp;
      if (kind === 1) v = Math.abs(v) + 0.01;
      if (kind === 2) v = -Math.abs(v) - 0.01;
      if (kind === 3 && i === 3) v = 0; // one all-zero row
      a[i * k + t] = v;
    }
    if (kind === 4) a[i * k + Math.floor(r() * k)] = -12 * amp; // an outlier
  }
  return a;
}

/** Lays out an int8 weight W [n, k] with scales, packs it; returns offsets. */
function packWeights(b, r, n, k) {
  const W = new Int8Array(n * k);
  for (let i = 0; i < n * k; i++) W[i] = Math.floor(r() * 255) - 127; // -127..127
  const npad = Math.ceil(n / 8) * 8;
  const sw = new Float32Array(npad);
  for (let j = 0; j < n; j++) sw[j] = fr(0.001 + 0.02 * r());
  const w = b.alloc(n * k);
  b.i8.set(W, w);
  const packed = b.alloc(b.k.q8_packed_w_bytes(n, k));
  const sums = b.alloc(npad * 4);
  const scales = b.alloc(npad * 4);
  b.f32.set(sw, scales / 4);
  b.k.q8_pack_weights(n, k, w, packed, sums);
  return { W, sw, packed, sums, scales, npad };
}

const SHAPES = [
  // m, n, k
  [13, 17, 100],
  [17, 13, 13],
  [100, 17, 17],
  [1, 1, 1],
  [4, 8, 4],
  [5, 9, 3],
  [128, 64, 384],
  [16, 40, 1536],
  [7, 24, 4096],
];

for (const b of builds) {
  test(`${b.name}: per-row quantization and packing of A equal the documented f32 formula`, () => {
    const qmin = b.k.q8_qmin();
    assert.is(qmin, -128); // every build and kernel: 8-bit activations
    const kernel = b.k.q8_kernel();
    if (!b.name.startsWith("relaxed")) assert.is(kernel, 0, "the plain build's kernel");
    // the byte kernels store qa + off (u8 or i8) with the zero point za + off; the i16 kernel qa - za
    const off = kernel === 1 ? 128 : 0;
    const r = rng(17);
    for (const [m, , k] of SHAPES) {
      b.reset();
      const A = activations(r, m, k);
      const a = b.alloc(m * k * 4),
        rq = b.alloc(m * 8),
        ap = b.alloc(b.k.q8_packed_a_bytes(m, k));
      b.f32.set(A, a / 4);
      b.k.q8_pack_rows4(m, k, a, k, ap, rq);
      const kp = Math.ceil(k / 4) * 4;
      for (let i = 0; i < m; i++) {
        const { s, z, q } = quantizeRow(A.subarray(i * k, (i + 1) * k), qmin, 127);
        assert.is(b.f32[rq / 4 + 2 * i], s, `row ${i} scale (${m}x${k})`);
        const zp = kernel === 0 ? 0 : z + off;
        assert.is(b.i32[rq / 4 + 2 * i + 1], zp, `row ${i} zero point`);
        const tile = Math.floor(i / 4),
          slot = i % 4;
        for (let t = 0; t < kp; t++) {
          const g = t >> 2;
          const got =
            kernel === 0
              ? b.i16[(ap + tile * (kp / 4) * 32 + g * 32 + slot * 8 + 2 * (t & 3)) / 2]
              : (off ? b.u8 : b.i8)[ap + tile * (kp / 4) * 16 + g * 16 + slot * 4 + (t & 3)];
          // past k: 0 (i16); any byte (the weights there are 0)
          const want = t < k ? (kernel === 0 ? q[t] - z : q[t] + off) : kernel === 0 ? 0 : got;
          if (got !== want)
            assert.unreachable(`${m}x${k} row ${i} k ${t}: packed ${got}, want ${want}`);
        }
      }
    }
  });

  test(`${b.name}: int8 GEMM integer sums bit for bit against an integer reference`, () => {
    const r = rng(29);
    const qmin = b.k.q8_qmin();
    for (const [m, n, k] of SHAPES) {
      b.reset();
      const { W, packed, sums, scales } = packWeights(b, r, n, k);
      const A = activations(r, m, k);
      const a = b.alloc(m * k * 4),
        rq = b.alloc(m * 8),
        ap = b.alloc(b.k.q8_packed_a_bytes(m, k));
      const ldc = n + 3;
      const c = b.alloc(m * ldc * 4);
      b.f32.set(A, a / 4);
      b.i32.fill(0x7fc0dead, c / 4, c / 4 + m * ldc);
      b.k.q8_pack_rows4(m, k, a, k, ap, rq);
      b.k.q8_gemm_packed(m, n, k, ap, rq, packed, scales, sums, 0, c, ldc, 0, 0, -1);
      const i32 = b.i32;
      for (let i = 0; i < m; i++) {
        const { z, q } = quantizeRow(A.subarray(i * k, (i + 1) * k), qmin, 127);
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let t = 0; t < k; t++) acc += W[j * k + t] * (q[t] - z);
          const got = i32[c / 4 + i * ldc + j];
          if (got !== acc) assert.unreachable(`${m}x${n}x${k} (${i}, ${j}): ${got}, want ${acc}`);
        }
        for (let j = n; j < ldc; j++)
          assert.is(i32[c / 4 + i * ldc + j], 0x7fc0dead, `gap (${i}, ${j}) written`);
      }
    }
  });

  test(`${b.name}: epilogue (dequantization, bias, residual, GELU) against float64`, () => {
    const r = rng(41);
    const qmin = b.k.q8_qmin();
    let worst = 0,
      worstQ = 0;
    for (const [m, n, k] of SHAPES) {
      for (const act of [0, 1]) {
        b.reset();
        const { W, sw, packed, sums, scales, npad } = packWeights(b, r, n, k);
        const A = activations(r, m, k);
        const bias = new Float32Array(npad);
        for (let j = 0; j < n; j++) bias[j] = fr(r() * 2 - 1);
        const R = new Float32Array(m * n);
        for (let i = 0; i < m * n; i++) R[i] = fr(r() * 4 - 2);
        const a = b.alloc(m * k * 4),
          rq = b.alloc(m * 8),
          ap = b.alloc(b.k.q8_packed_a_bytes(m, k)),
          bp = b.alloc(npad * 4),
          c = b.alloc(m * n * 4);
        b.f32.set(A, a / 4);
        b.f32.set(bias, bp / 4);
        b.f32.set(R, c / 4); // R is C: the in-place residual of BertOutput
        b.k.q8_pack_rows4(m, k, a, k, ap, rq);
        b.k.q8_gemm_packed(m, n, k, ap, rq, packed, scales, sums, bp, c, n, act ? 0 : c, n, act);
        const f32 = b.f32;
        for (let i = 0; i < m; i++) {
          const { s, z, q } = quantizeRow(A.subarray(i * k, (i + 1) * k), qmin, 127);
          for (let j = 0; j < n; j++) {
            let acc = 0,
              exact = 0,
              mag = 0;
            for (let t = 0; t < k; t++) {
              acc += W[j * k + t] * (q[t] - z);
              exact += sw[j] * W[j * k + t] * A[i * k + t];
              mag += Math.abs(sw[j] * W[j * k + t]);
            }
            const res = act ? 0 : R[i * n + j];
            const pre = acc * s * sw[j] + bias[j] + res;
            const ref = act ? gelu(pre) : pre;
            const got = f32[c / 4 + i * n + j];
            // f32 steps: acc -> f32 (rel u), sa·sw (u), the product (u), + bias (u), + R (u): each a
            // relative u of what it rounds, bounded by 4u·(|acc·sa·sw| + |bias| + |R|) + u·|pre|;
            // GELU: |gelu'| <= 1.13 carries that, plus its own 2 ulp (math.ts)
            const scale = Math.abs(acc * s * sw[j]) + Math.abs(bias[j]) + Math.abs(res);
            const tol = 1.13 * (5 * U * scale) + 4 * U * Math.abs(ref) + 1e-30;
            const err = Math.abs(got - ref);
            if (!(err <= tol))
              assert.unreachable(
                `${m}x${n}x${k} act ${act} (${i}, ${j}): ${got}, want ${ref} (err ${err}, tol ${tol})`,
              );
            worst = Math.max(worst, err / tol);
            // against the unquantized product: each activation is off by at most one step sa
            // (half a step of rounding, half a step if the zero point's rounding clamps an end)
            if (!act) {
              const qErr = Math.abs(got - (exact + bias[j] + res));
              const qTol = mag * s + 8 * U * (Math.abs(exact) + scale);
              if (!(qErr <= qTol))
                assert.unreachable(
                  `${m}x${n}x${k} (${i}, ${j}): ${got} vs unquantized ${exact + bias[j] + res}: ${qErr} > ${qTol}`,
                );
              worstQ = Math.max(worstQ, qErr / qTol);
            }
          }
        }
      }
    }
    console.log(
      `  ${b.name}: epilogue worst err/tol ${worst.toPrecision(3)}; quantization worst err/bound ${worstQ.toPrecision(3)}`,
    );
  });

  test(`${b.name}: a GEMM split as the thread pool splits it gives the same bits`, () => {
    const r = rng(53);
    for (const [m, n, k] of [
      [37, 100, 96],
      [13, 17, 100],
      [128, 384, 64],
    ]) {
      b.reset();
      const { packed, sums, scales, npad } = packWeights(b, r, n, k);
      const A = activations(r, m, k);
      const a = b.alloc(m * k * 4),
        rq = b.alloc(m * 8),
        ap = b.alloc(b.k.q8_packed_a_bytes(m, k)),
        bp = b.alloc(npad * 4),
        c1 = b.alloc(m * n * 4),
        c2 = b.alloc(m * n * 4),
        c3 = b.alloc(m * n * 4);
      b.f32.set(A, a / 4);
      for (let j = 0; j < n; j++) b.f32[bp / 4 + j] = r() - 0.5;
      b.k.q8_pack_rows4(m, k, a, k, ap, rq);
      b.k.q8_gemm_packed(m, n, k, ap, rq, packed, scales, sums, bp, c1, n, 0, 0, 1);
      // by column panels (3 tasks)
      const panels = Math.ceil(n / 8),
        kp = Math.ceil(k / 4) * 4;
      for (let t = 0; t < 3; t++) {
        const p0 = Math.floor((t * panels) / 3),
          p1 = Math.floor(((t + 1) * panels) / 3);
        const n0 = p0 * 8,
          n1 = Math.min(p1 * 8, n);
        if (n1 <= n0) continue;
        b.k.q8_gemm_packed(
          m,
          n1 - n0,
          k,
          ap,
          rq,
          packed + p0 * 8 * kp,
          scales + 4 * n0,
          sums + 4 * n0,
          bp + 4 * n0,
          c2 + 4 * n0,
          n,
          0,
          0,
          1,
        );
      }
      // by row tiles (3 tasks), each quantizing its own rows
      const tiles = Math.ceil(m / 4);
      for (let t = 0; t < 3; t++) {
        const m0 = Math.floor((t * tiles) / 3) * 4,
          m1 = Math.min(Math.floor(((t + 1) * tiles) / 3) * 4, m);
        if (m1 <= m0) continue;
        b.k.q8_pack_rows4(m1 - m0, k, a + 4 * m0 * k, k, ap, rq);
        b.k.q8_gemm_packed(
          m1 - m0,
          n,
          k,
          ap,
          rq,
          packed,
          scales,
          sums,
          bp,
          c3 + 4 * m0 * n,
          n,
          0,
          0,
          1,
        );
      }
      const i32 = b.i32;
      for (let i = 0; i < m * n; i++) {
        if (i32[c2 / 4 + i] !== i32[c1 / 4 + i])
          assert.unreachable(`by panels: element ${i} differs`);
        if (i32[c3 / 4 + i] !== i32[c1 / 4 + i])
          assert.unreachable(`by rows: element ${i} differs`);
      }
    }
  });

  test(`${b.name}: f16 widening exact for every half`, () => {
    b.reset();
    const src = b.alloc(65536 * 2),
      out = b.alloc(65536 * 4);
    const u16 = b.u16;
    for (let h = 0; h < 65536; h++) u16[src / 2 + h] = h;
    b.k.f16_widen(65536, src, out);
    const f32 = b.f32,
      u32 = new Uint32Array(b.memory.buffer);
    for (let h = 0; h < 65536; h++) {
      const want = halfToFloat(h);
      const got = f32[out / 4 + h];
      if (Number.isNaN(want)) {
        // NaN: f32's quiet bit pattern of the half's payload
        const bits = u32[out / 4 + h];
        const wantBits = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
        if (bits >>> 0 !== wantBits >>> 0) assert.unreachable(`half ${h}: bits ${bits}`);
      } else if (!Object.is(got, want)) assert.unreachable(`half ${h}: ${got}, want ${want}`);
    }
  });

  test(`${b.name}: fp16 GEMM equals the f32 GEMM on the widened weights (bits)`, () => {
    const r = rng(67);
    for (const [m, n, k] of SHAPES) {
      for (const act of [0, 1]) {
        b.reset();
        const npad = Math.ceil(n / 8) * 8;
        const w16 = b.alloc(n * k * 2),
          w32 = b.alloc(n * k * 4),
          p16 = b.alloc(npad * k * 2),
          p32 = b.alloc(npad * k * 4),
          a = b.alloc(m * k * 4),
          ap = b.alloc(Math.ceil(m / 4) * 16 * k),
          bias = b.alloc(npad * 4),
          scratch = b.alloc(32 * k),
          c1 = b.alloc(m * n * 4),
          c2 = b.alloc(m * n * 4);
        const u16 = b.u16;
        for (let i = 0; i < n * k; i++) {
          let h = Math.floor(r() * 0x7c00) | (r() < 0.5 ? 0x8000 : 0);
          if ((h & 0x7fff) > 0x5800) h &= 0x87ff; // |w| < 2^7: keeps sums finite
          u16[w16 / 2 + i] = h;
        }
        b.k.f16_to_f32(n * k, w16, w32);
        b.k.f16_pack_panels8(n, k, w16, p16);
        b.k.f32_pack_panels8(n, k, w32, p32);
        const f32 = b.f32;
        for (let i = 0; i < m * k; i++) f32[a / 4 + i] = r() * 2 - 1;
        for (let j = 0; j < npad; j++) f32[bias / 4 + j] = j < n ? r() - 0.5 : 0;
        for (let i = 0; i < m * n; i++) f32[c1 / 4 + i] = f32[c2 / 4 + i] = r() - 0.5;
        b.k.f32_pack_rows4(m, k, a, k, ap);
        b.k.f32_gemm_4x8_packed(m, n, k, ap, p32, 32 * k, bias, c1, n, c1, n, act);
        b.k.f16_gemm_4x8_packed(m, n, k, ap, p16, bias, c2, n, c2, n, act, scratch);
        const i32 = b.i32;
        for (let i = 0; i < m * n; i++)
          if (i32[c1 / 4 + i] !== i32[c2 / 4 + i])
            assert.unreachable(`${m}x${n}x${k} act ${act}: element ${i} differs`);
      }
    }
  });
}

// Every kernel computes the same exact sums, so the same bits come out: across kernels of one build
// with any epilogue; across builds without GELU (the relaxed build's GELU fuses multiply-adds).
test("q8 kernels and builds give the same bits", () => {
  if (builds.length < 2) return;
  const r = rng(83);
  for (const [m, n, k] of SHAPES) {
    const W = new Int8Array(n * k).map(() => Math.floor(r() * 255) - 127);
    const A = activations(r, m, k);
    const npad = Math.ceil(n / 8) * 8;
    const sw = Float32Array.from({ length: npad }, (_, j) => (j < n ? fr(0.001 + 0.02 * r()) : 0));
    const bias = Float32Array.from({ length: npad }, (_, j) => (j < n ? fr(r() - 0.5) : 0));
    for (const act of [0, 1]) {
      const outs = builds.map((b) => {
        b.reset();
        const w = b.alloc(n * k),
          packed = b.alloc(b.k.q8_packed_w_bytes(n, k)),
          sums = b.alloc(npad * 4),
          scales = b.alloc(npad * 4),
          bp = b.alloc(npad * 4),
          a = b.alloc(m * k * 4),
          rq = b.alloc(m * 8),
          ap = b.alloc(b.k.q8_packed_a_bytes(m, k)),
          c = b.alloc(m * n * 4);
        b.i8.set(W, w);
        b.f32.set(sw, scales / 4);
        b.f32.set(bias, bp / 4);
        b.f32.set(A, a / 4);
        b.k.q8_pack_weights(n, k, w, packed, sums);
        b.k.q8_pack_rows4(m, k, a, k, ap, rq);
        b.k.q8_gemm_packed(m, n, k, ap, rq, packed, scales, sums, bp, c, n, 0, 0, act);
        return Int32Array.from(b.i32.subarray(c / 4, c / 4 + m * n));
      });
      const file = (b) => b.name.split(" ")[0];
      for (let x = 1; x < builds.length; x++) {
        const ref = act === 0 ? 0 : builds.findIndex((b) => file(b) === file(builds[x]));
        if (ref === x) continue;
        for (let i = 0; i < m * n; i++)
          if (outs[x][i] !== outs[ref][i])
            assert.unreachable(
              `${m}x${n}x${k} act ${act}: ${builds[x].name} and ${builds[ref].name} differ at ${i}`,
            );
      }
    }
  }
});

for (const b of builds) {
  test(`${b.name}: load-time weight quantization equals src/quant's formula; int8 gather`, () => {
    const r = rng(71);
    for (const [rows, k] of [
      [13, 100],
      [17, 13],
      [8, 384],
      [3, 1],
    ]) {
      b.reset();
      const W = new Float32Array(rows * k);
      for (let i = 0; i < W.length; i++) W[i] = (r() * 2 - 1) * (1 + 10 * (i % 7));
      W.fill(0, 0, k); // an all-zero row: scale 1
      if (rows > 2) for (let t = 0; t < k; t++) W[2 * k + t] = (t % 2 ? 1 : -1) * 2 ** -140; // subnormals
      if (rows > 4) W[4 * k] = 127 * 0.5; // exact ties: w/scale = ±x.5 somewhere in the row
      const src = b.alloc(rows * k * 4),
        q = b.alloc(rows * k),
        sc = b.alloc(rows * 4);
      b.f32.set(W, src / 4);
      assert.is(b.k.q8_quantize_rows(rows, k, src, q, sc), -1);
      const i8 = b.i8,
        f32 = b.f32;
      for (let i = 0; i < rows; i++) {
        let m = 0;
        for (let t = 0; t < k; t++) m = Math.max(m, Math.abs(W[i * k + t]));
        let s = m === 0 ? 1 : fr(m / 127);
        if (s === 0) s = 2 ** -149;
        assert.is(f32[sc / 4 + i], s, `row ${i} scale`);
        for (let t = 0; t < k; t++) {
          const want = Math.max(-127, Math.min(127, nearest(W[i * k + t] / s)));
          if (i8[q + i * k + t] !== want)
            assert.unreachable(`(${i}, ${t}): ${i8[q + i * k + t]}, want ${want}`);
        }
      }
      // a non-finite weight: the row is named, nothing from it on is written
      b.f32[src / 4 + (rows - 1) * k] = NaN;
      assert.is(b.k.q8_quantize_rows(rows, k, src, q, sc), rows - 1);
      // the gather: ids in any order, repeated
      const ids = [rows - 1, 0, 1, rows - 1, Math.floor(rows / 2)];
      const ip = b.alloc(ids.length * 4),
        out = b.alloc(ids.length * k * 4);
      b.i32.set(ids, ip / 4);
      b.k.q8_gather_rows(ids.length, k, q, sc, ip, out);
      for (let j = 0; j < ids.length; j++)
        for (let t = 0; t < k; t++) {
          const want = fr(b.i8[q + ids[j] * k + t] * b.f32[sc / 4 + ids[j]]);
          if (b.f32[out / 4 + j * k + t] !== want) assert.unreachable(`gather (${j}, ${t})`);
        }
    }
  });
}

for (const b of builds) {
  test(`${b.name}: f32 -> f16 rounds to the nearest half (ties to even); f16 gather exact`, () => {
    b.reset();
    const r = rng(83);
    const xs = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      -65520,
      1e-8,
      2 ** -25,
      2 ** -24,
      3 * 2 ** -26,
    ];
    xs.push(
      Infinity,
      -Infinity,
      5.960464477539063e-8,
      6.097555160522461e-5,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
    );
    for (let i = 0; i < 4000; i++) xs.push(fr((r() * 2 - 1) * 2 ** (r() * 40 - 28)));
    const n = xs.length;
    const src = b.alloc(4 * n),
      out = b.alloc(2 * n);
    b.f32.set(xs, src / 4);
    b.k.f32_to_f16(n, src, out);
    const u16 = b.u16;
    for (let i = 0; i < n; i++) {
      const x = b.f32[src / 4 + i];
      const h = u16[out / 2 + i];
      const y = halfToFloat(h);
      // no other half is closer; on a tie the even one; beyond the largest half (+ half an ulp): Inf
      if (Math.abs(x) >= 65520) {
        assert.is(y, x > 0 ? Infinity : -Infinity, `${x}`);
        continue;
      }
      if (x === 0) {
        assert.ok(Object.is(y, x), `${x}`);
        continue;
      }
      for (const nb of [h - 1, h + 1, h ^ 0x8000]) {
        const z = halfToFloat(nb & 0xffff);
        if (!Number.isFinite(z)) continue;
        const dy = Math.abs(y - x),
          dz = Math.abs(z - x);
        if (dz < dy || (dz === dy && (h & 1) === 1))
          assert.unreachable(`${x}: half ${y} (0x${h.toString(16)}), but ${z} is nearer or even`);
      }
    }
    const q = b.alloc(2),
      nan = b.alloc(4);
    b.f32[nan / 4] = NaN;
    b.k.f32_to_f16(1, nan, q);
    assert.ok(Number.isNaN(halfToFloat(b.u16[q / 2])), "NaN stays NaN");
    // gather: odd width, repeated ids
    const h = 13,
      rows = 5;
    const table = b.alloc(2 * 7 * h),
      ids = b.alloc(4 * rows),
      g = b.alloc(4 * rows * h);
    for (let i = 0; i < 7 * h; i++)
      b.u16[table / 2 + i] = Math.floor(r() * 0x7c00) | (i & 1 ? 0x8000 : 0);
    b.i32.set([6, 0, 3, 6, 1], ids / 4);
    b.k.f16_gather_rows(rows, h, table, ids, g);
    for (let j = 0; j < rows; j++)
      for (let t = 0; t < h; t++) {
        const v = b.i32[ids / 4 + j];
        assert.is(b.f32[g / 4 + j * h + t], halfToFloat(b.u16[table / 2 + v * h + t]));
      }
  });
}

function gelu(x) {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f,
    f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

test("relaxed-SIMD build (child with --experimental-wasm-relaxed-simd when needed)", () => {
  if (!relaxedInChild) return;
  const p = spawnSync(
    process.execPath,
    ["--experimental-wasm-relaxed-simd", fileURLToPath(import.meta.url)],
    { env: { ...process.env, SIMDBERT_Q8_BUILDS: "relaxed" }, encoding: "utf8" },
  );
  if (p.status !== 0 && /bad option/i.test(p.stderr)) {
    console.log("  note: relaxed SIMD unsupported by this runtime: relaxed build not tested");
    return;
  }
  if (p.status !== 0) assert.unreachable(`relaxed build failed:\n${p.stdout}\n${p.stderr}`);
  const lines = p.stdout
    .split("\n")
    .filter((l) => /relaxed .*: epilogue|Total|Passed|Skipped/.test(l));
  console.log(lines.join("\n"));
  assert.ok(/Passed:\s+\d+/.test(p.stdout), "the child ran no tests");
});

test.run();
