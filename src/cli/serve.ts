// simdbert serve MODEL [--host 127.0.0.1] [--port 3000] [--dtype float32] [--threads N]
//   [--pooling mean|cls] [--max-batch-tokens 16384] [--max-batch-requests N]
//   [--max-concurrent-requests 512] [--max-client-batch-size 32] [--payload-limit 2000000]
//   [--auto-truncate] [--api-key KEY] [--batch-wait-ms 0] [--shutdown-timeout-ms 10000]
// text-embeddings-inference's flags and defaults. SIGTERM / SIGINT: stop accepting, answer what
// is queued, exit 0 (or exit 1 past the shutdown deadline).
import { startServer, type NodeServerOptions } from "../serve/node.js";

export const SERVE_USAGE =
  "usage: simdbert serve MODEL [--host 127.0.0.1] [--port 3000] [--dtype float32] [--threads N|auto] [--pooling mean|cls] [--max-batch-tokens 16384] [--max-batch-requests N] [--max-concurrent-requests 512] [--max-client-batch-size 32] [--payload-limit 2000000] [--auto-truncate] [--api-key KEY] [--batch-wait-ms 0] [--shutdown-timeout-ms 10000]";

const INTEGER_FLAGS: Record<
  string,
  [keyof NodeServerOptions | "shutdownTimeoutMs", number, number]
> = {
  "--port": ["port", 0, 65535],
  "--max-batch-tokens": ["maxBatchTokens", 1, 2 ** 31 - 1],
  "--max-batch-requests": ["maxBatchRequests", 1, 2 ** 31 - 1],
  "--max-concurrent-requests": ["maxConcurrentRequests", 1, 2 ** 31 - 1],
  "--max-client-batch-size": ["maxClientBatchSize", 1, 2 ** 31 - 1],
  "--payload-limit": ["payloadLimit", 1, 2 ** 31 - 1],
  "--batch-wait-ms": ["batchWaitMs", 0, 10_000],
  "--shutdown-timeout-ms": ["shutdownTimeoutMs", 0, 3_600_000],
};

export function parseServeArgs(args: string[]): {
  model: string;
  options: NodeServerOptions;
  shutdownTimeoutMs: number;
} {
  let model = "";
  const o: NodeServerOptions & { shutdownTimeoutMs?: number } = {};
  let threads: number | "auto" | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith("--")) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a in INTEGER_FLAGS) {
      const [key, min, max] = INTEGER_FLAGS[a];
      const v = val();
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < min || n > max)
        throw new Error(`${a} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
      (o as Record<string, unknown>)[key] = n;
    } else if (a === "--host") o.host = val();
    else if (a === "--api-key") o.apiKey = val();
    else if (a === "--auto-truncate") o.autoTruncate = true;
    else if (a === "--dtype") {
      const v = val();
      if (!["float32", "fp32"].includes(v))
        throw new Error(`--dtype: this build serves float32 weights, got ${JSON.stringify(v)}`);
      o.dtype = "float32";
    } else if (a === "--pooling") {
      const v = val();
      if (v !== "mean" && v !== "cls")
        throw new Error(`--pooling must be mean or cls, got ${JSON.stringify(v)}`);
      o.pooling = v;
    } else if (a === "--threads") {
      const v = val();
      if (v === "auto") threads = "auto";
      else if (/^\d+$/.test(v) && +v >= 1 && +v <= 256) threads = +v;
      else
        throw new Error(
          `--threads must be an integer in [1, 256] or auto, got ${JSON.stringify(v)}`,
        );
    } else if (a === "-h" || a === "--help") throw new Error(SERVE_USAGE);
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}\n${SERVE_USAGE}`);
    else if (!model) model = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!model) throw new Error(SERVE_USAGE);
  const shutdownTimeoutMs = o.shutdownTimeoutMs ?? 10_000;
  delete o.shutdownTimeoutMs;
  o.modelId = model;
  if (threads !== undefined) o.load = { threads };
  return { model, options: o, shutdownTimeoutMs };
}

export async function serveCommand(args: string[]): Promise<void> {
  const { model, options, shutdownTimeoutMs } = parseServeArgs(args);
  const running = await startServer(model, options);
  const log = (m: string) => process.stderr.write(`simdbert serve: ${m}\n`);
  log(`listening on ${running.url} (loading ${model})`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping (answering what is queued, at most ${shutdownTimeoutMs} ms)`);
    const deadline = setTimeout(() => {
      log("shutdown deadline passed: exiting with requests unanswered");
      process.exit(1);
    }, shutdownTimeoutMs + 1000);
    deadline.unref();
    running.close(shutdownTimeoutMs).then(() => {
      log("stopped");
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  try {
    await running.core.ready;
  } catch (e) {
    await running.close(0);
    throw e;
  }
  log(`ready: ${JSON.stringify(running.core.info())}`);
}
