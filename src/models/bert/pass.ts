// One forward call of the encoder/decoder: the shapes, the arena plan (every activation buffer of
// the call, carved once from the engine's arena), the inputs written into it, and the outputs
// collected from it as owned tensors.
//
// Arena plan, in floats (rows = batch·seq, H = hidden, L = past + seq keys, Se = encoder length):
//   ids, tids, pids            rows (int32)       token, type and position ids
//   embeds                     rows·H             inputs_embeds, when given
//   hidden, attnOut            rows·H each        layer input/output; attention block output
//   work                       rows·max(4H, I)    qkv (rows·3H) + ctx (rows·H), later the FFN's intermediate
//   encoder, kv                batch·Se·H, ·2H    encoder states and their key|value projection
//   probs                      seq·max(L, Se), or batch·heads·seq·max(L, Se) with output_attentions
//   selfMask, crossMask        additive masks (1 - m)·finfo(f32).min, one row or one per query
//   pooled                     batch·H
// Keys/values that a cache reads or returns live in the model's KVSlab (kv_cache.ts), outside the
// arena, so that they survive the call.
import type { BertConfig } from "../../config.js";
import type { Engine } from "../../runtime/engine.js";
import { Tensor } from "../../tensor.js";
import type { Dense } from "../inputs.js";
import { KVCache, KVSlab, SELF_K, SELF_V } from "./kv_cache.js";

export interface HeadsView {
  /** byte offset of head 0 of batch 0, row 0 */
  ptr: number;
  /** floats between batches, heads, and rows */
  batch: number;
  head: number;
  ld: number;
}

export interface MaskView {
  ptr: number;
  /** floats between the mask rows of consecutive queries (0: one row for all) */
  ld: number;
  /** floats between batches */
  batch: number;
}

export const F32_MIN = -3.4028234663852886e38;

export interface PassInputs {
  B: number;
  S: number;
  P: number;
  Se: number;
  ids: Float64Array | null;
  embeds: Float32Array | null;
  tids: Float64Array | null;
  pids: Float64Array | null;
  /** [B, L] or [B, S, L] */
  attentionMask: Dense<Float64Array> | null;
  encoder: Float32Array | null;
  encoderMask: Dense<Float64Array> | null;
  headMask: Float32Array | null;
  past: Dense<Float32Array>[][] | null;
  /** the past as given, when it is a KVCache (possibly this model's tip) */
  pastCache: KVCache | null;
  outputAttentions: boolean;
  outputHiddenStates: boolean;
  useCache: boolean;
  /** cross-attention runs (decoder with cross layers, encoder states given) */
  useCross: boolean;
  /** HF quirk: decoder with cross layers, no encoder states, output_attentions */
  crossQuirk: boolean;
  pooled: boolean;
}

export class Pass {
  readonly B: number;
  readonly S: number;
  readonly P: number;
  readonly L: number;
  readonly Se: number;
  readonly rows: number;
  readonly heads: number;
  readonly d: number;
  ids = 0;
  tids = 0;
  pids = 0;
  embeds = 0;
  hidden = 0;
  attnOut = 0;
  qkv = 0;
  ctx = 0;
  inter = 0;
  encoder = 0;
  kv = 0;
  probs = 0;
  pooled = 0;
  /** floats reserved for a task head */
  head = 0;
  selfMask: MaskView = { ptr: 0, ld: 0, batch: 0 };
  crossMask: MaskView = { ptr: 0, ld: 0, batch: 0 };
  /** the head mask [layers, heads] in the arena (0: none) */
  headMask = 0;
  readonly past: Dense<Float32Array>[][] | null;
  readonly useCross: boolean;
  readonly crossQuirk: boolean;
  readonly outputAttentions: boolean;
  private readonly outputHiddenStates: boolean;
  private readonly useCache: boolean;

  readonly hiddenStates: Tensor<"float32">[] = [];
  readonly attentions: Tensor<"float32">[] = [];
  readonly crossAttentions: (Tensor<"float32"> | Tensor<"float32">[])[] = [];
  present: KVCache | null = null;
  /** the model's cache slab, when this call reads or returns keys/values */
  readonly slab: KVSlab | null;

  constructor(
    readonly e: Engine,
    readonly config: BertConfig,
    x: PassInputs,
    headFloats = 0,
    slab: KVSlab | null = null,
  ) {
    const H = config.hidden_size;
    this.B = x.B;
    this.S = x.S;
    this.P = x.P;
    this.L = x.P + x.S;
    this.Se = x.Se;
    this.rows = x.B * x.S;
    this.heads = config.num_attention_heads;
    this.d = H / this.heads;
    this.past = x.past;
    this.useCross = x.useCross;
    this.crossQuirk = x.crossQuirk;
    this.outputAttentions = x.outputAttentions;
    this.outputHiddenStates = x.outputHiddenStates;
    this.useCache = x.useCache;
    const { B, S, L, Se, rows } = this;
    this.slab = x.past || this.useCache || this.crossQuirk ? slab : null;
    if (this.slab) this.slab.prepare(B, this.P, S, Se, this.slab.isTip(x.pastCache), x.past);
    const crossCached = !!this.slab?.crossValid;

    const a = e.arena();
    this.ids = x.ids ? a.take(rows) : 0;
    this.tids = a.take(rows);
    this.pids = a.take(rows);
    this.embeds = x.embeds ? a.take(rows * H) : 0;
    this.hidden = a.take(rows * H);
    this.attnOut = a.take(rows * H);
    this.qkv = a.take(rows * Math.max(4 * H, config.intermediate_size));
    this.ctx = this.qkv + rows * 3 * H * 4;
    this.inter = this.qkv;
    if (this.useCross && !crossCached) {
      this.encoder = a.take(B * Se * H);
      this.kv = a.take(B * Se * 2 * H);
    }
    const sk = Math.max(L, this.useCross ? Se : 0);
    // with the attentions requested they are written in place; else one scratch matrix per thread
    this.probs = a.take(this.outputAttentions ? B * this.heads * S * sk : e.threads * S * sk);
    if (x.headMask) this.headMask = a.take(x.headMask.length);
    const selfMaskRows =
      x.attentionMask && x.attentionMask.shape.length === 3 ? S : config.is_decoder ? S : 1;
    const needSelfMask = !!x.attentionMask || config.is_decoder;
    const selfMask = needSelfMask ? a.take(B * selfMaskRows * L) : 0;
    const crossMaskRows = x.encoderMask && x.encoderMask.shape.length === 3 ? S : 1;
    const crossMask = this.useCross && x.encoderMask ? a.take(B * crossMaskRows * Se) : 0;
    this.pooled = x.pooled ? a.take(B * H) : 0;
    this.head = headFloats ? a.take(headFloats) : 0;
    a.commit();

    // ---- inputs into the arena
    const i32 = e.i32;
    const f32 = e.f32;
    if (x.ids) i32.set(x.ids, this.ids / 4);
    if (x.embeds) f32.set(x.embeds, this.embeds / 4);
    if (x.tids) i32.set(x.tids, this.tids / 4);
    else i32.fill(0, this.tids / 4, this.tids / 4 + rows);
    const pid = this.pids / 4;
    if (x.pids) {
      // [B, S] or one row [S] broadcast over the batch
      for (let b = 0; b < B; b++) {
        for (let s = 0; s < S; s++)
          i32[pid + b * S + s] = x.pids.length === S ? x.pids[s] : x.pids[b * S + s];
      }
    } else {
      for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) i32[pid + b * S + s] = this.P + s;
    }
    if (this.encoder && x.encoder) f32.set(x.encoder, this.encoder / 4);
    if (x.headMask) f32.set(x.headMask, this.headMask / 4);

    if (selfMask) {
      const m = selfMask / 4;
      const am = x.attentionMask;
      for (let b = 0; b < B; b++) {
        for (let r = 0; r < selfMaskRows; r++) {
          const row = m + (b * selfMaskRows + r) * L;
          for (let j = 0; j < L; j++) {
            let v: number;
            if (am && am.shape.length === 3) v = am.data[(b * S + r) * L + j];
            else {
              v = am ? am.data[b * L + j] : 1;
              // HF create_extended_attention_mask_for_decoder: ones over the past, causal after it
              if (config.is_decoder && j >= this.P && j - this.P > r) v = 0;
            }
            f32[row + j] = (1 - v) * F32_MIN;
          }
        }
      }
      this.selfMask = { ptr: selfMask, ld: selfMaskRows === 1 ? 0 : L, batch: selfMaskRows * L };
    }
    if (crossMask && x.encoderMask) {
      const m = crossMask / 4;
      const em = x.encoderMask.data;
      for (let i = 0; i < B * crossMaskRows * Se; i++) f32[m + i] = (1 - em[i]) * F32_MIN;
      this.crossMask = {
        ptr: crossMask,
        ld: crossMaskRows === 1 ? 0 : Se,
        batch: crossMaskRows * Se,
      };
    }
  }

  /** Keys and values of layer i over the past and this call: written into the slab when there is one. */
  selfKV(i: number, k: HeadsView, v: HeadsView): { k: HeadsView; v: HeadsView } {
    if (!this.slab) return { k, v };
    this.slab.append(i, SELF_K, k, this.S, this.P);
    this.slab.append(i, SELF_V, v, this.S, this.P);
    return { k: this.slab.view(i, SELF_K), v: this.slab.view(i, SELF_V) };
  }

  tensor(ptr: number, shape: number[]): Tensor<"float32"> {
    const n = shape.reduce((a, b) => a * b, 1);
    return new Tensor("float32", this.e.f32.slice(ptr / 4, ptr / 4 + n), shape);
  }

  collectHidden(): void {
    if (this.outputHiddenStates)
      this.hiddenStates.push(this.tensor(this.hidden, [this.B, this.S, this.config.hidden_size]));
  }
  collectSelf(_layer: number): void {
    if (this.outputAttentions)
      this.attentions.push(this.tensor(this.probs, [this.B, this.heads, this.S, this.L]));
  }
  collectCross(_layer: number): void {
    if (this.outputAttentions)
      this.crossAttentions.push(this.tensor(this.probs, [this.B, this.heads, this.S, this.Se]));
  }
  /** HF 4.30.2 puts the layer's self-attention (key, value) where the cross attentions go when a
   * decoder with cross-attention layers runs without encoder states and output_attentions. */
  collectCrossQuirk(layer: number): void {
    if (!this.outputAttentions || !this.slab) return;
    const shape = [this.B, this.heads, this.L, this.d];
    const kv = [SELF_K, SELF_V].map(
      (kind) => new Tensor("float32", this.slab!.read(layer, kind, this.L), shape),
    );
    this.crossAttentions.push(kv);
  }
  /** After the last layer: the cache of this call (lazy, in the slab); it becomes the tip. */
  finish(): void {
    if (!this.slab) return;
    if (this.useCross) this.slab.crossValid = true;
    if (this.useCache) this.present = this.slab.cache(this.L, this.useCross, true);
  }
}
