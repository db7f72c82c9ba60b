// The server's core, runtime-neutral (no node: imports): it loads a model and its tokenizer,
// validates requests with text-embeddings-inference's (TEI v1.x) and OpenAI's shapes, queues the
// inputs into the dynamic batcher and renders the answers. createHandler (fetch) and the node:http
// server (node.ts) both feed it { method, path, headers, body } and send back what it returns.
//
// Routes: POST /embed /embed_all /embed_sparse /v1/embeddings /embeddings /rerank /predict
// /tokenize /decode (and / or /invocations: the model type's main route), GET /health /info
// /metrics (/ and /ping: health). Concurrency permits are taken per input when a request arrives: a request whose inputs
// do not all fit in --max-concurrent-requests is answered 429 at once, never queued.
import { modelFiles, readJson, type ModelSource } from "../loading/source.js";
import type { FromPretrainedOptions } from "../models/bert/modeling_bert.js";
import { BertTokenizer } from "../tokenizer/bert_tokenizer.js";
import {
  localBackend,
  poolHidden,
  type Backend,
  type BackendFactory,
  type BackendHead,
  type BackendModelInfo,
} from "./backend.js";
import { WEIGHT_DTYPES, type WeightDtype } from "../quant/quantize.js";
import { Batcher, type Job, type JobOutput, type RowPooling } from "./batcher.js";
import { failureLabel, openaiErrorBody, quote, ServeError, teiErrorBody } from "./errors.js";
import { Metrics } from "./metrics.js";

export const VERSION = "0.1.0";

/**
 * Pooling of /embed: TEI's (cls, mean, splade, last-token) and sentence-transformers' max and
 * mean_sqrt_len. splade needs a masked-LM head (BertForMaskedLM): max over the tokens of
 * log(1 + relu(logits)), one value per vocabulary entry.
 */
export type ServePooling = "cls" | "mean" | "max" | "mean_sqrt_len" | "last-token" | "splade";
export const SERVE_POOLINGS: readonly ServePooling[] = [
  "cls",
  "mean",
  "max",
  "mean_sqrt_len",
  "last-token",
  "splade",
];
/** TEI's and sentence-transformers' other spellings. */
const POOLING_ALIASES: Record<string, ServePooling> = {
  last_token: "last-token",
  lasttoken: "last-token",
  "mean-sqrt-len": "mean_sqrt_len",
};
/** How /info names a pooling (TEI's serialization). */
const POOLING_INFO: Record<ServePooling, string> = {
  cls: "cls",
  mean: "mean",
  max: "max",
  mean_sqrt_len: "mean_sqrt_len",
  "last-token": "last_token",
  splade: "splade",
};
/** TEI's dtype names for ours (q8 has no TEI name). */
const DTYPE_ALIASES: Record<string, WeightDtype> = { float32: "fp32", float16: "fp16" };
const DTYPE_INFO: Record<WeightDtype, string> = { fp32: "float32", fp16: "float16", q8: "q8" };

/** A pooling name (ours, TEI's or an alias) as ServePooling, or a RangeError naming the choices. */
export function servePooling(p: unknown): ServePooling {
  const s = typeof p === "string" ? (POOLING_ALIASES[p] ?? p) : p;
  if (typeof s === "string" && (SERVE_POOLINGS as readonly string[]).includes(s))
    return s as ServePooling;
  throw new RangeError(
    `simdbert serve: pooling must be one of ${SERVE_POOLINGS.map((x) => quote(x)).join(", ")}, got ${quote(p)}`,
  );
}

/** A weight dtype (fp32, fp16, q8, or TEI's float32 / float16), or a RangeError. */
export function serveDtype(d: unknown): WeightDtype {
  const s = typeof d === "string" ? (DTYPE_ALIASES[d] ?? d) : d;
  if (typeof s === "string" && (WEIGHT_DTYPES as readonly string[]).includes(s))
    return s as WeightDtype;
  throw new RangeError(
    `simdbert serve: dtype must be one of "fp32" (or "float32"), "fp16" (or "float16"), "q8", got ${quote(d)}`,
  );
}

export interface ServeOptions {
  /** The name /info and OpenAI's "model" field report (default: the source's path or URL). */
  modelId?: string;
  /**
   * Pooling of /embed (default: 1_Pooling/config.json, else "cls" as TEI does for BERT). TEI's
   * spelling "last_token" is accepted too.
   */
  pooling?: ServePooling | "last_token";
  /**
   * Weights in memory: "fp32" (HF's numbers), "fp16", "q8" (TEI's "float32" / "float16" too).
   * Default: the checkpoint's own (fp32 unless it is a q8 checkpoint).
   */
  dtype?: WeightDtype | "float32" | "float16";
  /** Largest padded tokens (inputs x longest) per forward. Default 16384. */
  maxBatchTokens?: number;
  /** Largest inputs per forward (default: no limit but the tokens). */
  maxBatchRequests?: number;
  /** Inputs in flight (queued or running) at once; beyond, requests get 429. Default 512. */
  maxConcurrentRequests?: number;
  /** Inputs per request. Default 32. */
  maxClientBatchSize?: number;
  /** Bytes per request body. Default 2,000,000. */
  payloadLimit?: number;
  /** Truncate inputs over the maximum length when a request does not say. Default false. */
  autoTruncate?: boolean;
  /** Bearer token every route but health and metrics requires. */
  apiKey?: string;
  /** Tokens per input (default: sentence_bert_config.json's max_seq_length, else the model's). */
  maxInputLength?: number;
  /** Milliseconds the batcher waits for more inputs before a batch that is not full. Default 0. */
  batchWaitMs?: number;
  /** Loader options (threads, wasm for workers, warn...). */
  load?: FromPretrainedOptions;
  /** Where the model runs (default: this thread; `simdbert serve`: worker threads). */
  backend?: BackendFactory;
  /**
   * Model replicas that run batches side by side (backends with worker threads; each holds its
   * own weights). Default 1.
   */
  workers?: number;
}

/** What the core uses of an AbortSignal. */
export interface ClientSignal {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface CoreRequest {
  method: string;
  /** the URL's path (no query) */
  path: string;
  /** a header's value (lower-case name), or null */
  header(name: string): string | null;
  body: Uint8Array;
  /**
   * aborted when the client goes away: its queued inputs are dropped (an AbortSignal, or anything
   * with these three members)
   */
  signal?: ClientSignal;
}

export interface CoreResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

type ModelKind = "embedding" | "classifier" | "reranker";

interface Loaded {
  kind: ModelKind;
  config: BackendModelInfo;
  tokenizer: BertTokenizer;
  /** the tokenizer with truncation_side "left" (truncation_direction: "Left") */
  leftTokenizer: BertTokenizer;
  backend: Backend;
  pooling: ServePooling;
  maxInputLength: number;
  id2label: string[];
  dtype: WeightDtype;
}

const JSON_HEADERS = { "content-type": "application/json" };
/** The 429 every request past the permits gets: made once (a burst of thousands makes no errors) */
const OVERLOADED = new ServeError("overloaded", "Model is overloaded");
const OPENAI_ROUTES = new Set(["/v1/embeddings", "/embeddings"]);
const PUBLIC_ROUTES = new Set(["/health", "/metrics", "/", "/ping"]);

/** An input after validation: what the batcher runs and how the route answers it. */
interface Encoded {
  ids: Int32Array;
  types: Int32Array | null;
}

export class ServeCore {
  readonly options: Required<
    Omit<ServeOptions, "apiKey" | "maxInputLength" | "load" | "pooling" | "dtype" | "backend">
  > &
    ServeOptions;
  readonly metrics: Metrics;
  /** resolves when the model is loaded and warmed up (rejects when loading fails) */
  readonly ready: Promise<void>;
  private model: Loaded | null = null;
  private loadError: unknown = null;
  private batcher: Batcher | null = null;
  private backend: Backend | null = null;
  private permits: number;
  private closing = false;
  private pending = 0;
  private pendingWaiters: (() => void)[] = [];

  constructor(source: ModelSource | Promise<ModelSource>, options: ServeOptions = {}) {
    this.options = {
      modelId: options.modelId ?? (typeof source === "string" ? source : "simdbert-model"),
      maxBatchTokens: options.maxBatchTokens ?? 16384,
      maxBatchRequests: options.maxBatchRequests ?? 0,
      maxConcurrentRequests: options.maxConcurrentRequests ?? 512,
      maxClientBatchSize: options.maxClientBatchSize ?? 32,
      payloadLimit: options.payloadLimit ?? 2_000_000,
      autoTruncate: options.autoTruncate ?? false,
      batchWaitMs: options.batchWaitMs ?? 0,
      workers: options.workers ?? 1,
      ...options,
    } as ServeCore["options"];
    const o = this.options;
    for (const [name, v, min] of [
      ["maxBatchTokens", o.maxBatchTokens, 1],
      ["maxBatchRequests", o.maxBatchRequests, 0],
      ["maxConcurrentRequests", o.maxConcurrentRequests, 1],
      ["maxClientBatchSize", o.maxClientBatchSize, 1],
      ["payloadLimit", o.payloadLimit, 1],
      ["workers", o.workers, 1],
      ["batchWaitMs", o.batchWaitMs, 0],
    ] as const)
      if (!Number.isSafeInteger(v) || v < min)
        throw new RangeError(`simdbert serve: ${name} must be an integer >= ${min}, got ${v}`);
    if (o.pooling !== undefined) o.pooling = servePooling(o.pooling);
    if (o.dtype !== undefined) o.dtype = serveDtype(o.dtype);
    this.permits = o.maxConcurrentRequests;
    this.metrics = new Metrics();
    this.ready = this.load(source).then(
      (m) => {
        this.model = m;
      },
      (e) => {
        this.loadError = e;
        throw e;
      },
    );
    this.ready.catch(() => undefined);
  }

  // ---- loading ------------------------------------------------------------------------------

  private async load(sourceP: ModelSource | Promise<ModelSource>): Promise<Loaded> {
    const source = await sourceP;
    const files = modelFiles(source);
    const [config, st, pool] = await Promise.all([
      readJson(files, "config.json"),
      readJson(files, "sentence_bert_config.json").catch(() => null),
      readJson(files, "1_Pooling/config.json").catch(() => null),
    ]);
    const archs = Array.isArray(config?.architectures) ? (config.architectures as unknown[]) : [];
    const isClassifier = archs.some(
      (a) => typeof a === "string" && a.endsWith("ForSequenceClassification"),
    );
    const pooling = this.options.pooling
      ? servePooling(this.options.pooling)
      : isClassifier
        ? "cls"
        : folderPooling(pool);
    if (pooling === "splade") {
      if (isClassifier)
        throw new RangeError(
          "simdbert serve: --pooling splade is for embedding models with a masked-LM head; this model is a sequence classifier",
        );
      if (!archs.some((a) => typeof a === "string" && /For(MaskedLM|PreTraining)$/.test(a)))
        throw new RangeError(
          `simdbert serve: --pooling splade needs a masked-language-model head (config.json "architectures": ["BertForMaskedLM"], with its cls.predictions.* weights); this model's architectures are ${archs.length ? JSON.stringify(archs) : "not given"}`,
        );
    }
    const head: BackendHead = isClassifier
      ? "classifier"
      : pooling === "splade"
        ? "splade"
        : "none";
    const userWarn = this.options.load?.warn ?? ((msg: string) => console.warn(`simdbert: ${msg}`));
    const loadOptions: FromPretrainedOptions = {
      ...this.options.load,
      // embeddings never use the pooler: its weights are skipped on purpose
      warn: (msg: string) => {
        if (!/not used: pooler\.dense\.(bias|weight), pooler\.dense\.(bias|weight)$/.test(msg))
          userWarn(msg);
      },
    };
    if (this.options.dtype) loadOptions.dtype = serveDtype(this.options.dtype);
    const tokenizerP = BertTokenizer.fromPretrained(files);
    const backend = await (this.options.backend ?? localBackend)(
      source === files ? files : source,
      head,
      loadOptions,
      this.options.workers ?? 1,
    );
    this.backend = backend;
    const tokenizer = await tokenizerP;
    const cfg = backend.info;
    const stMax = typeof st?.max_seq_length === "number" ? st.max_seq_length : null;
    const maxInputLength =
      this.options.maxInputLength ??
      Math.min(stMax ?? tokenizer.model_max_length, cfg.max_position_embeddings);
    if (!Number.isSafeInteger(maxInputLength) || maxInputLength < 2)
      throw new RangeError(`simdbert serve: invalid maximum input length ${maxInputLength}`);
    if (maxInputLength > this.options.maxBatchTokens)
      throw new RangeError(
        `simdbert serve: maxBatchTokens (${this.options.maxBatchTokens}) must be at least the maximum input length (${maxInputLength})`,
      );
    const numLabels = cfg.num_labels;
    const id2 = cfg.id2label;
    const id2label = Array.from({ length: numLabels }, (_, i) => id2[i] ?? `LABEL_${i}`);
    const leftTokenizer = Object.create(tokenizer, {
      truncation_side: { value: "left" },
    }) as BertTokenizer;
    const m: Loaded = {
      kind: isClassifier ? (numLabels === 1 ? "reranker" : "classifier") : "embedding",
      config: cfg,
      tokenizer,
      leftTokenizer,
      backend,
      pooling,
      maxInputLength,
      id2label,
      dtype: cfg.dtype ?? (this.options.dtype ? serveDtype(this.options.dtype) : "fp32"),
    };
    this.batcher = new Batcher((jobs, S) => this.runBatch(m, jobs, S), {
      maxBatchTokens: this.options.maxBatchTokens,
      maxBatchRequests: this.options.maxBatchRequests,
      waitMs: this.options.batchWaitMs,
      maxInFlight: backend.parallelism ?? 1,
      onBatch: (size, tokens, seconds) => {
        this.metrics.batchNextSize.observe(size);
        this.metrics.batchNextTokens.observe(tokens);
        this.metrics.batchInferenceDuration.observe(seconds);
      },
    });
    // warm-up: one forward, so that a model that cannot run fails here and not on a request
    const warm = this.encode(m, { text: "warm up" }, true, "right");
    await this.runBatch(m, [{ ...warm, cancelled: false } as unknown as Job], warm.ids.length);
    return m;
  }

  /**
   * Runs a batch the batcher took: its inputs sorted by length and cut into groups that pad
   * little (at most 5% of padding, or one group when that is all), one forward per group.
   * Each input's bits do not depend on the grouping (see batcher.ts): only the padding work does.
   * Why 5%: a forward's cost per token hardly falls with more rows here (the GEMMs are near their
   * peak from a few rows on), so padding is pure loss; measured (bench:serve, MiniLM shape, 8-32
   * tokens, 2 replicas): 32-input requests at concurrency 1, 105 inputs/s with 25% allowed, 131
   * with 5%, 113 with batching off; single inputs at concurrency 64, 116 / 134 / 105.
   */
  private async runBatch(m: Loaded, jobs: Job[], S: number): Promise<Float32Array[]> {
    const order = jobs.map((_, i) => i).sort((a, b) => jobs[b].ids.length - jobs[a].ids.length);
    const groups: number[][] = [];
    let real = 0;
    for (const i of order) {
      const g = groups[groups.length - 1];
      const len = jobs[i].ids.length;
      const gS = g ? jobs[g[0]].ids.length : 0;
      if (g && (g.length + 1) * gS <= 1.05 * (real + len)) {
        g.push(i);
        real += len;
      } else {
        groups.push([i]);
        real = len;
      }
    }
    // the groups go to the backend at once: with several model workers they run side by side
    const out = new Array<Float32Array>(jobs.length);
    await Promise.all(
      groups.map(async (g) => {
        const rows = await this.forward(
          m,
          g.map((i) => jobs[i]),
          Math.min(S, jobs[g[0]].ids.length),
        );
        g.forEach((i, k) => (out[i] = rows[k]));
      }),
    );
    return out;
  }

  /** One padded forward; each input gets its rows (hidden states or logits). */
  private forward(m: Loaded, jobs: Job[], S: number): Promise<Float32Array[]> {
    const B = jobs.length;
    const pad = m.tokenizer.pad_token_id ?? 0;
    const input_ids = new Int32Array(B * S).fill(pad);
    const attention_mask = new Int32Array(B * S);
    const token_type_ids = new Int32Array(B * S);
    jobs.forEach((j, r) => {
      input_ids.set(j.ids, r * S);
      attention_mask.fill(1, r * S, r * S + j.ids.length);
      if (j.types) token_type_ids.set(j.types, r * S);
    });
    return m.backend.run({
      input_ids,
      attention_mask,
      token_type_ids,
      B,
      S,
      lens: jobs.map((j) => j.ids.length),
      pool: jobs.map((j) => j.pool ?? null),
    });
  }

  // ---- tokenization -------------------------------------------------------------------------

  /** An input's ids: a text (or pair) through the tokenizer, or token ids as given. */
  private encode(
    m: Loaded,
    input: { text?: string; pair?: string; ids?: number[] },
    truncate: boolean,
    direction: "right" | "left",
  ): Encoded {
    const max = m.maxInputLength;
    if (input.ids) {
      const ids = input.ids;
      if (!ids.length) throw new ServeError("validation", "`input` cannot be empty");
      const V = m.config.vocab_size;
      for (const id of ids)
        if (!Number.isSafeInteger(id) || id < 0 || id >= V)
          throw new ServeError(
            "validation",
            `token id ${quote(id)} is out of the vocabulary (expected an integer in [0, ${V}))`,
          );
      let kept = ids;
      if (ids.length > max) {
        if (!truncate)
          throw new ServeError(
            "validation",
            `\`inputs\` must have less than ${max} tokens. Given: ${ids.length}`,
          );
        kept = direction === "left" ? ids.slice(ids.length - max) : ids.slice(0, max);
      }
      return { ids: Int32Array.from(kept), types: null };
    }
    const text = input.text!;
    if (text.length === 0 && input.pair === undefined)
      throw new ServeError("validation", "`inputs` cannot be empty");
    const tok = direction === "left" ? m.leftTokenizer : m.tokenizer;
    let enc: { input_ids: number[]; token_type_ids?: number[] };
    try {
      enc = tok.encode_plus(text, input.pair ?? null, {
        truncation: truncate ? "longest_first" : false,
        max_length: truncate ? max : null,
        return_token_type_ids: input.pair !== undefined,
        return_attention_mask: false,
        verbose: false,
      }) as unknown as { input_ids: number[]; token_type_ids?: number[] };
    } catch (e) {
      throw new ServeError("tokenizer", `tokenizer error: ${(e as Error).message}`);
    }
    const n = enc.input_ids.length;
    if (n > max)
      throw new ServeError(
        "validation",
        `\`inputs\` must have less than ${max} tokens. Given: ${n}`,
      );
    return {
      ids: Int32Array.from(enc.input_ids),
      types:
        enc.token_type_ids && input.pair !== undefined ? Int32Array.from(enc.token_type_ids) : null,
    };
  }

  // ---- the request path ---------------------------------------------------------------------

  /** Answers one request; never throws. */
  async handle(req: CoreRequest): Promise<CoreResponse> {
    const t0 = performance.now();
    const openai = OPENAI_ROUTES.has(req.path);
    try {
      return await this.route(req, t0);
    } catch (e) {
      const err =
        e instanceof ServeError
          ? e
          : new ServeError("backend", `inference failed: ${(e as Error)?.message ?? String(e)}`);
      if (err.type !== "not_found" && err.type !== "method_not_allowed")
        this.metrics.requestFailure.inc({ err: failureLabel(err) });
      const headers: Record<string, string> = { ...JSON_HEADERS };
      if (err.status === 401) headers["www-authenticate"] = "Bearer";
      if (err.status === 429) headers["retry-after"] = "1";
      return {
        status: err.status,
        headers,
        body: openai ? openaiErrorBody(err) : teiErrorBody(err),
      };
    }
  }

  /** Stop taking requests (503), answer what is queued; resolves when all are answered. */
  async close(): Promise<void> {
    this.closing = true;
    while (this.pending > 0) await new Promise<void>((r) => this.pendingWaiters.push(r));
    await this.batcher?.idle();
    await this.backend?.close();
  }

  /** A body over the payload limit, as the routes answer it (adapters check before reading). */
  payloadTooLarge(path: string, bytes?: number): CoreResponse {
    const e = new ServeError(
      "validation",
      `request body${bytes !== undefined ? ` of ${bytes} bytes` : ""} exceeds the payload limit of ${this.options.payloadLimit} bytes`,
      413,
    );
    this.metrics.requestFailure.inc({ err: failureLabel(e) });
    return {
      status: 413,
      headers: { ...JSON_HEADERS },
      body: OPENAI_ROUTES.has(path) ? openaiErrorBody(e) : teiErrorBody(e),
    };
  }

  private async route(req: CoreRequest, t0: number): Promise<CoreResponse> {
    const { path, method } = req;
    const get = method === "GET" || method === "HEAD";
    if (path === "/health" || path === "/ping" || (path === "/" && get)) {
      if (!get) throw new ServeError("method_not_allowed", `${method} ${path}: use GET`);
      this.healthy();
      return { status: 200, headers: {}, body: "" };
    }
    if (path === "/metrics") {
      if (!get) throw new ServeError("method_not_allowed", `${method} ${path}: use GET`);
      this.metrics.queueSize.set(this.batcher?.size ?? 0);
      this.metrics.inflight.set(this.options.maxConcurrentRequests - this.permits);
      const mem = this.backend?.memory?.();
      if (mem) {
        this.metrics.wasmMemory.set(mem.wasm);
        this.metrics.replicaHeap.set(mem.heap);
      }
      // Node (and runtimes with its process object): the process's RSS and this thread's heap
      const usage = (
        globalThis as {
          process?: { memoryUsage?: () => { rss: number; heapTotal: number } };
        }
      ).process?.memoryUsage?.();
      if (usage) {
        this.metrics.residentMemory.set(usage.rss);
        this.metrics.heapTotal.set(usage.heapTotal);
      }
      return {
        status: 200,
        headers: { "content-type": "text/plain; version=0.0.4" },
        body: this.metrics.render(),
      };
    }
    this.authorize(req);
    if (path === "/info") {
      if (!get) throw new ServeError("method_not_allowed", `${method} ${path}: use GET`);
      return this.json(this.info());
    }
    const posts: Record<
      string,
      (m: Loaded, body: unknown, req: CoreRequest, t0: number) => Promise<CoreResponse>
    > = {
      "/embed": (m, b, r, t) => this.embed(m, b, r, t, "pooled"),
      "/embed_all": (m, b, r, t) => this.embed(m, b, r, t, "all"),
      "/embed_sparse": (m, b, r, t) => this.embed(m, b, r, t, "sparse"),
      "/v1/embeddings": (m, b, r, t) => this.openaiEmbed(m, b, r, t),
      "/embeddings": (m, b, r, t) => this.openaiEmbed(m, b, r, t),
      "/rerank": (m, b, r, t) => this.rerank(m, b, r, t),
      "/predict": (m, b, r, t) => this.predict(m, b, r, t),
      "/tokenize": (m, b) => this.tokenize(m, b),
      "/decode": (m, b) => this.decode(m, b),
    };
    let handler = Object.prototype.hasOwnProperty.call(posts, path) ? posts[path] : undefined;
    if (path === "/" || path === "/invocations") {
      const kind = this.model?.kind;
      handler =
        kind === "classifier"
          ? posts["/predict"]
          : kind === "reranker"
            ? posts["/rerank"]
            : this.model?.pooling === "splade"
              ? posts["/embed_sparse"]
              : posts["/embed"];
    }
    if (!handler) throw new ServeError("not_found", `no route ${method} ${quote(path)}`);
    if (method !== "POST")
      throw new ServeError("method_not_allowed", `${method} ${path}: use POST`);
    const m = this.healthy();
    if (req.body.byteLength > this.options.payloadLimit)
      return this.payloadTooLarge(path, req.body.byteLength);
    const body = parseBody(req.body);
    this.pending++;
    try {
      return await handler(m, body, req, t0);
    } finally {
      if (--this.pending === 0) for (const w of this.pendingWaiters.splice(0)) w();
    }
  }

  private healthy(): Loaded {
    if (this.closing) throw new ServeError("unhealthy", "the server is shutting down");
    if (this.loadError)
      throw new ServeError(
        "unhealthy",
        `the model failed to load: ${(this.loadError as Error)?.message}`,
      );
    if (!this.model) throw new ServeError("unhealthy", "the model is loading");
    return this.model;
  }

  private authorize(req: CoreRequest): void {
    const key = this.options.apiKey;
    if (!key || PUBLIC_ROUTES.has(req.path)) return;
    const got = req.header("authorization") ?? "";
    if (!timingSafeEqual(got, `Bearer ${key}`))
      throw new ServeError("unauthorized", "missing or wrong API key (Authorization: Bearer KEY)");
  }

  info(): Record<string, unknown> {
    const m = this.model;
    const o = this.options;
    const classes = m
      ? {
          id2label: Object.fromEntries(m.id2label.map((l, i) => [String(i), l])),
          label2id: Object.fromEntries(m.id2label.map((l, i) => [l, i])),
        }
      : null;
    return {
      model_id: o.modelId,
      model_sha: null,
      model_dtype: DTYPE_INFO[m?.dtype ?? (o.dtype ? serveDtype(o.dtype) : "fp32")],
      model_type: !m
        ? null
        : m.kind === "embedding"
          ? { embedding: { pooling: POOLING_INFO[m.pooling] } }
          : { [m.kind]: classes },
      max_concurrent_requests: o.maxConcurrentRequests,
      max_input_length: m?.maxInputLength ?? null,
      max_batch_tokens: o.maxBatchTokens,
      max_batch_requests: o.maxBatchRequests || null,
      max_client_batch_size: o.maxClientBatchSize,
      payload_limit: o.payloadLimit,
      auto_truncate: o.autoTruncate,
      tokenization_workers: 1,
      version: VERSION,
      sha: null,
      docker_label: null,
    };
  }

  private json(v: unknown, extra: Record<string, string> = {}): CoreResponse {
    return { status: 200, headers: { ...JSON_HEADERS, ...extra }, body: JSON.stringify(v) };
  }

  // ---- shared request plumbing --------------------------------------------------------------

  private checkBatch(n: number, what = "inputs"): void {
    if (n === 0) throw new ServeError("empty", `\`${what}\` cannot be empty`);
    if (n > this.options.maxClientBatchSize)
      throw new ServeError(
        "validation",
        `batch size ${n} > maximum allowed batch size ${this.options.maxClientBatchSize}`,
      );
  }

  /**
   * Tokenizes the inputs, takes a permit per input (429 when they are not all free), queues them,
   * and resolves with each input's output, in order. Aborting req.signal drops the queued ones.
   */
  private async run(
    m: Loaded,
    req: CoreRequest,
    items: { text?: string; pair?: string; ids?: number[] }[],
    truncate: boolean,
    direction: "right" | "left",
    /** the pooling the replica applies (each answer is then one vector), or null: all rows */
    pooling: RowPooling | null = null,
  ): Promise<{ enc: Encoded[]; out: JobOutput[]; tokenizeSeconds: number }> {
    const n = items.length;
    if (this.permits < n) throw OVERLOADED;
    const t0 = performance.now();
    const enc = items.map((it) => this.encode(m, it, truncate, direction));
    const tokenizeSeconds = (performance.now() - t0) / 1000;
    for (const e of enc) this.metrics.inputLength.observe(e.ids.length);
    if (req.signal?.aborted) throw new ServeError("validation", "the client went away");
    this.permits -= n;
    const jobs: Job[] = [];
    const request = {};
    const promises = enc.map(
      (e) =>
        new Promise<JobOutput>((resolve, reject) => {
          let done = false;
          const finish = () => {
            if (!done) {
              done = true;
              this.permits++;
            }
          };
          const job: Job = {
            ids: e.ids,
            types: e.types,
            pool: pooling,
            request,
            cancelled: false,
            queued: performance.now(),
            resolve: (o) => {
              finish();
              resolve(o);
            },
            reject: (err) => {
              finish();
              reject(err);
            },
          };
          jobs.push(job);
        }),
    );
    const onAbort = () => {
      for (const j of jobs)
        if (!j.cancelled) {
          j.cancelled = true;
          j.reject(new ServeError("validation", "the client went away"));
        }
    };
    req.signal?.addEventListener("abort", onAbort, { once: true });
    for (const j of jobs) this.batcher!.push(j);
    try {
      const out = await Promise.all(promises);
      return { enc, out, tokenizeSeconds };
    } catch (e) {
      onAbort(); // one input failed: the others' answers are not wanted
      throw e;
    } finally {
      req.signal?.removeEventListener("abort", onAbort);
    }
  }

  private succeed(
    method: "single" | "batch",
    t0: number,
    r: { enc: Encoded[]; out: JobOutput[]; tokenizeSeconds: number },
    chars: number,
  ): Record<string, string> {
    const n = r.out.length;
    const queue = r.out.reduce((s, o) => s + o.queueSeconds, 0) / n;
    const inference = r.out.reduce((s, o) => s + o.inferenceSeconds, 0) / n;
    const total = (performance.now() - t0) / 1000;
    const metrics = this.metrics;
    metrics.requestSuccess.inc({ method });
    metrics.requestDuration.observe(total);
    metrics.tokenizationDuration.observe(r.tokenizeSeconds);
    metrics.queueDuration.observe(queue);
    metrics.inferenceDuration.observe(inference);
    const tokens = r.enc.reduce((s, e) => s + e.ids.length, 0);
    const ms = (s: number) => String(Math.round(s * 1000));
    return {
      "x-compute-type": "cpu+wasm-simd",
      "x-compute-time": ms(total),
      "x-compute-characters": String(chars),
      "x-compute-tokens": String(tokens),
      "x-total-time": ms(total),
      "x-tokenization-time": ms(r.tokenizeSeconds),
      "x-queue-time": ms(queue),
      "x-inference-time": ms(inference),
    };
  }

  private truncateOption(body: Record<string, unknown>): {
    truncate: boolean;
    direction: "right" | "left";
  } {
    const t = body.truncate;
    if (t !== undefined && t !== null && typeof t !== "boolean")
      throw new ServeError("validation", `\`truncate\` must be a boolean, got ${quote(t)}`);
    const d = body.truncation_direction;
    let direction: "right" | "left" = "right";
    if (d !== undefined && d !== null) {
      const s = typeof d === "string" ? d.toLowerCase() : "";
      if (s !== "right" && s !== "left")
        throw new ServeError(
          "validation",
          `\`truncation_direction\` must be "Right" or "Left", got ${quote(d)}`,
        );
      direction = s;
    }
    return { truncate: (t as boolean | null | undefined) ?? this.options.autoTruncate, direction };
  }

  // ---- routes -------------------------------------------------------------------------------

  private requireKind(m: Loaded, kinds: ModelKind[], message: string): void {
    if (!kinds.includes(m.kind)) throw new ServeError("backend", message);
  }

  private async embed(
    m: Loaded,
    raw: unknown,
    req: CoreRequest,
    t0: number,
    what: "pooled" | "all" | "sparse",
  ): Promise<CoreResponse> {
    const body = object(raw);
    const inputs = body.inputs;
    const single = typeof inputs === "string";
    this.metrics.requestCount.inc({ method: single ? "single" : "batch" });
    this.requireKind(m, ["embedding"], "model is not an embedding model");
    // TEI: a SPLADE model answers /embed_sparse, and /embed without normalization only
    const splade = m.pooling === "splade";
    if (what === "sparse" && !splade)
      throw new ServeError(
        "backend",
        "Model is not an embedding model with SPLADE pooling (serve it with --pooling splade)",
      );
    if (what === "all" && splade)
      throw new ServeError("backend", "`embed_all` is not available for SPLADE models");
    if (what === "pooled" && splade && body.normalize !== false)
      throw new ServeError(
        "backend",
        "`normalize` is not available for SPLADE models (send normalize: false, or use /embed_sparse)",
      );
    const texts = stringList(inputs, "inputs");
    this.checkBatch(texts.length);
    const { truncate, direction } = this.truncateOption(body);
    const normalize = bool(body.normalize, "normalize", true);
    const dimensions = what === "pooled" ? this.dimensions(m, body.dimensions) : null;
    const r = await this.run(
      m,
      req,
      texts.map((text) => ({ text })),
      truncate,
      direction,
      what === "pooled" ? rowPooling(m.pooling) : null,
    );
    const headers = this.succeed(single ? "single" : "batch", t0, r, chars(texts));
    const H = m.config.hidden_size;
    if (what === "all")
      return {
        status: 200,
        headers: { ...JSON_HEADERS, ...headers },
        body: "[" + r.out.map((o) => rowsJson(o.data, H)).join(",") + "]",
      };
    if (what === "sparse")
      return {
        status: 200,
        headers: { ...JSON_HEADERS, ...headers },
        body: "[" + r.out.map((o) => sparseJson(o.data)).join(",") + "]",
      };
    const rows = r.out.map((o) => finishPooled(o.data, normalize, dimensions));
    return {
      status: 200,
      headers: { ...JSON_HEADERS, ...headers },
      body: "[" + rows.map(floatsJson).join(",") + "]",
    };
  }

  private dimensions(m: Loaded, d: unknown): number | null {
    if (d === undefined || d === null) return null;
    const H = m.config.hidden_size;
    if (!Number.isSafeInteger(d) || (d as number) < 1 || (d as number) > H)
      throw new ServeError(
        "validation",
        `\`dimensions\` must be an integer in [1, ${H}] (the model's hidden size), got ${quote(d)}`,
      );
    return d as number;
  }

  private async openaiEmbed(
    m: Loaded,
    raw: unknown,
    req: CoreRequest,
    t0: number,
  ): Promise<CoreResponse> {
    const body = object(raw);
    const input = body.input;
    const single =
      typeof input === "string" ||
      (Array.isArray(input) && input.length > 0 && typeof input[0] === "number");
    this.metrics.requestCount.inc({ method: single ? "single" : "batch" });
    this.requireKind(m, ["embedding"], "model is not an embedding model");
    if (m.pooling === "splade")
      throw new ServeError(
        "backend",
        "`normalize` is not available for SPLADE models (OpenAI's embeddings are normalized): use /embed_sparse",
      );
    let items: { text?: string; ids?: number[] }[];
    if (typeof input === "string") items = [{ text: input }];
    else if (Array.isArray(input) && input.length && typeof input[0] === "number")
      items = [{ ids: numberList(input, "input") }];
    else if (Array.isArray(input) && input.length && Array.isArray(input[0]))
      items = input.map((x, i) => ({ ids: numberList(x, `input[${i}]`) }));
    else items = stringList(input, "input").map((text) => ({ text }));
    this.checkBatch(items.length, "input");
    const fmt = body.encoding_format ?? "float";
    if (fmt !== "float" && fmt !== "base64")
      throw new ServeError(
        "validation",
        `\`encoding_format\` must be "float" or "base64", got ${quote(fmt)}`,
      );
    const dimensions = this.dimensions(m, body.dimensions);
    for (const k of ["model", "user"])
      if (body[k] !== undefined && body[k] !== null && typeof body[k] !== "string")
        throw new ServeError("validation", `\`${k}\` must be a string, got ${quote(body[k])}`);
    const r = await this.run(
      m,
      req,
      items,
      this.options.autoTruncate,
      "right",
      rowPooling(m.pooling),
    );
    const headers = this.succeed(
      single ? "single" : "batch",
      t0,
      r,
      items.reduce((s, it) => s + (it.text?.length ?? 0), 0),
    );
    const data = r.out.map((o, index) => {
      const v = finishPooled(o.data, true, dimensions);
      const embedding = fmt === "base64" ? JSON.stringify(base64f32(v)) : floatsJson(v);
      return `{"object":"embedding","embedding":${embedding},"index":${index}}`;
    });
    const tokens = r.enc.reduce((s, e) => s + e.ids.length, 0);
    const model = typeof body.model === "string" ? body.model : this.options.modelId;
    return {
      status: 200,
      headers: { ...JSON_HEADERS, ...headers },
      body: `{"object":"list","data":[${data.join(",")}],"model":${JSON.stringify(model)},"usage":{"prompt_tokens":${tokens},"total_tokens":${tokens}}}`,
    };
  }

  private async rerank(
    m: Loaded,
    raw: unknown,
    req: CoreRequest,
    t0: number,
  ): Promise<CoreResponse> {
    const body = object(raw);
    this.metrics.requestCount.inc({ method: "batch" });
    if (typeof body.query !== "string")
      throw new ServeError("validation", `\`query\` must be a string, got ${quote(body.query)}`);
    const texts = body.texts;
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string"))
      throw new ServeError(
        "validation",
        `\`texts\` must be a list of strings, got ${quote(texts)}`,
      );
    this.checkBatch(texts.length, "texts");
    this.requireKind(m, ["reranker"], "model is not a re-ranker model");
    const { truncate, direction } = this.truncateOption(body);
    const rawScores = bool(body.raw_scores, "raw_scores", false);
    const returnText = bool(body.return_text, "return_text", false);
    const query = body.query;
    const r = await this.run(
      m,
      req,
      (texts as string[]).map((text) => ({ text: query, pair: text })),
      truncate,
      direction,
    );
    const headers = this.succeed(
      "batch",
      t0,
      r,
      chars(texts as string[]) + query.length * texts.length,
    );
    const ranks = r.out.map((o, index) => {
      const x = o.data[0];
      const score = rawScores ? x : Math.fround(sigmoid(x));
      if (Number.isNaN(score)) throw new ServeError("backend", "score is NaN");
      return { index, ...(returnText ? { text: (texts as string[])[index] } : {}), score };
    });
    ranks.sort((a, b) => b.score - a.score || a.index - b.index);
    return this.json(ranks, headers);
  }

  private async predict(
    m: Loaded,
    raw: unknown,
    req: CoreRequest,
    t0: number,
  ): Promise<CoreResponse> {
    const body = object(raw);
    const { single, items } = predictInputs(body.inputs);
    this.metrics.requestCount.inc({ method: single ? "single" : "batch" });
    this.checkBatch(items.length);
    this.requireKind(m, ["classifier", "reranker"], "model is not a classifier model");
    const { truncate, direction } = this.truncateOption(body);
    const rawScores = bool(body.raw_scores, "raw_scores", false);
    const r = await this.run(m, req, items, truncate, direction);
    const headers = this.succeed(
      single ? "single" : "batch",
      t0,
      r,
      items.reduce((s, it) => s + it.text.length + (it.pair?.length ?? 0), 0),
    );
    const results = r.out.map((o) => {
      const scores = rawScores ? Array.from(o.data) : probabilities(o.data);
      const preds = scores.map((score, i) => {
        if (Number.isNaN(score)) throw new ServeError("backend", "score is NaN");
        return { score, label: m.id2label[i] };
      });
      preds.sort((a, b) => b.score - a.score);
      return preds;
    });
    return this.json(single ? results[0] : results, headers);
  }

  private async tokenize(m: Loaded, raw: unknown): Promise<CoreResponse> {
    const body = object(raw);
    const texts = stringList(body.inputs, "inputs");
    this.checkBatch(texts.length);
    const special = bool(body.add_special_tokens, "add_special_tokens", true);
    const tok = m.tokenizer;
    const out = texts.map((text) => {
      let ids: number[];
      let mask: number[];
      let offsets: [number, number][] | null = null;
      try {
        const enc = tok.encode_plus(text, null, {
          add_special_tokens: special,
          return_offsets_mapping: true,
          return_special_tokens_mask: true,
          verbose: false,
        }) as unknown as {
          input_ids: number[];
          special_tokens_mask: number[];
          offset_mapping?: [number, number][];
        };
        ids = enc.input_ids;
        mask = enc.special_tokens_mask;
        offsets = enc.offset_mapping ?? null;
      } catch {
        // a tokenizer without offsets (yet): ids and token strings, start and stop null
        try {
          const raw = tok.encode(text, { add_special_tokens: false, verbose: false });
          ids = special ? tok.build_inputs_with_special_tokens(raw) : raw;
          mask = special ? tok.get_special_tokens_mask(raw, null, false) : raw.map(() => 0);
        } catch (e) {
          throw new ServeError("tokenizer", `tokenizer error: ${(e as Error).message}`);
        }
      }
      const tokens = tok.convert_ids_to_tokens(ids);
      const cp = codePointIndex(text);
      return ids.map((id, i) => {
        const off = offsets?.[i];
        if (mask[i] === 1 || !off)
          return { id, text: tokens[i], special: mask[i] === 1, start: null, stop: null };
        // start/stop in characters (code points), as TEI and Python count them
        return {
          id,
          text: text.slice(off[0], off[1]),
          special: false,
          start: cp(off[0]),
          stop: cp(off[1]),
        };
      });
    });
    return this.json(out);
  }

  private async decode(m: Loaded, raw: unknown): Promise<CoreResponse> {
    const body = object(raw);
    const ids = body.ids;
    let lists: number[][];
    if (Array.isArray(ids) && ids.length && Array.isArray(ids[0]))
      lists = ids.map((x, i) => numberList(x, `ids[${i}]`));
    else if (Array.isArray(ids) && ids.length) lists = [numberList(ids, "ids")];
    else if (Array.isArray(ids)) lists = [];
    else
      throw new ServeError("validation", `\`ids\` must be a list of token ids, got ${quote(ids)}`);
    this.checkBatch(lists.length, "ids");
    const skip = bool(body.skip_special_tokens, "skip_special_tokens", true);
    const V = m.tokenizer.length;
    const texts = lists.map((l) => {
      for (const id of l)
        if (!Number.isSafeInteger(id) || id < 0 || id >= V)
          throw new ServeError(
            "validation",
            `token id ${quote(id)} is out of the vocabulary (expected an integer in [0, ${V}))`,
          );
      return m.tokenizer.decode(l, { skip_special_tokens: skip });
    });
    return this.json(texts);
  }
}

// ---- helpers ------------------------------------------------------------------------------

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function parseBody(bytes: Uint8Array): unknown {
  if (!bytes.byteLength)
    throw new ServeError("validation", "the request body is empty (JSON expected)");
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new ServeError("validation", "the request body is not valid UTF-8", 400);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ServeError(
      "validation",
      `the request body is not valid JSON: ${(e as Error).message}`,
      400,
    );
  }
}

function object(v: unknown): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v))
    throw new ServeError("validation", `the request body must be a JSON object, got ${quote(v)}`);
  return v as Record<string, unknown>;
}

function stringList(v: unknown, name: string): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      if (typeof x !== "string")
        throw new ServeError("validation", `\`${name}[${i}]\` must be a string, got ${quote(x)}`);
    });
    return v as string[];
  }
  throw new ServeError(
    "validation",
    `\`${name}\` must be a string or a list of strings, got ${quote(v)}`,
  );
}

function numberList(v: unknown, name: string): number[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number"))
    throw new ServeError("validation", `\`${name}\` must be a list of token ids, got ${quote(v)}`);
  return v as number[];
}

function bool(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean")
    throw new ServeError("validation", `\`${name}\` must be a boolean, got ${quote(v)}`);
  return v;
}

/** TEI's /predict inputs: a string, a pair [a, b], or a batch of [a] / [a, b]. */
function predictInputs(v: unknown): { single: boolean; items: { text: string; pair?: string }[] } {
  const bad = () =>
    new ServeError(
      "validation",
      `\`inputs\` must be a string, a pair of strings [string, string] or a batch of mixed strings and pairs [[string], [string, string], ...], got ${quote(v)}`,
    );
  if (typeof v === "string") return { single: true, items: [{ text: v }] };
  if (!Array.isArray(v)) throw bad();
  if (v.length === 0) return { single: false, items: [] };
  const seq = (x: unknown) => {
    if (!Array.isArray(x) || x.length < 1 || x.length > 2 || x.some((s) => typeof s !== "string"))
      throw bad();
    return x.length === 1
      ? { text: x[0] as string }
      : { text: x[0] as string, pair: x[1] as string };
  };
  if (typeof v[0] === "string") {
    if (v.length > 2 || v.some((s) => typeof s !== "string")) throw bad();
    return { single: true, items: [seq(v)] };
  }
  return { single: false, items: v.map(seq) };
}

/** UTF-16 index -> code point index in `text` (the identity when it has no surrogate pairs). */
function codePointIndex(text: string): (i: number) => number {
  if (!/[\uD800-\uDBFF][\uDC00-\uDFFF]/.test(text)) return (i) => i;
  const map = new Int32Array(text.length + 1);
  let c = 0;
  for (let i = 0; i < text.length; i++) {
    map[i] = c;
    const h = text.charCodeAt(i);
    if (h >= 0xd800 && h <= 0xdbff && i + 1 < text.length) {
      const l = text.charCodeAt(i + 1);
      if (l >= 0xdc00 && l <= 0xdfff) map[++i] = c;
    }
    c++;
  }
  map[text.length] = c;
  return (i) => map[i];
}

function chars(texts: string[]): number {
  return texts.reduce((s, t) => s + t.length, 0);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** sigmoid for one label, softmax over several (float64, returned as float32 values). */
function probabilities(logits: Float32Array): number[] {
  if (logits.length === 1) return [Math.fround(sigmoid(logits[0]))];
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  const e = Array.from(logits, (x) => Math.exp(x - max));
  for (const x of e) sum += x;
  return e.map((x) => Math.fround(x / sum));
}

/**
 * Pooling of one input's hidden rows [len, H], as the feature-extraction pipeline computes it
 * (sentence-transformers' modes: mean or mean_sqrt_len in float64 over the real tokens, stored as
 * float32; max over the real tokens; CLS = the first row; last-token = the last real row), then
 * the first `dimensions` values (Matryoshka), then L2 normalisation (x / max(|x|, 1e-12)).
 * "splade": `h` is already the input's vector (the backend pooled the MLM logits).
 */
export function pool(
  h: Float32Array,
  H: number,
  pooling: ServePooling,
  normalize: boolean,
  dimensions: number | null,
): Float32Array {
  const v = pooling === "splade" ? h.slice() : poolHidden(h, H, pooling);
  return finishPooled(v, normalize, dimensions);
}

/** The pooling a replica applies for `pooling` (SPLADE's vector is its head's: none). */
const rowPooling = (pooling: ServePooling): RowPooling | null =>
  pooling === "splade" ? null : pooling;

/** A pooled vector's first `dimensions` values, then L2-normalized (x / max(|x|, 1e-12)). */
function finishPooled(
  pooled: Float32Array,
  normalize: boolean,
  dimensions: number | null,
): Float32Array {
  const v =
    dimensions !== null && dimensions < pooled.length ? pooled.slice(0, dimensions) : pooled;
  if (normalize) {
    let s = 0;
    for (let j = 0; j < v.length; j++) s += v[j] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < v.length; j++) v[j] *= inv;
  }
  return v;
}

/** TEI's sparse embedding: the non-zero values as [{index, value}]. */
function sparseJson(v: Float32Array): string {
  let s = "[";
  for (let i = 0; i < v.length; i++)
    if (v[i] !== 0) s += (s.length > 1 ? "," : "") + `{"index":${i},"value":${v[i]}}`;
  return s + "]";
}

/** The pooling a sentence-transformers folder asks for (1_Pooling/config.json), else TEI's cls. */
function folderPooling(pool: Record<string, unknown> | null): ServePooling {
  if (!pool || typeof pool !== "object") return "cls";
  const modes: [string, ServePooling][] = [
    ["pooling_mode_cls_token", "cls"],
    ["pooling_mode_mean_tokens", "mean"],
    ["pooling_mode_max_tokens", "max"],
    ["pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"],
    ["pooling_mode_lasttoken", "last-token"],
  ];
  const on = modes.filter(([k]) => pool[k] === true).map(([, p]) => p);
  if (on.length === 1 && pool.pooling_mode_weightedmean_tokens !== true) return on[0];
  throw new RangeError(
    `simdbert serve: 1_Pooling/config.json asks for ${pool.pooling_mode_weightedmean_tokens === true ? "weighted-mean pooling" : on.length ? `several poolings at once (${on.join(", ")})` : "no pooling"}, which the server does not give; pass one (--pooling ${SERVE_POOLINGS.join("|")})`,
  );
}

/** A float32 row as JSON (each value's shortest double form: parses back to the same float32). */
function floatsJson(v: Float32Array): string {
  let s = "[";
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    s += (i ? "," : "") + (Number.isFinite(x) ? String(x) : "null");
  }
  return s + "]";
}

function rowsJson(h: Float32Array, H: number): string {
  const rows: string[] = [];
  for (let r = 0; r < h.length / H; r++) rows.push(floatsJson(h.subarray(r * H, (r + 1) * H)));
  return "[" + rows.join(",") + "]";
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Base64 of the little-endian float32 bytes (what openai-node decodes with encoding_format "base64"). */
export function base64f32(v: Float32Array): string {
  const bytes = new Uint8Array(v.length * 4);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i], true);
  let s = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    s += B64[n >> 18] + B64[(n >> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    s += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + "=";
  }
  return s;
}

/** Compares in time that depends on the lengths only. */
function timingSafeEqual(a: string, b: string): boolean {
  let d = a.length ^ b.length;
  for (let i = 0; i < b.length; i++)
    d |= (a.charCodeAt(i % (a.length || 1)) || 0) ^ b.charCodeAt(i);
  return d === 0;
}
