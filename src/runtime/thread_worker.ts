// One pool thread (see threads.ts): instantiates the kernels on the shared memory, then runs the
// jobs posted to its control block until terminated.
const MAX_ARGS = 40;
const INTS = 4;
const STOP = -1;

type Init = { module: WebAssembly.Module; memory: WebAssembly.Memory; ctl: number; fns: string[] };

function serve({ module, memory, ctl, fns }: Init, reply: (m: unknown) => void): void {
  WebAssembly.instantiate(module, { env: { memory } }).then(
    (instance) => {
      const exports = instance.exports as Record<string, (...a: number[]) => unknown>;
      const table = fns.map((f) => exports[f]);
      const i32 = new Int32Array(memory.buffer);
      const f64 = new Float64Array(memory.buffer);
      const seqAt = ctl >> 2;
      const argsAt = (ctl + INTS * 4) >> 3;
      const args: number[] = new Array(MAX_ARGS);
      reply("ready");
      let last = 0;
      for (;;) {
        let spins = 0;
        while (Atomics.load(i32, seqAt) === last) {
          if (++spins > 20000) Atomics.wait(i32, seqAt, last);
        }
        last = Atomics.load(i32, seqAt);
        // STOP: return to the event loop, so that terminate() (or the runtime's exit) can end the
        // thread; Deno cannot stop a worker that never returns
        if (last === STOP) return;
        const fn = table[i32[seqAt + 2]];
        const argc = i32[seqAt + 3];
        args.length = argc;
        for (let a = 0; a < argc; a++) args[a] = f64[argsAt + a];
        fn(...args);
        Atomics.store(i32, seqAt + 1, last);
        Atomics.notify(i32, seqAt + 1);
      }
    },
    (e: Error) => reply({ error: `simdbert thread: ${e.message}` }),
  );
}

const g = globalThis as { onmessage?: unknown; postMessage?: (m: unknown) => void; WorkerGlobalScope?: unknown };
if (typeof g.WorkerGlobalScope !== "undefined") {
  // web worker (browsers, Deno, Bun)
  g.onmessage = (e: { data: Init }) => serve(e.data, (m) => g.postMessage!(m));
} else {
  const name = "node:worker_threads";
  import(/* @vite-ignore */ name).then((wt: typeof import("node:worker_threads")) => {
    wt.parentPort!.once("message", (init: Init) => serve(init, (m) => wt.parentPort!.postMessage(m)));
  });
}
