// How one kernel call splits into tasks for the thread pool (shared by the engine and the pool
// threads): a job is a kernel, its arguments and a task count; task i covers the i-th of
// nTasks equal parts of the work (GEMM column panels or row blocks, attention (batch, head)
// pairs, rows, elements). Whoever takes task i computes exactly the part one thread would
// compute there, so results do not depend on who ran what.
//
// A job's arguments travel to the pool as one flat list of numbers (copied into shared memory);
// each job names its fields once, below (the engine writes them with `jobArgs`, a task reads them
// back by name), and every GEMM is split by one routine, `gemmPart`.

import type { Kernels } from "./kernel_bindings.js";
import { PANEL_COLS, TILE_ROWS, type LinearDType } from "./linear.js";
import { f32At } from "./memory.js";

export const GEMM = 0,
  GEMM_ROWS = 1,
  MHA = 2,
  LAYERNORM = 3,
  ACTIVATION = 4,
  WEIGHT_GEMM = 5,
  WEIGHT_GEMM_ROWS = 6,
  Q8_PACK = 7;

type Fields = readonly string[];
/** A job's arguments by name. */
export type JobArgs<F extends Fields> = { [K in F[number]]: number };

/** f32_gemm_4x8 on B read in place (B's k steps kStride bytes apart, panels panelStride bytes apart). */
export const GEMM_ARGS = [
  "m",
  "n",
  "k",
  "a",
  "lda",
  "b",
  "kStride",
  "panelStride",
  "bias",
  "c",
  "ldc",
  "r",
  "ldr",
] as const;

/**
 * A weight GEMM on packed A (rows in tiles of TILE_ROWS, tileBytes per tile) and packed weights w
 * (panels of PANEL_COLS columns, panelBytes per panel), by the micro-kernel of the weights' dtype
 * (WEIGHT_DTYPES): q8 also reads the rows' parameters rq (8 bytes a row) and the channels' scales
 * and sums; f16 widens its panels in scratch (32·k bytes per thread).
 */
export const WEIGHT_GEMM_ARGS = [
  "dtype",
  "m",
  "n",
  "k",
  "ap",
  "tileBytes",
  "w",
  "panelBytes",
  "bias",
  "c",
  "ldc",
  "r",
  "ldr",
  "act",
  "rq",
  "scales",
  "sums",
  "scratch",
] as const;

/** The weights' dtypes as a WEIGHT_GEMM job names them. */
export const WEIGHT_DTYPES: Readonly<Record<LinearDType, number>> = { f32: 0, f16: 1, q8: 2 };

/** q8_pack_rows4: rows of A quantized and packed in tiles of TILE_ROWS (tileBytes each), their parameters at rq. */
export const Q8_PACK_ARGS = ["m", "k", "a", "lda", "ap", "rq", "tileBytes"] as const;
/** f32_mha over `pairs` (batch, head) pairs, its arguments in the block at `context`. */
export const MHA_ARGS = ["pairs", "context"] as const;
export const LAYERNORM_ARGS = [
  "rows",
  "n",
  "x",
  "ldx",
  "gamma",
  "beta",
  "eps",
  "y",
  "ldy",
] as const;
export const ACTIVATION_ARGS = ["kind", "count", "x", "y"] as const;

/** A job's arguments as the flat list the pool carries. */
export function jobArgs<F extends Fields>(fields: F, x: JobArgs<F>): number[] {
  return fields.map((f: F[number]) => x[f]);
}

function read<F extends Fields>(fields: F, a: ArrayLike<number>): JobArgs<F> {
  const o: Record<string, number> = {};
  for (let i = 0; i < fields.length; i++) o[fields[i]] = a[i];
  return o as JobArgs<F>;
}

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

/** The block of C[m, n] a GEMM task computes: rows [m0, m1) (row unit t0 first), columns [n0, n1) (panel p0 first). */
interface GemmPart {
  m0: number;
  m1: number;
  t0: number;
  n0: number;
  n1: number;
  p0: number;
}

/**
 * Task `task` of `tasks` of a GEMM over C[m, n]: by column panels of PANEL_COLS, or (byRows) by
 * blocks of whole units of `rowUnit` rows (a packed A's tiles). Null when the part is empty.
 */
function gemmPart(
  byRows: boolean,
  rowUnit: number,
  task: number,
  tasks: number,
  m: number,
  n: number,
): GemmPart | null {
  let m0 = 0,
    m1 = m,
    t0 = 0,
    n0 = 0,
    n1 = n,
    p0 = 0;
  if (byRows) {
    const units = Math.ceil(m / rowUnit);
    t0 = part(task, tasks, units);
    m0 = t0 * rowUnit;
    m1 = Math.min(part(task + 1, tasks, units) * rowUnit, m);
  } else {
    const panels = Math.ceil(n / PANEL_COLS);
    p0 = part(task, tasks, panels);
    n0 = p0 * PANEL_COLS;
    n1 = Math.min(part(task + 1, tasks, panels) * PANEL_COLS, n);
  }
  return m1 <= m0 || n1 <= n0 ? null : { m0, m1, t0, n0, n1, p0 };
}

/**
 * Runs task `task` of `n` of a job. a: the job's arguments (the fields above, by kind); thread:
 * the runner's index (0 = the caller), for per-thread scratch.
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
    case GEMM:
    case GEMM_ROWS: {
      // tasks take 8-wide column panels, or blocks of rows
      const g = read(GEMM_ARGS, a);
      const s = gemmPart(kind === GEMM_ROWS, 1, task, n, g.m, g.n);
      if (!s) return;
      k.f32_gemm_4x8(
        s.m1 - s.m0,
        s.n1 - s.n0,
        g.k,
        f32At(g.a, s.m0 * g.lda),
        g.lda,
        g.b + s.p0 * g.panelStride,
        g.kStride,
        g.panelStride,
        f32At(g.bias, s.n0),
        f32At(g.c, s.m0 * g.ldc + s.n0),
        g.ldc,
        f32At(g.r, s.m0 * g.ldr + s.n0),
        g.ldr,
      );
      return;
    }
    case WEIGHT_GEMM:
    case WEIGHT_GEMM_ROWS: {
      // tasks take 8-wide column panels, or blocks of packed A's row tiles
      const g = read(WEIGHT_GEMM_ARGS, a);
      const s = gemmPart(kind === WEIGHT_GEMM_ROWS, TILE_ROWS, task, n, g.m, g.n);
      if (!s) return;
      const m = s.m1 - s.m0,
        cols = s.n1 - s.n0;
      const ap = g.ap + s.t0 * g.tileBytes,
        w = g.w + s.p0 * g.panelBytes,
        bias = f32At(g.bias, s.n0),
        c = f32At(g.c, s.m0 * g.ldc + s.n0),
        r = f32At(g.r, s.m0 * g.ldr + s.n0);
      if (g.dtype === WEIGHT_DTYPES.f32)
        k.f32_gemm_4x8_packed(m, cols, g.k, ap, w, g.panelBytes, bias, c, g.ldc, r, g.ldr, g.act);
      else if (g.dtype === WEIGHT_DTYPES.f16)
        k.f16_gemm_4x8_packed(
          m,
          cols,
          g.k,
          ap,
          w,
          bias,
          c,
          g.ldc,
          r,
          g.ldr,
          g.act,
          g.scratch + thread * 32 * g.k,
        );
      else
        k.q8_gemm_packed(
          m,
          cols,
          g.k,
          ap,
          g.rq + 8 * s.m0,
          w,
          f32At(g.scales, s.n0),
          f32At(g.sums, s.n0),
          bias,
          c,
          g.ldc,
          r,
          g.ldr,
          g.act,
        );
      return;
    }
    case Q8_PACK: {
      // rows by tiles of TILE_ROWS, each row quantized on its own (the same bits however split)
      const g = read(Q8_PACK_ARGS, a);
      const s = gemmPart(true, TILE_ROWS, task, n, g.m, 1);
      if (!s) return;
      k.q8_pack_rows4(
        s.m1 - s.m0,
        g.k,
        f32At(g.a, s.m0 * g.lda),
        g.lda,
        g.ap + s.t0 * g.tileBytes,
        g.rq + 8 * s.m0,
      );
      return;
    }
    case MHA: {
      // (batch, head) pairs in contiguous ranges; the kernel finds the thread's scratch from its index
      const { pairs, context } = read(MHA_ARGS, a);
      const bh0 = part(task, n, pairs),
        bh1 = part(task + 1, n, pairs);
      if (bh1 <= bh0) return;
      k.f32_mha(context, bh0, bh1, thread);
      return;
    }
    case LAYERNORM: {
      // tasks take blocks of rows
      const g = read(LAYERNORM_ARGS, a);
      const r0 = part(task, n, g.rows),
        r1 = part(task + 1, n, g.rows);
      if (r1 <= r0) return;
      k.f32_layernorm(
        r1 - r0,
        g.n,
        f32At(g.x, r0 * g.ldx),
        g.ldx,
        g.gamma,
        g.beta,
        g.eps,
        f32At(g.y, r0 * g.ldy),
        g.ldy,
      );
      return;
    }
    case ACTIVATION: {
      // tasks take element ranges in blocks of 16
      const g = read(ACTIVATION_ARGS, a);
      const blocks = Math.ceil(g.count / 16);
      const i0 = part(task, n, blocks) * 16,
        i1 = Math.min(part(task + 1, n, blocks) * 16, g.count);
      if (i1 <= i0) return;
      k.f32_activation(g.kind, i1 - i0, f32At(g.x, i0), f32At(g.y, i0));
      return;
    }
  }
}
