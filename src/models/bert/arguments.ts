// BertModel.forward's arguments, checked the way HF checks them (and where HF would fail deep in
// torch, or silently index out of range, with an error that names the argument).
import { OptionError } from "../../options.js";
import type { BertConfig } from "../../config.js";
import {
  checkRange,
  expectShape,
  floatInput,
  InputError,
  intInput,
  type Dense,
  type TensorLike,
} from "../inputs.js";
import { Tensor } from "../../tensor.js";
import { KVCache } from "./kv_cache.js";

/** BertModel.forward's arguments, checked: shapes, flat values, HF's defaults applied. */
export interface BertArguments {
  B: number;
  S: number;
  /** cached positions (past_key_values' length) */
  P: number;
  /** encoder length (0: no cross-attention) */
  Se: number;
  ids: Float64Array | null;
  embeds: Float32Array | null;
  tids: Float64Array | null;
  pids: Float64Array | null;
  /** [B, L] or [B, S, L] (L = P + S), as given */
  attentionMask: Dense<Float32Array> | null;
  encoder: Float32Array | null;
  /** [B, Se] or [B, S, Se], as given */
  encoderMask: Dense<Float32Array> | null;
  /** [layers, heads] */
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
  returnDict: boolean;
}

export interface BertModelInputs {
  input_ids?: TensorLike | null;
  attention_mask?: TensorLike | null;
  token_type_ids?: TensorLike | null;
  position_ids?: TensorLike | null;
  head_mask?: TensorLike | null;
  inputs_embeds?: TensorLike | null;
  encoder_hidden_states?: TensorLike | null;
  encoder_attention_mask?: TensorLike | null;
  /** per layer (self key, self value[, cross key, cross value]), each [batch, heads, len, head_dim] */
  past_key_values?: TensorLike[][] | null;
  use_cache?: boolean | null;
  output_attentions?: boolean | null;
  output_hidden_states?: boolean | null;
  return_dict?: boolean | null;
}

const KNOWN = new Set([
  "input_ids",
  "attention_mask",
  "token_type_ids",
  "position_ids",
  "head_mask",
  "inputs_embeds",
  "encoder_hidden_states",
  "encoder_attention_mask",
  "past_key_values",
  "use_cache",
  "output_attentions",
  "output_hidden_states",
  "return_dict",
]);

function flag(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean")
    throw new InputError(`${name} must be true, false or null, got ${JSON.stringify(v)}`);
  return v;
}

export function checkArguments(config: BertConfig, x: BertModelInputs): BertArguments {
  if (!x || typeof x !== "object" || Array.isArray(x))
    throw new InputError(
      `forward expects an object of named inputs, got ${x === null ? "null" : Array.isArray(x) ? "an array" : typeof x}`,
    );
  for (const k of Object.keys(x)) {
    if (!KNOWN.has(k))
      throw new OptionError(
        `forward() got an unexpected argument "${k}" (accepted: ${[...KNOWN].join(", ")})`,
        k,
        [...KNOWN],
      );
  }
  const H = config.hidden_size;
  const heads = config.num_attention_heads;
  const d = H / heads;
  const outputAttentions = flag("output_attentions", x.output_attentions, config.output_attentions);
  const outputHiddenStates = flag(
    "output_hidden_states",
    x.output_hidden_states,
    config.output_hidden_states,
  );
  const returnDict = flag("return_dict", x.return_dict, config.use_return_dict);
  const useCache = config.is_decoder
    ? flag("use_cache", x.use_cache, config.use_cache)
    : (flag("use_cache", x.use_cache, false), false);

  const hasIds = x.input_ids != null;
  const hasEmbeds = x.inputs_embeds != null;
  if (hasIds && hasEmbeds)
    throw new InputError("You cannot specify both input_ids and inputs_embeds at the same time");
  if (!hasIds && !hasEmbeds)
    throw new InputError("You have to specify either input_ids or inputs_embeds");

  let B: number, S: number;
  let ids: Float64Array | null = null;
  let embeds: Float32Array | null = null;
  if (hasIds) {
    const t = intInput("input_ids", x.input_ids!);
    if (t.shape.length !== 2)
      throw new InputError(`input_ids must be [batch, seq], got shape [${t.shape.join(", ")}]`);
    [B, S] = t.shape;
    checkRange(
      "input_ids",
      t,
      0,
      config.vocab_size,
      `token ids index the vocabulary of ${config.vocab_size}`,
    );
    ids = t.data;
  } else {
    const t = floatInput("inputs_embeds", x.inputs_embeds!);
    if (t.shape.length !== 3 || t.shape[2] !== H) {
      throw new InputError(
        `inputs_embeds must be [batch, seq, ${H}] (hidden_size), got [${t.shape.join(", ")}]`,
      );
    }
    [B, S] = t.shape;
    embeds = t.data;
  }
  if (B === 0) throw new InputError("the batch is empty (batch size 0)");
  if (S === 0) throw new InputError("the sequence is empty (sequence length 0)");

  // ---- past key values: per layer (self k, self v[, cross k, cross v])
  let past: Dense<Float32Array>[][] | null = null;
  let P = 0;
  if (x.past_key_values != null) {
    const pkv = x.past_key_values;
    if (!Array.isArray(pkv) || pkv.length !== config.num_hidden_layers) {
      throw new InputError(
        `past_key_values must hold one entry per layer (${config.num_hidden_layers}), got ${Array.isArray(pkv) ? pkv.length : typeof pkv}`,
      );
    }
    past = pkv.map((layer, i) => {
      if (!Array.isArray(layer) || (layer.length !== 2 && layer.length !== 4)) {
        throw new InputError(
          `past_key_values[${i}] must be (key, value) or (self key, self value, cross key, cross value)`,
        );
      }
      // a KVCache's unread tensors stay in wasm memory: shapes checked without reading them
      // (anything put into a cache in their place is read as given)
      return layer.map((t, j) =>
        pkv instanceof KVCache && t instanceof Tensor && t.pending && t.dtype === "float32"
          ? {
              get data() {
                return t.data as Float32Array;
              },
              shape: t.shape,
            }
          : floatInput(`past_key_values[${i}][${j}]`, t),
      );
    });
    P = past[0][0].shape[2] ?? 0;
    past.forEach((layer, i) =>
      layer.forEach((t, j) => {
        const what = j < 2 ? "self-attention" : "cross-attention";
        expectShape(
          `past_key_values[${i}][${j}]`,
          t.shape,
          [B, heads, j < 2 ? P : null, d],
          `${what} cache [batch, heads, len, head_dim]`,
        );
      }),
    );
    for (const layer of past) {
      if (layer.length === 4) {
        const se = layer[2].shape[2];
        if (layer[3].shape[2] !== se)
          throw new InputError("past_key_values: cross-attention key and value lengths differ");
      }
    }
  }
  const L = P + S;

  // ---- lengths vs the position tables
  const maxPos = config.max_position_embeddings;
  const absolute = config.position_embedding_type === "absolute";
  if (L > maxPos && (!absolute || x.position_ids == null)) {
    throw new InputError(
      `sequence length ${L}${P ? ` (${P} cached + ${S} new)` : ""} exceeds max_position_embeddings (${maxPos})`,
    );
  }

  let tids: Float64Array | null = null;
  if (x.token_type_ids != null) {
    const t = intInput("token_type_ids", x.token_type_ids);
    expectShape("token_type_ids", t.shape, [B, S], "must match input_ids");
    checkRange(
      "token_type_ids",
      t,
      0,
      config.type_vocab_size,
      `type_vocab_size is ${config.type_vocab_size}`,
    );
    tids = t.data;
  }
  let pids: Float64Array | null = null;
  if (x.position_ids != null) {
    const t = intInput("position_ids", x.position_ids);
    const ok =
      (t.shape.length === 2 && (t.shape[0] === B || t.shape[0] === 1) && t.shape[1] === S) ||
      (t.shape.length === 1 && t.shape[0] === S);
    if (!ok)
      throw new InputError(
        `position_ids: shape [${t.shape.join(", ")}] does not match [${B}, ${S}] (or [1, ${S}])`,
      );
    checkRange("position_ids", t, 0, maxPos, `max_position_embeddings is ${maxPos}`);
    pids = t.data;
  }

  let attentionMask: Dense<Float32Array> | null = null;
  if (x.attention_mask != null) {
    const t = floatInput("attention_mask", x.attention_mask);
    if (t.shape.length === 2)
      expectShape(
        "attention_mask",
        t.shape,
        [B, L],
        P ? `must cover the ${P} cached + ${S} new tokens` : "must match input_ids",
      );
    else if (t.shape.length === 3)
      expectShape("attention_mask", t.shape, [B, S, L], "3D masks are [batch, seq, keys]");
    else
      throw new InputError(
        `attention_mask must be 2D [batch, seq] or 3D [batch, seq, seq], got [${t.shape.join(", ")}]`,
      );
    attentionMask = t;
  }

  let headMask: Float32Array | null = null;
  if (x.head_mask != null) {
    const t = floatInput("head_mask", x.head_mask);
    const layers = config.num_hidden_layers;
    headMask = new Float32Array(layers * heads);
    if (t.shape.length === 1 && t.shape[0] === heads)
      for (let l = 0; l < layers; l++) headMask.set(t.data, l * heads);
    else if (t.shape.length === 2 && t.shape[0] === layers && t.shape[1] === heads)
      headMask.set(t.data);
    else
      throw new InputError(
        `head_mask must be [num_heads] = [${heads}] or [num_layers, num_heads] = [${layers}, ${heads}], got [${t.shape.join(", ")}]`,
      );
  }

  // ---- cross-attention (decoders only; HF ignores encoder states otherwise)
  let encoder: Float32Array | null = null;
  let encoderMask: Dense<Float32Array> | null = null;
  let Se = 0;
  const hasEncoder = x.encoder_hidden_states != null;
  if (config.is_decoder && hasEncoder && !config.add_cross_attention) {
    throw new InputError(
      "If `encoder_hidden_states` are passed, BertLayer has to be instantiated with cross-attention layers by setting `config.add_cross_attention=True`",
    );
  }
  const useCross = config.is_decoder && config.add_cross_attention && hasEncoder;
  if (useCross) {
    const t = floatInput("encoder_hidden_states", x.encoder_hidden_states!);
    if (t.shape.length !== 3 || t.shape[2] !== H) {
      throw new InputError(
        `encoder_hidden_states must be [batch, enc_seq, ${H}] (hidden_size), got [${t.shape.join(", ")}]`,
      );
    }
    if (t.shape[0] !== B)
      throw new InputError(
        `encoder_hidden_states has batch ${t.shape[0]}, the inputs have batch ${B}`,
      );
    Se = t.shape[1];
    if (Se === 0) throw new InputError("encoder_hidden_states is empty (length 0)");
    encoder = t.data;
    if (past) {
      for (const [i, layer] of past.entries()) {
        if (layer.length !== 4)
          throw new InputError(
            `past_key_values[${i}] needs 4 tensors (self key, self value, cross key, cross value) for a decoder with cross-attention`,
          );
        if (layer[2].shape[2] !== Se) {
          throw new InputError(
            `past_key_values[${i}] cross-attention cache has length ${layer[2].shape[2]}, encoder_hidden_states has ${Se}`,
          );
        }
      }
    }
    if (x.encoder_attention_mask != null) {
      const m = floatInput("encoder_attention_mask", x.encoder_attention_mask);
      if (m.shape.length === 2)
        expectShape("encoder_attention_mask", m.shape, [B, Se], "must match encoder_hidden_states");
      else if (m.shape.length === 3) expectShape("encoder_attention_mask", m.shape, [B, S, Se]);
      else
        throw new InputError(
          `encoder_attention_mask must be 2D or 3D, got [${m.shape.join(", ")}]`,
        );
      encoderMask = m;
    }
  }
  const crossQuirk =
    config.is_decoder && config.add_cross_attention && !hasEncoder && outputAttentions;

  return {
    B,
    S,
    P,
    Se,
    ids,
    embeds,
    tids,
    pids,
    attentionMask,
    encoder,
    encoderMask,
    headMask,
    past,
    pastCache: x.past_key_values instanceof KVCache ? x.past_key_values : null,
    outputAttentions,
    outputHiddenStates,
    useCache,
    useCross,
    crossQuirk,
    returnDict,
  };
}
