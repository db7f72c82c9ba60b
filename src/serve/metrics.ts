// Prometheus metrics with text-embeddings-inference's names and buckets, rendered in the text
// exposition format (version 0.0.4). No dependency: counters, gauges and histograms are a few
// numbers each.

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (!keys.length) return "";
  const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return "{" + keys.map((k) => `${k}="${esc(labels[k])}"`).join(",") + "}";
}

class Counter {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const [k, v] of this.values) out.push(`${this.name}${k} ${v}`);
  }
}

class Gauge {
  value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  set(v: number): void {
    this.value = v;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    out.push(`${this.name} ${this.value}`);
  }
}

export class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {
    this.counts = new Float64Array(buckets.length);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    out.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    out.push(`${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
  }
}

/** TEI's duration buckets: 35 steps of x1.5 from 15 µs (seconds). */
const DURATION = Array.from({ length: 35 }, (_, i) => 0.00001 * 1.5 ** (i + 1));
const powers = (n: number) => Array.from({ length: n }, (_, i) => 2 ** i);

export class Metrics {
  readonly requestCount = new Counter("te_request_count", "Requests received, by method");
  readonly requestSuccess = new Counter("te_request_success", "Requests answered, by method");
  readonly requestFailure = new Counter("te_request_failure", "Requests failed, by error");
  readonly requestDuration = new Histogram(
    "te_request_duration",
    "Request duration in seconds",
    DURATION,
  );
  readonly tokenizationDuration = new Histogram(
    "te_request_tokenization_duration",
    "Tokenization duration per request in seconds",
    DURATION,
  );
  readonly queueDuration = new Histogram(
    "te_request_queue_duration",
    "Time inputs waited in the queue, in seconds",
    DURATION,
  );
  readonly inferenceDuration = new Histogram(
    "te_request_inference_duration",
    "Inference duration per request in seconds",
    DURATION,
  );
  readonly batchInferenceDuration = new Histogram(
    "te_batch_inference_duration",
    "Duration of one batch's forward in seconds",
    DURATION,
  );
  readonly inputLength = new Histogram("te_request_input_length", "Tokens per input", powers(20));
  readonly batchNextSize = new Histogram("te_batch_next_size", "Inputs per batch", powers(13));
  readonly batchNextTokens = new Histogram(
    "te_batch_next_tokens",
    "Padded tokens per batch",
    powers(21),
  );
  readonly queueSize = new Gauge("te_queue_size", "Inputs waiting in the queue");
  readonly inflight = new Gauge("te_inflight_inputs", "Inputs holding a concurrency permit");
  // memory, for an operator watching a long-running replica (not TEI's: its own names)
  readonly wasmMemory = new Gauge(
    "simdbert_wasm_memory_bytes",
    "WebAssembly memory of the model replicas (weights and the activation arena), summed",
  );
  readonly replicaHeap = new Gauge(
    "simdbert_replica_heap_bytes",
    "JavaScript heap of the model replicas' worker threads (V8 heap total), summed",
  );
  // prom-client's names for the process and the event loop's heap (Node)
  readonly residentMemory = new Gauge(
    "process_resident_memory_bytes",
    "Resident memory of the server's process in bytes",
  );
  readonly heapTotal = new Gauge(
    "nodejs_heap_size_total_bytes",
    "V8 heap of the server's event loop thread (total) in bytes",
  );

  render(): string {
    const out: string[] = [];
    for (const m of [
      this.requestCount,
      this.requestSuccess,
      this.requestFailure,
      this.requestDuration,
      this.tokenizationDuration,
      this.queueDuration,
      this.inferenceDuration,
      this.batchInferenceDuration,
      this.inputLength,
      this.batchNextSize,
      this.batchNextTokens,
      this.queueSize,
      this.inflight,
      this.wasmMemory,
      this.replicaHeap,
      this.residentMemory,
      this.heapTotal,
    ])
      m.render(out);
    return out.join("\n") + "\n";
  }
}
