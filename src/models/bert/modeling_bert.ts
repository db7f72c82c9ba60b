// BERT, one class per component of Hugging Face's modeling_bert.py (transformers 4.30.2), so that
// the two can be read side by side. The classes hold pointers to their weights (laid out once by
// WeightLoader) and run kernels on buffers of one forward's Pass (an arena plan: see pass.ts).
// Dropout is the identity (inference).
import { ACTIVATIONS, BertConfig, ConfigError } from "../../config.js";
import { Engine } from "../../runtime/engine.js";
import type { EngineOptions } from "../../runtime/engine.js";
import {
  WeightLoader,
  checkWeightDtype,
  type LoadOptions,
  type RawParam,
} from "../../loading/weights.js";
import type { PackedLinear } from "../../runtime/linear.js";
import { f32At, f32Index } from "../../runtime/memory.js";
import { NO_MASK, type HeadsView, type MaskView } from "../../runtime/attention.js";
import { openModel, type ModelSource } from "../../loading/source.js";
import { Callable } from "../../callable.js";
import { EngineError } from "../../errors.js";
import { checkOptionNames, FROM_PRETRAINED_OPTIONS, withQuantized } from "../../options.js";
import { declaredDtype } from "../../quant/checkpoint.js";
import type { HubOptions } from "../../loading/hub.js";
import type { Tensor } from "../../tensor.js";
import { BaseModelOutputWithPoolingAndCrossAttentions, type OutputValue } from "../outputs.js";
import { checkArguments, type BertModelInputs } from "./arguments.js";
import { Pass } from "./pass.js";
import { KVSlab, NO_CACHE, type AttentionCache, type KVCache, type KeyValues } from "./kv_cache.js";
import {
  extendedMaskRows,
  getExtendedAttentionMask,
  invertAttentionMask,
} from "../attention_mask.js";

export class LayerNorm {
  readonly weight: RawParam;
  readonly bias: RawParam;
  constructor(
    w: WeightLoader,
    prefix: string,
    readonly size: number,
    readonly eps: number,
  ) {
    this.weight = w.raw(`${prefix}.weight`, [size]);
    this.bias = w.raw(`${prefix}.bias`, [size]);
  }
  forward(e: Engine, rows: number, x: number, y: number): void {
    e.layernorm(
      rows,
      this.size,
      x,
      this.size,
      this.weight.ptr,
      this.bias.ptr,
      this.eps,
      y,
      this.size,
    );
  }
}

/** BertEmbeddings.forward's inputs (checked; ids as numbers), HF's names. */
export interface EmbeddingInputs {
  input_ids: ArrayLike<number> | null;
  token_type_ids: ArrayLike<number> | null;
  /** [B, S], or [S] for every sequence; null: P .. P + S - 1 */
  position_ids: ArrayLike<number> | null;
  inputs_embeds: Float32Array | null;
}

export class BertEmbeddings {
  /** [vocab, hidden] row-major, or the tied MLM decoder's packed matrix (one copy of the table). */
  readonly word_embeddings: RawParam | PackedLinear;
  readonly position_embeddings: RawParam | null;
  readonly token_type_embeddings: RawParam;
  readonly LayerNorm: LayerNorm;
  constructor(
    readonly config: BertConfig,
    w: WeightLoader,
    prefix: string,
    packedWords = false,
  ) {
    const h = config.hidden_size;
    const words = `${prefix}.word_embeddings.weight`;
    // a tied decoder's weight: f32, or int8 under q8 (the gather below reads its packed layout;
    // under fp16 it stays f32: no gather reads packed f16)
    this.word_embeddings = packedWords
      ? w.linear([words], [null], [config.vocab_size], h, w.dtype === "q8" ? "q8" : "f32")
      : w.embedding(words, [config.vocab_size, h]);
    // relative position models keep the table in the checkpoint but never add it
    const positions = `${prefix}.position_embeddings.weight`;
    this.position_embeddings =
      config.position_embedding_type === "absolute"
        ? w.raw(positions, [config.max_position_embeddings, h])
        : null;
    if (!this.position_embeddings) w.accept(positions);
    this.token_type_embeddings = w.raw(`${prefix}.token_type_embeddings.weight`, [
      config.type_vocab_size,
      h,
    ]);
    this.LayerNorm = new LayerNorm(w, `${prefix}.LayerNorm`, h, config.layer_norm_eps);
  }
  /**
   * pass.hidden = LayerNorm(inputs_embeds + token_type_embeddings + position_embeddings), with
   * HF's defaults: token types 0, positions P .. P + S - 1 (after P cached ones).
   */
  forward(p: Pass, x: EmbeddingInputs): void {
    const e = p.e;
    const { B, S, rows } = p;
    const i32 = e.i32;
    if (x.input_ids) i32.set(x.input_ids, f32Index(p.ids));
    if (x.inputs_embeds) e.f32.set(x.inputs_embeds, f32Index(p.embeds));
    if (x.token_type_ids) i32.set(x.token_type_ids, f32Index(p.tids));
    else i32.fill(0, f32Index(p.tids), f32Index(p.tids) + rows);
    const pid = f32Index(p.pids);
    const pids = x.position_ids;
    // [B, S] or one row [S] broadcast over the batch
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < S; s++)
        i32[pid + b * S + s] = !pids ? p.P + s : pids.length === S ? pids[s] : pids[b * S + s];
    }
    const words = this.word_embeddings;
    // q8 / fp16 table: the rows widened into the output, then summed there as inputs_embeds
    const lowp = words.kind === "raw" ? (words.dtype ?? "f32") : words.dtype;
    const q8 = lowp !== "f32" && p.ids !== 0;
    if (q8 && words.kind === "packed")
      e.k.q8_gather_packed_rows(
        p.rows,
        this.config.hidden_size,
        words.ptr,
        words.scales,
        p.ids,
        p.hidden,
      );
    else if (q8 && lowp === "q8")
      e.k.q8_gather_rows(
        p.rows,
        this.config.hidden_size,
        words.ptr,
        words.scales!,
        p.ids,
        p.hidden,
      );
    else if (q8) e.k.f16_gather_rows(p.rows, this.config.hidden_size, words.ptr, p.ids, p.hidden);
    e.k.f32_bert_embeddings(
      p.rows,
      this.config.hidden_size,
      words.ptr,
      words.kind === "packed" ? 1 : 0,
      q8 ? 0 : p.ids,
      q8 ? p.hidden : p.embeds,
      this.token_type_embeddings.ptr,
      p.tids,
      this.position_embeddings ? this.position_embeddings.ptr : 0,
      this.position_embeddings ? p.pids : 0,
      p.hidden,
    );
    this.LayerNorm.forward(e, p.rows, p.hidden, p.hidden);
  }
}

export class BertSelfAttention {
  readonly numHeads: number;
  readonly headSize: number;
  /** Self-attention: query, key and value fused into one [3H, H] matrix (one GEMM). */
  readonly qkv: PackedLinear | null;
  /** Cross-attention: query on the decoder states, key+value fused on the encoder states. */
  readonly query: PackedLinear | null;
  readonly keyValue: PackedLinear | null;
  readonly positionEmbeddingType: string;
  readonly distance_embedding: RawParam | null;
  readonly maxPositions: number;

  constructor(
    readonly config: BertConfig,
    w: WeightLoader,
    prefix: string,
    readonly isCross: boolean,
  ) {
    const h = config.hidden_size;
    this.numHeads = config.num_attention_heads;
    this.headSize = h / this.numHeads;
    this.maxPositions = config.max_position_embeddings;
    const p = (n: string) => `${prefix}.${n}`;
    if (isCross) {
      this.qkv = null;
      this.query = w.linear([p("query.weight")], [p("query.bias")], [h], h);
      this.keyValue = w.linear(
        [p("key.weight"), p("value.weight")],
        [p("key.bias"), p("value.bias")],
        [h, h],
        h,
      );
    } else {
      this.qkv = w.linear(
        [p("query.weight"), p("key.weight"), p("value.weight")],
        [p("query.bias"), p("key.bias"), p("value.bias")],
        [h, h, h],
        h,
      );
      this.query = this.keyValue = null;
    }
    // HF builds the cross-attention block with position_embedding_type="absolute"
    this.positionEmbeddingType = isCross ? "absolute" : config.position_embedding_type;
    this.distance_embedding =
      this.positionEmbeddingType === "absolute"
        ? null
        : w.raw(p("distance_embedding.weight"), [2 * this.maxPositions - 1, this.headSize]);
  }

  /**
   * HF's BertSelfAttention.forward: the context of every (batch, head) into pass.ctx,
   *   ctx[b, i, h·d:(h+1)·d] = softmax((Q Kᵀ + relative) / √d + mask)·head_mask · V
   * with Q projected from `hiddenStates` and the keys/values from the cache (self-attention: this
   * call's appended to the past; cross-attention: the encoder's, projected once). One f32_mha call
   * per layer (the engine splits the pairs over its threads). Returns the probabilities
   * [B, heads, S, keys] with output_attentions, else null.
   */
  forward(
    p: Pass,
    layer: number,
    hiddenStates: number,
    attentionMask: MaskView,
    { cache, output_attentions }: AttentionArguments,
  ): Tensor<"float32"> | null {
    const e = p.e;
    const H = this.config.hidden_size;
    const d = this.headSize;
    let query: HeadsView, kv: KeyValues;
    if (this.qkv) {
      // query|key|value in one GEMM
      this.qkv.forward(e, p.rows, hiddenStates, H, p.qkv, 3 * H);
      query = p.heads(p.qkv, 0, 3 * H, p.S, d);
      kv = cache.keyValues(layer, "self", () => ({
        key: p.heads(p.qkv, H, 3 * H, p.S, d),
        value: p.heads(p.qkv, 2 * H, 3 * H, p.S, d),
      }));
    } else {
      // query on the decoder's states; key|value on the encoder's, unless the cache has them
      this.query!.forward(e, p.rows, hiddenStates, H, p.qkv, H);
      query = p.heads(p.qkv, 0, H, p.S, d);
      kv = cache.keyValues(layer, "cross", () => {
        this.keyValue!.forward(e, p.B * p.Se, p.encoder, H, p.kv, 2 * H);
        return { key: p.heads(p.kv, 0, 2 * H, p.Se, d), value: p.heads(p.kv, H, 2 * H, p.Se, d) };
      });
    }
    const keys = this.isCross ? p.Se : p.L;
    e.mha(p.B * this.numHeads, {
      heads: this.numHeads,
      sq: p.S,
      sk: keys,
      d,
      q: query,
      k: kv.key,
      v: kv.value,
      // relative positions: query i at i (or, with a past, every query at the last key: HF's rule)
      relative: this.distance_embedding
        ? {
            kind: this.positionEmbeddingType as "relative_key" | "relative_key_query",
            table: this.distance_embedding.ptr,
            maxPos: this.maxPositions,
            ...(cache.hasPast ? { l0: p.L - 1, lstep: 0 } : { l0: 0, lstep: 1 }),
          }
        : null,
      mask: attentionMask,
      headScales: f32At(p.headMask, layer * this.numHeads),
      scale: 1 / Math.sqrt(d),
      probs: { ptr: p.probs, pairStride: output_attentions ? p.S * keys : 0, scratch: p.S * keys },
      context: { ptr: p.ctx, batch: p.S * H, ld: H },
    });
    return output_attentions ? p.tensor(p.probs, [p.B, this.numHeads, p.S, keys]) : null;
  }
}

export class BertSelfOutput {
  readonly dense: PackedLinear;
  readonly LayerNorm: LayerNorm;
  constructor(config: BertConfig, w: WeightLoader, prefix: string) {
    const h = config.hidden_size;
    this.dense = w.linear([`${prefix}.dense.weight`], [`${prefix}.dense.bias`], [h], h);
    this.LayerNorm = new LayerNorm(w, `${prefix}.LayerNorm`, h, config.layer_norm_eps);
  }
  /** y = LayerNorm(dense(x) + input) (y may be input) */
  forward(e: Engine, rows: number, x: number, input: number, y: number): void {
    const h = this.dense.n;
    this.dense.forward(e, rows, x, h, y, h, { residual: input, ldr: h });
    this.LayerNorm.forward(e, rows, y, y);
  }
}

export class BertAttention {
  readonly self: BertSelfAttention;
  readonly output: BertSelfOutput;
  constructor(config: BertConfig, w: WeightLoader, prefix: string, isCross: boolean) {
    this.self = new BertSelfAttention(config, w, `${prefix}.self`, isCross);
    this.output = new BertSelfOutput(config, w, `${prefix}.output`);
  }
  /** HF's BertAttention.forward: self-attention, then dense + residual + LayerNorm into `out`. */
  forward(
    p: Pass,
    layer: number,
    hiddenStates: number,
    attentionMask: MaskView,
    x: AttentionArguments,
    out: number,
  ): Tensor<"float32"> | null {
    const probs = this.self.forward(p, layer, hiddenStates, attentionMask, x);
    this.output.forward(p.e, p.rows, p.ctx, hiddenStates, out);
    return probs;
  }
}

export class BertIntermediate {
  readonly dense: PackedLinear;
  readonly act: number;
  constructor(config: BertConfig, w: WeightLoader, prefix: string) {
    this.dense = w.linear(
      [`${prefix}.dense.weight`],
      [`${prefix}.dense.bias`],
      [config.intermediate_size],
      config.hidden_size,
    );
    this.act = ACTIVATIONS[config.hidden_act];
  }
  /** y = act(dense(x)), the activation applied in the GEMM's epilogue */
  forward(e: Engine, rows: number, x: number, y: number): void {
    this.dense.forward(e, rows, x, this.dense.k, y, this.dense.n, { act: this.act });
  }
}

export class BertOutput {
  readonly dense: PackedLinear;
  readonly LayerNorm: LayerNorm;
  constructor(config: BertConfig, w: WeightLoader, prefix: string) {
    this.dense = w.linear(
      [`${prefix}.dense.weight`],
      [`${prefix}.dense.bias`],
      [config.hidden_size],
      config.intermediate_size,
    );
    this.LayerNorm = new LayerNorm(
      w,
      `${prefix}.LayerNorm`,
      config.hidden_size,
      config.layer_norm_eps,
    );
  }
  /** y = LayerNorm(dense(x) + input) */
  forward(e: Engine, rows: number, x: number, input: number, y: number): void {
    this.dense.forward(e, rows, x, this.dense.k, y, this.dense.n, {
      residual: input,
      ldr: this.dense.n,
    });
    this.LayerNorm.forward(e, rows, y, y);
  }
}

export class BertLayer {
  readonly attention: BertAttention;
  readonly crossattention: BertAttention | null;
  readonly intermediate: BertIntermediate;
  readonly output: BertOutput;
  constructor(
    readonly config: BertConfig,
    w: WeightLoader,
    prefix: string,
  ) {
    this.attention = new BertAttention(config, w, `${prefix}.attention`, false);
    if (config.add_cross_attention && !config.is_decoder) {
      throw new ConfigError(
        "BertLayer should be used as a decoder model if cross attention is added (config.add_cross_attention needs config.is_decoder)",
      );
    }
    this.crossattention = config.add_cross_attention
      ? new BertAttention(config, w, `${prefix}.crossattention`, true)
      : null;
    this.intermediate = new BertIntermediate(config, w, `${prefix}.intermediate`);
    this.output = new BertOutput(config, w, `${prefix}.output`);
  }

  /**
   * HF's BertLayer.forward: pass.hidden -> pass.hidden. Returns the attention probabilities of
   * the layer (with output_attentions) and of its cross-attention (when it ran).
   */
  forward(p: Pass, i: number, x: EncoderArguments): LayerAttentions {
    const attentions = this.attention.forward(p, i, p.hidden, x.attention_mask, x, p.attnOut);
    let crossAttentions: Tensor<"float32"> | null = null;
    if (this.crossattention && x.encoder_hidden_states) {
      const mask = x.encoder_attention_mask;
      crossAttentions = this.crossattention.forward(p, i, p.attnOut, mask, x, p.attnOut);
    }
    // feed-forward (HF's apply_chunking_to_forward gives the same numbers unchunked)
    this.intermediate.forward(p.e, p.rows, p.attnOut, p.inter);
    this.output.forward(p.e, p.rows, p.inter, p.attnOut, p.hidden);
    return { attentions, crossAttentions };
  }
}

/** What an attention block takes besides its input and mask. */
export interface AttentionArguments {
  /** past_key_values, and where this call's keys/values go */
  cache: AttentionCache;
  output_attentions: boolean;
}

/** What BertEncoder.forward takes besides the buffers: HF's arguments, masks extended. */
export interface EncoderArguments extends AttentionArguments {
  /** the extended self-attention mask (getExtendedAttentionMask) */
  attention_mask: MaskView;
  /** encoder_hidden_states were given: cross-attention runs */
  encoder_hidden_states: boolean;
  /** the inverted cross-attention mask (invertAttentionMask) */
  encoder_attention_mask: MaskView;
  output_hidden_states: boolean;
}

/** A layer's attention probabilities (null when not requested, or no cross-attention ran). */
export interface LayerAttentions {
  attentions: Tensor<"float32"> | null;
  crossAttentions: Tensor<"float32"> | null;
}

/** BertEncoder.forward's outputs besides the last hidden state (left in pass.hidden). */
export interface EncoderOutputs {
  hidden_states: Tensor<"float32">[] | null;
  attentions: Tensor<"float32">[] | null;
  cross_attentions: (Tensor<"float32"> | Tensor<"float32">[])[] | null;
}

export class BertEncoder {
  readonly layer: BertLayer[];
  constructor(
    readonly config: BertConfig,
    w: WeightLoader,
    prefix: string,
  ) {
    this.layer = [];
    for (let i = 0; i < config.num_hidden_layers; i++)
      this.layer.push(new BertLayer(config, w, `${prefix}.layer.${i}`));
  }
  /** HF's BertEncoder.forward: every layer on pass.hidden, collecting what was asked for. */
  forward(p: Pass, x: EncoderArguments): EncoderOutputs {
    const H = this.config.hidden_size;
    const hidden = () => p.tensor(p.hidden, [p.B, p.S, H]);
    const all_hidden_states = x.output_hidden_states ? [hidden()] : null;
    const all_self_attentions = x.output_attentions ? ([] as Tensor<"float32">[]) : null;
    const all_cross_attentions =
      x.output_attentions && this.config.add_cross_attention
        ? ([] as (Tensor<"float32"> | Tensor<"float32">[])[])
        : null;
    for (let i = 0; i < this.layer.length; i++) {
      const layer_outputs = this.layer[i].forward(p, i, x);
      if (all_self_attentions) all_self_attentions.push(layer_outputs.attentions!);
      // HF 4.30.2 appends layer_outputs[2]: the cross attentions, or, when no encoder states were
      // given, the layer's self-attention (key, value)
      if (all_cross_attentions)
        all_cross_attentions.push(layer_outputs.crossAttentions ?? x.cache.selfKeyValues(i));
      if (all_hidden_states) all_hidden_states.push(hidden());
    }
    return {
      hidden_states: all_hidden_states,
      attentions: all_self_attentions,
      cross_attentions: all_cross_attentions,
    };
  }
}

export class BertPooler {
  readonly dense: PackedLinear;
  constructor(config: BertConfig, w: WeightLoader, prefix: string) {
    const h = config.hidden_size;
    this.dense = w.linear([`${prefix}.dense.weight`], [`${prefix}.dense.bias`], [h], h);
  }
  /** pooled[b] = tanh(dense(hidden[b, 0])): the first token of each sequence (row stride S·H). */
  forward(p: Pass): void {
    const h = this.dense.n;
    this.dense.forward(p.e, p.B, p.hidden, p.S * h, p.pooled, h, { act: ACTIVATIONS.tanh });
  }
}

export interface FromPretrainedOptions extends EngineOptions, LoadOptions, HubOptions {
  /**
   * BertModel only: build the pooler (HF's add_pooling_layer, default true). "auto": build it
   * when the checkpoint has its weights (embeddings never read it; masked-LM checkpoints lack it).
   */
  addPoolingLayer?: boolean | "auto";
  /** An engine to place the weights in (default: a new one per model). */
  engine?: Engine;
  /** Config overrides, as from_pretrained's kwargs (e.g. { is_decoder: true }). */
  config?: Partial<BertConfig> & Record<string, unknown>;
  /**
   * transformers.js v2's name: true loads int8 weights (dtype "q8"), false float32 (dtype
   * "fp32"); with dtype also given they must agree.
   */
  quantized?: boolean;
  /** Same as quantized. */
  quantize?: boolean;
  /**
   * transformers.js' device: "wasm", "cpu" or "auto" (where simdbert runs: WebAssembly on the
   * CPU); any other device is refused.
   */
  device?: "wasm" | "cpu" | "auto";
}

/**
 * Base of every BERT model class: the config, the engine that holds its weights, a call queue.
 * Instances are callable, as transformers.js' models are: `await model(inputs)` is
 * `await model.forward(inputs)`.
 */
export class BertPreTrainedModel extends Callable {
  static readonly base_model_prefix = "bert";
  constructor(
    readonly config: BertConfig,
    readonly engine: Engine,
  ) {
    super("forward");
  }

  /**
   * Runs calls one after another, in the engine's queue: overlapping async calls (on this model,
   * on other models sharing its engine, loads into it) see the arena as sequential calls do.
   */
  protected serialize<T>(fn: () => T): Promise<T> {
    if (this.disposed)
      return Promise.reject(
        new EngineError(
          `${this.constructor.name}: the model was disposed (dispose()); load it again to use it`,
        ),
      );
    return this.engine.serialize(fn);
  }

  /** Whether dispose() was called: later calls are refused with an EngineError. */
  disposed = false;

  /**
   * transformers.js' dispose(): later calls are refused (EngineError), the engine's threads stop
   * once calls already queued have run, and the model's WebAssembly memory is freed when the
   * model is no longer referenced. An engine passed in the `engine` option is the caller's and
   * keeps running.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (OWN_ENGINES.has(this.engine)) await this.engine.serialize(() => this.engine.dispose());
  }

  /** Bytes of WebAssembly memory held for this model (weights + arena). */
  get memoryBytes(): number {
    return this.engine.memoryBytes;
  }
}

export interface BertModelOptions {
  /** HF's add_pooling_layer (default true); "auto": when the checkpoint has pooler weights. */
  addPoolingLayer?: boolean | "auto";
  /** Keep the word embeddings only in packed form (a tied MLM decoder uses them as its weight). */
  packedWordEmbeddings?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the call signatures of a Callable
export interface BertModel {
  /** `await model(inputs)` is `await model.forward(inputs)` (transformers.js' callable models). */
  (inputs: BertModelInputs & { return_dict: false }): Promise<OutputValue[]>;
  (
    inputs: BertModelInputs & { return_dict?: true | null },
  ): Promise<BaseModelOutputWithPoolingAndCrossAttentions>;
  (inputs: BertModelInputs): Promise<BaseModelOutputWithPoolingAndCrossAttentions | OutputValue[]>;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see the interface
export class BertModel extends BertPreTrainedModel {
  readonly embeddings: BertEmbeddings;
  readonly encoder: BertEncoder;
  readonly pooler: BertPooler | null;
  /** keys/values kept in wasm memory between decoder calls */
  private readonly slab: KVSlab;

  /** Declares the weights under `prefix` ("" for a bare BertModel, "bert" inside task models). */
  constructor(
    config: BertConfig,
    engine: Engine,
    w: WeightLoader,
    prefix = "",
    options: BertModelOptions = {},
  ) {
    super(config, engine);
    const p = (n: string) => (prefix ? `${prefix}.${n}` : n);
    this.embeddings = new BertEmbeddings(
      config,
      w,
      p("embeddings"),
      options.packedWordEmbeddings ?? false,
    );
    this.encoder = new BertEncoder(config, w, p("encoder"));
    const pool =
      options.addPoolingLayer === "auto"
        ? w.has(p("pooler.dense.weight"))
        : (options.addPoolingLayer ?? true);
    if (pool !== true && pool !== false)
      throw new ConfigError(
        `addPoolingLayer must be true, false or "auto", got ${String(options.addPoolingLayer).slice(0, 40)}`,
      );
    this.pooler = pool ? new BertPooler(config, w, p("pooler")) : null;
    this.slab = new KVSlab(engine, config);
  }

  /**
   * Loads config.json + model.safetensors: a directory (Node, Deno, Bun), a base URL, or
   * { "config.json": ..., "model.safetensors": bytes } in memory. Task checkpoints ("bert."
   * names) load too; their head weights are ignored with a warning.
   */
  static async fromPretrained(
    source: ModelSource,
    options: FromPretrainedOptions = {},
  ): Promise<BertModel> {
    return loadPretrained(
      source,
      options,
      (config, engine, w) =>
        new BertModel(config, engine, w, "", { addPoolingLayer: options.addPoolingLayer }),
    );
  }

  /**
   * HF's forward: same argument names and defaults; returns the output container, or HF's tuple
   * with return_dict: false. (Typed as the container unless return_dict is false; a config with
   * return_dict: false also gives the tuple.)
   */
  forward(inputs: BertModelInputs & { return_dict: false }): Promise<OutputValue[]>;
  forward(
    inputs: BertModelInputs & { return_dict?: true | null },
  ): Promise<BaseModelOutputWithPoolingAndCrossAttentions>;
  forward(
    inputs: BertModelInputs,
  ): Promise<BaseModelOutputWithPoolingAndCrossAttentions | OutputValue[]>;
  forward(
    inputs: BertModelInputs,
  ): Promise<BaseModelOutputWithPoolingAndCrossAttentions | OutputValue[]> {
    return this.serialize(() => this.run(inputs));
  }

  /** @internal The synchronous forward (what forward queues). */
  run(inputs: BertModelInputs): BaseModelOutputWithPoolingAndCrossAttentions | OutputValue[] {
    const encoded = this.encode(inputs);
    const f = this.outputs(encoded);
    if (!encoded.args.returnDict)
      return [f.last_hidden_state, f.pooler_output, ...this.tupleRest(f)];
    return new BaseModelOutputWithPoolingAndCrossAttentions({ ...f });
  }

  /**
   * @internal
   * HF's BertModel.forward up to its outputs: arguments checked, the cache opened, the arena
   * planned, the masks extended, then embeddings, encoder and pooler. The sequence output stays
   * in pass.hidden and the pooled output in pass.pooled for task heads, which ask for
   * `headFloats` more arena floats (pass.head).
   */
  encode(
    inputs: BertModelInputs,
    headFloats?: (dims: { B: number; S: number; rows: number }) => number,
  ): Encoded {
    const config = this.config;
    const args = checkArguments(config, inputs);
    const { B, S, P, Se } = args;
    const extra = headFloats ? headFloats({ B, S, rows: B * S }) : 0;
    // the cache first: sizing its region moves the arena
    const call = this.slab.open({
      ...args,
      keepSelf: args.crossQuirk,
    });
    const selfMaskFloats =
      args.attentionMask || config.is_decoder
        ? B * extendedMaskRows(args.attentionMask, S, config.is_decoder) * (P + S)
        : 0;
    const crossMask = args.useCross ? args.encoderMask : null;
    const pass = new Pass(this.engine, config, {
      B,
      S,
      P,
      Se,
      hasIds: !!args.ids,
      hasEmbeds: !!args.embeds,
      encoderInArena: args.useCross && !call?.crossCached,
      outputAttentions: args.outputAttentions,
      selfMaskFloats,
      crossMaskFloats: crossMask ? crossMask.data.length : 0,
      headMaskFloats: args.headMask ? args.headMask.length : 0,
      pooled: !!this.pooler,
      headFloats: extra,
    });
    const f32 = this.engine.f32;
    if (pass.encoder && args.encoder) f32.set(args.encoder, f32Index(pass.encoder));
    if (args.headMask) f32.set(args.headMask, f32Index(pass.headMask));
    const x: EncoderArguments = {
      attention_mask: selfMaskFloats
        ? getExtendedAttentionMask(
            f32,
            pass.selfMask,
            args.attentionMask,
            B,
            S,
            P,
            config.is_decoder,
          )
        : NO_MASK,
      encoder_hidden_states: args.useCross,
      encoder_attention_mask: crossMask
        ? invertAttentionMask(f32, pass.crossMask, crossMask, Se)
        : NO_MASK,
      cache: call ?? NO_CACHE,
      output_attentions: args.outputAttentions,
      output_hidden_states: args.outputHiddenStates,
    };
    this.embeddings.forward(pass, {
      input_ids: args.ids,
      token_type_ids: args.tids,
      position_ids: args.pids,
      inputs_embeds: args.embeds,
    });
    const encoderOutputs = this.encoder.forward(pass, x);
    const present = call ? call.finish() : null;
    if (this.pooler) this.pooler.forward(pass);
    return { pass, args, encoderOutputs, present };
  }

  /** @internal The output fields of an encoded pass, as owned tensors. */
  outputs({ pass: p, encoderOutputs, present }: Encoded): BertFields {
    const H = this.config.hidden_size;
    return {
      last_hidden_state: p.tensor(p.hidden, [p.B, p.S, H]),
      pooler_output: this.pooler ? p.tensor(p.pooled, [p.B, H]) : null,
      past_key_values: present,
      ...encoderOutputs,
    };
  }

  /** @internal encoder_outputs[1:] of HF's return_dict=False tuple: the encoder's tuple drops its Nones. */
  tupleRest(f: BertFields): OutputValue[] {
    return [f.past_key_values, f.hidden_states, f.attentions, f.cross_attentions].filter(
      (v) => v !== null,
    ) as OutputValue[];
  }
}

/** @internal What BertModel.encode leaves for the outputs and the task heads. */
export interface Encoded {
  pass: Pass;
  args: ReturnType<typeof checkArguments>;
  encoderOutputs: EncoderOutputs;
  /** the cache of this call (use_cache), or null */
  present: KVCache | null;
}

/** @internal The base model's output fields, before they become a container or a tuple. */
export interface BertFields {
  last_hidden_state: Tensor<"float32">;
  pooler_output: Tensor<"float32"> | null;
  past_key_values: KVCache | null;
  hidden_states: Tensor<"float32">[] | null;
  attentions: Tensor<"float32">[] | null;
  cross_attentions: (Tensor<"float32"> | Tensor<"float32">[])[] | null;
}

/** from_pretrained for any BERT class: config + engine + weights declared by `build`, then loaded. */
export async function loadPretrained<T>(
  source: ModelSource,
  options: FromPretrainedOptions,
  build: (config: BertConfig, engine: Engine, w: WeightLoader) => T,
): Promise<T> {
  // every option known by name; transformers.js' quantized: true is dtype "q8"
  checkOptionNames("fromPretrained", options, FROM_PRETRAINED_OPTIONS);
  options = withQuantized("fromPretrained", options ?? {});
  checkWeightDtype(options.dtype); // before any engine (and its threads) exists
  const { config, tensors, close } = await openModel(source, options.config, options);
  try {
    // a q8 checkpoint (`simdbert quantize`) loads as q8 unless another dtype is asked; another
    // quantization method's checkpoint is refused by name
    const declared = declaredDtype(config.extra);
    const engine =
      options.engine ?? (await Engine.create(options, options.dtype ?? declared ?? undefined));
    if (!options.engine) OWN_ENGINES.add(engine);
    // in the engine's queue: forwards of other models on a shared engine, and other loads into
    // it, wait (the loader stages rows where their arena begins)
    return await engine.load(async () => {
      const w = new WeightLoader(engine, tensors, {
        warn: options.warn ?? defaultWarn,
        prefix: "bert",
        dtype: options.dtype ?? declared ?? undefined,
      });
      const model = build(config, engine, w);
      await w.load();
      return model;
    });
  } finally {
    await close();
  }
}

/** Engines made by fromPretrained for one model (dispose() stops them; an engine passed in is the caller's). */
const OWN_ENGINES = new WeakSet<Engine>();

function defaultWarn(msg: string): void {
  console.warn(`simdbert: ${msg}`);
}
