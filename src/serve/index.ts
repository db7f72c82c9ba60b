// simdbert/serve: text-embeddings-inference's and OpenAI's embedding API as a fetch handler, for
// Deno.serve, Bun.serve, Cloudflare-style workers and any runtime with Request/Response:
//
//   import { createHandler } from "simdbert/serve";
//   const handler = createHandler("./model", { maxBatchTokens: 16384 });
//   Deno.serve(handler);                      // or: export default { fetch: handler }
//
// The model loads in the background (GET /health answers 503 until it is ready: await
// handler.ready to wait). Node's own server (`simdbert serve`, node:http) is in ./node.js.
import type { ModelSource } from "../loading/source.js";
import { ServeCore, type CoreResponse, type ServeOptions } from "./core.js";

export { ServeCore, VERSION, pool, base64f32 } from "./core.js";
export type {
  ServeOptions,
  ServePooling,
  CoreRequest,
  CoreResponse,
  ClientSignal,
} from "./core.js";
export { ServeError, type ErrorType } from "./errors.js";
export { Batcher, type Job, type JobOutput, type BatcherOptions } from "./batcher.js";
export { Metrics } from "./metrics.js";
export {
  localBackend,
  type Backend,
  type BackendBatch,
  type BackendFactory,
  type BackendModelInfo,
} from "./backend.js";

export interface FetchHandler {
  (request: Request): Promise<Response>;
  /** resolves when the model is loaded (rejects if it cannot load) */
  readonly ready: Promise<void>;
  /** the core (metrics, info, close) */
  readonly core: ServeCore;
  /** stop taking requests (503) and answer what is queued */
  close(): Promise<void>;
}

/** A fetch handler over a model (or a ServeCore already made). */
export function createHandler(
  source: ModelSource | Promise<ModelSource> | ServeCore,
  options: ServeOptions = {},
): FetchHandler {
  const core = source instanceof ServeCore ? source : new ServeCore(source, options);
  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const limit = core.options.payloadLimit;
    const declared = Number(request.headers.get("content-length") ?? NaN);
    if (declared > limit) return toResponse(core.payloadTooLarge(url.pathname, declared));
    let body: Uint8Array = new Uint8Array(0);
    if (request.body && request.method !== "GET" && request.method !== "HEAD") {
      const read = await readLimited(request.body, limit);
      if (read === null) return toResponse(core.payloadTooLarge(url.pathname));
      body = read;
    }
    const res = await core.handle({
      method: request.method,
      path: url.pathname,
      header: (n) => request.headers.get(n),
      body,
      signal: request.signal,
    });
    return toResponse(res);
  };
  return Object.assign(handler, {
    ready: core.ready,
    core,
    close: () => core.close(),
  });
}

function toResponse(r: CoreResponse): Response {
  return new Response(r.status === 204 || r.body === "" ? null : r.body, {
    status: r.status,
    headers: r.headers,
  });
}

/** The body's bytes, or null past `limit` (the rest is not read). */
async function readLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
