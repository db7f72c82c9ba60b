// Dynamic batching: one queue of tokenized inputs, in arrival order; the batcher takes inputs
// from its head while the padded batch (inputs x longest) stays within maxBatchTokens, runs one
// forward, hands each input its rows, then lets the event loop read new requests (setImmediate)
// before it takes the next batch. With a backend of several
// model workers, up to `maxInFlight` batches run at once (one per worker): a batch is taken when
// a worker is free, so at low load each input still gets a batch of its own at once. An input
// cancelled while it waits (its client went away) is skipped. A request's inputs are queued one
// by one, so a large request may span batches.
//
// An input's bits do not depend on its batch: every kernel computes a token's row the same way
// whatever rows sit beside it, and masked (padded) keys add exact zeros to the attention's sums,
// which treat the last 1-3 keys as a block of four with zeros (assembly/attention.ts). Earlier the
// scores and softmax sums of those keys took another path, and every batch was padded to a
// multiple of 4 tokens for the same bits: ~7% more work on 8-32-token sentences.

export interface Job {
  /** input_ids (special tokens included) */
  readonly ids: Int32Array;
  /** token_type_ids, or null for all zeros */
  readonly types: Int32Array | null;
  /**
   * The sentence pooling the replica applies to this input's hidden rows before they come back
   * (one vector of the hidden size), or absent: every row (/embed_all, classifiers' logits).
   */
  readonly pool?: RowPooling | null;
  /** the inputs of one request share this (the batcher keeps a request's inputs together) */
  readonly request?: object;
  /** set when the client has gone: the batcher drops the input */
  cancelled: boolean;
  /** performance.now() when queued */
  readonly queued: number;
  resolve(out: JobOutput): void;
  reject(err: unknown): void;
}

/** Poolings a replica applies to hidden rows (SPLADE's is the backend's head, not a row pooling). */
export type RowPooling = "cls" | "mean" | "max" | "mean_sqrt_len" | "last-token";

export interface JobOutput {
  /**
   * the model's rows for this input: [len, hidden] hidden states, [hidden] when the job asked for
   * a pooling, or [labels] logits
   */
  readonly data: Float32Array;
  /** seconds waited in the queue, and spent in the batch's forward */
  readonly queueSeconds: number;
  readonly inferenceSeconds: number;
}

/** Runs one padded batch: returns each job's output rows (same order). */
export type BatchRunner = (jobs: Job[], S: number) => Promise<Float32Array[]>;

export interface BatcherOptions {
  maxBatchTokens: number;
  /** at most this many inputs per batch (0: no limit) */
  maxBatchRequests?: number;
  /** wait this long (ms) for more inputs before a batch that is not full (0: no wait) */
  waitMs?: number;
  /** batches running at once (the backend's model workers; default 1) */
  maxInFlight?: number;
  /** called after each batch (metrics) */
  onBatch?: (size: number, tokens: number, seconds: number) => void;
}

const now = () => performance.now();

/**
 * Whether the runtime ties timers to the request that made them (Cloudflare Workers / workerd: a
 * timer left by a request that has answered is cancelled, and a request waiting on another's
 * timer is "hung"). There the batcher never yields to timers: each request's own microtasks run
 * the batches, which is all one isolate can do anyway (no threads, no I/O during a forward).
 */
const REQUEST_BOUND =
  typeof navigator !== "undefined" &&
  /Cloudflare-Workers/.test((navigator as { userAgent?: string }).userAgent ?? "");

/** Runs fn after pending I/O callbacks (setImmediate where there is one). */
export const afterIO: (fn: () => void) => void = REQUEST_BOUND
  ? (fn) => queueMicrotask(fn)
  : typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (fn) => (globalThis as unknown as { setImmediate: (f: () => void) => void }).setImmediate(fn)
    : (fn) => setTimeout(fn, 0);

export class Batcher {
  private queue: Job[] = [];
  private head = 0;
  /** batches running */
  private inFlight = 0;
  /** a pump is scheduled or running (it alone takes batches) */
  private pumping = false;
  private idleWaiters: (() => void)[] = [];
  private readonly maxInFlight: number;
  /** inputs waiting (cancelled ones included until skipped) */
  get size(): number {
    return this.queue.length - this.head;
  }
  get busy(): boolean {
    return this.inFlight > 0 || this.pumping;
  }

  constructor(
    private readonly runBatch: BatchRunner,
    private readonly o: BatcherOptions,
  ) {
    this.maxInFlight = REQUEST_BOUND ? 1 : Math.max(1, Math.floor(o.maxInFlight ?? 1));
  }

  push(job: Job): void {
    this.queue.push(job);
    this.schedule();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.busy && this.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * The next batch: inputs in arrival order while the padded tokens fit. With several replicas
   * free, the waiting requests are shared between them (a batch stops at the first request
   * boundary past ceil(waiting / free) inputs): one replica taking the whole queue left the others
   * idle (measured, 2 replicas at concurrency 64: 98 inputs/s batched against 124 with batching
   * off), while one request's inputs stay together, so a large request leaves the other replicas
   * to the requests that come after it.
   */
  private take(): { jobs: Job[]; S: number } {
    const jobs: Job[] = [];
    let S = 0;
    const free = this.maxInFlight - this.inFlight;
    const share = free > 1 ? Math.ceil(this.size / free) : Infinity;
    const maxReq = this.o.maxBatchRequests || Infinity;
    while (this.head < this.queue.length && jobs.length < maxReq) {
      const j = this.queue[this.head];
      if (j.cancelled) {
        this.head++;
        continue;
      }
      const s = Math.max(S, j.ids.length);
      if (jobs.length && s * (jobs.length + 1) > this.o.maxBatchTokens) break;
      if (jobs.length >= share && (!j.request || j.request !== jobs[jobs.length - 1].request))
        break;
      jobs.push(j);
      S = s;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return { jobs, S };
  }

  /** Starts a pump after pending I/O (what arrived meanwhile joins the batch), if one can run. */
  private schedule(): void {
    if (this.pumping || this.inFlight >= this.maxInFlight || this.size === 0) return;
    this.pumping = true;
    afterIO(() => void this.pump());
  }

  /** Takes batches while a worker is free and inputs wait. */
  private async pump(): Promise<void> {
    try {
      while (this.inFlight < this.maxInFlight && this.size > 0) {
        if (this.o.waitMs && !REQUEST_BOUND && !this.full()) await sleep(this.o.waitMs);
        const { jobs, S } = this.take();
        if (!jobs.length) break;
        this.inFlight++;
        void this.run(jobs, S).finally(() => {
          this.inFlight--;
          this.schedule();
          this.settle();
        });
      }
    } finally {
      this.pumping = false;
      this.settle();
    }
  }

  private async run(jobs: Job[], S: number): Promise<void> {
    const t0 = now();
    try {
      const outs = await this.runBatch(jobs, S);
      const t1 = now();
      const inference = (t1 - t0) / 1000;
      jobs.forEach((j, i) =>
        j.resolve({
          data: outs[i],
          queueSeconds: (t0 - j.queued) / 1000,
          inferenceSeconds: inference,
        }),
      );
      this.o.onBatch?.(jobs.length, jobs.length * S, inference);
    } catch (e) {
      for (const j of jobs) j.reject(e);
    }
  }

  /** Wakes idle() waiters when nothing runs or waits. */
  private settle(): void {
    if (this.busy) return;
    if (this.size > 0) this.schedule();
    else for (const w of this.idleWaiters.splice(0)) w();
  }

  /** whether the queue already holds a full batch */
  private full(): boolean {
    let S = 0;
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const j = this.queue[i];
      if (j.cancelled) continue;
      S = Math.max(S, j.ids.length);
      n++;
      if (S * n > this.o.maxBatchTokens) return true;
      if (this.o.maxBatchRequests && n >= this.o.maxBatchRequests) return true;
    }
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
