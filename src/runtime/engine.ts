// One WebAssembly instance and its linear memory, laid out as
//
//   [ module static data | weights (laid once, at load) | kept | arena (activations, per request) ]
//
// Weights are placed by a bump allocator and never move. "kept" is a resizable region whose
// content survives between requests (a decoder's key/value cache). The arena starts after it;
// each forward plans its buffers in it (Arena) and the memory grows only when a request needs more
// than any before it. Kernels get byte offsets; JS reads and writes through typed-array views that
// are re-made after a grow (growing detaches the old ArrayBuffer).
import { autoRelaxed, kernelsModule, type ModelDtype, type WasmOptions } from "./wasm.js";
import { CTL_BYTES, MAX_THREADS, ThreadPool } from "./threads.js";
import {
  ACTIVATION,
  ACTIVATION_ARGS,
  GEMM,
  GEMM_ARGS,
  GEMM_ROWS,
  LAYERNORM,
  LAYERNORM_ARGS,
  MHA,
  MHA_ARGS,
  Q8_PACK,
  Q8_PACK_ARGS,
  WEIGHT_DTYPES,
  WEIGHT_GEMM,
  WEIGHT_GEMM_ARGS,
  WEIGHT_GEMM_ROWS,
  jobArgs,
  runTask,
} from "./tasks.js";
import { EngineError } from "../errors.js";
import { MHA_CONTEXT_BYTES, writeMhaContext, type Kernels } from "./kernel_bindings.js";
import { mhaContext, type MhaArgs } from "./attention.js";
import { F32_BYTES, alignUp, f32At, f32Bytes } from "./memory.js";
import {
  PANEL_COLS,
  PANEL_K_BYTES,
  TILE_ROWS,
  type LinearEpilogue,
  type PackedLinear,
} from "./linear.js";
export { EngineError };

export interface EngineOptions extends WasmOptions {
  /**
   * Threads for the kernels (WebAssembly threads on a SharedArrayBuffer memory): a number, or
   * "auto" for the machine's cores. Default 1. Where SharedArrayBuffer is unavailable (edge
   * workers, pages without cross-origin isolation) it falls back to 1.
   */
  threads?: number | "auto";
  /**
   * Most bytes of WebAssembly memory one request's activations (the arena, with a decoder's kept
   * cache) may use; a request needing more is refused with an EngineError instead of growing the
   * memory. WebAssembly memory never shrinks: without a cap, one huge batch keeps its memory for
   * the engine's life (a new engine, loading the model again, is the way to get it back).
   * Default: no cap (the runtime's 4 GiB limit).
   */
  maxArenaBytes?: number;
}

/** Below this many flops a GEMM stays on one thread: a hand-off costs a few microseconds. */
const PARALLEL_FLOPS = 1 << 19;
/**
 * Bytes of the arena's first buffer, where engine.gemm packs A (f32_pack_rows4) for the weights'
 * GEMM: rows go in blocks that fit it (a block of A then stays in L2 while W's panels stream
 * past), so it bounds the packing's memory whatever the batch. 512 KiB: 84 rows at K = 1536.
 */
const PACK_BYTES = 1 << 19;
/**
 * Packing scratch per thread for attention (f32_mha packs each (batch, head) pair's P and V in it
 * for P·V): 256 KiB holds up to seq 227 at head size 64; longer pairs read V in place. The same
 * for every thread count, so that a pair takes the same path on one thread or many; the packing
 * buffer is sized for max(PACK_BYTES, threads · MHA_PACK_BYTES).
 */
const MHA_PACK_BYTES = 1 << 18;
/** Below this many floats a LayerNorm stays on one thread (rows·n). */
const PARALLEL_LAYERNORM_FLOATS = 1 << 15;
/** Below this many floats an activation pass stays on one thread. */
const PARALLEL_ACTIVATION_FLOATS = 1 << 14;
/** Tasks per thread: enough that a thread slowed by another process leaves its share to the rest. */
const TASKS_PER_THREAD = 4;

const PAGE = 65536;
/** Every allocation is followed by this much readable slack (kernels may load, never store, up
 * to 8 floats past a row end). */
const SLACK = 64;

export class Engine {
  readonly memory: WebAssembly.Memory;
  /** @internal the kernels' exports */
  readonly k: Kernels;
  readonly relaxed: boolean;
  /**
   * The int8 micro-kernel of q8 weights (assembly/gemm_q8.ts): "i16-dot" (i32x4.dot_i16x8_s, every
   * build) or, in the relaxed build where the engine's relaxed dot is exact on 8-bit activations,
   * "relaxed-dot-u8" (x86 AVX-VNNI) / "relaxed-dot-i8" (ARM sdot). The same bits either way.
   */
  readonly q8Kernel: "i16-dot" | "relaxed-dot-u8" | "relaxed-dot-i8";
  /** End of the permanent (weights) region; the arena starts here. */
  private top: number;
  private keptBytes = 0;
  private arenaEnd: number;
  private buf: ArrayBuffer | null = null;
  private _f32!: Float32Array;
  private _i32!: Int32Array;
  private _u8!: Uint8Array;
  private pool: ThreadPool | null = null;
  /** Offset of the packing buffer at the start of the current arena plan; -1 before any plan. */
  private pack = -1;
  /** Offset of f32_mha's argument block (MhaContext). */
  private mhaContext = 0;
  private packBytes = PACK_BYTES;
  private maxArena = Infinity;
  /** Calls on this engine (forwards of every model on it, loads into it), one after another. */
  private queue: Promise<unknown> = Promise.resolve();
  private loads = 0;

  private constructor(memory: WebAssembly.Memory, instance: WebAssembly.Instance) {
    this.memory = memory;
    this.k = instance.exports as unknown as Kernels;
    this.relaxed = this.k.relaxed() === 1;
    this.q8Kernel = (["i16-dot", "relaxed-dot-u8", "relaxed-dot-i8"] as const)[this.k.q8_kernel()];
    this.top = alignUp(this.k.heap_base());
    this.arenaEnd = this.top;
  }

  /**
   * `dtype`: the weights the engine is made for (fromPretrained passes it), so that relaxedSimd
   * "auto" picks the build that runs that dtype faster (autoRelaxed in wasm.ts).
   */
  static async create(options: EngineOptions = {}, dtype?: ModelDtype): Promise<Engine> {
    const threads = resolveThreads(
      options.threads,
      options.threads === "auto" ? await hardwareThreads() : 1,
    );
    const relaxedSimd =
      (options.relaxedSimd ?? "auto") === "auto" && options.wasm === undefined
        ? await autoRelaxed(dtype)
        : options.relaxedSimd;
    const mod = await kernelsModule({ ...options, relaxedSimd, sharedMemory: threads > 1 });
    const memory = new WebAssembly.Memory({
      initial: 1,
      maximum: 65536,
      ...(threads > 1 ? { shared: true } : {}),
    });
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(mod, { env: { memory } });
    } catch (e) {
      // a module given as { wasm } whose memory is not of the kind the thread count needs
      if (e instanceof WebAssembly.LinkError && options.wasm !== undefined) {
        throw new EngineError(
          `simdbert: the kernels passed as { wasm } do not fit ${threads > 1 ? `${threads} threads: pass the threads build (simdbert/wasm-threads)` : "one thread: pass simdbert/wasm, not a threads build"} (${e.message})`,
        );
      }
      throw e;
    }
    const engine = new Engine(memory, instance);
    if (engine.k.f32_mha_context_bytes() !== MHA_CONTEXT_BYTES)
      throw new EngineError(
        `simdbert: the kernels' f32_mha argument block is ${engine.k.f32_mha_context_bytes()} bytes, the engine writes ${MHA_CONTEXT_BYTES}: the .wasm and the JavaScript are from different builds`,
      );
    engine.mhaContext = engine.alloc(MHA_CONTEXT_BYTES);
    if (threads > 1) {
      const ctl = engine.alloc(CTL_BYTES);
      const k = engine.k;
      engine.pool = await ThreadPool.start(mod, memory, threads - 1, ctl, (kind, a, task, n, t) =>
        runTask(k, kind, a, task, n, t),
      );
    }
    engine.packBytes = Math.max(PACK_BYTES, threads * MHA_PACK_BYTES);
    const cap = options.maxArenaBytes;
    if (cap !== undefined) {
      if (typeof cap !== "number" || !(cap > 0) || !Number.isFinite(cap)) {
        engine.dispose();
        throw new EngineError(
          `simdbert: maxArenaBytes must be a positive number of bytes, got ${String(cap).slice(0, 40)}`,
        );
      }
      engine.maxArena = cap;
    }
    return engine;
  }

  /**
   * Runs `fn` after every call queued before it on this engine. Models sharing an engine queue
   * their forwards here, and loads into it hold it for their whole duration: a load awaits file
   * reads that land in wasm memory and stages rows past the weights, where a forward's arena
   * begins, so a forward (or another load) in between would corrupt both. The queue keeps only
   * the order, not the results (an output is not kept alive until the next call).
   */
  serialize<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Runs a load (weights laid into this engine) in the engine's queue, marked as loading. */
  load<T>(fn: () => Promise<T>): Promise<T> {
    return this.serialize(async () => {
      this.loads++;
      try {
        return await fn();
      } finally {
        this.loads--;
      }
    });
  }

  /** Whether a load into this engine is under way (a synchronous forward must not run now). */
  get loading(): boolean {
    return this.loads > 0;
  }

  /** Threads the kernels run on (1 without a pool). */
  get threads(): number {
    return this.pool?.size ?? 1;
  }

  /** @internal Tasks each thread (0: the caller) has run since the pool started ([] without a pool). */
  get tasksByThread(): number[] {
    return this.pool?.tasksTaken() ?? [];
  }

  /** Stops the pool's threads (the engine keeps working on one thread). */
  dispose(): void {
    this.pool?.terminate();
    this.pool = null;
  }

  // ---- kernels, split over the pool's threads when there is one ------------------------

  /** Runs a job of n tasks: on the pool when there is one and n > 1, else here in one piece. */
  private job(kind: number, args: number[], n: number): void {
    if (this.pool && n > 1) this.pool.run(kind, args, n);
    else runTask(this.k, kind, args, 0, 1, 0);
  }

  /**
   * y[m, n] = act(x[m, k]·Wᵀ + b (+ residual)) over a Linear's packed weights (PackedLinear.forward
   * comes here): the one entry of every weight GEMM, dispatched on the weights' dtype and layout.
   */
  linear(
    l: PackedLinear,
    m: number,
    x: number,
    ldx: number,
    y: number,
    ldy: number,
    epilogue: LinearEpilogue = {},
  ): void {
    const { residual = 0, ldr = 0, act = 0, bias = l.bias } = epilogue;
    switch (l.dtype) {
      case "f32": {
        const { n, k } = l;
        if (this.pack >= 0 && TILE_ROWS * f32Bytes(k) <= this.packBytes) {
          this.weightGemm(l, m, x, ldx, bias, y, ldy, residual, ldr, act);
          return;
        }
        // before any arena plan (no packing buffer): the same sums on A read in place
        this.gemmInPlace(
          m,
          n,
          k,
          x,
          ldx,
          l.ptr,
          PANEL_K_BYTES,
          l.panelBytes,
          bias,
          y,
          ldy,
          residual,
          ldr,
        );
        this.activationRows(act, m, n, y, ldy);
        return;
      }
      case "q8":
      case "f16":
        this.needPack(l);
        this.weightGemm(l, m, x, ldx, bias, y, ldy, residual, ldr, act);
        return;
      default:
        throw new EngineError(`simdbert: no GEMM for ${String(l.dtype)} weights`);
    }
  }

  private needPack(l: PackedLinear): void {
    if (this.pack < 0)
      throw new EngineError(
        `simdbert: a ${l.dtype} Linear [${l.n}, ${l.k}] runs only inside a forward (it packs A in the arena's packing buffer)`,
      );
  }

  /**
   * The weights' GEMM, every dtype (PackedLinear's panels of PANEL_COLS columns): rows of A packed
   * in blocks that fit the packing buffer (a block of A then stays in L2 while W's panels stream
   * past), each block multiplied by the dtype's micro-kernel, split over the threads by column
   * panels (or by row tiles when there are few panels). Per dtype:
   *   f32: A packed by f32_pack_rows4, f32_gemm_4x8_packed: the same bits as f32_gemm_4x8 (up to
   *        K = 4096, past which f32_gemm_4x8 splits K and, when R is C, adds R first);
   *   f16 (assembly/gemm_f16.ts): A packed as for f32; each thread widens its panels into its own
   *        scratch at the end of the packing buffer (32·k bytes a thread);
   *   q8 (assembly/gemm_q8.ts): rows quantized and packed by q8_pack_rows4 (per row, so a block's
   *        bits do not depend on the blocking; in parallel too), their parameters (8 bytes a row)
   *        after the block.
   */
  private weightGemm(
    l: PackedLinear,
    m: number,
    a: number,
    lda: number,
    bias: number,
    c: number,
    ldc: number,
    r: number,
    ldr: number,
    act: number,
  ): void {
    const { n, k, dtype } = l;
    const T = this.threads;
    const q8 = dtype === "q8";
    // bytes of packed A per tile of TILE_ROWS rows, and of the packing buffer a tile takes
    const tileBytes = q8 ? this.k.q8_packed_a_bytes(TILE_ROWS, k) : TILE_ROWS * f32Bytes(k);
    const tileRoom = q8 ? tileBytes + 8 * TILE_ROWS : TILE_ROWS * f32Bytes(Math.max(k, 1));
    const room = this.packBytes - (dtype === "f16" ? T * 32 * k : 0);
    const maxRows = TILE_ROWS * Math.floor(room / tileRoom);
    if (maxRows < TILE_ROWS)
      throw new EngineError(
        `simdbert: ${q8 ? "a q8" : dtype === "f16" ? "an fp16" : "an f32"} Linear with k = ${k} needs a larger packing buffer`,
      );
    const blocks = Math.ceil(m / maxRows);
    const rows = TILE_ROWS * Math.ceil(m / blocks / TILE_ROWS);
    const ap = this.pack;
    const rq = q8 ? ap + (rows / TILE_ROWS) * tileBytes : 0;
    const panels = Math.ceil(n / PANEL_COLS);
    for (let m0 = 0; m0 < m; m0 += rows) {
      const mb = Math.min(rows, m - m0);
      const tiles = Math.ceil(mb / TILE_ROWS);
      const parallel = T > 1 && 2 * mb * n * k >= PARALLEL_FLOPS;
      const am = f32At(a, m0 * lda);
      if (q8) {
        const pack = jobArgs(Q8_PACK_ARGS, { m: mb, k, a: am, lda, ap, rq, tileBytes });
        this.job(Q8_PACK, pack, parallel ? Math.min(tiles, T * TASKS_PER_THREAD) : 1);
      } else this.k.f32_pack_rows4(mb, k, am, lda, ap);
      const args = jobArgs(WEIGHT_GEMM_ARGS, {
        dtype: WEIGHT_DTYPES[dtype],
        m: mb,
        n,
        k,
        ap,
        tileBytes,
        w: l.ptr,
        panelBytes: l.panelBytes,
        bias,
        c: f32At(c, m0 * ldc),
        ldc,
        r: f32At(r, m0 * ldr),
        ldr,
        act,
        rq,
        scales: q8 ? l.scales : 0,
        sums: q8 ? l.sums : 0,
        scratch: ap + room,
      });
      if (!parallel) this.job(WEIGHT_GEMM, args, 1);
      else if (panels >= 2 * T) this.job(WEIGHT_GEMM, args, Math.min(panels, T * TASKS_PER_THREAD));
      else this.job(WEIGHT_GEMM_ROWS, args, Math.min(tiles, T * TASKS_PER_THREAD));
    }
  }

  /**
   * @internal
   * C[m, n] = act(A[m, k]·B[k, n] + bias (+ R)) with B a row-major matrix read in place (rows ldb
   * floats apart; up to 8 columns past n may be read, never stored). Pointers in bytes.
   */
  gemm(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    bias: number,
    c: number,
    ldc: number,
    r: number,
    ldr: number,
    act = 0,
  ): void {
    this.gemmInPlace(m, n, k, a, lda, b, f32Bytes(ldb), PANEL_K_BYTES, bias, c, ldc, r, ldr);
    this.activationRows(act, m, n, c, ldc);
  }

  /** The activation (0: none) over rows of a C[m, n] with rows ldc floats apart. */
  private activationRows(act: number, m: number, n: number, c: number, ldc: number): void {
    if (!act) return;
    if (ldc === n) this.activation(act, m * n, c, c);
    else for (let i = 0; i < m; i++) this.activation(act, n, f32At(c, i * ldc), f32At(c, i * ldc));
  }

  /** f32_gemm_4x8 (B's k steps kStride bytes apart, panels panelStride bytes apart), split by column panels or row blocks. */
  private gemmInPlace(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    kStride: number,
    panelStride: number,
    bias: number,
    c: number,
    ldc: number,
    r: number,
    ldr: number,
  ): void {
    const T = this.threads;
    if (T === 1 || 2 * m * n * k < PARALLEL_FLOPS) {
      this.k.f32_gemm_4x8(m, n, k, a, lda, b, kStride, panelStride, bias, c, ldc, r, ldr);
      return;
    }
    const args = jobArgs(GEMM_ARGS, {
      m,
      n,
      k,
      a,
      lda,
      b,
      kStride,
      panelStride,
      bias,
      c,
      ldc,
      r,
      ldr,
    });
    const panels = Math.ceil(n / PANEL_COLS);
    if (panels >= 2 * T) this.job(GEMM, args, Math.min(panels, T * TASKS_PER_THREAD));
    else this.job(GEMM_ROWS, args, Math.min(Math.ceil(m / TILE_ROWS), T * TASKS_PER_THREAD));
  }

  /** @internal f32_mha over `pairs` (batch, head) pairs, split in contiguous ranges. */
  mha(pairs: number, x: MhaArgs): void {
    const c = this.mhaContext;
    writeMhaContext(this.i32, this.f32, c, mhaContext(x, Math.max(this.pack, 0), MHA_PACK_BYTES));
    this.job(
      MHA,
      jobArgs(MHA_ARGS, { pairs, context: c }),
      Math.min(pairs, this.threads * TASKS_PER_THREAD),
    );
  }

  /** @internal f32_layernorm split by rows. */
  layernorm(
    rows: number,
    n: number,
    x: number,
    ldx: number,
    gamma: number,
    beta: number,
    eps: number,
    y: number,
    ldy: number,
  ): void {
    const tasks =
      rows * n < PARALLEL_LAYERNORM_FLOATS ? 1 : Math.min(rows, this.threads * TASKS_PER_THREAD);
    this.job(
      LAYERNORM,
      jobArgs(LAYERNORM_ARGS, { rows, n, x, ldx, gamma, beta, eps, y, ldy }),
      tasks,
    );
  }

  /** @internal f32_activation over count floats, split in blocks. */
  activation(kind: number, count: number, x: number, y: number): void {
    const tasks = count < PARALLEL_ACTIVATION_FLOATS ? 1 : this.threads * TASKS_PER_THREAD;
    this.job(ACTIVATION, jobArgs(ACTIVATION_ARGS, { kind, count, x, y }), tasks);
  }

  private refresh(): void {
    if (this.buf !== this.memory.buffer) {
      this.buf = this.memory.buffer;
      this._f32 = new Float32Array(this.buf);
      this._i32 = new Int32Array(this.buf);
      this._u8 = new Uint8Array(this.buf);
    }
  }

  get f32(): Float32Array {
    this.refresh();
    return this._f32;
  }
  get i32(): Int32Array {
    this.refresh();
    return this._i32;
  }
  get u8(): Uint8Array {
    this.refresh();
    return this._u8;
  }

  /** Bytes of linear memory (what the runtime holds for this engine). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
  /** Bytes used by the module's static data and the weights. */
  get weightBytes(): number {
    return this.top;
  }

  /** @internal Makes the memory at least `end` bytes long. */
  ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new EngineError(
        `simdbert: out of memory: this request needs ${(end / 2 ** 20).toFixed(1)} MiB of WebAssembly memory ` +
          `(have ${(have / 2 ** 20).toFixed(1)} MiB; the runtime refused to grow it: ${(e as Error).message})`,
      );
    }
  }

  /** @internal Permanent allocation (weights). Invalidates the arena, so it is only used while loading. */
  alloc(bytes: number): number {
    if (this.keptBytes) {
      throw new EngineError(
        "simdbert: this engine already keeps a decoder cache: load every model that shares an engine before running a decoder with use_cache, or give the new model its own engine",
      );
    }
    const p = this.top;
    this.top = alignUp(p + bytes + SLACK);
    this.ensure(this.top);
    this.arenaEnd = this.top;
    return p;
  }

  /**
   * @internal
   * Sizes the kept region (right after the weights) and returns its offset. Its first
   * min(old, new) bytes are preserved; the arena moves after it.
   */
  keep(bytes: number): number {
    const size = alignUp(bytes);
    this.checkArena(size);
    this.pack = -1; // the arena moves: the next plan places the packing buffer again
    this.ensure(this.top + size + SLACK);
    this.keptBytes = size;
    if (this.arenaEnd < this.top + size) this.arenaEnd = this.top + size;
    return this.top;
  }
  /** @internal bytes of the kept region */
  get kept(): number {
    return this.keptBytes;
  }

  /** @internal Starts planning the arena for one request: buffers are carved from where the kept region ends. */
  arena(): Arena {
    if (this.loads)
      throw new EngineError(
        "simdbert: a model is being loaded into this engine: a synchronous run() cannot use it now (await forward(), which waits for the load)",
      );
    const a = new Arena(this, this.top + this.keptBytes);
    // first in every plan, so at the same offset in all of them: reserved by the plan's commit
    const pack = a.take(this.packBytes / F32_BYTES);
    a.commit();
    this.pack = pack;
    return a;
  }

  /** @internal Called by Arena.commit: grows the memory for the plan. */
  reserve(end: number): void {
    this.checkArena(end - this.top);
    this.ensure(end);
    if (end > this.arenaEnd) this.arenaEnd = end;
  }

  /** Refuses an arena (kept region included) larger than maxArenaBytes, before growing anything. */
  private checkArena(bytes: number): void {
    if (bytes > this.maxArena)
      throw new EngineError(
        `simdbert: this request needs ${(bytes / 2 ** 20).toFixed(1)} MiB of activations, more than maxArenaBytes (${(this.maxArena / 2 ** 20).toFixed(1)} MiB): send smaller batches or shorter sequences, or raise the cap`,
      );
  }

  /** High-water mark of the arena (and kept region) in bytes. */
  get arenaBytes(): number {
    return this.arenaEnd - this.top;
  }
}

// a variable specifier: bundlers for browsers and workers leave this import alone
const NODE_OS = "node:os";

/**
 * The threads this process may run on: os.availableParallelism() on Node (navigator, which
 * reports the same, exists only from Node 21; availableParallelism from 18.14, os.cpus() before),
 * navigator.hardwareConcurrency elsewhere (browsers, Deno, Bun, workers).
 */
export async function hardwareThreads(): Promise<number> {
  const g = globalThis as {
    navigator?: { hardwareConcurrency?: number };
    process?: { versions?: { node?: string } };
    Deno?: unknown;
    Bun?: unknown;
  };
  if (g.process?.versions?.node && !g.Deno && !g.Bun) {
    try {
      const os = (await import(/* @vite-ignore */ NODE_OS)) as typeof import("node:os");
      const n =
        typeof os.availableParallelism === "function"
          ? os.availableParallelism()
          : os.cpus().length;
      if (Number.isSafeInteger(n) && n >= 1) return Math.min(n, 256);
    } catch {
      // no node:os (a bundle for another platform): navigator below
    }
  }
  const n = g.navigator?.hardwareConcurrency;
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 1 ? Math.min(n, 256) : 1;
}

function resolveThreads(t: number | "auto" | undefined, auto: number): number {
  if (t === undefined || t === 1) return 1;
  const g = globalThis as {
    crossOriginIsolated?: boolean;
    SharedArrayBuffer?: unknown;
  };
  const n = t === "auto" ? auto : t;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_THREADS)
    throw new EngineError(
      `simdbert: threads must be a positive integer or "auto", got ${String(t)}`,
    );
  // WebAssembly threads need SharedArrayBuffer (in browsers: a cross-origin isolated page)
  if (n > 1 && (typeof g.SharedArrayBuffer !== "function" || g.crossOriginIsolated === false))
    return 1;
  return n;
}

/** @internal A bump plan over the arena. Buffers live until the next plan. */
export class Arena {
  private end: number;
  constructor(
    private readonly engine: Engine,
    private readonly base: number,
  ) {
    this.end = base;
  }
  /** Reserves `count` floats (or int32s); returns the byte offset. */
  take(count: number): number {
    const p = this.end;
    this.end = alignUp(p + f32Bytes(count) + SLACK);
    return p;
  }
  /** Grows memory for everything taken so far. */
  commit(): void {
    this.engine.reserve(this.end);
  }
  get bytes(): number {
    return this.end - this.base;
  }
}
