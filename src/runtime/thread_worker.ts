// One pool thread (see threads.ts): instantiates the kernels on the shared memory, then, for each
// job posted, takes tasks until none are left, until told to stop.
import { ARGC, ARGS64, KIND, MAX_ARGS, SEQ, STOP, WORKER_SPINS, takeTasks } from "./threads.js";
import { runTask, type TaskKernels } from "./tasks.js";

type Init = { module: WebAssembly.Module; memory: WebAssembly.Memory; ctl: number; thread: number };

function serve({ module, memory, ctl, thread }: Init, reply: (m: unknown) => void): void {
  WebAssembly.instantiate(module, { env: { memory } }).then(
    (instance) => {
      const k = instance.exports as unknown as TaskKernels;
      const i32 = new Int32Array(memory.buffer);
      const i64 = new BigInt64Array(memory.buffer);
      const f64 = new Float64Array(memory.buffer);
      const ints = ctl >> 2;
      const a0 = (ctl >> 3) + ARGS64;
      const args = new Float64Array(MAX_ARGS);
      const run = (kind: number, a: ArrayLike<number>, task: number, n: number, t: number) =>
        runTask(k, kind, a, task, n, t);
      reply("ready");
      let last = 0;
      for (;;) {
        let spins = 0;
        let seq: number;
        while ((seq = Atomics.load(i32, ints + SEQ)) === last) {
          if (++spins > WORKER_SPINS) Atomics.wait(i32, ints + SEQ, last);
        }
        last = seq;
        // STOP: return to the event loop, so that terminate() (or the runtime's exit) can end the
        // thread; Deno cannot stop a worker that never returns
        if (seq === STOP) return;
        const argc = i32[ints + ARGC];
        for (let a = 0; a < argc; a++) args[a] = f64[a0 + a];
        // arguments read after the job number: a job posted meanwhile has a new number, so
        // takeTasks refuses its tasks to this (possibly torn) copy
        takeTasks(i32, i64, ctl, seq, i32[ints + KIND], args.subarray(0, argc), thread, run);
      }
    },
    (e: Error) => reply({ error: `simdbert thread: ${e.message}` }),
  );
}

const g = globalThis as {
  onmessage?: unknown;
  postMessage?: (m: unknown) => void;
  WorkerGlobalScope?: unknown;
};
if (typeof g.WorkerGlobalScope !== "undefined") {
  // web worker (browsers, Deno, Bun)
  g.onmessage = (e: { data: Init }) => serve(e.data, (m) => g.postMessage!(m));
} else {
  const name = "node:worker_threads";
  import(/* @vite-ignore */ name).then((wt: typeof import("node:worker_threads")) => {
    wt.parentPort!.once("message", (init: Init) =>
      serve(init, (m) => wt.parentPort!.postMessage(m)),
    );
  });
}
