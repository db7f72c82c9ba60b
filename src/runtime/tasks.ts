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

import type { Kernels } from "./kernels.js";
import { PANEL_COLS, TILE_ROWS } from "./linear.js";
import { f32At } from "./memory.js";

/** The kernels a task runs (the pool threads' own instances have the same exports). */
export type TaskKernels = Pick<
  Kernels,
  | "f32_gemm_4x8"
  | "f32_gemm_4x8_packed"
  | "f32_mha"
  | "f32_layernorm"
  | "f32_activation"
  | "q8_gemm_packed"
  | "q8_pack_rows4"
  | "f16_gemm_4x8_packed"
>;

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
      // f32_gemm_4x8's arguments; tasks take 8-wide column panels
      const [m, cols, kk, pa, lda, b, kStride, panelStride, bias, c, ldc, r, ldr] = a as number[];
      const panels = Math.ceil(cols / PANEL_COLS);
      const p0 = part(task, n, panels),
        p1 = part(task + 1, n, panels);
      const n0 = p0 * PANEL_COLS,
        n1 = Math.min(p1 * PANEL_COLS, cols);
      if (n1 <= n0) return;
      k.f32_gemm_4x8(
        m,
        n1 - n0,
        kk,
        pa,
        lda,
        b + p0 * panelStride,
        kStride,
        panelStride,
        f32At(bias, n0),
        f32At(c, n0),
        ldc,
        f32At(r, n0),
        ldr,
      );
      return;
    }
    case GEMM_ROWS: {
      // f32_gemm_4x8's arguments; tasks take blocks of rows
      const [m, cols, kk, pa, lda, b, kStride, panelStride, bias, c, ldc, r, ldr] = a as number[];
      const m0 = part(task, n, m),
        m1 = part(task + 1, n, m);
      if (m1 <= m0) return;
      k.f32_gemm_4x8(
        m1 - m0,
        cols,
        kk,
        f32At(pa, m0 * lda),
        lda,
        b,
        kStride,
        panelStride,
        bias,
        f32At(c, m0 * ldc),
        ldc,
        f32At(r, m0 * ldr),
        ldr,
      );
      return;
    }
    case GEMM_PACKED: {
      // f32_gemm_4x8_packed's arguments; tasks take 8-wide column panels
      const [m, cols, kk, ap, b, panelStride, bias, c, ldc, r, ldr, act] = a as number[];
      const panels = Math.ceil(cols / PANEL_COLS);
      const p0 = part(task, n, panels),
        p1 = part(task + 1, n, panels);
      const n0 = p0 * PANEL_COLS,
        n1 = Math.min(p1 * PANEL_COLS, cols);
      if (n1 <= n0) return;
      k.f32_gemm_4x8_packed(
        m,
        n1 - n0,
        kk,
        ap,
        b + p0 * panelStride,
        panelStride,
        f32At(bias, n0),
        f32At(c, n0),
        ldc,
        f32At(r, n0),
        ldr,
        act,
      );
      return;
    }
    case GEMM_PACKED_ROWS: {
      // f32_gemm_4x8_packed's arguments; tasks take tiles of 4 rows (packed A holds k·4 floats per tile)
      const [m, cols, kk, ap, b, panelStride, bias, c, ldc, r, ldr, act] = a as number[];
      const tiles = Math.ceil(m / TILE_ROWS);
      const t0 = part(task, n, tiles),
        t1 = part(task + 1, n, tiles);
      if (t1 <= t0) return;
      const m0 = t0 * TILE_ROWS,
        m1 = Math.min(t1 * TILE_ROWS, m);
      k.f32_gemm_4x8_packed(
        m1 - m0,
        cols,
        kk,
        f32At(ap, t0 * TILE_ROWS * kk),
        b,
        panelStride,
        bias,
        f32At(c, m0 * ldc),
        ldc,
        f32At(r, m0 * ldr),
        ldr,
        act,
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
      // [pairs, context]: (batch, head) pairs in contiguous ranges; the kernel finds the thread's
      // scratch from its index
      const [pairs, context] = [a[0], a[1]];
      const bh0 = part(task, n, pairs),
        bh1 = part(task + 1, n, pairs);
      if (bh1 <= bh0) return;
      k.f32_mha(context, bh0, bh1, thread);
      return;
    }
    case LAYERNORM: {
      // f32_layernorm's arguments; tasks take blocks of rows
      const [rows, cols, x, ldx, gamma, beta, eps, y, ldy] = a as number[];
      const r0 = part(task, n, rows),
        r1 = part(task + 1, n, rows);
      if (r1 <= r0) return;
      k.f32_layernorm(
        r1 - r0,
        cols,
        f32At(x, r0 * ldx),
        ldx,
        gamma,
        beta,
        eps,
        f32At(y, r0 * ldy),
        ldy,
      );
      return;
    }
    case ACTIVATION: {
      // f32_activation's arguments; tasks take element ranges in blocks of 16
      const [kind, count, x, y] = a as number[];
      const blocks = Math.ceil(count / 16);
      const i0 = part(task, n, blocks) * 16,
        i1 = Math.min(part(task + 1, n, blocks) * 16, count);
      if (i1 <= i0) return;
      k.f32_activation(kind, i1 - i0, f32At(x, i0), f32At(y, i0));
      return;
    }
  }
}
