// A/B of f16_gemm_4x8_packed between two builds of the kernels (a change to the kernels' code that
// must not change their behaviour): the same bits on odd and round shapes, with and without the
// activation, and the time ratio (medians of interleaved rounds in one process).
//
//   npx asc assembly/index.ts --target release -o /tmp/before.wasm   (on the old tree)
//   npx asc assembly/index.ts --target release -o /tmp/after.wasm    (on the new tree)
//   node bench/ab_f16_gemm.mjs /tmp/before.wasm /tmp/after.wasm
import { readFileSync } from "node:fs";
const [A, B] = process.argv.slice(2);
async function inst(path) {
  const memory = new WebAssembly.Memory({ initial: 2048, maximum: 65536 });
  const { instance } = await WebAssembly.instantiate(readFileSync(path), { env: { memory } });
  return { k: instance.exports, memory };
}
const builds = [await inst(A), await inst(B)];
const shapes = [
  [128, 384, 1536],
  [17, 100, 13],
  [128, 1536, 384],
  [1, 384, 384],
];
let seed = 1;
const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
for (const [M, K, N] of shapes) {
  const a = Float32Array.from({ length: M * K }, rnd);
  const w = Float32Array.from({ length: N * K }, rnd);
  const bias = Float32Array.from({ length: Math.ceil(N / 8) * 8 }, rnd);
  const r = Float32Array.from({ length: M * N }, rnd);
  const times = [[], []];
  const setup = builds.map(({ k, memory }) => {
    let top = (k.heap_base() + 63) & ~63;
    const al = (bytes) => {
      const p = top;
      top = (top + bytes + 127) & ~63;
      return p;
    };
    const pa = al(4 * M * K),
      pw = al(4 * N * K),
      pw16 = al(2 * N * K),
      pp = al(2 * Math.ceil(N / 8) * 8 * K);
    const pap = al(16 * Math.ceil(M / 4) * K),
      pb = al(4 * bias.length),
      pc = al(4 * M * N),
      pr = al(4 * M * N),
      sc = al(32 * K);
    const f32 = new Float32Array(memory.buffer);
    f32.set(a, pa / 4);
    f32.set(w, pw / 4);
    f32.set(bias, pb / 4);
    f32.set(r, pr / 4);
    k.f32_to_f16(N * K, pw, pw16);
    k.f16_pack_panels8(N, K, pw16, pp);
    k.f32_pack_rows4(M, K, pa, K, pap);
    return { k, memory, pp, pap, pb, pc, pr, sc };
  });
  const run = (s, act) =>
    s.k.f16_gemm_4x8_packed(M, N, K, s.pap, s.pp, s.pb, s.pc, N, s.pr, N, act, s.sc);
  for (const act of [0, 1]) {
    const res = setup.map((s) => {
      run(s, act);
      return new Float32Array(s.memory.buffer, s.pc, M * N).slice();
    });
    const same = res[0].every((x, i) => Object.is(x, res[1][i]));
    console.log(`${M}x${K}x${N} act ${act}: bits ${same ? "identical" : "DIFFER"}`);
  }
  const reps = Math.max(1, Math.round(2e7 / (M * N * K)));
  for (let round = 0; round < 31; round++)
    for (const i of round % 2 ? [1, 0] : [0, 1]) {
      const t0 = performance.now();
      for (let q = 0; q < reps; q++) run(setup[i], 1);
      times[i].push((performance.now() - t0) / reps);
    }
  const med = (x) => x.sort((p, q) => p - q)[x.length >> 1];
  console.log(
    `  median ms: before ${med(times[0]).toFixed(4)} after ${med(times[1]).toFixed(4)} ratio after/before ${(med(times[1]) / med(times[0])).toFixed(3)}`,
  );
}
