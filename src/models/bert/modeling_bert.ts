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
import { f32At } from "../../runtime/memory.js";
import { openModel, type ModelSource } from "../../loading/source.js";
import type { Tensor } from "../../tensor.js";
import { BaseModelOutputWithPoolingAndCrossAttentions, type OutputValue } from "../outputs.js";
import { checkArguments, type BertModelInputs } from "./arguments.js";
import { Pass, type HeadsView, type MaskView } from "./pass.js";
import { CROSS_K, CROSS_V, KVSlab, type KVCache } from "./kv_cache.js";

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
    // a tied decoder's weight stays f32: the gather below reads its packed f32 layout
    this.word_embeddings = packedWords
      ? w.linear([words], [null], [config.vocab_size], h, "f32")
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
  /** pass.hidden = LayerNorm(inputs_embeds + token_type_embeddings + position_embeddings) */
  forward(p: Pass): void {
    const e = p.e;
    const words = this.word_embeddings;
    // q8 / fp16 table: the rows widened into the output, then summed there as inputs_embeds
    const lowp = words.kind === "raw" ? (words.dtype ?? "f32") : "f32";
    const q8 = lowp !== "f32" && p.ids !== 0;
    if (q8 && lowp === "q8")
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
   * Scaled dot-product attention for every (batch, head), reading Q, K, V in place:
   *   ctx[b, i, h·d:(h+1)·d] = softmax((Q Kᵀ + relative) / √d + mask)·head_mask · V
   * (one f32_mha call per layer; the engine splits the pairs over its threads). The
   * probabilities land in pass.probs: the attentions output when requested, else scratch.
   */
  attend(
    p: Pass,
    layer: number,
    q: HeadsView,
    k: HeadsView,
    v: HeadsView,
    sq: number,
    sk: number,
    mask: MaskView,
    rel: { l0: number; lstep: number } | null,
  ): void {
    const relMode =
      !rel || !this.distance_embedding
        ? 0
        : this.positionEmbeddingType === "relative_key_query"
          ? 2
          : 1;
    p.e.mha(p.B * this.numHeads, {
      heads: this.numHeads,
      sq,
      sk,
      d: this.headSize,
      q: q.ptr,
      qB: q.batch,
      qH: q.head,
      ldq: q.ld,
      k: k.ptr,
      kB: k.batch,
      kH: k.head,
      ldk: k.ld,
      v: v.ptr,
      vB: v.batch,
      vH: v.head,
      ldv: v.ld,
      rel: relMode,
      e: this.distance_embedding?.ptr ?? 0,
      maxPos: this.maxPositions,
      l0: rel?.l0 ?? 0,
      lstep: rel?.lstep ?? 0,
      mask: mask.ptr,
      maskB: mask.batch,
      ldm: mask.ld,
      headScales: f32At(p.headMask, layer * this.numHeads),
      scale: 1 / Math.sqrt(this.headSize),
      probs: p.probs,
      probsStride: p.outputAttentions ? sq * sk : 0,
      scratch: sq * sk,
      ctx: p.ctx,
      ctxB: sq * this.config.hidden_size,
      ldc: this.config.hidden_size,
    });
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

  /** One layer: pass.hidden -> pass.hidden (see the Pass for the buffers). */
  forward(p: Pass, i: number): void {
    const e = p.e;
    const H = this.config.hidden_size;
    const self = this.attention.self;

    // --- self-attention: fused Q|K|V projection, then attention over the (cached) keys
    self.qkv!.forward(e, p.rows, p.hidden, H, p.qkv, 3 * H);
    const q: HeadsView = { ptr: p.qkv, batch: p.S * 3 * H, head: self.headSize, ld: 3 * H };
    // keys/values of this call, appended to the cached ones when there is a cache
    const { k, v } = p.selfKV(
      i,
      { ptr: f32At(p.qkv, H), batch: p.S * 3 * H, head: self.headSize, ld: 3 * H },
      { ptr: f32At(p.qkv, 2 * H), batch: p.S * 3 * H, head: self.headSize, ld: 3 * H },
    );
    const rel =
      self.positionEmbeddingType === "absolute"
        ? null
        : p.past
          ? { l0: p.L - 1, lstep: 0 }
          : { l0: 0, lstep: 1 };
    self.attend(p, i, q, k, v, p.S, p.L, p.selfMask, rel);
    p.collectSelf(i);
    this.attention.output.forward(e, p.rows, p.ctx, p.hidden, p.attnOut);

    // --- cross-attention over the encoder's states
    if (this.crossattention && p.useCross) {
      const cross = this.crossattention.self;
      cross.query!.forward(e, p.rows, p.attnOut, H, p.qkv, H);
      const cq: HeadsView = { ptr: p.qkv, batch: p.S * H, head: cross.headSize, ld: H };
      // HF: with a cache, the encoder's keys/values are taken from it, not recomputed
      let ck: HeadsView, cv: HeadsView;
      if (p.slab?.crossValid) {
        ck = p.slab.view(i, CROSS_K);
        cv = p.slab.view(i, CROSS_V);
      } else {
        cross.keyValue!.forward(e, p.B * p.Se, p.encoder, H, p.kv, 2 * H);
        ck = { ptr: p.kv, batch: p.Se * 2 * H, head: cross.headSize, ld: 2 * H };
        cv = { ptr: f32At(p.kv, H), batch: p.Se * 2 * H, head: cross.headSize, ld: 2 * H };
        if (p.slab) {
          p.slab.append(i, CROSS_K, ck, p.Se, 0);
          p.slab.append(i, CROSS_V, cv, p.Se, 0);
        }
      }
      cross.attend(p, i, cq, ck, cv, p.S, p.Se, p.crossMask, null);
      p.collectCross(i);
      this.crossattention.output.forward(e, p.rows, p.ctx, p.attnOut, p.attnOut);
    } else if (p.crossQuirk) {
      p.collectCrossQuirk(i);
    }

    // --- feed-forward (HF's apply_chunking_to_forward gives the same numbers unchunked)
    this.intermediate.forward(e, p.rows, p.attnOut, p.inter);
    this.output.forward(e, p.rows, p.inter, p.attnOut, p.hidden);
  }
}

export class BertEncoder {
  readonly layer: BertLayer[];
  constructor(config: BertConfig, w: WeightLoader, prefix: string) {
    this.layer = [];
    for (let i = 0; i < config.num_hidden_layers; i++)
      this.layer.push(new BertLayer(config, w, `${prefix}.layer.${i}`));
  }
  forward(p: Pass): void {
    for (let i = 0; i < this.layer.length; i++) {
      p.collectHidden();
      this.layer[i].forward(p, i);
    }
    p.collectHidden();
    p.finish();
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

export interface FromPretrainedOptions extends EngineOptions, LoadOptions {
  /**
   * BertModel only: build the pooler (HF's add_pooling_layer, default true). "auto": build it
   * when the checkpoint has its weights (embeddings never read it; masked-LM checkpoints lack it).
   */
  addPoolingLayer?: boolean | "auto";
  /** An engine to place the weights in (default: a new one per model). */
  engine?: Engine;
  /** Config overrides, as from_pretrained's kwargs (e.g. { is_decoder: true }). */
  config?: Partial<BertConfig> & Record<string, unknown>;
}

/** Base of every BERT model class: the config, the engine that holds its weights, a call queue. */
export class BertPreTrainedModel {
  static readonly base_model_prefix = "bert";
  constructor(
    readonly config: BertConfig,
    readonly engine: Engine,
  ) {}

  /**
   * Runs calls one after another, in the engine's queue: overlapping async calls (on this model,
   * on other models sharing its engine, loads into it) see the arena as sequential calls do.
   */
  protected serialize<T>(fn: () => T): Promise<T> {
    return this.engine.serialize(fn);
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
    const { pass, args } = this.encode(inputs);
    const f = this.outputs(pass, args);
    if (!args.returnDict) return [f.last_hidden_state, f.pooler_output, ...this.tupleRest(f)];
    return new BaseModelOutputWithPoolingAndCrossAttentions({ ...f });
  }

  /**
   * @internal
   * Embeddings, encoder and pooler on the arena; the sequence output stays in pass.hidden and the
   * pooled output in pass.pooled for task heads, which ask for `headFloats` more arena floats
   * (pass.head).
   */
  encode(
    inputs: BertModelInputs,
    headFloats?: (dims: { B: number; S: number; rows: number }) => number,
  ): { pass: Pass; args: ReturnType<typeof checkArguments> } {
    const args = checkArguments(this.config, inputs, !!this.pooler);
    const extra = headFloats ? headFloats({ B: args.B, S: args.S, rows: args.B * args.S }) : 0;
    const pass = new Pass(this.engine, this.config, args, extra, this.slab);
    this.embeddings.forward(pass);
    this.encoder.forward(pass);
    if (this.pooler) this.pooler.forward(pass);
    return { pass, args };
  }

  /** @internal The output fields of an encoded pass, as owned tensors. */
  outputs(p: Pass, args: ReturnType<typeof checkArguments>): BertFields {
    const H = this.config.hidden_size;
    return {
      last_hidden_state: p.tensor(p.hidden, [p.B, p.S, H]),
      pooler_output: this.pooler ? p.tensor(p.pooled, [p.B, H]) : null,
      past_key_values: args.useCache ? p.present : null,
      hidden_states: args.outputHiddenStates ? p.hiddenStates : null,
      attentions: args.outputAttentions ? p.attentions : null,
      cross_attentions:
        args.outputAttentions && this.config.add_cross_attention ? p.crossAttentions : null,
    };
  }

  /** @internal encoder_outputs[1:] of HF's return_dict=False tuple: the encoder's tuple drops its Nones. */
  tupleRest(f: BertFields): OutputValue[] {
    return [f.past_key_values, f.hidden_states, f.attentions, f.cross_attentions].filter(
      (v) => v !== null,
    ) as OutputValue[];
  }
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
  checkWeightDtype(options.dtype); // before any engine (and its threads) exists
  const { config, tensors, close } = await openModel(source, options.config);
  try {
    const engine = options.engine ?? (await Engine.create(options));
    // in the engine's queue: forwards of other models on a shared engine, and other loads into
    // it, wait (the loader stages rows where their arena begins)
    return await engine.load(async () => {
      const w = new WeightLoader(engine, tensors, {
        warn: options.warn ?? defaultWarn,
        prefix: "bert",
        dtype: options.dtype,
      });
      const model = build(config, engine, w);
      await w.load();
      return model;
    });
  } finally {
    await close();
  }
}

function defaultWarn(msg: string): void {
  console.warn(`simdbert: ${msg}`);
}
