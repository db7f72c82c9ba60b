// Every WebAssembly kernel against a float64 JavaScript reference, on fresh seeded-random data
// (never zeros) at odd and round sizes, with a tolerance stated and justified next to each check,
// and guard bands of sentinel words around (and between the rows of) every output; every word of a
// test's buffers outside the output region (inputs, gaps, guards, slack) is compared before and
// after the call: a kernel that writes one float outside its output fails.
//
// Run: npm run build && npx uvu test kernels
// SIMDBERT_KERNEL_WASM=path/to.wasm SIMDBERT_KERNEL_BUILDS=plain node test/kernels.test.mjs runs the
// suite on a candidate build (e.g. one compiled from modified assembly/) in place of the plain one.
//
// Builds: the plain build always; the relaxed-SIMD build too when this runtime validates relaxed
// SIMD. When it does not (Node 20 needs --experimental-wasm-relaxed-simd), the last test re-runs
// this file in a child Node with that flag and only the relaxed build (SIMDBERT_KERNEL_BUILDS);
// if even that is impossible it prints a note and skips.
//
// Notation: u = 2^-24 (float32 unit roundoff), ulp(y) = spacing of float32 at |y|.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Engine, hasRelaxedSimd, ACTIVATIONS } from "../dist/index.js";
import { MHA_CONTEXT_BYTES, writeMhaContext } from "../dist/runtime/kernel_bindings.js";
import { rng, fillRandom, uniformNonZero, ulp32, U32, erf, erfc } from "./support/numeric.mjs";

const U = U32;
const F32_MIN = -3.4028234663852886e38; // torch.finfo(float32).min: HF's additive mask value
const SENTINEL = 0x7fc0dead | 0; // guard word: a NaN payload no kernel computes (and NaN if ever read)
const G = 16; // guard floats on each side of every buffer

// ---------------------------------------------------------------------------------------------
// Builds

const WANT = (process.env.SIMDBERT_KERNEL_BUILDS ?? "plain,relaxed").split(",");
const builds = [];
// SIMDBERT_KERNEL_WASM=path/to.wasm tests a candidate build in place of the plain one
const candidate = process.env.SIMDBERT_KERNEL_WASM;
if (WANT.includes("plain"))
  builds.push({
    name: candidate ? `plain ${candidate}` : "plain",
    engine: await Engine.create(candidate ? { wasm: candidate } : {}),
  });
if (WANT.includes("relaxed") && hasRelaxedSimd())
  builds.push({ name: "relaxed", engine: await Engine.create({ relaxedSimd: true }) });
for (const b of builds)
  if (!candidate)
    assert.is(
      b.engine.relaxed,
      b.name === "relaxed",
      `${b.name} build reports relaxed() = ${b.engine.relaxed}`,
    );
const relaxedInChild = WANT.includes("relaxed") && !hasRelaxedSimd() && WANT.includes("plain");
const CHILD_UNSUPPORTED = "simdbert-kernels: relaxed SIMD unsupported";
if (!WANT.includes("plain") && WANT.includes("relaxed") && !hasRelaxedSimd())
  console.log(CHILD_UNSUPPORTED);

/** Worst measured errors, printed at the end: what → build → { value, fmt }. */
const report = new Map();
function note(what, build, value, fmt = (v) => v.toPrecision(3)) {
  if (!report.has(what)) report.set(what, new Map());
  const byBuild = report.get(what);
  const prev = byBuild.get(build);
  if (!prev || value > prev.value) byBuild.set(build, { value, fmt });
}
const REPORT_TAG = "simdbert-kernels-report ";

// ---------------------------------------------------------------------------------------------
// Memory: buffers in the engine's arena, each with G sentinel words before and after.

/** Takes one buffer per entry of `counts` (floats); `misalign` shifts every buffer by that many
 * floats off the 64-byte alignment. Returns byte offsets. Every word, guards included, is set to
 * SENTINEL; callers write their inputs over it. */
function place(engine, counts, misalign = 0) {
  const arena = engine.arena();
  const offs = counts.map((n) => arena.take(n + 2 * G + misalign) + (G + misalign) * 4);
  arena.commit();
  const i32 = engine.i32;
  counts.forEach((n, b) => i32.fill(SENTINEL, offs[b] / 4 - G, offs[b] / 4 + n + G));
  return offs;
}

/** Asserts that the G words before and after [off, off + 4n) still hold SENTINEL. */
function assertGuards(engine, off, n, what) {
  const i32 = engine.i32;
  const p = off / 4;
  for (let i = 1; i <= G; i++) {
    if (i32[p - i] !== SENTINEL)
      assert.unreachable(`${what}: word ${-i} before the buffer was overwritten`);
    if (i32[p + n + i - 1] !== SENTINEL)
      assert.unreachable(`${what}: word ${i - 1} after the buffer was overwritten`);
  }
}

/** Asserts that row gaps (columns cols..ld-1 of each of `rows` rows) still hold SENTINEL. */
function assertGaps(engine, off, rows, cols, ld, what) {
  const i32 = engine.i32;
  for (let r = 0; r < rows; r++) {
    for (let j = cols; j < ld; j++) {
      if (i32[off / 4 + r * ld + j] !== SENTINEL)
        assert.unreachable(`${what}: gap word (${r}, ${j}) overwritten`);
    }
  }
}

/**
 * Runs call() and asserts that, of every word from the first buffer's guard to the last buffer's
 * (inputs, guards, gaps and the arena slack between buffers), only the output region — rows x
 * cols at out.off with row stride out.ld — changed.
 */
function writesOnly(engine, offs, counts, out, what, call) {
  const lo = Math.min(...offs.map((o) => o / 4 - G));
  const hi = Math.max(...offs.map((o, i) => o / 4 + counts[i] + G));
  const before = engine.i32.slice(lo, hi);
  call();
  const after = engine.i32;
  const base = out.off / 4;
  for (let w = lo; w < hi; w++) {
    if (after[w] === before[w - lo]) continue;
    const rel = w - base,
      r = Math.floor(rel / out.ld),
      c = rel - r * out.ld;
    if (rel >= 0 && r < out.rows && c < out.cols) continue;
    const owner = offs.findIndex((o, i) => w >= o / 4 - G && w < o / 4 + counts[i] + G);
    assert.unreachable(
      `${what}: word ${w - (owner >= 0 ? offs[owner] / 4 : 0)} of buffer #${owner} (outside the output) was written`,
    );
  }
}

/** Writes a [rows, cols] matrix with row stride ld; gap words become NaN (a kernel that reads them
 * into a result shows it). */
function writeMatrix(engine, off, m, rows, cols, ld) {
  const f32 = engine.f32;
  for (let r = 0; r < rows; r++) {
    f32.set(m.subarray(r * cols, (r + 1) * cols), off / 4 + r * ld);
    for (let j = cols; j < ld; j++) f32[off / 4 + r * ld + j] = NaN;
  }
}

function readMatrix(engine, off, rows, cols, ld) {
  const f32 = engine.f32;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    out.set(f32.subarray(off / 4 + r * ld, off / 4 + r * ld + cols), r * cols);
  return out;
}

const randomMatrix = (r, n, lo = -1, hi = 1) => fillRandom(new Float32Array(n), r, lo, hi);
const ceil8 = (n) => Math.ceil(n / 8) * 8;
const fmtE = (v) => v.toExponential(2);

/**
 * Compares got[i] with ref[i] (float64) under tol(i) (absolute); returns the worst err/tol ratio
 * and records it. Fails on the first element past its tolerance, naming it.
 */
function compare(got, ref, tol, what, scaleForReport) {
  let worst = 0,
    worstScaled = 0;
  for (let i = 0; i < ref.length; i++) {
    const g = got[i],
      e = ref[i];
    const err = Math.abs(g - e);
    const t = tol(i);
    if (!(err <= t))
      assert.unreachable(
        `${what}: element ${i}: got ${g}, expected ${e} (|err| ${fmtE(err)} > tol ${fmtE(t)})`,
      );
    if (t > 0) worst = Math.max(worst, err / t);
    if (scaleForReport) worstScaled = Math.max(worstScaled, err / scaleForReport(i));
  }
  return { worst, worstScaled };
}

const SMALL = [1, 2, 3, 5, 7, 8, 13, 17, 100];

// ---------------------------------------------------------------------------------------------
// f32_pack_panels8: exact layout

test("f32_pack_panels8: W[n, k] -> 8-row panels, zero padded past n, exact, nothing else written", () => {
  const r = rng(11);
  const sizes = [1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 100];
  for (const b of builds) {
    const e = b.engine;
    for (const n of sizes) {
      for (const k of [1, 2, 3, 7, 8, 13, 64]) {
        const w = randomMatrix(r, n * k);
        const packed = ceil8(n) * k;
        const [wp, out] = place(e, [n * k, packed]);
        e.f32.set(w, wp / 4);
        writesOnly(
          e,
          [wp, out],
          [n * k, packed],
          { off: out, rows: 1, cols: packed, ld: packed },
          `[${b.name}] pack n=${n} k=${k}`,
          () => e.k.f32_pack_panels8(n, k, wp, out),
        );
        const f32 = e.f32;
        for (let p = 0; p < ceil8(n) / 8; p++) {
          for (let kk = 0; kk < k; kk++) {
            for (let j = 0; j < 8; j++) {
              const row = p * 8 + j;
              const want = row < n ? w[row * k + kk] : 0;
              const got = f32[out / 4 + p * 8 * k + kk * 8 + j];
              if (!Object.is(got, want))
                assert.unreachable(
                  `[${b.name}] pack n=${n} k=${k}: panel ${p} k ${kk} lane ${j}: got ${got}, want ${want}`,
                );
            }
          }
        }
        assertGuards(e, out, packed, `[${b.name}] pack n=${n} k=${k} output`);
        assertGuards(e, wp, n * k, `[${b.name}] pack n=${n} k=${k} input`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// f32_gemm_4x8
//
// Tolerance: each C element is bias + Σ_k a_k·b_k (+ R), computed in float32 with K products and
// K + 1 additions (relaxed build: possibly fused, which only removes roundings). The classic
// bound for a recursive sum of products (Higham, Accuracy and Stability §3.1) is
//   |C - C_exact| <= γ_{K+2} · S,   S = |bias| + Σ_k |a_k·b_k| + |R|,   γ_n = n·u/(1 - n·u).
// This can fail: one wrong, missing or doubled term changes C by about S/K, which is
// 1/(K·(K+2)·u) times the tolerance: ~9e4 x at K = 13, ~1.6e3 x at K = 100, ~28 x at K = 768
// (wrong tiles, rows, columns, strides or K blocks change many terms). The report gives the
// worst |err|/(u·S), the observed constant c of "c·u·S" (rigorous c = K + 2).
// Sizes: the micro-kernel's tile is 4 rows x 8 columns; M and N cover every remainder mod 4, 6 and 8, K = 0 and 1, and K past the 512-long K blocks.

/** C = A·Btᵀ + bias + R in float64, and S = Σ|terms| per element; Bt is [n, k] row-major. */
function gemmRef(m, n, k, a, bt, bias, rm) {
  const c = new Float64Array(m * n),
    s = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = bias ? bias[j] : 0,
        mag = bias ? Math.abs(bias[j]) : 0;
      const ai = i * k,
        bj = j * k;
      for (let kk = 0; kk < k; kk++) {
        const p = a[ai + kk] * bt[bj + kk];
        acc += p;
        mag += Math.abs(p);
      }
      if (rm) {
        acc += rm[i * n + j];
        mag += Math.abs(rm[i * n + j]);
      }
      c[i * n + j] = acc;
      s[i * n + j] = mag;
    }
  }
  return { c, s };
}

/** f32_gemm_4x8's K block (KC in assembly/gemm.ts): past it, K is split and partial sums live in C. */
const K_BLOCK = 4096;

/**
 * One GEMM case on every build. mode "packed": B = W[n, k]ᵀ packed by f32_pack_panels8
 * (kStride 32, panelStride 32·k); mode "inplace": B a row-major [k, ldb] matrix read in place
 * (kStride ldb·4, panelStride 32), columns past n (NaN here) read but never stored.
 */
function gemmCase(
  r,
  { m, n, k, mode, withBias, withR, rIsC = false, pads = [0, 0, 0, 0], misalign = 0, tag = "" },
) {
  const [padA, padB, padC, padR] = pads;
  const lda = k + padA,
    ldb = n + padB,
    ldc = n + padC,
    ldr = rIsC ? ldc : n + padR;
  const a = randomMatrix(r, m * k);
  const w = randomMatrix(r, n * k); // packed: W[n, k]; inplace: B[k, n]
  const bias = withBias ? randomMatrix(r, n) : null;
  const rm = withR ? randomMatrix(r, m * n) : null;
  let bt = w;
  if (mode !== "packed") {
    bt = new Float32Array(n * k);
    for (let kk = 0; kk < k; kk++) for (let j = 0; j < n; j++) bt[j * k + kk] = w[kk * n + j];
  }
  const { c: ref, s } = gemmRef(m, n, k, a, bt, bias, rm);
  const gam = ((k + 2) * U) / (1 - (k + 2) * U);
  const label = `gemm ${mode} m=${m} n=${n} k=${k}${withBias ? " +bias" : ""}${withR ? (rIsC ? " +R (R = C, in place)" : " +R") : ""} lda=${lda} ldc=${ldc}${tag}`;
  for (const b of builds) {
    const e = b.engine;
    const bCount = mode === "packed" ? n * k : k * ldb;
    const packedCount = mode === "packed" ? ceil8(n) * k : 1;
    const packedA = mode === "packed" ? 4 * Math.ceil(m / 4) * k : 1;
    const counts = [m * lda, bCount, packedCount, ceil8(n), m * ldc, m * ldr, packedA, m * ldc];
    const [pa, pw, pp, pbias, pc, pr, pap, pc2] = place(e, counts, misalign);
    writeMatrix(e, pa, a, m, k, lda);
    let bPtr, kStride, panelStride;
    if (mode === "packed") {
      e.f32.set(w, pw / 4);
      e.k.f32_pack_panels8(n, k, pw, pp);
      [bPtr, kStride, panelStride] = [pp, 32, 32 * k];
    } else {
      writeMatrix(e, pw, w, k, n, ldb);
      [bPtr, kStride, panelStride] = [pw, ldb * 4, 32];
    }
    if (bias) {
      e.f32.set(bias, pbias / 4);
      e.f32.fill(NaN, pbias / 4 + n, pbias / 4 + ceil8(n)); // "readable up to a multiple of 8": read, unused
    }
    if (rm && !rIsC) writeMatrix(e, pr, rm, m, n, ldr);
    if (rm && rIsC) {
      writeMatrix(e, pc, rm, m, n, ldc);
      for (let i = 0; i < m; i++)
        e.i32.fill(SENTINEL, pc / 4 + i * ldc + n, pc / 4 + (i + 1) * ldc);
    }
    const rPtr = rm ? (rIsC ? pc : pr) : 0;
    writesOnly(
      e,
      [pa, pw, pp, pbias, pc, pr],
      counts,
      { off: pc, rows: m, cols: n, ld: ldc },
      `[${b.name}] ${label}`,
      () =>
        e.k.f32_gemm_4x8(
          m,
          n,
          k,
          pa,
          lda,
          bPtr,
          kStride,
          panelStride,
          bias ? pbias : 0,
          pc,
          ldc,
          rPtr,
          ldr,
        ),
    );
    const got = readMatrix(e, pc, m, n, ldc);
    const { worstScaled } = compare(
      got,
      ref,
      (i) => gam * s[i],
      `[${b.name}] ${label}`,
      (i) => U * s[i],
    );
    note(`f32_gemm_4x8 worst |err|/(u·Σ|a·b|) (bound K+2)`, b.name, worstScaled);
    assertGuards(e, pc, m * ldc, `[${b.name}] ${label}: C`);
    assertGaps(e, pc, m, n, ldc, `[${b.name}] ${label}: C`);
    if (mode === "packed") {
      // the engine's path for weights: A packed by f32_pack_rows4, then f32_gemm_4x8_packed. The
      // products are summed in the same order, so the result is f32_gemm_4x8's, bit for bit.
      const offs = [pa, pw, pp, pbias, pc, pr, pap, pc2];
      writesOnly(
        e,
        offs,
        counts,
        { off: pap, rows: 1, cols: packedA, ld: packedA },
        `[${b.name}] pack_rows4 m=${m} k=${k} lda=${lda}`,
        () => e.k.f32_pack_rows4(m, k, pa, lda, pap),
      );
      const f32 = e.f32;
      for (let t = 0; t < Math.ceil(m / 4); t++) {
        for (let kk = 0; kk < k; kk++) {
          for (let q = 0; q < 4; q++) {
            const want = a[Math.min(4 * t + q, m - 1) * k + kk],
              have = f32[pap / 4 + (t * k + kk) * 4 + q];
            if (!Object.is(have, want))
              assert.unreachable(
                `[${b.name}] pack_rows4 m=${m} k=${k}: tile ${t}, k ${kk}, row ${q}: ${have} != ${want}`,
              );
          }
        }
      }
      if (rm && rIsC) {
        writeMatrix(e, pc2, rm, m, n, ldc);
        for (let i = 0; i < m; i++)
          e.i32.fill(SENTINEL, pc2 / 4 + i * ldc + n, pc2 / 4 + (i + 1) * ldc);
      }
      const r2 = rm ? (rIsC ? pc2 : pr) : 0;
      writesOnly(
        e,
        offs,
        counts,
        { off: pc2, rows: m, cols: n, ld: ldc },
        `[${b.name}] ${label} (A packed)`,
        () =>
          e.k.f32_gemm_4x8_packed(m, n, k, pap, pp, 32 * k, bias ? pbias : 0, pc2, ldc, r2, ldr, 0),
      );
      const got2 = readMatrix(e, pc2, m, n, ldc);
      if (k > K_BLOCK) {
        // f32_gemm_4x8 splits K past its block (partial sums in C; R = C added first), the packed
        // kernel does not: each is held to the float64 reference instead of to the other's bits
        compare(got2, ref, (i) => gam * s[i], `[${b.name}] ${label} (A packed)`);
        continue;
      }
      for (let i = 0; i < m * n; i++) {
        if (!Object.is(got2[i], got[i]))
          assert.unreachable(
            `[${b.name}] ${label}: f32_gemm_4x8_packed (${Math.floor(i / n)}, ${i % n}) = ${got2[i]}, f32_gemm_4x8 gives ${got[i]}`,
          );
      }
      assertGuards(e, pc2, m * ldc, `[${b.name}] ${label} (A packed): C`);
      assertGaps(e, pc2, m, n, ldc, `[${b.name}] ${label} (A packed): C`);
      if (!rIsC) {
        // the activation in the epilogue: f32_activation's bits on the same sums (kinds cycled)
        const act = 1 + ((m * 7 + n * 3 + k) % 14);
        writesOnly(
          e,
          offs,
          counts,
          { off: pc2, rows: m, cols: n, ld: ldc },
          `[${b.name}] ${label} (A packed, act ${act})`,
          () =>
            e.k.f32_gemm_4x8_packed(
              m,
              n,
              k,
              pap,
              pp,
              32 * k,
              bias ? pbias : 0,
              pc2,
              ldc,
              r2,
              ldr,
              act,
            ),
        );
        const got3 = readMatrix(e, pc2, m, n, ldc);
        for (let i = 0; i < m * n; i++) {
          const want = e.k.f32_activation1(act, got[i]);
          if (!Object.is(got3[i], want))
            assert.unreachable(
              `[${b.name}] ${label}: act ${act} in the epilogue (${Math.floor(i / n)}, ${i % n}) = ${got3[i]}, f32_activation gives ${want}`,
            );
        }
        assertGaps(e, pc2, m, n, ldc, `[${b.name}] ${label} (A packed, act ${act}): C`);
      }
    }
  }
}

test("f32_gemm_4x8 (and f32_pack_rows4 + f32_gemm_4x8_packed, same bits): every M, N, K in {1,2,3,5,6,7,8,13,16,17,100}, packed and in place, ± bias, ± R", () => {
  const r = rng(21);
  const sizes = [1, 2, 3, 5, 6, 7, 8, 13, 16, 17, 100];
  let i = 0;
  for (const m of sizes) {
    for (const n of sizes) {
      for (const k of sizes) {
        // every feature combination on every size triple would be 8x the work for little more
        // coverage: cycle through them, with strides padded (0..3 extra floats) and buffers
        // misaligned (0..3 floats) by the PRNG
        const v = i++;
        const mode = v % 2 ? "packed" : "inplace";
        const pads = [0, 1, 2, 3].map(() => Math.floor(r() * 4));
        gemmCase(r, {
          m,
          n,
          k,
          mode,
          withBias: !!((v >> 1) & 1),
          withR: !!((v >> 2) & 1),
          pads,
          misalign: Math.floor(r() * 4),
        });
      }
    }
  }
});

test("f32_gemm_4x8: all four bias/R combinations in both modes at odd sizes, K = 1 exact", () => {
  const r = rng(22);
  for (const [m, n, k] of [
    [1, 1, 1],
    [7, 13, 1],
    [5, 17, 3],
    [13, 9, 17],
    [17, 100, 13],
    [100, 7, 100],
  ]) {
    for (const mode of ["packed", "inplace"]) {
      for (const withBias of [false, true]) {
        for (const withR of [false, true])
          gemmCase(r, { m, n, k, mode, withBias, withR, pads: [3, 5, 1, 2] });
      }
    }
  }
  // K = 1, no bias, no R: C = a·b is one float32 product, correctly rounded: exact equality.
  for (const b of builds) {
    const e = b.engine;
    const [m, n] = [7, 13];
    const a = randomMatrix(r, m),
      w = randomMatrix(r, n);
    const [pa, pw, pc] = place(e, [m, n, m * n]);
    e.f32.set(a, pa / 4);
    e.f32.set(w, pw / 4);
    e.k.f32_gemm_4x8(m, n, 1, pa, 1, pw, n * 4, 32, 0, pc, n, 0, 0);
    const f32 = e.f32;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++)
        assert.is(
          f32[pc / 4 + i * n + j],
          Math.fround(a[i] * w[j]),
          `[${b.name}] K=1 product (${i}, ${j})`,
        );
    }
  }
});

test("f32_gemm_4x8: K split in blocks (K 4097..8200), R separate or aliasing C (R added before the products), ± bias", () => {
  const r = rng(25);
  for (const mode of ["packed", "inplace"]) {
    for (const [m, n, k] of [
      [1, 1, K_BLOCK + 1],
      [5, 13, K_BLOCK + 4],
      [6, 9, 2 * K_BLOCK],
      [3, 17, 8200],
    ]) {
      gemmCase(r, { m, n, k, mode, withBias: true, withR: true, rIsC: true, pads: [1, 2, 3, 0] });
      gemmCase(r, { m, n, k, mode, withBias: false, withR: true, rIsC: true });
      gemmCase(r, { m, n, k, mode, withBias: true, withR: true, pads: [1, 2, 3, 1] });
      gemmCase(r, { m, n, k, mode, withBias: false, withR: false, misalign: 1 });
    }
  }
});

test("f32_gemm_4x8: K = 0 (C = bias + R), R aliasing C (in-place residual), K up to 1536 in one block", () => {
  const r = rng(24);
  for (const mode of ["packed", "inplace"]) {
    for (const [m, n] of [
      [1, 1],
      [5, 13],
      [7, 8],
      [17, 3],
    ]) {
      for (const withBias of [false, true]) {
        for (const withR of [false, true])
          gemmCase(r, { m, n, k: 0, mode, withBias, withR, pads: [1, 2, 3, 1] });
      }
    }
    // R = C with K in one block and with K split into blocks (the partial sums live in C)
    for (const [m, n, k] of [
      [1, 1, 1],
      [5, 13, 7],
      [7, 17, 100],
      [3, 9, 511],
      [5, 7, 512],
      [6, 13, 513],
      [13, 17, 1025],
      [2, 5, 1536],
    ]) {
      gemmCase(r, { m, n, k, mode, withBias: true, withR: true, rIsC: true, pads: [1, 2, 3, 0] });
      gemmCase(r, { m, n, k, mode, withBias: false, withR: true, rIsC: true, pads: [0, 0, 0, 0] });
    }
    for (const [m, n, k] of [
      [1, 3, 513],
      [7, 13, 1000],
      [5, 9, 1024],
      [17, 8, 1030],
    ]) {
      for (const withBias of [false, true]) {
        for (const withR of [false, true])
          gemmCase(r, { m, n, k, mode, withBias, withR, pads: [3, 1, 2, 5], misalign: 1 });
      }
    }
  }
});

test("f32_gemm_4x8: round sizes (BERT-base shapes)", () => {
  const r = rng(23);
  // attention output / FFN dense: [tokens, 768] x [768, 768]ᵀ + bias + residual
  gemmCase(r, { m: 128, n: 768, k: 768, mode: "packed", withBias: true, withR: true });
  gemmCase(r, {
    m: 64,
    n: 768,
    k: 768,
    mode: "packed",
    withBias: true,
    withR: true,
    rIsC: true,
    tag: " (residual in place)",
  });
  // FFN up and down projections with few tokens
  gemmCase(r, { m: 13, n: 3072, k: 768, mode: "packed", withBias: true, withR: false });
  gemmCase(r, { m: 7, n: 768, k: 3072, mode: "packed", withBias: true, withR: true });
  // P·V with V read in place from a fused [s, 3·768] projection (ldb = 2304), one head of 64
  gemmCase(r, {
    m: 384,
    n: 64,
    k: 384,
    mode: "inplace",
    withBias: false,
    withR: false,
    pads: [0, 2304 - 64, 768 - 64, 0],
    tag: " (P·V)",
  });
  gemmCase(r, { m: 64, n: 384, k: 128, mode: "inplace", withBias: true, withR: true });
});

// ---------------------------------------------------------------------------------------------
// f32_attn_scores: S[i, j] = Σ_t Q[i, t]·K[j, t]
//
// Tolerance γ_{d+2}·Σ_t |q_t·k_t| (a d-term dot product in float32, in any association order; the
// SIMD lanes and the horizontal sum only change the order). Same power as for the GEMM.

function scoresCase(r, { sq, sk, d, ldq, ldk, lds, label }) {
  const q = randomMatrix(r, sq * d),
    k = randomMatrix(r, sk * d);
  const ref = new Float64Array(sq * sk),
    s = new Float64Array(sq * sk);
  for (let i = 0; i < sq; i++) {
    for (let j = 0; j < sk; j++) {
      let acc = 0,
        mag = 0;
      for (let t = 0; t < d; t++) {
        const p = q[i * d + t] * k[j * d + t];
        acc += p;
        mag += Math.abs(p);
      }
      ref[i * sk + j] = acc;
      s[i * sk + j] = mag;
    }
  }
  const gam = ((d + 2) * U) / (1 - (d + 2) * U);
  for (const b of builds) {
    const e = b.engine;
    const [pq, pk, ps] = place(e, [sq * ldq, sk * ldk, sq * lds]);
    writeMatrix(e, pq, q, sq, d, ldq);
    writeMatrix(e, pk, k, sk, d, ldk);
    const what = `[${b.name}] attn_scores ${label ?? ""} sq=${sq} sk=${sk} d=${d} ldq=${ldq} ldk=${ldk} lds=${lds}`;
    writesOnly(
      e,
      [pq, pk, ps],
      [sq * ldq, sk * ldk, sq * lds],
      { off: ps, rows: sq, cols: sk, ld: lds },
      what,
      () => e.k.f32_attn_scores(sq, sk, d, pq, ldq, pk, ldk, ps, lds),
    );
    const got = readMatrix(e, ps, sq, sk, lds);
    const { worstScaled } = compare(
      got,
      ref,
      (i) => gam * s[i],
      what,
      (i) => U * s[i],
    );
    note(`f32_attn_scores worst |err|/(u·Σ|q·k|) (bound d+2)`, b.name, worstScaled);
    assertGuards(e, ps, sq * lds, what);
    assertGaps(e, ps, sq, sk, lds, what);
  }
}

test("f32_attn_scores: odd sizes with strided Q, K and S", () => {
  const r = rng(31);
  for (const sq of SMALL) {
    for (const sk of SMALL) {
      for (const d of [1, 2, 3, 4, 5, 7, 8, 13, 17, 64]) {
        scoresCase(r, {
          sq,
          sk,
          d,
          ldq: d + Math.floor(r() * 4),
          ldk: d + Math.floor(r() * 4),
          lds: sk + Math.floor(r() * 3),
        });
      }
    }
  }
});

test("f32_attn_scores: round sizes, heads read in place from a fused projection", () => {
  const r = rng(32);
  scoresCase(r, {
    sq: 384,
    sk: 384,
    d: 64,
    ldq: 2304,
    ldk: 2304,
    lds: 384,
    label: "(bert-base head)",
  });
  scoresCase(r, { sq: 128, sk: 128, d: 64, ldq: 768, ldk: 768, lds: 128 });
  scoresCase(r, { sq: 1, sk: 128, d: 32, ldq: 128, ldk: 256, lds: 128, label: "(one query)" });
});

// ---------------------------------------------------------------------------------------------
// f32_attn_relative: S[i, j] += Σ_t X[r, t]·E[l(i) - j + maxPos - 1, t], l(i) = l0 + i·lstep,
// r = i (relative_key, X = Q) or r = j (relative_key_query's key term, X = K).
//
// Tolerance γ_{d+2}·(|S0| + Σ_t |x_t·e_t|): a d-term dot product added to S0.

function relativeCase(r, { sq, sk, d, byKey, lstep, l0, maxPos, ldx, lds }) {
  const rows = byKey ? sk : sq;
  const x = randomMatrix(r, rows * d);
  const E = randomMatrix(r, (2 * maxPos - 1) * d);
  const s0 = randomMatrix(r, sq * sk, -4, 4);
  const ref = new Float64Array(sq * sk),
    s = new Float64Array(sq * sk);
  for (let i = 0; i < sq; i++) {
    const l = l0 + i * lstep;
    for (let j = 0; j < sk; j++) {
      const idx = l - j + maxPos - 1;
      assert.ok(idx >= 0 && idx < 2 * maxPos - 1, "test bug: distance index out of range");
      const xr = byKey ? j : i;
      let acc = s0[i * sk + j],
        mag = Math.abs(acc);
      for (let t = 0; t < d; t++) {
        const p = x[xr * d + t] * E[idx * d + t];
        acc += p;
        mag += Math.abs(p);
      }
      ref[i * sk + j] = acc;
      s[i * sk + j] = mag;
    }
  }
  const gam = ((d + 2) * U) / (1 - (d + 2) * U);
  for (const b of builds) {
    const e = b.engine;
    const [px, pe, ps] = place(e, [rows * ldx, (2 * maxPos - 1) * d, sq * lds]);
    writeMatrix(e, px, x, rows, d, ldx);
    e.f32.set(E, pe / 4);
    writeMatrix(e, ps, s0, sq, sk, lds);
    // S is in-out: its row gaps go back to sentinels, so that a write there shows
    for (let i = 0; i < sq; i++)
      e.i32.fill(SENTINEL, ps / 4 + i * lds + sk, ps / 4 + (i + 1) * lds);
    const what = `[${b.name}] attn_relative sq=${sq} sk=${sk} d=${d} byKey=${byKey} lstep=${lstep} l0=${l0} maxPos=${maxPos}`;
    writesOnly(
      e,
      [px, pe, ps],
      [rows * ldx, (2 * maxPos - 1) * d, sq * lds],
      { off: ps, rows: sq, cols: sk, ld: lds },
      what,
      () =>
        e.k.f32_attn_relative(sq, sk, d, px, ldx, byKey ? 1 : 0, pe, maxPos, l0, lstep, ps, lds),
    );
    const got = readMatrix(e, ps, sq, sk, lds);
    const { worstScaled } = compare(
      got,
      ref,
      (i) => gam * s[i],
      what,
      (i) => U * s[i],
    );
    note(`f32_attn_relative worst |err|/(u·(|S0|+Σ|x·e|)) (bound d+2)`, b.name, worstScaled);
    assertGuards(e, ps, sq * lds, what);
    assertGaps(e, ps, sq, sk, lds, what);
  }
}

test("f32_attn_relative: both byKey modes, lstep 0 and 1, any l0 in range", () => {
  const r = rng(41);
  for (const sq of [1, 2, 3, 5, 8, 13, 17]) {
    for (const sk of [1, 2, 5, 7, 13, 17]) {
      for (const d of [1, 3, 4, 5, 8, 13]) {
        for (const byKey of [false, true]) {
          for (const lstep of [0, 1]) {
            const maxPos = Math.max(sq, sk) + 1 + Math.floor(r() * 4);
            // every index l - j + maxPos - 1 must lie in [0, 2·maxPos - 2]
            const lo = sk - maxPos,
              hi = lstep ? maxPos - sq : maxPos - 1;
            const l0 = lo + Math.floor(r() * (hi - lo + 1));
            relativeCase(r, {
              sq,
              sk,
              d,
              byKey,
              lstep,
              l0,
              maxPos,
              ldx: d + Math.floor(r() * 3),
              lds: sk + Math.floor(r() * 3),
            });
          }
        }
      }
    }
  }
});

test("f32_attn_relative: round sizes (HF's use: l0 = 0, lstep 1; cached decoding: l0 = sk - 1, lstep 0)", () => {
  const r = rng(42);
  for (const byKey of [false, true]) {
    relativeCase(r, {
      sq: 128,
      sk: 128,
      d: 64,
      byKey,
      lstep: 1,
      l0: 0,
      maxPos: 512,
      ldx: 768,
      lds: 128,
    });
    relativeCase(r, {
      sq: 1,
      sk: 100,
      d: 64,
      byKey,
      lstep: 0,
      l0: 99,
      maxPos: 128,
      ldx: 2304,
      lds: 100,
    });
  }
});

// ---------------------------------------------------------------------------------------------
// f32_softmax_rows: P = softmax(S·scale + M)·headScale, row by row, in place.
//
// Reference: float64 softmax of x_j = fl32(s_j·scale + m_j) — the logits rounded once to float32,
// as every float32 implementation of HF's formula has them (this is what makes a fully masked
// row, all entries finfo.min, uniform). The kernel rounds s·scale first, then the sum, then
// x - max. Tolerance on p_j, relative: with
//   δ_k = u·(|s_k·scale| + |x_k| + |x_k - max| + |max|) + 2u    (argument roundings; exp 2 ulp)
//   rel_j = δ_j + Σ_k p_k·δ_k + (n + 4)·u                          (sum of n terms, 1/sum, ·headScale)
// and an absolute floor 2^-125 (exp flushes results below 2^-126 to 0; sum >= 1).
// Masked entries (m = finfo.min, or -1.7e38) must be exactly 0 and a fully masked row exactly
// uniform (every entry the same float, within 2u of headScale/n).

function softmaxRef(sRow, mRow, scale, headScale) {
  const n = sRow.length;
  const x = new Float64Array(n);
  let mx = -Infinity;
  for (let j = 0; j < n; j++) {
    x[j] = Math.fround(sRow[j] * scale + (mRow ? mRow[j] : 0));
    mx = Math.max(mx, x[j]);
  }
  const p = new Float64Array(n);
  let sum = 0;
  for (let j = 0; j < n; j++) sum += p[j] = Math.exp(x[j] - mx);
  for (let j = 0; j < n; j++) p[j] = (p[j] / sum) * headScale;
  const delta = new Float64Array(n);
  let wsum = 0;
  for (let j = 0; j < n; j++) {
    delta[j] =
      U * (Math.abs(sRow[j] * scale) + Math.abs(x[j]) + Math.abs(x[j] - mx) + Math.abs(mx)) + 2 * U;
    if (headScale !== 0) wsum += (p[j] / headScale) * delta[j];
  }
  const tol = new Float64Array(n);
  for (let j = 0; j < n; j++) tol[j] = Math.abs(p[j]) * (delta[j] + wsum + (n + 4) * U) + 2 ** -125;
  return { p, tol, x, mx };
}

function softmaxCase(
  r,
  { rows, n, lds, scale, maskKind, ldm: ldmIn, headScale, maskedFrac = 0.3, fullRows = [] },
) {
  const S = randomMatrix(r, rows * n, -6, 6);
  // mask rows: "none"; "row" (one row, ldm 0, broadcast); "rows" (one per row, stride ldm)
  const maskRows = maskKind === "rows" ? rows : maskKind === "row" ? 1 : 0;
  const ldm = maskKind === "rows" ? (ldmIn ?? n) : 0;
  const M = new Float32Array(maskRows * n);
  for (let i = 0; i < maskRows; i++) {
    for (let j = 0; j < n; j++) {
      const v = r();
      // masked (HF's (1 - m)·finfo.min, for m = 0 and m = 0.5), or a soft additive bias
      M[i * n + j] =
        v < maskedFrac
          ? v < maskedFrac / 2
            ? F32_MIN
            : Math.fround(0.5 * F32_MIN)
          : uniformNonZero(r, -3, 1);
    }
    if (fullRows.includes(i)) M.fill(F32_MIN, i * n, (i + 1) * n);
  }
  const refs = [];
  for (let i = 0; i < rows; i++) {
    const mRow = maskRows
      ? M.subarray((maskRows === 1 ? 0 : i) * n, (maskRows === 1 ? 1 : i + 1) * n)
      : null;
    refs.push(
      softmaxRef(S.subarray(i * n, (i + 1) * n), mRow, Math.fround(scale), Math.fround(headScale)),
    );
  }
  for (const b of builds) {
    const e = b.engine;
    const counts = [rows * lds, Math.max(1, maskRows ? (maskRows - 1) * ldm + n : 1)];
    const [ps, pm] = place(e, counts);
    writeMatrix(e, ps, S, rows, n, lds);
    for (let i = 0; i < rows; i++)
      e.i32.fill(SENTINEL, ps / 4 + i * lds + n, ps / 4 + (i + 1) * lds);
    if (maskRows === 1) e.f32.set(M, pm / 4);
    else if (maskRows) writeMatrix(e, pm, M, rows, n, ldm);
    const what = `[${b.name}] softmax rows=${rows} n=${n} lds=${lds} scale=${scale} mask=${maskKind} ldm=${ldm} headScale=${headScale}`;
    writesOnly(e, [ps, pm], counts, { off: ps, rows, cols: n, ld: lds }, what, () =>
      e.k.f32_softmax_rows(rows, n, ps, lds, scale, maskRows ? pm : 0, ldm, headScale),
    );
    const f32 = e.f32;
    for (let i = 0; i < rows; i++) {
      const { p, tol, x, mx } = refs[i];
      const got = f32.subarray(ps / 4 + i * lds, ps / 4 + i * lds + n);
      // every logit masked: the float32 logits are exactly the mask values (s·scale is far below
      // their ulp), so HF's softmax is uniform over the entries at the maximum (all of them when
      // the whole mask row is finfo.min) and exactly 0 elsewhere
      const full = mx <= 0.5 * F32_MIN;
      const atMax = full ? x.filter((v) => v === mx).length : 0;
      const first = full ? got[x.indexOf(mx)] : 0;
      for (let j = 0; j < n; j++) {
        const where = `${what}: row ${i} col ${j}`;
        if (full && x[j] === mx) {
          assert.is(
            got[j],
            first,
            `${where}: fully masked row must be uniform over its ${atMax} maximal entries`,
          );
          const want = headScale / atMax;
          if (!(Math.abs(got[j] - want) <= 2 * U * Math.abs(want)))
            assert.unreachable(`${where}: fully masked row: got ${got[j]}, want ${want}`);
        } else if (x[j] <= 0.5 * F32_MIN) {
          if (got[j] !== 0)
            assert.unreachable(
              `${where}: masked entry (logit ${x[j]}) must be exactly 0, got ${got[j]}`,
            );
        } else {
          const err = Math.abs(got[j] - p[j]);
          if (!(err <= tol[j]))
            assert.unreachable(
              `${where}: got ${got[j]}, expected ${p[j]} (|err| ${fmtE(err)} > tol ${fmtE(tol[j])})`,
            );
          if (p[j] !== 0)
            note(`f32_softmax_rows worst relative error / u`, b.name, err / Math.abs(p[j]) / U);
        }
      }
    }
    assertGuards(e, ps, rows * lds, what);
    assertGaps(e, ps, rows, n, lds, what);
  }
}

test("f32_softmax_rows: sizes x mask layouts x scales x head scales", () => {
  const r = rng(51);
  let v = 0;
  for (const n of [1, 2, 3, 4, 5, 7, 8, 13, 17, 100, 128, 384, 768]) {
    for (const maskKind of ["none", "row", "rows"]) {
      for (const headScale of [1, 0.5, 1.75]) {
        const rows = [1, 2, 3, 5][v++ % 4];
        const scale = [1, 0.125, 1 / Math.sqrt(13)][v % 3];
        softmaxCase(r, {
          rows,
          n,
          lds: n + (v % 3),
          scale,
          maskKind,
          ldm: n + (v % 2) * 3,
          headScale,
        });
      }
    }
  }
});

test("f32_softmax_rows: masked entries exactly 0, fully masked rows uniform, head scale 0", () => {
  const r = rng(52);
  for (const n of [1, 3, 7, 8, 13, 100, 384]) {
    // rows 1 and 3 fully masked (per-row mask); others 60% masked
    softmaxCase(r, {
      rows: 5,
      n,
      lds: n + 1,
      scale: 0.125,
      maskKind: "rows",
      ldm: n + 2,
      headScale: 1,
      maskedFrac: 0.6,
      fullRows: [1, 3],
    });
    softmaxCase(r, {
      rows: 3,
      n,
      lds: n,
      scale: 0.125,
      maskKind: "rows",
      ldm: n,
      headScale: 0.25,
      fullRows: [0],
    });
    // broadcast mask row fully masked: every row uniform
    softmaxCase(r, { rows: 2, n, lds: n, scale: 1, maskKind: "row", headScale: 1, fullRows: [0] });
    // a head masked out by head_mask: all zeros
    softmaxCase(r, { rows: 3, n, lds: n, scale: 0.125, maskKind: "rows", headScale: 0 });
  }
});

// ---------------------------------------------------------------------------------------------
// f32_pack_cols8 and f32_mha's packed P·V: V [sk, d] (rows ldv apart) as panels of 8 columns, and
// P·V on the packed micro-kernel, which must give the in-place path's bits (same sums, same order).

test("f32_pack_cols8: B[k, n] -> 8-column panels, zero padded past n, exact, nothing else written", () => {
  const r = rng(91);
  for (const [k, n, ldb] of [
    [1, 1, 1],
    [3, 5, 7],
    [17, 8, 8],
    [13, 13, 40],
    [100, 32, 96],
    [37, 64, 200],
    [5, 17, 17],
  ]) {
    const bm = randomMatrix(r, k * n);
    for (const b of builds) {
      const e = b.engine;
      const counts = [k * ldb, ceil8(n) * k];
      const [pb, po] = place(e, counts);
      writeMatrix(e, pb, bm, k, n, ldb);
      writesOnly(
        e,
        [pb, po],
        counts,
        { off: po, rows: 1, cols: ceil8(n) * k, ld: ceil8(n) * k },
        `[${b.name}] pack_cols8 k=${k} n=${n}`,
        () => e.k.f32_pack_cols8(k, n, pb, ldb, po),
      );
      const f32 = e.f32;
      for (let p = 0; p < ceil8(n) / 8; p++) {
        for (let kk = 0; kk < k; kk++) {
          for (let j = 0; j < 8; j++) {
            const col = 8 * p + j,
              want = col < n ? bm[kk * n + col] : 0,
              have = f32[po / 4 + (p * k + kk) * 8 + j];
            if (!Object.is(have, want))
              assert.unreachable(
                `[${b.name}] pack_cols8 k=${k} n=${n}: panel ${p}, k ${kk}, column ${j}: ${have} != ${want}`,
              );
          }
        }
      }
    }
  }
});

test("f32_mha: P·V on packed P and V (packing scratch given) = the in-place path, bit for bit; too little scratch falls back", () => {
  const r = rng(92);
  for (const [sq, sk, d, heads] of [
    [1, 1, 1, 1],
    [13, 17, 5, 2],
    [17, 13, 8, 3],
    [100, 37, 13, 2],
    [128, 128, 32, 2],
    [1, 90, 64, 2],
  ]) {
    const H = heads * d;
    const q = randomMatrix(r, sq * H),
      kk = randomMatrix(r, sk * H),
      v = randomMatrix(r, sk * H);
    for (const b of builds) {
      const e = b.engine;
      const need = 4 * (4 * Math.ceil(sq / 4) * sk + ceil8(d) * sk);
      const [pq, pk, pv, probs, c1, c2, c3, pack, block] = place(e, [
        sq * H,
        sk * H,
        sk * H,
        heads * sq * sk,
        sq * H,
        sq * H,
        sq * H,
        need / 4,
        MHA_CONTEXT_BYTES / 4,
      ]);
      e.f32.set(q, pq / 4);
      e.f32.set(kk, pk / 4);
      e.f32.set(v, pv / 4);
      const run = (ctx, pack, packBytes) => {
        writeMhaContext(e.i32, e.f32, block, {
          heads,
          sq,
          sk,
          d,
          q: pq,
          qB: 0,
          qH: d,
          ldq: H,
          k: pk,
          kB: 0,
          kH: d,
          ldk: H,
          v: pv,
          vB: 0,
          vH: d,
          ldv: H,
          rel: 0,
          e: 0,
          maxPos: 0,
          l0: 0,
          lstep: 0,
          mask: 0,
          maskB: 0,
          ldm: 0,
          headScales: 0,
          scale: 0.3,
          probs,
          probsStride: sq * sk,
          scratch: 0,
          ctx,
          ctxB: 0,
          ldc: H,
          pack,
          packBytes,
        });
        e.k.f32_mha(block, 0, heads, 0);
      };
      run(c1, 0, 0);
      run(c2, pack, need);
      run(c3, pack, need - 4); // one float short: the in-place path
      const f32 = e.f32;
      for (let i = 0; i < sq * H; i++) {
        if (!Number.isFinite(f32[c1 / 4 + i]))
          assert.unreachable(`[${b.name}] mha ${sq}x${sk}x${d}: ctx ${i} not finite`);
        if (!Object.is(f32[c2 / 4 + i], f32[c1 / 4 + i]))
          assert.unreachable(
            `[${b.name}] mha ${sq}x${sk}x${d}: packed ctx ${i} = ${f32[c2 / 4 + i]}, in place ${f32[c1 / 4 + i]}`,
          );
        if (!Object.is(f32[c3 / 4 + i], f32[c1 / 4 + i]))
          assert.unreachable(`[${b.name}] mha ${sq}x${sk}x${d}: fallback ctx ${i} differs`);
      }
      // a spot check of one context value against float64 (P as the kernel wrote it)
      const [i0, h0, t0] = [sq - 1, heads - 1, d - 1];
      let want = 0;
      for (let j = 0; j < sk; j++)
        want += f32[probs / 4 + (h0 * sq + i0) * sk + j] * v[j * H + h0 * d + t0];
      const got = f32[c1 / 4 + i0 * H + h0 * d + t0];
      if (!(Math.abs(got - want) <= 1e-5 * (1 + Math.abs(want))))
        assert.unreachable(
          `[${b.name}] mha ${sq}x${sk}x${d}: ctx = ${got}, P·V in float64 = ${want}`,
        );
    }
  }
});

// ---------------------------------------------------------------------------------------------
// f32_layernorm: y = (x - mean)/sqrt(var + eps)·gamma + beta (torch.nn.LayerNorm: biased var).
//
// The kernel takes mean and variance in float64 (so they are exact to ~1e-16), then in float32:
// t = (x - fl32(mean))·fl32(rstd), y = t·gamma + beta. Error budget, with t, rstd exact:
//   |Δt| <= rstd·u·|mean| (mean rounded) + 3u·|t| (subtraction, rstd rounded, product)
//   |Δy| <= |gamma|·|Δt| + u·|gamma·t| + u·|y|                    (product, sum)
// (the |mean| term is real: rows with |mean| >> std lose bits, as torch's float32 LayerNorm
// does). Constant rows and width 1: var = 0, x - mean = 0 exactly, so y = beta exactly.

function layernormCase(r, { rows, n, eps, ldx, ldy, inPlace, kinds }) {
  const X = new Float32Array(rows * n);
  for (let i = 0; i < rows; i++) {
    const kind = kinds[i % kinds.length];
    const row = X.subarray(i * n, (i + 1) * n);
    if (kind === "const") row.fill(uniformNonZero(r, -3, 3));
    else if (kind === "offset")
      for (let j = 0; j < n; j++) row[j] = Math.fround(37.5 + uniformNonZero(r, -1, 1));
    else if (kind === "narrow")
      for (let j = 0; j < n; j++) row[j] = Math.fround(0.25 + 1e-3 * uniformNonZero(r, -1, 1)); // var ~ 3e-7: eps matters
    else for (let j = 0; j < n; j++) row[j] = uniformNonZero(r, -2, 2);
  }
  const gamma = randomMatrix(r, n, -2, 2),
    beta = randomMatrix(r, n, -1, 1);
  const ref = new Float64Array(rows * n),
    tol = new Float64Array(rows * n),
    mag = new Float64Array(rows * n),
    exact = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const row = X.subarray(i * n, (i + 1) * n);
    let mean = 0;
    for (const v of row) mean += v;
    mean /= n;
    let vr = 0;
    for (const v of row) vr += (v - mean) ** 2;
    vr /= n;
    exact[i] = vr === 0 ? 1 : 0;
    const rstd = 1 / Math.sqrt(vr + eps);
    for (let j = 0; j < n; j++) {
      const t = (row[j] - mean) * rstd;
      const y = t * gamma[j] + beta[j];
      ref[i * n + j] = y;
      const dt = rstd * U * Math.abs(mean) + 3 * U * Math.abs(t);
      tol[i * n + j] = Math.abs(gamma[j]) * dt + U * Math.abs(gamma[j] * t) + U * Math.abs(y);
      mag[i * n + j] =
        Math.abs(gamma[j]) * (Math.abs(t) + rstd * Math.abs(mean)) + Math.abs(beta[j]);
    }
  }
  for (const b of builds) {
    const e = b.engine;
    const counts = [rows * ldx, inPlace ? 1 : rows * ldy, n, n];
    const [px, py, pg, pb] = place(e, counts);
    writeMatrix(e, px, X, rows, n, ldx);
    if (inPlace)
      for (let i = 0; i < rows; i++)
        e.i32.fill(SENTINEL, px / 4 + i * ldx + n, px / 4 + (i + 1) * ldx);
    e.f32.set(gamma, pg / 4);
    e.f32.set(beta, pb / 4);
    const out = inPlace ? px : py,
      ld = inPlace ? ldx : ldy;
    const what = `[${b.name}] layernorm rows=${rows} n=${n} eps=${eps} ldx=${ldx} ldy=${ld}${inPlace ? " in place" : ""}`;
    writesOnly(e, [px, py, pg, pb], counts, { off: out, rows, cols: n, ld }, what, () =>
      e.k.f32_layernorm(rows, n, px, ldx, pg, pb, eps, out, ld),
    );
    const got = readMatrix(e, out, rows, n, ld);
    for (let i = 0; i < rows; i++) {
      if (!exact[i]) continue;
      for (let j = 0; j < n; j++)
        assert.is(
          got[i * n + j],
          beta[j],
          `${what}: constant row ${i} col ${j} must give beta exactly`,
        );
    }
    const { worst, worstScaled } = compare(
      got,
      ref,
      (i) => tol[i],
      what,
      (i) => U * mag[i],
    );
    note(`f32_layernorm worst |err|/tol`, b.name, worst);
    note(
      `f32_layernorm worst |err|/(u·(|gamma|·(|t| + rstd·|mean|) + |beta|)) (bound 4)`,
      b.name,
      worstScaled,
    );
    assertGuards(e, out, rows * ld, what);
    assertGaps(e, out, rows, n, ld, what);
  }
}

test("f32_layernorm: eps 1e-12 and 1e-5, widths 1..768, constant / offset / narrow rows, strided and in place", () => {
  const r = rng(61);
  let v = 0;
  for (const n of [1, 2, 3, 4, 5, 7, 8, 13, 17, 48, 100, 384, 768]) {
    for (const eps of [1e-12, 1e-5]) {
      for (const inPlace of [false, true]) {
        const rows = [1, 2, 3, 7][v++ % 4];
        layernormCase(r, {
          rows,
          n,
          eps,
          ldx: n + (v % 3),
          ldy: n + ((v >> 1) % 3),
          inPlace,
          kinds: ["random", "const", "offset", "narrow"].slice(v % 4).concat(["random"]),
        });
      }
    }
  }
  // a batch of BERT-base rows, and only constant rows
  layernormCase(r, {
    rows: 128,
    n: 768,
    eps: 1e-12,
    ldx: 768,
    ldy: 768,
    inPlace: false,
    kinds: ["random"],
  });
  layernormCase(r, {
    rows: 5,
    n: 768,
    eps: 1e-12,
    ldx: 768,
    ldy: 768,
    inPlace: true,
    kinds: ["const"],
  });
});

// ---------------------------------------------------------------------------------------------
// Activations (HF 4.30.2 activations.py / ACT2FN), float64 references of HF's formulas.
//
// Tolerance for y = f(x):  |y - f(x)| <= A·ulp(f(x)) + B·u·|f'(x)|·arg(x) + F
//  - A ulp: the float32 roundings of the few operations after the transcendental plus its own
//    1-2 ulp (math.ts), amplified where 1 + erf(z) cancels (z near -0.9: up to ~4x).
//  - B·u·|f'(x)|·arg(x): the float32 roundings of the function's argument (x/√2, 1.702·x,
//    √(2/π)(x + 0.044715x³), (x - μ)/(σ√2) with the constants rounded to float32): an argument
//    perturbed by a relative k·u moves f by k·u·|x·f'(x)| — unavoidable in float32 (torch has it
//    too) and large in the tails (gelu at x = -12: ~150 ulp). arg(x) = |x|, or |x - μ| + μ for
//    laplace. B = 0 where the kernel evaluates the function on x itself.
//  - F = 2^-125, or 2^-125·max(1, |x|) where the result is x times an exp-based factor (xf):
//    exp flushes results below 2^-126 (e^-87.3) to 0 (documented in math.ts).
// A and B are set from the measured worst case (printed) with a margin of about 1.5x; a formula
// or constant slip (0.044715, 1.702, 0.7978845608, μ, σ, the threshold 20) costs far more.

const SIG = (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU = (x) => 0.5 * x * erfc(-x / Math.SQRT2); // x/2·(1 + erf(x/√2)), no cancellation
const LAPLACE_MU = 0.707107,
  LAPLACE_SIGMA = 0.282095;
// 0.5·x·(1 + tanh(u)) is written x·sigmoid(2u): the same function, without float64 cancellation
const ACTS = {
  linear: { f: (x) => x, A: 0, B: 0 },
  gelu: { xf: true, f: GELU, A: 6, B: 0 },
  gelu_python: { xf: true, f: GELU, A: 6, B: 0 },
  gelu_new: {
    xf: true,
    f: (x) => x * SIG(2 * SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)),
    A: 4,
    B: 2,
  },
  gelu_pytorch_tanh: {
    xf: true,
    f: (x) => x * SIG(2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)),
    A: 4,
    B: 2,
  },
  gelu_accurate: {
    xf: true,
    f: (x) => x * SIG(2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)),
    A: 4,
    B: 2,
  },
  gelu_fast: {
    xf: true,
    f: (x) => x * SIG(2 * (x * 0.7978845608 * (1 + 0.044715 * x * x))),
    A: 4,
    B: 3,
  },
  gelu_10: { xf: true, f: (x) => Math.min(Math.max(GELU(x), -10), 10), A: 6, B: 0 },
  quick_gelu: { xf: true, f: (x) => x * SIG(1.702 * x), A: 4, B: 2 },
  relu: { f: (x) => Math.max(x, 0), A: 0, B: 0 },
  relu2: { f: (x) => Math.max(x, 0) ** 2, A: 0.5, B: 0 }, // one correctly rounded product
  relu6: { f: (x) => Math.min(Math.max(x, 0), 6), A: 0, B: 0 },
  silu: { xf: true, f: (x) => x * SIG(x), A: 5, B: 0 },
  swish: { xf: true, f: (x) => x * SIG(x), A: 5, B: 0 },
  // torch mish: x·tanh(softplus(x)), softplus(x) = x above its threshold 20
  mish: { xf: true, f: (x) => x * Math.tanh(x > 20 ? x : Math.log1p(Math.exp(x))), A: 5, B: 0 },
  sigmoid: { f: SIG, A: 4, B: 0 },
  tanh: { f: Math.tanh, A: 2, B: 0 },
  laplace: {
    f: (x) => 0.5 * erfc(-(x - LAPLACE_MU) / (LAPLACE_SIGMA * Math.SQRT2)),
    A: 2,
    B: 3,
    arg: (x) => Math.abs(x - LAPLACE_MU) + LAPLACE_MU,
  },
  // 0.01 rounded to float32 (relative 2.2e-8) then one product
  leaky_relu: { f: (x) => (x > 0 ? x : 0.01 * x), A: 1, B: 0 },
};

// Expected at ±Inf: the limit where HF's formula has one; where it is ±Inf·0 (torch gives NaN)
// both NaN and 0 are accepted ("either").
const AT_INF = {
  linear: [Infinity, -Infinity],
  gelu: [Infinity, "either"],
  gelu_python: [Infinity, "either"],
  gelu_new: [Infinity, "either"],
  gelu_pytorch_tanh: [Infinity, "either"],
  gelu_accurate: [Infinity, "either"],
  gelu_fast: [Infinity, "either"],
  gelu_10: [10, "either"],
  quick_gelu: [Infinity, "either"],
  relu: [Infinity, 0],
  relu2: [Infinity, 0],
  relu6: [6, 0],
  silu: [Infinity, "either"],
  swish: [Infinity, "either"],
  mish: [Infinity, "either"],
  sigmoid: [1, 0],
  tanh: [1, -1],
  laplace: [1, 0],
  leaky_relu: [Infinity, -Infinity],
};

/** |f'(x)|, by a central difference (only sizes a tolerance term). */
const sensitivity = (spec, x) => {
  const h = 1e-6 * Math.max(Math.abs(x), 1e-3);
  return Math.abs(spec.f(x + h) - spec.f(x - h)) / (2 * h);
};
const actTol = (spec, x, y) => {
  if (spec.A === 0 && spec.B === 0) return 0;
  const arg = spec.arg ? spec.arg(x) : Math.abs(x);
  return (
    spec.A * ulp32(y) +
    spec.B * U * sensitivity(spec, x) * arg +
    2 ** -125 * (spec.xf ? Math.max(1, Math.abs(x)) : 1)
  );
};

// The sweep: a dense grid over [-12, 12], log-spaced magnitudes down to 1e-30, and the float32
// neighbours of every branch point in the kernels (tanh's 0.625, erf's |z| = 0.9, mish's 20).
function sweepPoints() {
  const pts = [];
  const N = 1 << 15;
  for (let i = 0; i <= N; i++) pts.push(Math.fround(-12 + (24 * i) / N));
  for (let i = 0; i <= 4096; i++) {
    const m = Math.fround(10 ** (-30 + (31 * i) / 4096));
    pts.push(m, -m);
  }
  const z09 = 0.9 * Math.SQRT2;
  const branch = [
    0.625,
    0.3125,
    z09,
    z09 / 2,
    LAPLACE_MU + 0.9 * LAPLACE_SIGMA * Math.SQRT2,
    LAPLACE_MU - 0.9 * LAPLACE_SIGMA * Math.SQRT2,
    20,
    0,
  ];
  const bits = new Float32Array(1),
    ib = new Int32Array(bits.buffer);
  for (const c of branch) {
    for (const s of [1, -1]) {
      bits[0] = s * c;
      const base = ib[0];
      for (let d = -40; d <= 40; d++) {
        ib[0] = base + d;
        if (Number.isFinite(bits[0])) pts.push(bits[0]);
      }
    }
  }
  return Float32Array.from(pts);
}

const SPECIALS = [
  0,
  -0,
  1e-45,
  -1e-45,
  1e-40,
  -1e-40,
  2 ** -126,
  -(2 ** -126),
  1e-30,
  -1e-30,
  1e-7,
  -1e-7,
  12,
  -12,
  20,
  -20,
  20.5,
  -20.5,
  30,
  -30,
  87,
  -87,
  88,
  -88,
  100,
  -100,
  1e4,
  -1e4,
  3e38,
  -3e38,
];

// The same functions at the float32 argument the kernel actually forms (activations.ts), so that
// the error left is the kernel's own (math.ts's claim), without the argument's conditioning.
// (gelu needs no entry: geluErf4 works on x itself, so B = 0 above and A is its whole error.)
// Tolerance for 1 + erf(z) (times 1/2): 6 ulp — two exps (a² is split so that its
// rounding costs nothing), the erfc polynomial and the final product — and, where the kernel
// adds 1 + erf(z) (0 <= z < 0.9, and -0.45 < z < 0 where the cancellation is at most 2x),
// 2 ulp of erf(z) on top. quick_gelu: sigmoid(z)·x, 4 ulp. If activations.ts changes how it
// forms an argument, change `z` here with it.
// laplace: the kernel forms z = (x - fl32(μ)) / fl32(σ·√2), the divisor rounded once as torch
// rounds the Python float (pinned by the test below).
const LAPLACE_DIV_TORCH = Math.fround(LAPLACE_SIGMA * Math.SQRT2);
const LAPLACE_DIV_KERNEL = LAPLACE_DIV_TORCH;
const laplaceZ = (x, div = LAPLACE_DIV_KERNEL) =>
  Math.fround(Math.fround(x - Math.fround(LAPLACE_MU)) / div);
const AT_F32_ARG = {
  laplace: {
    z: (x) => laplaceZ(x),
    f: (x, z) => 0.5 * erfc(-z),
    tol: (x, z, y) => onePlusErfTol(z, y, 0.5),
  },
  quick_gelu: {
    z: (x) => Math.fround(x * Math.fround(1.702)),
    f: (x, z) => x * SIG(z),
    tol: (x, z, y) => 4 * ulp32(y),
  },
};
function onePlusErfTol(z, y, scale) {
  const series = z >= 0 ? z < 0.9 : z > -0.45;
  return 6 * ulp32(y) + (series ? 2 * ulp32(erf(z)) * scale : 0);
}

let sweepCache = null;
function sweepRefs() {
  if (sweepCache) return sweepCache;
  const xs = sweepPoints();
  const out = {};
  for (const [name, spec] of Object.entries(ACTS)) {
    const ref = new Float64Array(xs.length),
      tol = new Float64Array(xs.length);
    for (let i = 0; i < xs.length; i++) {
      ref[i] = spec.f(xs[i]);
      tol[i] = actTol(spec, xs[i], ref[i]);
    }
    let atArg = null;
    if (AT_F32_ARG[name]) {
      const a = AT_F32_ARG[name];
      atArg = { ref: new Float64Array(xs.length), tol: new Float64Array(xs.length) };
      for (let i = 0; i < xs.length; i++) {
        const z = a.z(xs[i]);
        atArg.ref[i] = a.f(xs[i], z);
        atArg.tol[i] = a.tol(xs[i], z, atArg.ref[i]);
      }
    }
    out[name] = { ref, tol, atArg };
  }
  return (sweepCache = { xs, refs: out });
}

test("activations: ACTIVATIONS names the kernel's numbering for every ACT2FN key", () => {
  const names = Object.keys(ACTS).sort();
  assert.equal(
    Object.keys(ACTIVATIONS).sort(),
    names,
    "test and config disagree on the activation names",
  );
});

test("activations: dense sweep over [-12, 12] + tiny magnitudes + branch points vs float64 HF formulas", () => {
  const { xs, refs } = sweepRefs();
  const n = xs.length;
  for (const b of builds) {
    const e = b.engine;
    const [px, py] = place(e, [n, n]);
    for (const name of Object.keys(ACTS)) {
      const kind = ACTIVATIONS[name];
      e.f32.set(xs, px / 4);
      e.k.f32_activation(kind, n, px, py);
      const got = e.f32.slice(py / 4, py / 4 + n);
      const { ref, tol, atArg } = refs[name];
      let maxUlp = 0,
        maxAbs = 0,
        worst = 0,
        maxUlpAtArg = 0,
        worstAtArg = 0;
      for (let i = 0; i < n; i++) {
        const err = Math.abs(got[i] - ref[i]);
        if (!(err <= tol[i])) {
          assert.unreachable(
            `[${b.name}] ${name} (kind ${kind}) at x = ${xs[i]}: got ${got[i]}, expected ${ref[i]} (|err| ${fmtE(err)} = ${(err / ulp32(ref[i])).toFixed(1)} ulp > tol ${fmtE(tol[i])})`,
          );
        }
        if (tol[i] > 0) worst = Math.max(worst, err / tol[i]);
        maxAbs = Math.max(maxAbs, err);
        if (Math.abs(ref[i]) >= 2 ** -120) maxUlp = Math.max(maxUlp, err / ulp32(ref[i]));
        if (atArg && Math.abs(atArg.ref[i]) >= 2 ** -120) {
          const err = Math.abs(got[i] - atArg.ref[i]),
            ul = err / ulp32(atArg.ref[i]);
          if (!(err <= atArg.tol[i])) {
            assert.unreachable(
              `[${b.name}] ${name} at x = ${xs[i]}, at the kernel's float32 argument: got ${got[i]}, expected ${atArg.ref[i]} (${ul.toFixed(1)} ulp > tol ${(atArg.tol[i] / ulp32(atArg.ref[i])).toFixed(1)} ulp)`,
            );
          }
          maxUlpAtArg = Math.max(maxUlpAtArg, ul);
          worstAtArg = Math.max(worstAtArg, err / atArg.tol[i]);
        }
      }
      const extra = atArg
        ? ` | at the f32 argument: max ${maxUlpAtArg.toFixed(1)} ulp, worst ${worstAtArg.toFixed(2)} of tol`
        : "";
      const aliases = Object.keys(ACTS).filter((a) => ACTIVATIONS[a] === kind);
      if (aliases[0] === name)
        note(
          `activation ${aliases.join(" = ")}: max ulp / max abs / worst err/tol`,
          b.name,
          maxUlp,
          () => `${maxUlp.toFixed(2)} / ${fmtE(maxAbs)} / ${worst.toFixed(2)}${extra}`,
        );
      assertGuards(e, py, n, `[${b.name}] ${name} output`);
    }
  }
});

test("activations: special values (±0, tiny, large |x|, ±Inf, NaN) through f32_activation1", () => {
  for (const b of builds) {
    const e = b.engine;
    for (const [name, spec] of Object.entries(ACTS)) {
      const kind = ACTIVATIONS[name];
      for (const x of SPECIALS) {
        const x32 = Math.fround(x);
        const got = e.k.f32_activation1(kind, x32);
        const want = Math.fround(spec.f(x32));
        const where = `[${b.name}] ${name}(${x32})`;
        if (!Number.isFinite(want)) {
          assert.is(got, want, where);
          continue;
        }
        const err = Math.abs(got - spec.f(x32));
        const tol = actTol(spec, x32, spec.f(x32)) + (Math.abs(want) > 3e38 ? ulp32(want) : 0);
        if (!(err <= tol))
          assert.unreachable(
            `${where}: got ${got}, expected ${spec.f(x32)} (|err| ${fmtE(err)} > tol ${fmtE(tol)})`,
          );
      }
      assert.ok(
        Number.isNaN(e.k.f32_activation1(kind, NaN)),
        `[${b.name}] ${name}(NaN) must be NaN`,
      );
      const [pos, neg] = AT_INF[name];
      assert.is(e.k.f32_activation1(kind, Infinity), pos, `[${b.name}] ${name}(+Inf)`);
      const gn = e.k.f32_activation1(kind, -Infinity);
      if (neg === "either")
        assert.ok(
          Number.isNaN(gn) || gn === 0,
          `[${b.name}] ${name}(-Inf): got ${gn}, want NaN (torch) or 0 (the limit)`,
        );
      else assert.is(gn, neg, `[${b.name}] ${name}(-Inf)`);
    }
  }
});

// assembly/activations.ts divides by σ·√2 rounded once to f32 (0x3ecc4234), as torch divides by
// the Python float sigma * math.sqrt(2.0); folding the product in f32 (0x3ecc4233) would move z
// by an ulp: at x = -2.851318359375, 141 ulp of the result.
test("activations: laplace divides by σ·√2 rounded once to float32 (as torch)", () => {
  const { xs, refs } = sweepRefs();
  for (const b of builds) {
    const e = b.engine;
    for (let i = 0; i < xs.length; i++) {
      const z = laplaceZ(xs[i], LAPLACE_DIV_TORCH);
      const ref = 0.5 * erfc(-z);
      if (ref < 2 ** -120) continue;
      const got = e.k.f32_activation1(ACTIVATIONS.laplace, xs[i]);
      const ul = Math.abs(got - ref) / ulp32(ref);
      const tol = onePlusErfTol(z, ref, 0.5);
      if (!(Math.abs(got - ref) <= tol))
        assert.unreachable(
          `[${b.name}] laplace(${xs[i]}): got ${got}, 0.5·erfc(-z) at torch's z = ${z}: ${ref} (${ul.toFixed(1)} ulp > ${(tol / ulp32(ref)).toFixed(1)})`,
        );
    }
  }
  void refs;
});

test("f32_activation: every n (tails of 1-3 lanes), in place and not, lanes independent (NaN/Inf in a neighbour), == f32_activation1", () => {
  const r = rng(71);
  for (const b of builds) {
    const e = b.engine;
    for (const name of Object.keys(ACTS)) {
      const kind = ACTIVATIONS[name];
      for (const n of [1, 2, 3, 4, 5, 7, 8, 13, 17, 100]) {
        const x = randomMatrix(r, n, -8, 8);
        if (n > 4) {
          x[1] = NaN;
          x[n - 2] = -Infinity;
        }
        for (const inPlace of [false, true]) {
          const [px, py] = place(e, [n, n], n % 4);
          e.f32.set(x, px / 4);
          const out = inPlace ? px : py;
          writesOnly(
            e,
            [px, py],
            [n, n],
            { off: out, rows: 1, cols: n, ld: n },
            `[${b.name}] ${name} n=${n}${inPlace ? " in place" : ""}`,
            () => e.k.f32_activation(kind, n, px, out),
          );
          const got = e.f32.slice(out / 4, out / 4 + n);
          for (let i = 0; i < n; i++) {
            const want = e.k.f32_activation1(kind, x[i]);
            if (!Object.is(got[i], want) && !(Number.isNaN(got[i]) && Number.isNaN(want))) {
              assert.unreachable(
                `[${b.name}] ${name} n=${n}${inPlace ? " in place" : ""}: element ${i} (x = ${x[i]}): f32_activation ${got[i]} != f32_activation1 ${want}`,
              );
            }
          }
          assertGuards(e, out, n, `[${b.name}] ${name} n=${n}${inPlace ? " in place" : ""}`);
          if (!inPlace) {
            assertGuards(e, px, n, `[${b.name}] ${name} n=${n} input`);
            const xin = e.f32.subarray(px / 4, px / 4 + n);
            for (let i = 0; i < n; i++)
              assert.ok(
                Object.is(xin[i], x[i]) || (Number.isNaN(x[i]) && Number.isNaN(xin[i])),
                `[${b.name}] ${name}: input modified`,
              );
          }
        }
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// f32_bert_embeddings: out[r] = (word[ids[r]] + type[tids[r]]) + pos[pids[r]]
//
// Tolerance 0: two float32 additions in HF's order, each correctly rounded, so the result is
// exactly fl(fl(w + t) + p) (Math.fround of each step).

test("f32_bert_embeddings: ids / inputs_embeds, ± positions, odd and round widths, exact", () => {
  const r = rng(81);
  const arity = builds.length ? builds[0].engine.k.f32_bert_embeddings.length : 10;
  // the kernel is gaining a wordPacked flag (word table in the tied decoder's packed layout):
  // test whichever signature the build has
  const packedModes = arity === 11 ? [false, true] : [false];
  const [V, T, P] = [37, 3, 41];
  for (const h of [1, 2, 3, 5, 8, 13, 17, 64, 100, 768]) {
    for (const rows of [1, 2, 5, 13]) {
      const word = randomMatrix(r, V * h),
        type = randomMatrix(r, T * h),
        pos = randomMatrix(r, P * h),
        embeds = randomMatrix(r, rows * h);
      const ids = Int32Array.from({ length: rows }, () => Math.floor(r() * V));
      const tids = Int32Array.from({ length: rows }, () => Math.floor(r() * T));
      const pids = Int32Array.from({ length: rows }, () => Math.floor(r() * P));
      ids[0] = V - 1; // the last row of the table (and the last panel when packed)
      for (const useIds of [true, false]) {
        for (const usePos of [true, false]) {
          for (const packed of useIds ? packedModes : [false]) {
            const want = new Float32Array(rows * h);
            for (let i = 0; i < rows; i++) {
              for (let j = 0; j < h; j++) {
                const w = useIds ? word[ids[i] * h + j] : embeds[i * h + j];
                let v = Math.fround(w + type[tids[i] * h + j]);
                if (usePos) v = Math.fround(v + pos[pids[i] * h + j]);
                want[i * h + j] = v;
              }
            }
            for (const b of builds) {
              const e = b.engine;
              const wordCount = packed ? ceil8(V) * h : V * h;
              const counts = [wordCount, V * h, rows, rows * h, T * h, rows, P * h, rows, rows * h];
              const offs = place(e, counts);
              const [pw, pwr, pi, pe, pt, pti, pp, ppi, po] = offs;
              if (packed) {
                e.f32.set(word, pwr / 4);
                e.k.f32_pack_panels8(V, h, pwr, pw);
              } else e.f32.set(word, pw / 4);
              e.i32.set(ids, pi / 4);
              e.f32.set(embeds, pe / 4);
              e.f32.set(type, pt / 4);
              e.i32.set(tids, pti / 4);
              e.f32.set(pos, pp / 4);
              e.i32.set(pids, ppi / 4);
              const args = [useIds ? pi : 0, pe, pt, pti, usePos ? pp : 0, usePos ? ppi : 0, po];
              const what = `[${b.name}] embeddings h=${h} rows=${rows} ${useIds ? "ids" : "inputs_embeds"}${usePos ? " +pos" : ""}${packed ? " packed word table" : ""}`;
              writesOnly(
                e,
                offs,
                counts,
                { off: po, rows: 1, cols: rows * h, ld: rows * h },
                what,
                () => {
                  if (arity === 11) e.k.f32_bert_embeddings(rows, h, pw, packed ? 1 : 0, ...args);
                  else e.k.f32_bert_embeddings(rows, h, pw, ...args);
                },
              );
              const got = e.f32.slice(po / 4, po / 4 + rows * h);
              for (let i = 0; i < rows * h; i++) {
                if (!Object.is(got[i], want[i]))
                  assert.unreachable(
                    `${what}: row ${Math.floor(i / h)} col ${i % h}: got ${got[i]}, want ${want[i]}`,
                  );
              }
              assertGuards(e, po, rows * h, what);
            }
          }
        }
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// f16_to_f32 / bf16_to_f32: exhaustive over the 65536 bit patterns vs a JS decoder written from
// the formats' definitions (not from bit shifting). Exact: every f16 and bf16 value is a float32.
// NaN patterns must give NaN; ±0 keep their sign.

function decodeF16(h) {
  const s = h & 0x8000 ? -1 : 1,
    ex = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (ex === 0x1f) return m ? NaN : s * Infinity;
  if (ex === 0) return s * m * 2 ** -24; // subnormal: m/1024 · 2^-14
  return s * (1 + m / 1024) * 2 ** (ex - 15);
}
function decodeBF16(h) {
  const s = h & 0x8000 ? -1 : 1,
    ex = (h >> 7) & 0xff,
    m = h & 0x7f;
  if (ex === 0xff) return m ? NaN : s * Infinity;
  if (ex === 0) return s * m * 2 ** -133; // subnormal: m/128 · 2^-126
  return s * (1 + m / 128) * 2 ** (ex - 127);
}

for (const [fn, decode] of [
  ["f16_to_f32", decodeF16],
  ["bf16_to_f32", decodeBF16],
]) {
  test(`${fn}: all 65536 bit patterns, separate and in place (out == src), odd counts`, () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const r = rng(91);
    for (const b of builds) {
      const e = b.engine;
      const check = (got, src, what) => {
        for (let i = 0; i < src.length; i++) {
          const want = decode(src[i]);
          const ok = Number.isNaN(want) ? Number.isNaN(got[i]) : Object.is(got[i], want);
          if (!ok)
            assert.unreachable(
              `[${b.name}] ${fn} ${what}: 0x${src[i].toString(16).padStart(4, "0")} -> ${got[i]}, want ${want}`,
            );
        }
      };
      for (const inPlace of [false, true]) {
        for (const src of [
          all,
          Uint16Array.from({ length: 1 }, () => (r() * 65536) | 0),
          Uint16Array.from({ length: 13 }, () => (r() * 65536) | 0),
          Uint16Array.from({ length: 17 }, () => (r() * 65536) | 0),
        ]) {
          const n = src.length;
          const [ps, po] = place(e, [Math.ceil(n / 2), n]);
          const srcPtr = inPlace ? po : ps;
          new Uint16Array(e.memory.buffer, srcPtr, n).set(src);
          const what = `n=${n}${inPlace ? " in place" : ""}`;
          writesOnly(
            e,
            [ps, po],
            [Math.ceil(n / 2), n],
            { off: po, rows: 1, cols: n, ld: n },
            `[${b.name}] ${fn} ${what}`,
            () => e.k[fn](n, srcPtr, po),
          );
          check(e.f32.subarray(po / 4, po / 4 + n), src, what);
          assertGuards(e, po, n, `[${b.name}] ${fn} ${what}`);
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The relaxed-SIMD build in a child process when this runtime needs a flag for it.

// started at load so that it runs beside the tests above (two cores)
const child = relaxedInChild
  ? new Promise((resolve) => {
      const file = fileURLToPath(import.meta.url);
      const p = spawn(process.execPath, ["--experimental-wasm-relaxed-simd", file], {
        env: { ...process.env, SIMDBERT_KERNEL_BUILDS: "relaxed" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (out += d));
      p.on("error", (err) => resolve({ code: -1, out: String(err) }));
      p.on("close", (code) => resolve({ code, out }));
    })
  : null;

test("relaxed-SIMD build", async () => {
  if (builds.some((b) => b.name === "relaxed")) return; // tested above, in this process
  if (!WANT.includes("relaxed")) return;
  if (!child) return;
  const { code, out } = await child;
  if (out.includes(CHILD_UNSUPPORTED) || (code !== 0 && /bad option/i.test(out))) {
    console.log(
      `  note: relaxed-SIMD build not tested: this runtime does not support it even with --experimental-wasm-relaxed-simd\n${out}`,
    );
    return;
  }
  if (code !== 0)
    assert.unreachable(
      `the kernel tests failed on the relaxed-SIMD build (child node --experimental-wasm-relaxed-simd):\n${out}`,
    );
  const at = out.indexOf(REPORT_TAG);
  assert.ok(at >= 0, `the relaxed-SIMD child printed no report:\n${out}`);
  childReport = JSON.parse(out.slice(at + REPORT_TAG.length, out.indexOf("\n", at)));
});

let childReport = null; // [what, build, text][] from the relaxed child

test.after(() => {
  if (!builds.length) return;
  const rows = [];
  for (const [what, byBuild] of report)
    for (const [build, { value, fmt }] of byBuild) rows.push([what, build, fmt(value)]);
  if (!WANT.includes("plain")) {
    console.log(REPORT_TAG + JSON.stringify(rows)); // read by the parent process
    return;
  }
  for (const r of childReport ?? []) rows.push(r);
  const whats = [...new Set(rows.map((r) => r[0]))].sort();
  const lines = whats.map((w) => {
    const mine = rows.filter((r) => r[0] === w);
    const first = mine[0][2];
    const rest = mine
      .slice(1)
      .filter((r) => r[2] !== first)
      .map((r) => ` | ${r[1]}: ${r[2]}`);
    return `    ${w}: ${first}${mine.length > 1 && !rest.length ? " (all builds)" : ` (${mine[0][1]})`}${rest.join("")}`;
  });
  console.log(
    `\n  kernel tests, worst measured errors (builds: ${[...builds.map((b) => b.name), ...(childReport ? ["relaxed (child)"] : [])].join(", ")}):\n${lines.join("\n")}`,
  );
});

test.run();
