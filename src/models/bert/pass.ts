// The buffers of one forward call of the encoder/decoder: its shapes and its arena plan (every
// activation buffer of the call, carved once from the engine's arena). Nothing else: the masks
// are written by attention_mask.ts, the cache state lives in kv_cache.ts, the outputs are
// collected by BertEncoder and BertModel.
//
// Arena plan, in floats (rows = batch·seq, H = hidden, L = past + seq keys, Se = encoder length):
//   ids, tids, pids            rows (int32)       token, type and position ids
//   embeds                     rows·H             inputs_embeds, when given
//   hidden, attnOut            rows·H each        layer input/output; attention block output
//   work                       rows·max(4H, I)    qkv (rows·3H) + ctx (rows·H), later the FFN's intermediate
//   encoder, kv                batch·Se·H, ·2H    encoder states and their key|value projection
//   probs                      seq·max(L, Se) per thread, or batch·heads·seq·max(L, Se) with output_attentions
//   selfMask, crossMask        the additive masks: one row per batch, or one per query
//   headMask                   layers·heads
//   pooled                     batch·H
//   head                       what a task head asks for
// Keys/values that a cache reads or returns live in the model's KVSlab (kv_cache.ts), outside the
// arena, so that they survive the call.
import type { BertConfig } from "../../config.js";
import type { HeadsView } from "../../runtime/attention.js";
import type { Engine } from "../../runtime/engine.js";
import { f32At, f32Index } from "../../runtime/memory.js";
import { Tensor } from "../../tensor.js";

/** The shapes and options that decide a call's buffers. */
export interface PassShape {
  B: number;
  S: number;
  /** cached positions before this call's */
  P: number;
  /** encoder length (0: no cross-attention) */
  Se: number;
  hasIds: boolean;
  hasEmbeds: boolean;
  /** the encoder's states and their keys/values are computed in this call (not read from a cache) */
  encoderInArena: boolean;
  /** probabilities kept per (batch, head) pair: output_attentions */
  outputAttentions: boolean;
  /** floats of the self / cross extended masks (0: none) */
  selfMaskFloats: number;
  crossMaskFloats: number;
  headMaskFloats: number;
  pooled: boolean;
  /** floats reserved for a task head */
  headFloats: number;
}

export class Pass {
  readonly B: number;
  readonly S: number;
  readonly P: number;
  /** keys of self-attention: P + S */
  readonly L: number;
  readonly Se: number;
  readonly rows: number;
  readonly ids: number;
  readonly tids: number;
  readonly pids: number;
  readonly embeds: number;
  readonly hidden: number;
  readonly attnOut: number;
  readonly qkv: number;
  readonly ctx: number;
  readonly inter: number;
  readonly encoder: number;
  readonly kv: number;
  readonly probs: number;
  /** floats between the probabilities of consecutive (batch, head) pairs; 0: one scratch matrix per thread */
  readonly probsStride: number;
  /** floats of one [S, keys] probability matrix */
  readonly probsScratch: number;
  readonly selfMask: number;
  readonly crossMask: number;
  readonly headMask: number;
  readonly pooled: number;
  readonly head: number;

  constructor(
    readonly e: Engine,
    readonly config: BertConfig,
    x: PassShape,
  ) {
    const H = config.hidden_size;
    const heads = config.num_attention_heads;
    const { B, S, P, Se } = x;
    const rows = B * S;
    const L = P + S;
    this.B = B;
    this.S = S;
    this.P = P;
    this.L = L;
    this.Se = Se;
    this.rows = rows;
    const a = e.arena();
    const take = (floats: number, when = true) => (when ? a.take(floats) : 0);
    this.ids = take(rows, x.hasIds);
    this.tids = take(rows);
    this.pids = take(rows);
    this.embeds = take(rows * H, x.hasEmbeds);
    this.hidden = take(rows * H);
    this.attnOut = take(rows * H);
    this.qkv = take(rows * Math.max(4 * H, config.intermediate_size));
    this.ctx = f32At(this.qkv, rows * 3 * H);
    this.inter = this.qkv;
    this.encoder = take(B * Se * H, x.encoderInArena);
    this.kv = take(B * Se * 2 * H, x.encoderInArena);
    const keys = Math.max(L, Se);
    this.probsScratch = S * keys;
    this.probsStride = x.outputAttentions ? S * keys : 0;
    // with the attentions requested they are written in place; else one scratch matrix per thread
    this.probs = take(x.outputAttentions ? B * heads * S * keys : e.threads * S * keys);
    this.headMask = take(x.headMaskFloats, x.headMaskFloats > 0);
    this.selfMask = take(x.selfMaskFloats, x.selfMaskFloats > 0);
    this.crossMask = take(x.crossMaskFloats, x.crossMaskFloats > 0);
    this.pooled = take(B * H, x.pooled);
    this.head = take(x.headFloats, x.headFloats > 0);
    a.commit();
  }

  /** Heads of a [B, rows, ld] projection whose head 0 starts `col` floats into each row. */
  heads(ptr: number, col: number, ld: number, rows: number, headSize: number): HeadsView {
    return { ptr: f32At(ptr, col), batch: rows * ld, head: headSize, ld };
  }

  /** An owned copy of the buffer at ptr, as a tensor of the given shape. */
  tensor(ptr: number, shape: number[]): Tensor<"float32"> {
    const n = shape.reduce((a, b) => a * b, 1);
    const at = f32Index(ptr);
    return new Tensor("float32", this.e.f32.slice(at, at + n), shape);
  }
}
