// How one kernel call splits into tasks for the thread pool (shared by the engine and the pool
// threads): a job is a kernel, its arguments and a task count; task i covers the i-th of
// nTasks equal parts of the work (GEMM column panels or row blocks, attention (batch, head)
// pairs, rows, elements). Whoever takes task i computes exactly the part one thread would
// compute there, so results do not depend on who ran what.

export const GEMM = 0,
  GEMM_ROWS = 1,
  MHA = 2,
  LAYERNORM = 3,
  ACTIVATION = 4,
  GEMM_PACKED = 5,
  GEMM_PACKED_ROWS = 6,
  Q8_GEMM = 7,
  Q8_GEMM_ROWS = 8,
  F16_GEMM = 9,
  F16_GEMM_ROWS = 10,
  Q8_PACK = 11;

type Fn = (...a: number[]) => void;
export interface TaskKernels {
  f32_gemm_4x8: Fn;
  f32_gemm_4x8_packed: Fn;
  f32_mha: Fn;
  f32_layernorm: Fn;
  f32_activation: Fn;
  q8_gemm_packed: Fn;
  q8_pack_rows4: Fn;
  f16_gemm_4x8_packed: Fn;
}

const part = (task: number, n: number, total: number) => Math.floor((task * total) / n);

/**
 * Runs task `task` of `n` of a job. a: the job's arguments (see Engine: gemm, mha, layernorm,
 * activation); thread: the runner's index (0 = the caller), for per-thread scratch.
 */
export function runTask(
  k: TaskKernels,
  kind: number,
  a: ArrayLike<number>,
  task: number,
  n: number,
  thread: number,
): void {
  switch (kind) {
    case GEMM: {
      // [m, n, k, a, lda, b, kStride, panelStride, bias, c, ldc, r, ldr]: columns by 8-wide panels
      const cols = a[1];
      const panels = Math.ceil(cols / 8);
      const p0 = part(task, n, panels),
        p1 = part(task + 1, n, panels);
      const n0 = p0 * 8,
        n1 = Math.min(p1 * 8, cols);
      if (n1 <= n0) return;
      k.f32_gemm_4x8(
        a[0],
        n1 - n0,
        a[2],
        a[3],
        a[4],
        a[5] + p0 * a[7],
        a[6],
        a[7],
        a[8] && a[8] + 4 * n0,
        a[9] + 4 * n0,
        a[10],
        a[11] && a[11] + 4 * n0,
        a[12],
      );
      return;
    }
    case GEMM_ROWS: {
      const m0 = part(task, n, a[0]),
        m1 = part(task + 1, n, a[0]);
      if (m1 <= m0) return;
      k.f32_gemm_4x8(
        m1 - m0,
        a[1],
        a[2],
        a[3] + 4 * m0 * a[4],
        a[4],
        a[5],
        a[6],
        a[7],
        a[8],
        a[9] + 4 * m0 * a[10],
        a[10],
        a[11] && a[11] + 4 * m0 * a[12],
        a[12],
      );
      return;
    }
    case GEMM_PACKED: {
      // [m, n, k, ap, b, panelStride, bias, c, ldc, r, ldr, act]: columns by 8-wide panels
      const cols = a[1];
      const panels = Math.ceil(cols / 8);
      const p0 = part(task, n, panels),
        p1 = part(task + 1, n, panels);
      const n0 = p0 * 8,
        n1 = Math.min(p1 * 8, cols);
      if (n1 <= n0) return;
      k.f32_gemm_4x8_packed(
        a[0],
        n1 - n0,
        a[2],
        a[3],
        a[4] + p0 * a[5],
        a[5],
        a[6] && a[6] + 4 * n0,
        a[7] + 4 * n0,
        a[8],
        a[9] && a[9] + 4 * n0,
        a[10],
        a[11],
      );
      return;
    }
    case GEMM_PACKED_ROWS: {
      // rows by tiles of 4 (packed A holds k·4 floats per tile)
      const tiles = Math.ceil(a[0] / 4);
      const t0 = part(task, n, tiles),
        t1 = part(task + 1, n, tiles);
      if (t1 <= t0) return;
      const m0 = t0 * 4,
        m1 = Math.min(t1 * 4, a[0]);
      k.f32_gemm_4x8_packed(
        m1 - m0,
        a[1],
        a[2],
        a[3] + 16 * t0 * a[2],
        a[4],
        a[5],
        a[6],
        a[7] + 4 * m0 * a[8],
        a[8],
        a[9] && a[9] + 4 * m0 * a[10],
        a[10],
        a[11],
      );
      return;
    }
    case Q8_GEMM:
    case Q8_GEMM_ROWS: {
      // [m, n, k, ap, rq, w, sw, ws, bias, c, ldc, r, ldr, act, panelBytes, tileBytes]
      let m0 = 0,
        m1 = a[0],
        n0 = 0,
        n1 = a[1],
        p0 = 0;
      if (kind === Q8_GEMM) {
        // columns by 8-wide panels
        const panels = Math.ceil(a[1] / 8);
        p0 = part(task, n, panels);
        n0 = p0 * 8;
        n1 = Math.min(part(task + 1, n, panels) * 8, a[1]);
      } else {
        // rows by tiles of 4 (packed A: tileBytes per tile, row parameters 8 bytes a row)
        const tiles = Math.ceil(a[0] / 4);
        m0 = part(task, n, tiles) * 4;
        m1 = Math.min(part(task + 1, n, tiles) * 4, a[0]);
      }
      if (n1 <= n0 || m1 <= m0) return;
      k.q8_gemm_packed(
        m1 - m0,
        n1 - n0,
        a[2],
        a[3] + (m0 / 4) * a[15],
        a[4] + 8 * m0,
        a[5] + p0 * a[14],
        a[6] + 4 * n0,
        a[7] + 4 * n0,
        a[8] && a[8] + 4 * n0,
        a[9] + 4 * (m0 * a[10] + n0),
        a[10],
        a[11] && a[11] + 4 * (m0 * a[12] + n0),
        a[12],
        a[13],
      );
      return;
    }
    case Q8_PACK: {
      // [m, k, a, lda, ap, rq, tileBytes]: rows by tiles of 4, each quantized on its own
      const tiles = Math.ceil(a[0] / 4);
      const t0 = part(task, n, tiles),
        t1 = part(task + 1, n, tiles);
      if (t1 <= t0) return;
      const m0 = t0 * 4,
        m1 = Math.min(t1 * 4, a[0]);
      k.q8_pack_rows4(m1 - m0, a[1], a[2] + 4 * m0 * a[3], a[3], a[4] + t0 * a[6], a[5] + 8 * m0);
      return;
    }
    case F16_GEMM:
    case F16_GEMM_ROWS: {
      // [m, n, k, ap, b, bias, c, ldc, r, ldr, act, scratch, panelBytes]: thread t widens its
      // panels in scratch + t·32·k
      let m0 = 0,
        m1 = a[0],
        n0 = 0,
        n1 = a[1],
        p0 = 0;
      if (kind === F16_GEMM) {
        const panels = Math.ceil(a[1] / 8);
        p0 = part(task, n, panels);
        n0 = p0 * 8;
        n1 = Math.min(part(task + 1, n, panels) * 8, a[1]);
      } else {
        const tiles = Math.ceil(a[0] / 4);
        m0 = part(task, n, tiles) * 4;
        m1 = Math.min(part(task + 1, n, tiles) * 4, a[0]);
      }
      if (n1 <= n0 || m1 <= m0) return;
      k.f16_gemm_4x8_packed(
        m1 - m0,
        n1 - n0,
        a[2],
        a[3] + 16 * (m0 / 4) * a[2],
        a[4] + p0 * a[12],
        a[5] && a[5] + 4 * n0,
        a[6] + 4 * (m0 * a[7] + n0),
        a[7],
        a[8] && a[8] + 4 * (m0 * a[9] + n0),
        a[9],
        a[10],
        a[11] + thread * 32 * a[2],
      );
      return;
    }
    case MHA: {
      // [pairs, heads, sq, sk, d, q, qB, qH, ldq, k, kB, kH, ldk, v, vB, vH, ldv, rel, e, maxPos,
      //  l0, lstep, mask, maskB, ldm, headScales, scale, probs, probsStride, scratch, ctx, ctxB, ldc,
      //  pack, packBytes]: thread t packs at pack + t·packBytes
      const bh0 = part(task, n, a[0]),
        bh1 = part(task + 1, n, a[0]);
      if (bh1 <= bh0) return;
      const probs = a[28] ? a[27] : a[27] + 4 * thread * a[29];
      k.f32_mha(
        bh0,
        bh1,
        a[1],
        a[2],
        a[3],
        a[4],
        a[5],
        a[6],
        a[7],
        a[8],
        a[9],
        a[10],
        a[11],
        a[12],
        a[13],
        a[14],
        a[15],
        a[16],
        a[17],
        a[18],
        a[19],
        a[20],
        a[21],
        a[22],
        a[23],
        a[24],
        a[25],
        a[26],
        probs,
        a[28],
        a[30],
        a[31],
        a[32],
        a[33] && a[33] + thread * a[34],
        a[34],
      );
      return;
    }
    case LAYERNORM: {
      // [rows, n, x, ldx, gamma, beta, eps, y, ldy]
      const r0 = part(task, n, a[0]),
        r1 = part(task + 1, n, a[0]);
      if (r1 <= r0) return;
      k.f32_layernorm(
        r1 - r0,
        a[1],
        a[2] + 4 * r0 * a[3],
        a[3],
        a[4],
        a[5],
        a[6],
        a[7] + 4 * r0 * a[8],
        a[8],
      );
      return;
    }
    case ACTIVATION: {
      // [kind, count, x, y]: element ranges in blocks of 16
      const blocks = Math.ceil(a[1] / 16);
      const i0 = part(task, n, blocks) * 16,
        i1 = Math.min(part(task + 1, n, blocks) * 16, a[1]);
      if (i1 <= i0) return;
      k.f32_activation(a[0], i1 - i0, a[2] + 4 * i0, a[3] + 4 * i0);
      return;
    }
  }
}
