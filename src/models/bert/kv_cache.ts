// The decoder's key/value cache, kept in WebAssembly memory between calls.
//
// HF returns past_key_values as per-layer tuples of [batch, heads, len, head_dim] tensors. Here
// they come back as a KVCache: the same nested shape, but its tensors are lazy views of a slab
// in the engine's kept region, copied out only if JS reads them. Passing the newest cache back
// ("the tip") appends the new tokens' keys/values in place, so an incremental step costs
// O(past length) in attention and O(new tokens) in copies, with no round trip through JS.
// Anything else (JS tensors, an older cache: a branch) starts a new epoch: the slab's live
// caches are first copied out (so they stay valid), then the given past is written in.
//
// Slab layout, per layer: self K, self V as [batch, heads, cap, head_dim]; cross K, cross V as
// [batch, heads, Se, head_dim]. cap grows geometrically (re-laid out, rows kept).
//
// Attention reads keys and values through one interface, AttentionCache (HF's past_key_value),
// for self- and cross-attention alike: NO_CACHE when the call neither reads nor returns a cache,
// else the per-call state a KVSlab opens (CacheCall).
import type { BertConfig } from "../../config.js";
import type { Engine } from "../../runtime/engine.js";
import { EngineError } from "../../errors.js";
import { Tensor } from "../../tensor.js";
import type { Dense } from "../inputs.js";
import type { HeadsView } from "../../runtime/attention.js";
import { f32At, f32Bytes, f32Index } from "../../runtime/memory.js";

export const SELF_K = 0,
  SELF_V = 1,
  CROSS_K = 2,
  CROSS_V = 3;

/** One attention block's keys and values as the kernel reads them. */
export interface KeyValues {
  key: HeadsView;
  value: HeadsView;
}

/**
 * Where an attention block gets its keys and values (HF's past_key_value), self and cross alike.
 * `project` computes this call's keys/values (over the call's S tokens, or the encoder's Se
 * states). Self-attention: they are appended to the past and the whole past + new is returned.
 * Cross-attention: the cached encoder keys/values when there are some (project is not called),
 * else this call's, kept for the next call.
 */
export interface AttentionCache {
  /** past_key_values were given (HF's use_cache inside the attention: relative positions count from the last key) */
  readonly hasPast: boolean;
  keyValues(layer: number, kind: "self" | "cross", project: () => KeyValues): KeyValues;
  /** Layer `layer`'s self keys and values over the past and this call, [B, heads, L, d] each (a call opened with keepSelf). */
  selfKeyValues(layer: number): Tensor<"float32">[];
}

/** A call that neither reads nor returns a cache: keys/values are this call's projections. */
export const NO_CACHE: AttentionCache = {
  hasPast: false,
  keyValues: (_layer, _kind, project) => project(),
  selfKeyValues: () => {
    throw new EngineError(
      "simdbert: internal error: self keys/values read from a call without a cache",
    );
  },
};

/** What a call needs from the cache (from the checked arguments). */
export interface CacheRequest {
  B: number;
  P: number;
  S: number;
  Se: number;
  /** past_key_values as given (dense), or null */
  past: Dense<Float32Array>[][] | null;
  /** the same past when it is a KVCache (possibly the slab's tip) */
  pastCache: KVCache | null;
  useCache: boolean;
  /** cross-attention runs (encoder states given) */
  useCross: boolean;
  /** the layers' self keys/values are read after the call (HF's quirk: a decoder with cross-attention layers, no encoder states, output_attentions) */
  keepSelf: boolean;
}

/** The cache state of one call: keys/values appended to the model's slab, the present returned. */
export class CacheCall implements AttentionCache {
  readonly hasPast: boolean;
  /** the encoder's keys/values are in the slab: cross-attention does not project them */
  readonly crossCached: boolean;
  constructor(
    private readonly slab: KVSlab,
    private readonly x: CacheRequest,
  ) {
    this.hasPast = x.past !== null;
    slab.prepare(x.B, x.P, x.S, x.Se, slab.isTip(x.pastCache), x.past);
    this.crossCached = slab.crossValid;
  }

  keyValues(layer: number, kind: "self" | "cross", project: () => KeyValues): KeyValues {
    const slab = this.slab;
    if (kind === "self") {
      const kv = project();
      slab.append(layer, SELF_K, kv.key, this.x.S, this.x.P);
      slab.append(layer, SELF_V, kv.value, this.x.S, this.x.P);
      return { key: slab.view(layer, SELF_K), value: slab.view(layer, SELF_V) };
    }
    if (this.crossCached)
      return { key: slab.view(layer, CROSS_K), value: slab.view(layer, CROSS_V) };
    const kv = project();
    slab.append(layer, CROSS_K, kv.key, this.x.Se, 0);
    slab.append(layer, CROSS_V, kv.value, this.x.Se, 0);
    return kv;
  }

  selfKeyValues(layer: number): Tensor<"float32">[] {
    const L = this.x.P + this.x.S;
    const shape = this.slab.shape(L);
    return [SELF_K, SELF_V].map(
      (kind) => new Tensor("float32", this.slab.read(layer, kind, L), shape),
    );
  }

  /** After the last layer: the cache of this call (lazy, in the slab), which becomes the tip; null without use_cache. */
  finish(): KVCache | null {
    if (this.x.useCross) this.slab.crossValid = true;
    return this.x.useCache ? this.slab.cache(this.x.P + this.x.S, this.x.useCross, true) : null;
  }
}

/** The slab whose caches an engine's (single) kept region holds: decoder models may share an engine. */
const REGION_OWNER = new WeakMap<Engine, KVSlab>();

/** past_key_values as returned by a decoder: Tensor[layer][self k, self v(, cross k, cross v)]. */
export class KVCache extends Array<Tensor<"float32">[]> {
  static override get [Symbol.species]() {
    return Array;
  }
  /** @internal */ slab!: KVSlab;
  /** @internal */ epoch = 0;
  /** @internal the layers and tensors as returned: a cache changed since is not the tip */
  returned: Tensor[][] = [];
  /** Cached positions (keys per sequence). */
  length_ = 0;
  get sequenceLength(): number {
    return this.length_;
  }
}

export class KVSlab {
  private B = 0;
  private cap = 0;
  private Se = 0;
  private ptr = 0;
  private readonly heads: number;
  private readonly d: number;
  private readonly layers: number;
  private readonly maxPos: number;
  epoch = 0;
  /** rows [0, length) of the self regions hold the tip cache */
  length = 0;
  /** the cross regions hold valid encoder keys/values for this epoch */
  crossValid = false;
  /**
   * Every lazy tensor handed out in this epoch, weakly: a caller may keep one tensor and drop its
   * cache (`const [[k]] = out.past_key_values`), so tensors, not containers, are copied out
   * before the slab is reused.
   */
  private holders: WeakRef<Tensor>[] = [];

  constructor(
    private readonly e: Engine,
    config: BertConfig,
  ) {
    this.heads = config.num_attention_heads;
    this.d = config.hidden_size / config.num_attention_heads;
    this.layers = config.num_hidden_layers;
    this.maxPos = config.max_position_embeddings;
  }

  private regionFloats(kind: number, cap = this.cap, Se = this.Se): number {
    return this.B * this.heads * (kind < CROSS_K ? cap : Se) * this.d;
  }
  private layerFloats(cap = this.cap, Se = this.Se): number {
    return 2 * this.regionFloats(SELF_K, cap, Se) + 2 * this.regionFloats(CROSS_K, cap, Se);
  }
  private region(l: number, kind: number): number {
    let off = l * this.layerFloats();
    for (let k = 0; k < kind; k++) off += this.regionFloats(k);
    return f32At(this.ptr, off);
  }

  /** The keys or values of layer l as the attention kernels read them. */
  view(l: number, kind: number): HeadsView {
    const rows = kind < CROSS_K ? this.cap : this.Se;
    return {
      ptr: this.region(l, kind),
      batch: this.heads * rows * this.d,
      head: rows * this.d,
      ld: this.d,
    };
  }

  /** [B, heads, rows, head_dim] */
  shape(rows: number): number[] {
    return [this.B, this.heads, rows, this.d];
  }

  /** The cache state of a call; null when it neither reads nor returns keys/values (NO_CACHE). */
  open(x: CacheRequest): CacheCall | null {
    return x.past || x.useCache || x.keepSelf ? new CacheCall(this, x) : null;
  }

  /**
   * Whether `c` is this slab's newest cache, unchanged since it was returned (so it can be
   * extended in place). A cache whose layers or tensors were replaced, or whose tensors were read
   * (their copies may have been edited), is not: its values are written in as given, as PyTorch
   * uses the tensors it is passed.
   */
  isTip(c: unknown): c is KVCache {
    if (
      !(c instanceof KVCache) ||
      c.slab !== this ||
      c.epoch !== this.epoch ||
      c.length_ !== this.length ||
      c.length !== c.returned.length
    )
      return false;
    for (let l = 0; l < c.length; l++) {
      const layer = c[l],
        orig = c.returned[l];
      if (!Array.isArray(layer) || layer.length !== orig.length) return false;
      for (let k = 0; k < orig.length; k++)
        if (layer[k] !== orig[k] || !orig[k].pending) return false;
    }
    return true;
  }

  /** Copies every live cache tensor of this epoch out of the slab, so the slab can be overwritten. */
  private releaseHolders(): void {
    for (const ref of this.holders) void ref.deref()?.data;
    this.holders = [];
  }

  /**
   * Makes room for a call of B sequences with P past and S new positions (encoder length Se).
   * tip: the past is this slab's tip (kept in place); otherwise a new epoch begins and `past`
   * (when given) is written in.
   */
  prepare(
    B: number,
    P: number,
    S: number,
    Se: number,
    tip: boolean,
    past: Dense<Float32Array>[][] | null,
  ): void {
    // another model on this engine may be using the kept region: its live caches are copied out
    // first, and its next call starts a new epoch (its tip is no longer in memory)
    const owner = REGION_OWNER.get(this.e);
    if (owner !== this) {
      owner?.evict();
      REGION_OWNER.set(this.e, this);
    }
    const need = P + S;
    if (tip) {
      // at most max_position_embeddings rows ahead, but never fewer than this call needs (absolute
      // positions given as position_ids may run past the table, as in HF)
      if (need > this.cap)
        this.relayout(Math.max(need, Math.min(2 * this.cap, this.maxPos)), this.length);
      return;
    }
    // the given past may be a lazy view of this slab: read it before anything moves
    const pastData = past?.map((l) => l.map((t) => ({ data: t.data, shape: t.shape })));
    this.releaseHolders();
    this.epoch++;
    this.B = B;
    this.Se = Se;
    this.cap = Math.max(need, Math.min(16, this.maxPos));
    this.ptr = this.e.keep(f32Bytes(this.layers * this.layerFloats()));
    this.length = 0;
    this.crossValid = false;
    if (pastData) {
      pastData.forEach((layer, l) =>
        layer.forEach((t, kind) => this.write(l, kind, t.data, t.shape[2], 0)),
      );
      this.length = P;
      this.crossValid = pastData.every((layer) => layer.length === 4) && Se > 0;
    }
  }

  /** Gives up the kept region to another slab: live caches copied out, nothing of this epoch left in memory. */
  private evict(): void {
    this.releaseHolders();
    this.epoch++;
    this.length = 0;
    this.crossValid = false;
  }

  /** Grows the self capacity to `cap`, keeping rows [0, keepRows) and the cross regions. */
  private relayout(cap: number, keepRows: number): void {
    const saved: Float32Array[][] = [];
    for (let l = 0; l < this.layers; l++) {
      saved.push(
        [0, 1, 2, 3].map((kind) => this.read(l, kind, kind < CROSS_K ? keepRows : this.Se)),
      );
    }
    this.cap = cap;
    this.ptr = this.e.keep(f32Bytes(this.layers * this.layerFloats()));
    saved.forEach((layer, l) =>
      layer.forEach((data, kind) =>
        this.write(l, kind, data, kind < CROSS_K ? keepRows : this.Se, 0),
      ),
    );
  }

  /** Writes [B, heads, rows, d] into rows [at, at + rows) of a region. */
  write(l: number, kind: number, data: Float32Array, rows: number, at: number): void {
    const f32 = this.e.f32;
    const v = this.view(l, kind);
    const { d } = this;
    for (let bh = 0; bh < this.B * this.heads; bh++) {
      f32.set(
        data.subarray(bh * rows * d, (bh + 1) * rows * d),
        f32Index(v.ptr) + bh * v.head + at * d,
      );
    }
  }

  /** Copies rows [from, from + n) of the projection `src` (a HeadsView over [B, S, ·]) into rows [at, ...) of a region. */
  append(l: number, kind: number, src: HeadsView, n: number, at: number): void {
    const f32 = this.e.f32;
    const v = this.view(l, kind);
    const { d } = this;
    for (let b = 0; b < this.B; b++) {
      for (let h = 0; h < this.heads; h++) {
        const dst = f32Index(v.ptr) + b * v.batch + h * v.head + at * d;
        const s0 = f32Index(src.ptr) + b * src.batch + h * src.head;
        for (let s = 0; s < n; s++)
          f32.copyWithin(dst + s * d, s0 + s * src.ld, s0 + s * src.ld + d);
      }
    }
  }

  /** rows [0, rows) of a region as a contiguous [B, heads, rows, d] copy. */
  read(l: number, kind: number, rows: number): Float32Array {
    const out = new Float32Array(this.B * this.heads * rows * this.d);
    const f32 = this.e.f32;
    const v = this.view(l, kind);
    for (let bh = 0; bh < this.B * this.heads; bh++) {
      const at = f32Index(v.ptr) + bh * v.head;
      out.set(f32.subarray(at, at + rows * this.d), bh * rows * this.d);
    }
    return out;
  }

  /** The cache of rows [0, L) as lazy tensors; `commit` makes it the tip. */
  cache(L: number, withCross: boolean, commit: boolean): KVCache {
    if (commit) this.length = L;
    const c = new KVCache();
    c.slab = this;
    c.epoch = this.epoch;
    c.length_ = L;
    const epoch = this.epoch;
    for (let l = 0; l < this.layers; l++) {
      const kinds = withCross ? [SELF_K, SELF_V, CROSS_K, CROSS_V] : [SELF_K, SELF_V];
      c.push(
        kinds.map((kind) => {
          const rows = kind < CROSS_K ? L : this.Se;
          return Tensor.lazy("float32", [this.B, this.heads, rows, this.d], () => {
            if (this.epoch !== epoch)
              throw new EngineError(
                "simdbert: internal error: a cache was read after its slab was reused",
              );
            return this.read(l, kind, rows);
          });
        }),
      );
    }
    c.returned = c.map((layer) => [...layer]);
    // read tensors hold their own copy; collected ones need nothing
    this.holders = this.holders.filter((r) => r.deref()?.pending);
    for (const layer of c) for (const t of layer) this.holders.push(new WeakRef(t));
    return c;
  }
}
