// A pool of workers that share the engine's WebAssembly memory (SharedArrayBuffer), each with its
// own instance of the kernels' threads build. The caller posts one job at a time (a kernel, its
// arguments, a task count: see tasks.ts) and every thread, the caller included, takes tasks from
// a shared counter until none are left. Taking tasks dynamically (rather than a fixed half each)
// keeps two threads from being slower than one when a core is busy with something else: whoever
// runs, runs more.
//
// Control block in the shared memory:
//   int32  [0] seq        job number; bumped (and notified) to post a job, STOP to end the threads
//          [1] completed  tasks finished in the current job
//          [2] kind       [3] argc
//   int64  [2] counter    (seq << 32) | (next task << 16) | task count: taking a task is one
//                         compare-exchange that also checks the job number, so a thread that wakes
//                         late can never take a task of a job it has not read
//   f64    [8 ..]         the job's arguments (MAX_ARGS)
//   int32  [TASKS_TAKEN + t]  tasks thread t has run since the pool started (for tests and tuning)

import { EngineError } from "../errors.js";

export const MAX_ARGS = 40;
/**
 * Polls of the job counter before the caller (thread 0) sleeps on it in Atomics.wait while the
 * last tasks finish: a job's tail is usually a few microseconds, a wake-up costs more.
 */
export const CALLER_SPINS = 2000;
/**
 * Polls of the job number before a pool thread sleeps on it: jobs come back to back during a
 * forward (one per kernel call), so a thread spins through the gaps between them and sleeps
 * between requests.
 */
export const WORKER_SPINS = 20000;
/** Most threads a pool has (the caller included). */
export const MAX_THREADS = 256;
/** int32 index, in the control block, of thread 0's count of tasks run. */
export const TASKS_TAKEN = (64 + MAX_ARGS * 8) / 4;
/** Bytes of the control block. */
export const CTL_BYTES = 64 + MAX_ARGS * 8 + MAX_THREADS * 4;
/** A seq value that tells the threads to return (thread_worker.ts). */
export const STOP = -1;
export const SEQ = 0,
  COMPLETED = 1,
  KIND = 2,
  ARGC = 3,
  COUNTER64 = 2,
  ARGS64 = 8;

export type TaskRunner = (
  kind: number,
  args: ArrayLike<number>,
  task: number,
  n: number,
  thread: number,
) => void;

/** Takes and runs tasks of job `seq` until there are none left. */
export function takeTasks(
  i32: Int32Array,
  i64: BigInt64Array,
  ctl: number,
  seq: number,
  kind: number,
  args: ArrayLike<number>,
  thread: number,
  run: TaskRunner,
): void {
  const cIdx = (ctl >> 3) + COUNTER64;
  const tag = BigInt(seq) << 32n;
  for (;;) {
    const v = Atomics.load(i64, cIdx);
    if ((v & ~0xffffffffn) !== tag) return;
    const next = Number((v >> 16n) & 0xffffn);
    const n = Number(v & 0xffffn);
    if (next >= n) return;
    if (Atomics.compareExchange(i64, cIdx, v, v + 0x10000n) !== v) continue;
    run(kind, args, next, n, thread);
    Atomics.add(i32, (ctl >> 2) + TASKS_TAKEN + thread, 1);
    Atomics.add(i32, (ctl >> 2) + COMPLETED, 1);
    Atomics.notify(i32, (ctl >> 2) + COMPLETED);
  }
}

interface WorkerLike {
  postMessage(msg: unknown): void;
  terminate(): unknown;
}

type Env = {
  Worker?: new (
    url: URL,
    o?: { type?: string },
  ) => WorkerLike & { onmessage: unknown; onerror: unknown };
};

async function spawn(url: URL): Promise<{ worker: WorkerLike; ready: Promise<void> }> {
  const g = globalThis as Env;
  // Node has no global Worker; Deno, Bun and browsers have the web one
  if (typeof g.Worker === "function") {
    const w = new g.Worker(url, { type: "module" });
    const ready = new Promise<void>((res, rej) => {
      w.onmessage = (e: { data: unknown }) =>
        e.data === "ready"
          ? res()
          : rej(new EngineError(String((e.data as { error?: string })?.error)));
      w.onerror = (e: { message?: string }) =>
        rej(new EngineError(`simdbert: thread failed to start: ${e?.message ?? e}`));
    });
    return { worker: w, ready };
  }
  const name = "node:worker_threads";
  const wt = (await import(/* @vite-ignore */ name)) as typeof import("node:worker_threads");
  const w = new wt.Worker(url);
  w.unref(); // idle threads never keep the process alive
  const ready = new Promise<void>((res, rej) => {
    w.once("message", (m: unknown) =>
      m === "ready" ? res() : rej(new EngineError(String((m as { error?: string })?.error))),
    );
    w.once("error", rej);
  });
  return { worker: w, ready };
}

export class ThreadPool {
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly f64: Float64Array;
  private seq = 0;
  private readonly blocking: boolean;

  private constructor(
    memory: WebAssembly.Memory,
    private readonly workers: WorkerLike[],
    private readonly ctl: number,
    private readonly runner: TaskRunner,
  ) {
    this.i32 = new Int32Array(memory.buffer);
    this.i64 = new BigInt64Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
    // Atomics.wait is not allowed on a browser's main thread: spin there
    this.blocking = typeof (globalThis as { window?: unknown }).window === "undefined";
  }

  /** Starts `count` workers on the shared memory; `ctl` is the control block (CTL_BYTES, 64-aligned). */
  static async start(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    count: number,
    ctl: number,
    runner: TaskRunner,
  ): Promise<ThreadPool> {
    const url = new URL("./thread_worker.js", import.meta.url);
    const spawned = await Promise.all(Array.from({ length: count }, () => spawn(url)));
    spawned.forEach(({ worker }, i) => worker.postMessage({ module, memory, ctl, thread: i + 1 }));
    try {
      await Promise.all(spawned.map((s) => s.ready));
    } catch (e) {
      for (const s of spawned) s.worker.terminate();
      throw e;
    }
    return new ThreadPool(
      memory,
      spawned.map((s) => s.worker),
      ctl,
      runner,
    );
  }

  /** Tasks each thread (0: the caller) has run since the pool started. */
  tasksTaken(): number[] {
    const at = (this.ctl >> 2) + TASKS_TAKEN;
    return Array.from({ length: this.size }, (_, t) => Atomics.load(this.i32, at + t));
  }

  /** Threads including the caller. */
  get size(): number {
    return this.workers.length + 1;
  }

  /** Runs the n tasks of one job on every thread (the caller as thread 0); returns when all are done. */
  run(kind: number, args: number[], n: number): void {
    const seq = (this.seq = (this.seq % 0x7ffffffe) + 1);
    const ints = this.ctl >> 2;
    const a0 = (this.ctl >> 3) + ARGS64;
    this.i32[ints + KIND] = kind;
    this.i32[ints + ARGC] = args.length;
    for (let i = 0; i < args.length; i++) this.f64[a0 + i] = args[i];
    Atomics.store(this.i32, ints + COMPLETED, 0);
    Atomics.store(this.i64, (this.ctl >> 3) + COUNTER64, (BigInt(seq) << 32n) | BigInt(n));
    Atomics.store(this.i32, ints + SEQ, seq);
    Atomics.notify(this.i32, ints + SEQ);
    takeTasks(this.i32, this.i64, this.ctl, seq, kind, args, 0, this.runner);
    // the remaining tasks are being finished by the threads that took them
    let spins = 0;
    for (;;) {
      const done = Atomics.load(this.i32, ints + COMPLETED);
      if (done >= n) break;
      if (++spins > CALLER_SPINS && this.blocking)
        Atomics.wait(this.i32, ints + COMPLETED, done, 2);
    }
  }

  /** Stops the workers: they are told through the control block (Deno cannot stop a worker stuck in a loop), then terminated. */
  terminate(): void {
    Atomics.store(this.i32, (this.ctl >> 2) + SEQ, STOP);
    Atomics.notify(this.i32, (this.ctl >> 2) + SEQ);
    for (const w of this.workers) w.terminate();
  }
}
