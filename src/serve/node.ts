// simdbert's HTTP server on node:http: the runtime-neutral core (core.ts) behind a Node server
// with the limits a public endpoint needs: a header timeout and a whole-request timeout against
// clients that trickle bytes, the payload limit enforced while the body streams in (never
// buffered past it), queued inputs dropped when their client disconnects, and a graceful stop
// (no new connections, 503 on kept-alive ones, what is queued answered, then closed).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ModelSource } from "../loading/source.js";
import { ServeCore, type ClientSignal, type CoreResponse, type ServeOptions } from "./core.js";
import { workerBackend } from "./node_backend.js";

/** listen(2)'s backlog (the kernel caps it at net.core.somaxconn) */
const LISTEN_BACKLOG = 4096;

export { workerBackend };

export interface NodeServerOptions extends ServeOptions {
  /** default "127.0.0.1" */
  host?: string;
  /** default 3000; 0 picks a free port */
  port?: number;
  /** ms to receive a request's headers (default 10,000) */
  headersTimeoutMs?: number;
  /** ms to receive a whole request, body included (default 30,000) */
  requestTimeoutMs?: number;
  /** ms an idle kept-alive connection stays open (default 5,000) */
  keepAliveTimeoutMs?: number;
  /**
   * Run the model in a worker thread (default true): the event loop then answers health checks,
   * 429s and timeouts while a batch computes. false: in this thread.
   */
  modelWorker?: boolean;
}

export interface RunningServer {
  readonly server: Server;
  readonly core: ServeCore;
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  /** Stop accepting, answer what is queued, close every connection; resolves when done. */
  close(deadlineMs?: number): Promise<void>;
}

/** Starts the server and resolves once it listens (the model may still be loading: see core.ready). */
export async function startServer(
  source: ModelSource | ServeCore,
  options: NodeServerOptions = {},
): Promise<RunningServer> {
  const core =
    source instanceof ServeCore
      ? source
      : new ServeCore(source, {
          ...options,
          backend: options.backend ?? (options.modelWorker === false ? undefined : workerBackend),
        });
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeout);
  const server = createServer(
    {
      requestTimeout,
      headersTimeout,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      // how often Node checks the two timeouts above (its default, 30 s, would let them slip)
      connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 4)),
    } as Parameters<typeof createServer>[0],
    (req, res) => void onRequest(core, req, res),
  );
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    // malformed requests and timeouts: answer when the socket can still take it, then close
    if (socket.writable && !(socket as { _httpMessage?: unknown })._httpMessage) {
      const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
      const body = JSON.stringify({
        error: status === 408 ? "request timed out" : "malformed HTTP request",
        error_type: "validation",
      });
      socket.end(
        `HTTP/1.1 ${status} ${status === 408 ? "Request Timeout" : "Bad Request"}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    } else socket.destroy();
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // a deep accept queue: a burst of connections past Node's default 511 would otherwise wait
    // for the client's SYN retransmit (1 s, 3 s...) before even reaching the 429 check
    server.listen({ port: options.port ?? 3000, host, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    server,
    core,
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close(deadlineMs = 10_000) {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        const deadline = new Promise<void>((r) => setTimeout(r, deadlineMs).unref());
        await Promise.race([core.close(), deadline]);
        server.closeIdleConnections?.();
        const t = setTimeout(() => server.closeAllConnections?.(), 200);
        t.unref();
        await Promise.race([closed, deadline]);
        server.closeAllConnections?.();
        clearTimeout(t);
      })();
      return closing;
    },
  };
}

async function onRequest(
  core: ServeCore,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  const limit = core.options.payloadLimit;
  const ac = new ClientGone();
  res.on("close", () => {
    if (!res.writableFinished) ac.abort();
  });
  req.on("error", () => ac.abort());
  const declared = Number(req.headers["content-length"] ?? NaN);
  let response: CoreResponse;
  const body = declared > limit ? null : await readBody(req, limit);
  if (ac.aborted) return;
  if (body === null) {
    response = core.payloadTooLarge(path, Number.isFinite(declared) ? declared : undefined);
    res.shouldKeepAlive = false;
  } else
    response = await core.handle({
      method: req.method ?? "GET",
      path,
      header: (n) => {
        const v = req.headers[n];
        return Array.isArray(v) ? v.join(", ") : (v ?? null);
      },
      body,
      signal: ac,
    });
  if (res.destroyed) return;
  const headers: Record<string, string | number> = {
    ...response.headers,
    "content-length": Buffer.byteLength(response.body),
  };
  if (body === null) headers.connection = "close";
  res.writeHead(response.status, headers);
  res.end(req.method === "HEAD" ? undefined : response.body);
}

/**
 * The core's abort signal for one request: set when its client goes away. (An AbortController per
 * request cost more than the rest of a 429's work in a burst of them.)
 */
class ClientGone implements ClientSignal {
  aborted = false;
  private listeners: (() => void)[] = [];
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const l of this.listeners.splice(0)) l();
  }
  addEventListener(_type: "abort", listener: () => void): void {
    this.listeners.push(listener);
  }
  removeEventListener(_type: "abort", listener: () => void): void {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
  }
}

/** The body, or null past `limit` (then the rest is drained, not kept; the timeout bounds it). */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        over = true;
        chunks.length = 0;
        // answered at once: the connection closes after the 413
        resolve(null);
        return;
      }
      if (!over) chunks.push(c);
    });
    req.on("end", () => resolve(over ? null : Buffer.concat(chunks, n)));
    req.on("error", () => resolve(null));
    req.on("aborted", () => resolve(null));
  });
}
