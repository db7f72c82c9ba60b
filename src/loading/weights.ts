// Lays a checkpoint's weights into linear memory, once.
//
// Modules declare what they need while they are constructed (raw tensors such as embeddings and
// LayerNorm parameters; Linear weights to be packed, possibly several fused into one matrix);
// load() then resolves every name the way from_pretrained does, checks shapes, converts F16/BF16
// to f32 (or to the dtype option's fp16 / q8), and writes each weight in its final layout. A packed weight passes through a staging
// area past the weights (the arena's space) and is packed once; nothing is repacked per call.
import type { Engine } from "../runtime/engine.js";
import type { TensorInfo, TensorSource } from "../safetensors.js";
import { PANEL_COLS, PackedLinear, type LinearDType } from "../runtime/linear.js";
import { f32At, f32Bytes, f32Index } from "../runtime/memory.js";
import { ConfigError, WeightsError } from "../errors.js";
export { WeightsError };
import { QUOTE_MAX } from "../messages.js";

/** A checkpoint's tensor name in a message: cut to a readable length (names are untrusted). */
const cut = (n: string) =>
  n.length > QUOTE_MAX ? `${n.slice(0, QUOTE_MAX)}... (${n.length} characters)` : n;

/**
 * A tensor kept as is (row-major f32). ptr is set by load(). An embedding table declared by
 * `embedding()` under dtype "q8" is int8 rows instead (row-major [rows, cols] at ptr) with one f32
 * scale per row at `scales` (src/quant's per-row symmetric numbers), dequantized at the gather;
 * under "fp16", binary16 rows widened at the gather.
 */
export interface RawParam {
  kind: "raw";
  names: string[];
  shape: number[];
  ptr: number;
  dtype?: "f32" | "f16" | "q8";
  scales?: number;
}

/**
 * A declared Linear: HF weights [n_i, k] (and biases [n_i]) concatenated along n into one
 * PackedLinear (n = Σ n_i), whose ptr/bias load() sets.
 */
interface LinearSlot {
  kind: "packed";
  linear: PackedLinear;
  /** alternatives for each part's weight and bias (null: no bias) */
  weights: string[][];
  biases: (string[] | null)[];
  parts: number[];
}

type Slot = RawParam | LinearSlot;

export interface LoadOptions {
  /** Called with a message for weights present in the checkpoint that the model does not use. */
  warn?: (msg: string) => void;
  /** Base-model prefix of task checkpoints (HF's base_model_prefix). */
  prefix?: string;
  /**
   * Precision of the weights in memory (transformers.js' names): "fp32" (default, HF's numbers);
   * "fp16" (Linear weights as IEEE binary16, widened inside the GEMM); "q8" (every Linear int8 with
   * one scale per output channel, activations quantized per token at run time; the word embedding
   * table int8 per row, dequantized at the gather). LayerNorm, softmax, attention, biases and the
   * small embedding tables stay f32. Weights are converted at load, tensor by tensor.
   */
  dtype?: WeightDtype;
}

/** The dtype option's values. */
export const WEIGHT_DTYPES = ["fp32", "fp16", "q8"] as const;
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];
const LINEAR_DTYPE = { fp32: "f32", fp16: "f16", q8: "q8" } as const;

/** The dtype option checked: undefined is "fp32"; anything else not listed is a ConfigError. */
export function checkWeightDtype(d: unknown): WeightDtype {
  if (d === undefined) return "fp32";
  if (typeof d === "string" && (WEIGHT_DTYPES as readonly string[]).includes(d))
    return d as WeightDtype;
  throw new ConfigError(
    `dtype must be one of ${WEIGHT_DTYPES.map((x) => `"${x}"`).join(", ")}; got ${typeof d === "string" ? JSON.stringify(d) : String(d)}`,
  );
}

/** HF's legacy TensorFlow names: LayerNorm.gamma / .beta are weight / bias. */
function fixKey(key: string): string {
  return key
    .replace(/\.gamma$/, ".weight")
    .replace(/\.beta$/, ".bias")
    .replace(/^gamma$/, "weight")
    .replace(/^beta$/, "bias");
}

/** Packing reads a Linear's rows through a staging area past the weights of at most this size. */
const STAGING_BYTES = 1 << 20;

/** Names HF ignores silently when they are not used (buffers). */
const IGNORED_UNEXPECTED = [/(^|\.)position_ids$/, /(^|\.)token_type_ids$/];

export class WeightLoader {
  private slots: Slot[] = [];
  private byName = new Map<string, TensorInfo>();
  private used = new Set<string>();
  private prefix: string;
  /** The weights' precision (LoadOptions.dtype). */
  readonly dtype: WeightDtype;

  constructor(
    private readonly engine: Engine,
    private readonly source: TensorSource,
    private readonly options: LoadOptions = {},
  ) {
    this.prefix = options.prefix ?? "bert";
    this.dtype = checkWeightDtype(options.dtype);
    for (const [name, info] of source.header.tensors) this.byName.set(fixKey(name), info);
    // HF: a checkpoint with the base prefix loads into a base model (prefix dropped), and a base
    // checkpoint loads into a task model (prefix added): both views are offered.
  }

  /** Whether the checkpoint has a tensor that `name` resolves to. */
  has(name: string): boolean {
    return this.lookup(name) !== null;
  }

  /** Checkpoint-side info for a model-side name, or null. */
  lookup(name: string): TensorInfo | null {
    const p = this.prefix + ".";
    const direct = this.byName.get(name);
    if (direct) return direct;
    if (name.startsWith(p)) {
      const t = this.byName.get(name.slice(p.length));
      if (t) return t;
    } else {
      const t = this.byName.get(p + name);
      if (t) return t;
    }
    return null;
  }

  /** Declares a raw tensor; `names` are alternatives (first present wins), e.g. tied weights. */
  raw(names: string | string[], shape: number[]): RawParam {
    const s: RawParam = {
      kind: "raw",
      names: Array.isArray(names) ? names : [names],
      shape,
      ptr: 0,
    };
    this.slots.push(s);
    return s;
  }

  /**
   * Declares an embedding table [rows, cols] read by a gather: f32, or int8 rows with per-row
   * scales under dtype "q8" (RawParam.dtype tells which).
   */
  embedding(names: string | string[], shape: number[]): RawParam {
    const s = this.raw(names, shape);
    if (this.dtype !== "fp32" && shape.length === 2) s.dtype = this.dtype === "q8" ? "q8" : "f16";
    return s;
  }

  /**
   * Names the model has (in HF's module tree) but does not read: tied copies, tables a
   * configuration leaves unused. They are consumed silently instead of reported as unexpected.
   */
  accept(...names: string[]): void {
    for (const n of names) {
      const t = this.lookup(n);
      if (t) this.used.add(t.name);
    }
  }

  /** Declares a Linear: weights[i] are alternatives for part i ([parts[i], k]), biases likewise (null: no bias). */
  linear(
    weights: (string | string[])[],
    biases: (string | string[] | null)[],
    parts: number[],
    k: number,
    /** "f32" for a Linear whose layout other code reads (a tied decoder's word embeddings) */
    dtype: LinearDType = LINEAR_DTYPE[this.dtype],
  ): PackedLinear {
    const linear = new PackedLinear(
      parts.reduce((a, b) => a + b, 0),
      k,
      dtype,
    );
    this.slots.push({
      kind: "packed",
      linear,
      weights: weights.map((w) => (Array.isArray(w) ? w : [w])),
      biases: biases.map((b) => (b === null ? null : Array.isArray(b) ? b : [b])),
      parts,
    });
    return linear;
  }

  private find(
    alts: string[],
    shape: number[],
    missing: string[],
    bad: string[],
  ): TensorInfo | null {
    for (const n of alts) {
      const t = this.lookup(n);
      if (!t) continue;
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        bad.push(
          `${cut(n)}: checkpoint has shape [${t.shape.join(", ")}], the model needs [${shape.join(", ")}]`,
        );
        return null;
      }
      if (!["F32", "F16", "BF16", "F64"].includes(t.dtype)) {
        bad.push(`${cut(n)}: dtype ${t.dtype} cannot be used as a float weight`);
        return null;
      }
      return t;
    }
    missing.push(alts[0]);
    return null;
  }

  /** Resolves, checks and lays out every declared weight. */
  async load(): Promise<void> {
    const missing: string[] = [];
    const bad: string[] = [];
    type Plan = { slot: Slot; tensors: TensorInfo[]; biases: (TensorInfo | null)[] };
    const plans: Plan[] = [];
    for (const slot of this.slots) {
      if (slot.kind === "raw") {
        const t = this.find(slot.names, slot.shape, missing, bad);
        plans.push({ slot, tensors: t ? [t] : [], biases: [] });
      } else {
        const tensors: TensorInfo[] = [];
        const biases: (TensorInfo | null)[] = [];
        slot.weights.forEach((alts, i) => {
          const t = this.find(alts, [slot.parts[i], slot.linear.k], missing, bad);
          if (t) tensors.push(t);
          const b = slot.biases[i];
          biases.push(b ? this.find(b, [slot.parts[i]], missing, bad) : null);
        });
        plans.push({ slot, tensors, biases });
      }
    }
    if (missing.length || bad.length) {
      const p = this.prefix + ".";
      const declared = this.slots.flatMap((slot) =>
        slot.kind === "raw" ? slot.names : slot.weights.flat(),
      );
      const isTask = declared.some((n) => n.startsWith(p));
      const hasBase = [...this.byName.keys()].some((n) => n.includes("embeddings.word_embeddings"));
      if (isTask && hasBase && !bad.length && missing.every((n) => !n.startsWith(p))) {
        missing.push(
          "(the checkpoint has no weights for this model's task head: it looks like a bare encoder; load it with BertModel)",
        );
      } else if (!bad.length && missing.length && missing.every((n) => /(^|\.)pooler\./.test(n))) {
        missing.push(
          '(the checkpoint has no pooler: load BertModel with { addPoolingLayer: false } or "auto", HF\'s add_pooling_layer=False; embeddings (`simdbert embed`, the feature-extraction pipeline) load without it)',
        );
      }
      const lines = [
        ...bad,
        ...(missing.length
          ? [
              `missing from the checkpoint: ${missing
                .slice(0, 12)
                .map((n) => (n.startsWith("(") ? n : cut(n)))
                .join(", ")}${missing.length > 12 ? `, ... (${missing.length} in all)` : ""}`,
            ]
          : []),
      ];
      throw new WeightsError(
        `cannot load the checkpoint into this model:\n  ${lines.join("\n  ")}`,
      );
    }
    // file order: a streaming source never seeks back further than one group
    plans.sort(
      (a, b) =>
        Math.min(...a.tensors.map((t) => t.begin)) - Math.min(...b.tensors.map((t) => t.begin)),
    );
    // one grow for everything (weights + packing staging): a grow per tensor costs a GC each
    // (external memory pressure), tens of milliseconds of a cold start
    let total = STAGING_BYTES + 64;
    for (const p of plans) {
      if (p.slot.kind === "raw" && p.slot.dtype === "q8")
        total += p.slot.shape.reduce((a, b) => a * b, 1) + p.slot.shape[0] * 4 + 256;
      else if (p.slot.kind === "raw" && p.slot.dtype === "f16")
        total += p.slot.shape.reduce((a, b) => a * b, 1) * 2 + 128;
      else if (p.slot.kind === "raw") total += p.slot.shape.reduce((a, b) => a * b, 1) * 4 + 128;
      else total += p.slot.linear.weightBytes + p.slot.linear.biasBytes + 256;
    }
    this.engine.ensure(this.engine.weightBytes + total);
    for (const p of plans) {
      for (const t of p.tensors) this.used.add(t.name);
      for (const t of p.biases) if (t) this.used.add(t.name);
      if (p.slot.kind === "raw" && p.slot.dtype && p.slot.dtype !== "f32") {
        await this.loadRawLowp(p.slot, p.tensors[0]);
      } else if (p.slot.kind === "raw") {
        const n = p.slot.shape.reduce((a, b) => a * b, 1);
        p.slot.ptr = this.engine.alloc(n * 4);
        await this.readF32(p.tensors[0], p.slot.ptr);
      } else {
        await this.loadPacked(p.slot, p.tensors, p.biases);
      }
    }
    const unexpected = [...this.source.header.tensors.keys()].filter(
      (n) => !this.used.has(n) && !IGNORED_UNEXPECTED.some((r) => r.test(n)),
    );
    if (unexpected.length && this.options.warn) {
      this.options.warn(
        `Some weights of the checkpoint were not used: ${unexpected.slice(0, 8).map(cut).join(", ")}${unexpected.length > 8 ? `, ... (${unexpected.length} in all)` : ""}`,
      );
    }
  }

  /**
   * An embedding table as int8 rows + scales (q8) or binary16 (fp16), converted from f32 through
   * the staging area a block of rows at a time.
   */
  private async loadRawLowp(slot: RawParam, t: TensorInfo): Promise<void> {
    const [rows, k] = slot.shape;
    const q8 = slot.dtype === "q8";
    slot.ptr = this.engine.alloc(rows * k * (q8 ? 1 : 2));
    if (q8) slot.scales = this.engine.alloc(rows * 4);
    const rowBytes = f32Bytes(k);
    const chunk = Math.max(1, Math.floor(STAGING_BYTES / rowBytes));
    const staging = this.engine.weightBytes;
    this.engine.ensure(staging + Math.min(chunk, rows) * rowBytes + 64);
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const n = Math.min(chunk, rows - r0);
      await this.readRows(t, r0, n, k, staging);
      if (!q8) {
        this.engine.k.f32_to_f16(n * k, staging, slot.ptr + 2 * r0 * k);
        continue;
      }
      const bad = this.engine.k.q8_quantize_rows(
        n,
        k,
        staging,
        slot.ptr + r0 * k,
        f32At(slot.scales!, r0),
      );
      if (bad >= 0)
        throw new WeightsError(
          `${t.name}: row ${r0 + bad} has a non-finite weight: it cannot be quantized to q8`,
        );
    }
  }

  private async loadPacked(
    slot: LinearSlot,
    tensors: TensorInfo[],
    biases: (TensorInfo | null)[],
  ): Promise<void> {
    const l = slot.linear;
    const { n, k } = l;
    l.ptr = this.engine.alloc(l.weightBytes);
    if (biases.some((b) => b)) {
      l.bias = this.engine.alloc(l.biasBytes);
      this.engine.u8.fill(0, l.bias, l.bias + l.biasBytes);
      let row = 0;
      for (let i = 0; i < biases.length; i++) {
        const b = biases[i];
        if (b) await this.readF32(b, f32At(l.bias, row));
        row += slot.parts[i];
      }
    }
    // staging past the weights, a few panels at a time (loading needs the weights plus at most
    // STAGING_BYTES): rows [r0, r0 + chunk) of the parts one after another, then packed
    const rowBytes = f32Bytes(k);
    const chunk = Math.max(
      PANEL_COLS,
      Math.floor(STAGING_BYTES / rowBytes / PANEL_COLS) * PANEL_COLS,
    );
    const staging = this.engine.weightBytes;
    this.engine.ensure(staging + Math.min(chunk, l.panels * PANEL_COLS) * rowBytes + 64);
    for (let r0 = 0; r0 < n; r0 += chunk) {
      const rows = Math.min(chunk, n - r0);
      let partStart = 0;
      for (let i = 0; i < tensors.length; i++) {
        const from = Math.max(r0, partStart),
          to = Math.min(r0 + rows, partStart + slot.parts[i]);
        if (from < to)
          await this.readRows(
            tensors[i],
            from - partStart,
            to - from,
            k,
            staging + (from - r0) * rowBytes,
          );
        partStart += slot.parts[i];
      }
      l.pack(this.engine, r0, rows, staging);
    }
  }

  /** Rows [row0, row0 + count) of a [rows, k] tensor, as f32 at byte offset dst. */
  private async readRows(
    t: TensorInfo,
    row0: number,
    count: number,
    k: number,
    dst: number,
  ): Promise<void> {
    const size = (t.end - t.begin) / (t.shape[0] * k);
    const begin = t.begin + row0 * k * size;
    await this.readF32({ ...t, shape: [count, k], begin, end: begin + count * k * size }, dst);
  }

  /** Reads one tensor into f32 at byte offset dst (F16/BF16 widened in place, F64 narrowed). */
  private async readF32(t: TensorInfo, dst: number): Promise<void> {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const bytes = t.end - t.begin;
    if (t.dtype === "F64") {
      const tmp = new Uint8Array(bytes);
      await this.source.read(t, tmp);
      this.engine.f32.set(new Float64Array(tmp.buffer, 0, count), f32Index(dst));
      return;
    }
    await this.source.read(t, this.engine.u8.subarray(dst, dst + bytes));
    if (t.dtype === "F16") this.engine.k.f16_to_f32(count, dst, dst);
    else if (t.dtype === "BF16") this.engine.k.bf16_to_f32(count, dst, dst);
  }
}
