// The worker thread of node_backend.ts: loads the model, then runs each batch it is sent and
// sends back the rows of every input in one transferred Float32Array (with their offsets).
import { parentPort, workerData } from "node:worker_threads";
import { getHeapStatistics } from "node:v8";
import { localBackend, type BackendBatch, type BackendHead } from "./backend.js";

const port = parentPort!;
const { source, head, options } = workerData as {
  source: never;
  head: BackendHead;
  options: Record<string, unknown>;
};
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
