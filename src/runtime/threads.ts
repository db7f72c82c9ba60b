// A pool of workers that share the engine's WebAssembly memory (SharedArrayBuffer), each with its
// own instance of the kernels' threads build. A job is "call kernel f with these arguments"; the
// engine splits one kernel call into disjoint jobs (GEMM column panels or row blocks, attention
// (batch, head) ranges, row ranges) and runs the first on the calling thread.
//
// Signalling goes through a control block in the shared memory, per worker:
//   int32 [seq, done, fn, argc]      float64 args[MAX_ARGS]
// The caller writes the job and bumps seq (Atomics.notify); the worker runs it, stores done = seq
// and notifies. Both sides spin briefly before sleeping (a BERT layer posts a job every few
// hundred microseconds, so most hand-offs never reach the kernel's futex).

export const MAX_ARGS = 40;
/** A seq value that tells a worker to return (thread_worker.ts). */
const STOP = -1;
const INTS = 4;
/** Bytes of control block per worker. */
export const CTL_BYTES = INTS * 4 + MAX_ARGS * 8 + 48; // padded: one worker's slots per cache line pair

export interface Job {
  fn: number;
  args: number[];
}

interface WorkerLike {
  postMessage(msg: unknown): void;
  terminate(): unknown;
}

type Env = { Worker?: new (url: URL, o?: { type?: string }) => WorkerLike & { onmessage: unknown; onerror: unknown } };

async function spawn(url: URL): Promise<{ worker: WorkerLike; ready: Promise<void> }> {
  const g = globalThis as Env;
  // Node has no global Worker; Deno, Bun and browsers have the web one
  if (typeof g.Worker === "function") {
    const w = new g.Worker(url, { type: "module" });
    const ready = new Promise<void>((res, rej) => {
      w.onmessage = (e: { data: unknown }) => (e.data === "ready" ? res() : rej(new Error(String((e.data as { error?: string })?.error))));
      w.onerror = (e: { message?: string }) => rej(new Error(`simdbert: thread failed to start: ${e?.message ?? e}`));
    });
    return { worker: w, ready };
  }
  const name = "node:worker_threads";
  const wt = (await import(/* @vite-ignore */ name)) as typeof import("node:worker_threads");
  const w = new wt.Worker(url);
  w.unref(); // idle threads never keep the process alive
  const ready = new Promise<void>((res, rej) => {
    w.once("message", (m: unknown) => (m === "ready" ? res() : rej(new Error(String((m as { error?: string })?.error)))));
    w.once("error", rej);
  });
  return { worker: w, ready };
}

export class ThreadPool {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private seq = 0;
  private readonly blocking: boolean;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly workers: WorkerLike[],
    private readonly ctl: number,
  ) {
    this.i32 = new Int32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
    // Atomics.wait is not allowed on a browser's main thread: spin there
    this.blocking = typeof (globalThis as { window?: unknown }).window === "undefined";
  }

  /** Starts `count` workers on the shared memory; `ctl` is their control block (count·CTL_BYTES bytes, 8-aligned). */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, count: number, ctl: number, fns: string[]): Promise<ThreadPool> {
    const url = new URL("./thread_worker.js", import.meta.url);
    const spawned = await Promise.all(Array.from({ length: count }, () => spawn(url)));
    spawned.forEach(({ worker }, i) => worker.postMessage({ module, memory, ctl: ctl + (i + 1) * CTL_BYTES, fns }));
    try {
      await Promise.all(spawned.map((s) => s.ready));
    } catch (e) {
      for (const s of spawned) s.worker.terminate();
      throw e;
    }
    return new ThreadPool(memory, spawned.map((s) => s.worker), ctl);
  }

  /** Threads including the caller. */
  get size(): number {
    return this.workers.length + 1;
  }

  /**
   * Runs jobs[0] with `local` on this thread and jobs[1..] on workers 0.., and returns when all
   * are done. At most size() jobs.
   */
  run(jobs: Job[], local: (job: Job) => void): void {
    const seq = ++this.seq;
    const posted: number[] = [];
    for (let j = 1; j < jobs.length; j++) {
      const base = this.ctl + j * CTL_BYTES;
      const ints = base >> 2;
      const args = (base + INTS * 4) >> 3;
      const job = jobs[j];
      this.i32[ints + 2] = job.fn;
      this.i32[ints + 3] = job.args.length;
      for (let a = 0; a < job.args.length; a++) this.f64[args + a] = job.args[a];
      Atomics.store(this.i32, ints, seq);
      Atomics.notify(this.i32, ints);
      posted.push(ints + 1);
    }
    local(jobs[0]);
    for (const done of posted) {
      let spins = 0;
      while (Atomics.load(this.i32, done) !== seq) {
        if (++spins > 4000 && this.blocking) Atomics.wait(this.i32, done, Atomics.load(this.i32, done), 5);
      }
    }
  }

  /** Stops the workers: each is told through its control block, then terminated. */
  terminate(): void {
    this.workers.forEach((w, i) => {
      const seq = (this.ctl + (i + 1) * CTL_BYTES) >> 2;
      Atomics.store(this.i32, seq, STOP);
      Atomics.notify(this.i32, seq);
      w.terminate();
    });
  }
}
