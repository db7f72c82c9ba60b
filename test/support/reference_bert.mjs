// A float64 BertModel in plain JS, written line by line from transformers 4.30.2's
// modeling_bert.py (and modeling_utils' mask helpers), as slow and obvious as possible. It is the
// reference for every option the shared cases do not cover: head_mask, inputs_embeds, 3D masks,
// relative_key_query, every activation, decoders with caches and cross-attention.

import { erf } from "./numeric.mjs";

export const F64_MIN = -1.7976931348623157e308;

/** float64 erf (support/numeric.mjs, checked against mpmath to 6e-16) */
export const erf64 = erf;

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const gelu = (x) => 0.5 * x * (1 + erf64(x / Math.SQRT2));
const geluTanh = (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const softplus = (x) => (x > 20 ? x : Math.log1p(Math.exp(x)));

export const ACT64 = {
  gelu,
  gelu_python: gelu,
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  gelu_accurate: geluTanh,
  gelu_fast: (x) => 0.5 * x * (1 + Math.tanh(x * 0.7978845608 * (1 + 0.044715 * x * x))),
  gelu_10: (x) => Math.min(Math.max(gelu(x), -10), 10),
  quick_gelu: (x) => x * sigmoid(1.702 * x),
  relu: (x) => Math.max(x, 0),
  relu2: (x) => Math.max(x, 0) ** 2,
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  silu: (x) => x * sigmoid(x),
  swish: (x) => x * sigmoid(x),
  mish: (x) => x * Math.tanh(softplus(x)),
  sigmoid,
  tanh: Math.tanh,
  linear: (x) => x,
  laplace: (x) => 0.5 * (1 + erf64((x - 0.707107) / (0.282095 * Math.sqrt(2)))),
  leaky_relu: (x) => (x > 0 ? x : 0.01 * x),
};

const DEFAULTS = {
  hidden_act: "gelu",
  layer_norm_eps: 1e-12,
  position_embedding_type: "absolute",
  is_decoder: false,
  add_cross_attention: false,
  use_cache: true,
  output_attentions: false,
  output_hidden_states: false,
};

/** y[r, j] = Σ_t x[r·stride + t]·W[j, t] + b[j] ([rows, n]), in float64 */
export function linear64(x, rows, W, b, n, k, stride = k) {
  return linearRef(x, rows, W, b, n, k, stride);
}

function linearRef(x, rows, W, b, n, k, stride = k) {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let s = b ? b[j] : 0;
      for (let t = 0; t < k; t++) s += x[r * stride + t] * W[j * k + t];
      y[r * n + j] = s;
    }
  }
  return y;
}

/** torch's LayerNorm in float64 (biased variance, eps inside the root) */
export function layerNorm64(x, rows, n, w, b, eps) {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < n; j++) mean += x[r * n + j];
    mean /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[r * n + j] - mean) ** 2;
    v /= n;
    for (let j = 0; j < n; j++)
      y[r * n + j] = ((x[r * n + j] - mean) / Math.sqrt(v + eps)) * w[j] + b[j];
  }
  return y;
}

const flat = (v) =>
  Array.isArray(v) ? v.flat(Infinity).map(Number) : Array.from(v.data ?? v, Number);
const dims = (v) => {
  if (!Array.isArray(v)) return v.shape;
  const s = [];
  for (let p = v; Array.isArray(p); p = p[0]) s.push(p.length);
  return s;
};

/**
 * tensors: Map name -> { shape, data } with BertModel's names (no prefix). inputs: HF names;
 * nested arrays or { data, shape }. Returns float64 arrays with shapes.
 * opts.linearInput(x, rows, k): what every Linear reads instead of its input x ([rows, k]
 * float64): a hook that simulates activation quantization (the accuracy harness of q8 weights).
 * opts.linear: another float64 implementation of linear64 (a faster one for large shapes).
 */
export function bertForward64(configIn, tensors, inputs, opts = {}) {
  const lin = opts.linear ?? linearRef;
  const linear64 = opts.linearInput
    ? (x, rows, Wt, b, n, k) => lin(opts.linearInput(x, rows, k), rows, Wt, b, n, k)
    : lin;
  const c = { ...DEFAULTS, ...configIn };
  const W = (n) => {
    const t = tensors.get(n);
    if (!t) throw new Error(`reference: missing ${n}`);
    return t.data;
  };
  const H = c.hidden_size,
    nh = c.num_attention_heads,
    d = H / nh;
  const act = ACT64[c.hidden_act];
  const outAtt = inputs.output_attentions ?? c.output_attentions;
  const outHid = inputs.output_hidden_states ?? c.output_hidden_states;
  const useCache = c.is_decoder ? (inputs.use_cache ?? c.use_cache) : false;

  let B, S, x;
  if (inputs.input_ids) {
    [B, S] = dims(inputs.input_ids);
    const ids = flat(inputs.input_ids);
    x = new Float64Array(B * S * H);
    const we = W("embeddings.word_embeddings.weight");
    for (let r = 0; r < B * S; r++) for (let j = 0; j < H; j++) x[r * H + j] = we[ids[r] * H + j];
  } else {
    [B, S] = dims(inputs.inputs_embeds);
    x = Float64Array.from(flat(inputs.inputs_embeds));
  }
  const past = inputs.past_key_values ?? null;
  const P = past ? dims(past[0][0])[2] : 0;
  const L = P + S;
  const tt = inputs.token_type_ids ? flat(inputs.token_type_ids) : new Array(B * S).fill(0);
  let pos;
  if (inputs.position_ids) {
    const p = flat(inputs.position_ids);
    pos = p.length === S ? Array.from({ length: B * S }, (_, i) => p[i % S]) : p;
  } else pos = Array.from({ length: B * S }, (_, i) => P + (i % S));
  const te = W("embeddings.token_type_embeddings.weight");
  for (let r = 0; r < B * S; r++) {
    for (let j = 0; j < H; j++) x[r * H + j] += te[tt[r] * H + j];
  }
  if (c.position_embedding_type === "absolute") {
    const pe = W("embeddings.position_embeddings.weight");
    for (let r = 0; r < B * S; r++) for (let j = 0; j < H; j++) x[r * H + j] += pe[pos[r] * H + j];
  }
  x = layerNorm64(
    x,
    B * S,
    H,
    W("embeddings.LayerNorm.weight"),
    W("embeddings.LayerNorm.bias"),
    c.layer_norm_eps,
  );

  // extended masks: ext(b, i, j) for the self-attention, over L keys
  const am = inputs.attention_mask ? flat(inputs.attention_mask) : new Array(B * L).fill(1);
  const am3 = inputs.attention_mask && dims(inputs.attention_mask).length === 3;
  const selfMask = (b, i, j) => {
    let m;
    if (am3) m = am[(b * S + i) * L + j];
    else {
      m = am[b * L + j];
      if (c.is_decoder && j >= L - S && j - (L - S) > i) m = 0;
    }
    return (1 - m) * F64_MIN;
  };
  const enc =
    c.is_decoder && c.add_cross_attention && inputs.encoder_hidden_states
      ? inputs.encoder_hidden_states
      : null;
  const Se = enc ? dims(enc)[1] : 0;
  const encX = enc ? Float64Array.from(flat(enc)) : null;
  const em = inputs.encoder_attention_mask ? flat(inputs.encoder_attention_mask) : null;
  const em3 = inputs.encoder_attention_mask && dims(inputs.encoder_attention_mask).length === 3;
  const crossMask = (b, i, j) =>
    em ? (1 - (em3 ? em[(b * S + i) * Se + j] : em[b * Se + j])) * F64_MIN : 0;

  let hm = null;
  if (inputs.head_mask) {
    const h = flat(inputs.head_mask);
    hm = (l, hh) => (h.length === nh ? h[hh] : h[l * nh + hh]);
  }

  const hidden = [];
  const attentions = [];
  const cross = [];
  const present = [];

  // K/V as [B, nh, len, d] arrays
  const heads = (y, rows) => {
    const out = new Float64Array(B * nh * rows * d);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < nh; h++)
        for (let s = 0; s < rows; s++)
          for (let t = 0; t < d; t++)
            out[((b * nh + h) * rows + s) * d + t] = y[(b * rows + s) * H + h * d + t];
    return out;
  };

  const attention = (layer, prefix, hs, kv, len, maskFn, posType, pastKV) => {
    const q = heads(
      linear64(hs, B * S, W(`${prefix}.self.query.weight`), W(`${prefix}.self.query.bias`), H, H),
      S,
    );
    const K = kv.K,
      V = kv.V;
    const probs = new Float64Array(B * nh * S * len);
    const ctx = new Float64Array(B * S * H);
    const Pm = c.max_position_embeddings;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < nh; h++) {
        for (let i = 0; i < S; i++) {
          const sc = new Float64Array(len);
          for (let j = 0; j < len; j++) {
            let s = 0;
            for (let t = 0; t < d; t++)
              s += q[((b * nh + h) * S + i) * d + t] * K[((b * nh + h) * len + j) * d + t];
            if (posType !== "absolute") {
              // HF: with a past, position_ids_l is the single value key_length - 1
              const l = pastKV ? len - 1 : i;
              const E = W(`${prefix}.self.distance_embedding.weight`);
              const idx = l - j + Pm - 1;
              let rq = 0,
                rk = 0;
              for (let t = 0; t < d; t++) {
                rq += q[((b * nh + h) * S + i) * d + t] * E[idx * d + t];
                rk += K[((b * nh + h) * len + j) * d + t] * E[idx * d + t];
              }
              s += rq + (posType === "relative_key_query" ? rk : 0);
            }
            sc[j] = s / Math.sqrt(d) + maskFn(b, i, j);
          }
          const mx = Math.max(...sc);
          let z = 0;
          for (let j = 0; j < len; j++) z += Math.exp(sc[j] - mx);
          for (let j = 0; j < len; j++) {
            let p = Math.exp(sc[j] - mx) / z;
            if (hm) p *= hm(layer, h);
            probs[((b * nh + h) * S + i) * len + j] = p;
          }
          for (let t = 0; t < d; t++) {
            let s = 0;
            for (let j = 0; j < len; j++)
              s += probs[((b * nh + h) * S + i) * len + j] * V[((b * nh + h) * len + j) * d + t];
            ctx[(b * S + i) * H + h * d + t] = s;
          }
        }
      }
    }
    const o = linear64(
      ctx,
      B * S,
      W(`${prefix}.output.dense.weight`),
      W(`${prefix}.output.dense.bias`),
      H,
      H,
    );
    for (let i = 0; i < o.length; i++) o[i] += hs[i];
    return {
      out: layerNorm64(
        o,
        B * S,
        H,
        W(`${prefix}.output.LayerNorm.weight`),
        W(`${prefix}.output.LayerNorm.bias`),
        c.layer_norm_eps,
      ),
      probs,
    };
  };

  for (let l = 0; l < c.num_hidden_layers; l++) {
    if (outHid) hidden.push({ data: x, shape: [B, S, H] });
    const pre = `encoder.layer.${l}`;
    const a = `${pre}.attention`;
    let K = heads(linear64(x, B * S, W(`${a}.self.key.weight`), W(`${a}.self.key.bias`), H, H), S);
    let V = heads(
      linear64(x, B * S, W(`${a}.self.value.weight`), W(`${a}.self.value.bias`), H, H),
      S,
    );
    if (past) {
      const cat = (pastT, now) => {
        const p = flat(pastT);
        const out = new Float64Array(B * nh * L * d);
        for (let bh = 0; bh < B * nh; bh++) {
          out.set(p.slice(bh * P * d, (bh + 1) * P * d), bh * L * d);
          out.set(now.subarray(bh * S * d, (bh + 1) * S * d), bh * L * d + P * d);
        }
        return out;
      };
      K = cat(past[l][0], K);
      V = cat(past[l][1], V);
    }
    const sa = attention(l, a, x, { K, V }, L, selfMask, c.position_embedding_type, !!past);
    if (outAtt) attentions.push({ data: sa.probs, shape: [B, nh, S, L] });
    let h = sa.out;
    const layerPresent = [
      { data: K, shape: [B, nh, L, d] },
      { data: V, shape: [B, nh, L, d] },
    ];
    if (enc) {
      const ca = `${pre}.crossattention`;
      let CK, CV;
      if (past && past[l].length === 4) {
        CK = Float64Array.from(flat(past[l][2]));
        CV = Float64Array.from(flat(past[l][3]));
      } else {
        CK = new Float64Array(B * nh * Se * d);
        CV = new Float64Array(B * nh * Se * d);
        const k2 = linear64(
          encX,
          B * Se,
          W(`${ca}.self.key.weight`),
          W(`${ca}.self.key.bias`),
          H,
          H,
        );
        const v2 = linear64(
          encX,
          B * Se,
          W(`${ca}.self.value.weight`),
          W(`${ca}.self.value.bias`),
          H,
          H,
        );
        for (let b = 0; b < B; b++)
          for (let hh = 0; hh < nh; hh++)
            for (let s = 0; s < Se; s++)
              for (let t = 0; t < d; t++) {
                CK[((b * nh + hh) * Se + s) * d + t] = k2[(b * Se + s) * H + hh * d + t];
                CV[((b * nh + hh) * Se + s) * d + t] = v2[(b * Se + s) * H + hh * d + t];
              }
      }
      const xa = attention(l, ca, h, { K: CK, V: CV }, Se, crossMask, "absolute", false);
      if (outAtt) cross.push({ data: xa.probs, shape: [B, nh, S, Se] });
      h = xa.out;
      layerPresent.push({ data: CK, shape: [B, nh, Se, d] }, { data: CV, shape: [B, nh, Se, d] });
    } else if (c.is_decoder && c.add_cross_attention && outAtt) {
      cross.push([layerPresent[0], layerPresent[1]]);
    }
    const I = c.intermediate_size;
    const inter = linear64(
      h,
      B * S,
      W(`${pre}.intermediate.dense.weight`),
      W(`${pre}.intermediate.dense.bias`),
      I,
      H,
    ).map(act);
    const o = linear64(
      inter,
      B * S,
      W(`${pre}.output.dense.weight`),
      W(`${pre}.output.dense.bias`),
      H,
      I,
    );
    for (let i = 0; i < o.length; i++) o[i] += h[i];
    x = layerNorm64(
      o,
      B * S,
      H,
      W(`${pre}.output.LayerNorm.weight`),
      W(`${pre}.output.LayerNorm.bias`),
      c.layer_norm_eps,
    );
    if (useCache) present.push(layerPresent);
  }
  if (outHid) hidden.push({ data: x, shape: [B, S, H] });
  let pooled = null;
  if (tensors.has("pooler.dense.weight")) {
    const first = new Float64Array(B * H);
    for (let b = 0; b < B; b++) first.set(x.subarray(b * S * H, b * S * H + H), b * H);
    pooled = {
      data: linear64(first, B, W("pooler.dense.weight"), W("pooler.dense.bias"), H, H).map(
        Math.tanh,
      ),
      shape: [B, H],
    };
  }
  return {
    last_hidden_state: { data: x, shape: [B, S, H] },
    pooler_output: pooled,
    hidden_states: outHid ? hidden : null,
    attentions: outAtt ? attentions : null,
    cross_attentions: outAtt && c.add_cross_attention ? cross : null,
    past_key_values: useCache ? present : null,
  };
}
