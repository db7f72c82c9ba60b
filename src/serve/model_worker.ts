// The worker thread of node_backend.ts: loads the model, then runs each batch it is sent and
// sends back the rows of every input in one transferred Float32Array (with their offsets).
//
// It runs at a lower scheduling priority than the server's event loop (Linux: nice +10 for this
// thread and the WebAssembly threads it starts): when batches keep every core busy, the loop still
// gets the CPU at once to read requests, answer 429s, health checks and timeouts, and hand out
// finished answers; when the loop is idle the replicas have the whole machine. Measured
// (bench:serve, overload: 1,024 requests at once against 64 permits, 2 replicas on 2 cores): 429
// p50 189 ms at the default priority, 133 ms at +10; one input at concurrency 1 unchanged.
import { parentPort, workerData } from "node:worker_threads";
import { getHeapStatistics } from "node:v8";
import { readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { localBackend, type BackendBatch, type BackendHead } from "./backend.js";

const port = parentPort!;
const { source, head, options } = workerData as {
  source: never;
  head: BackendHead;
  options: Record<string, unknown>;
};
/** niceness of the model threads (CFS weight 110 against the event loop's 1024) */
const MODEL_THREAD_NICE = 10;

/**
 * Lowers this thread's priority (threads it starts inherit it). Linux keeps a nice value per
 * thread and setpriority(PRIO_PROCESS, tid) sets one thread's; /proc/thread-self names the calling
 * thread's tid. Elsewhere (no /proc, or not permitted) nothing changes.
 */
function lowerPriority(): void {
  try {
    const tid = Number(/task\/(\d+)/.exec(readlinkSync("/proc/thread-self"))?.[1]);
    if (tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + MODEL_THREAD_NICE));
  } catch {
    // not Linux, or not allowed: the default priority
  }
}
lowerPriority();

const error = (e: unknown) => ({
  name: (e as Error)?.name ?? "Error",
  message: (e as Error)?.message ?? String(e),
});

try {
  const backend = await localBackend(source, head, {
    ...options,
    warn: (message: string) => port.postMessage({ type: "warn", message }),
  });
  port.on("message", async (m: { type: string; id: number; batch: BackendBatch }) => {
    if (m.type !== "run") return;
    try {
      const rows = await backend.run(m.batch);
      const offsets = [0];
      for (const r of rows) offsets.push(offsets[offsets.length - 1] + r.length);
      const data = new Float32Array(offsets[offsets.length - 1]);
      rows.forEach((r, i) => data.set(r, offsets[i]));
      // this replica's memory, for /metrics (wasm: weights and arena; heap: this isolate's V8 heap)
      const memory = {
        wasm: backend.memory?.().wasm ?? 0,
        heap: getHeapStatistics().total_heap_size,
      };
      port.postMessage({ type: "done", id: m.id, data: data.buffer, offsets, memory }, [
        data.buffer,
      ]);
    } catch (e) {
      port.postMessage({ type: "failed", id: m.id, ...error(e) });
    }
  });
  port.postMessage({ type: "ready", info: backend.info });
} catch (e) {
  port.postMessage({ type: "load-error", ...error(e) });
}
