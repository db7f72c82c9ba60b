// simdbert serve MODEL [options]: text-embeddings-inference's flags and defaults (declared below).
// SIGTERM / SIGINT: stop accepting, answer what is queued, exit 0 (or exit 1 past the shutdown
// deadline).
import { availableParallelism } from "node:os";
import { startServer, type NodeServerOptions } from "../serve/node.js";
import { checkModelSource } from "./checks.js";
import { defineCommand, threadsOption, type IntOption } from "./options.js";

const count = (help: string, dflt?: number) =>
  ({ type: "int", min: 1, max: 2 ** 31 - 1, help, default: dflt }) as const satisfies IntOption;

export const command = defineCommand({
  name: "serve",
  summary: "an HTTP server of embeddings: text-embeddings-inference's and OpenAI's API",
  positionals: [{ name: "MODEL", help: "a model directory, URL or hub id (org/name)" }],
  options: {
    host: {
      type: "string",
      metavar: "HOST",
      default: "127.0.0.1",
      help: "the address to listen on",
    },
    port: { type: "int", min: 0, max: 65535, default: 3000, help: "the port (0: a free one)" },
    dtype: {
      type: "choice",
      choices: ["fp32", "fp16", "q8", "float32", "float16"],
      help: 'weights in memory: "fp32" (HF\'s numbers; TEI\'s "float32"), "fp16" ("float16": half the bytes) or "q8" (int8, a quarter); default: the checkpoint\'s own, fp32 unless it is q8',
    },
    threads: threadsOption,
    workers: {
      type: "int",
      min: 1,
      max: 256,
      words: ["auto"],
      metavar: "N|auto",
      help: 'model replicas running batches side by side, each with its own weights (default "auto": the cores / threads, at most 4)',
    } as const satisfies IntOption,
    pooling: {
      type: "choice",
      choices: ["cls", "mean", "max", "mean_sqrt_len", "last-token", "splade"],
      help: "pooling of /embed (default: 1_Pooling/config.json, else cls as TEI does for BERT); splade: a BertForMaskedLM checkpoint, answered on /embed_sparse",
    },
    "max-batch-tokens": count("largest padded tokens (inputs x longest) per forward", 16384),
    "max-batch-requests": count("largest inputs per forward (default: only the tokens limit)"),
    "max-concurrent-requests": count("inputs in flight at once; beyond, 429", 512),
    "max-client-batch-size": count("inputs per request", 32),
    "payload-limit": count("bytes per request body", 2_000_000),
    "auto-truncate": {
      type: "flag",
      help: "truncate inputs over the maximum length when a request does not say",
    },
    "api-key": {
      type: "string",
      metavar: "KEY",
      help: "bearer token required by every route but health and metrics",
    },
    "batch-wait-ms": {
      type: "int",
      min: 0,
      max: 10_000,
      default: 0,
      help: "ms the batcher waits for more inputs before a batch that is not full",
    },
    "shutdown-timeout-ms": {
      type: "int",
      min: 0,
      max: 3_600_000,
      default: 10_000,
      help: "ms to answer what is queued on SIGTERM / SIGINT before exiting with 1",
    },
  },
  details: `Routes: POST /embed, /embed_all, /embed_sparse (--pooling splade), /v1/embeddings,
/rerank, /predict, /tokenize, /decode; GET /health, /info, /metrics. The server listens at once;
/health answers 503 until the model is loaded.

  simdbert serve ./all-MiniLM-L6-v2 --port 8080`,
  async run({ MODEL }, o) {
    await checkModelSource("MODEL", MODEL, "serve");
    const options: NodeServerOptions = {
      modelId: MODEL,
      host: o.host,
      port: o.port,
      maxBatchTokens: o["max-batch-tokens"],
      maxConcurrentRequests: o["max-concurrent-requests"],
      maxClientBatchSize: o["max-client-batch-size"],
      payloadLimit: o["payload-limit"],
      batchWaitMs: o["batch-wait-ms"],
    };
    if (o.dtype) options.dtype = o.dtype;
    if (o.pooling) options.pooling = o.pooling;
    if (o["max-batch-requests"] !== undefined) options.maxBatchRequests = o["max-batch-requests"];
    if (o["auto-truncate"]) options.autoTruncate = true;
    if (o["api-key"] !== undefined) options.apiKey = o["api-key"];
    if (o.threads !== undefined) options.load = { threads: o.threads };
    options.workers =
      o.workers === undefined || o.workers === "auto" ? autoWorkers(o.threads) : o.workers;
    await serve(MODEL, options, o["shutdown-timeout-ms"]);
  },
});

/** One replica per core left by the threads of each (at most 4: memory grows with each). */
function autoWorkers(threads: number | "auto" | undefined): number {
  const cores = availableParallelism();
  const per = threads === "auto" ? cores : (threads ?? 1);
  return Math.max(1, Math.min(4, Math.floor(cores / per)));
}

async function serve(
  model: string,
  options: NodeServerOptions,
  shutdownTimeoutMs: number,
): Promise<void> {
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
