// Accuracy of low-precision weights on sentence embeddings (mean pooled, normalized), against a
// float64 BertModel (test/support/reference_bert.mjs) on the f32 weights:
//   cos:  the largest 1 - cos(reference, candidate) over the texts;
//   pair: the largest change of any pairwise cosine similarity between two texts (what a search
//         ranks by).
// Candidates: simdbert's q8 and fp16 checkpoints run by the engine, the same numerics simulated in
// float64 (weights per row, activations per row, symmetric int8 or asymmetric uint8), and
// transformers.js' q8 graph (bench/lib/onnx.mjs, { q8: true }) run by onnxruntime-web and
// simulated in float64 (weights per tensor, activations per tensor as DynamicQuantizeLinear).
//
// Models: random BERTs with trained-like scales (Linear weights ~N(0, 1/in) with per-row norms
// spread by exp(N(0, 0.3²)), word embeddings ~N(0, 0.05²)), and the same with BERT-like outlier
// dimensions: a few hidden channels whose LayerNorm weight (and bias) is about ten times the
// others', in every LayerNorm, as trained BERTs have.
import { bertForward64 } from "../../test/support/reference_bert.mjs";
import { quantizePerTensor } from "./onnx.mjs";

/** mulberry32 uniform [0, 1) and a Box-Muller normal. */
export function rng(seed) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  u.normal = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return u;
}

export const SHAPES = {
  // small enough for npm test's float64 references
  small: {
    vocab_size: 500,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 160,
    max_position_embeddings: 64,
  },
  "minilm-l6": {
    vocab_size: 30522,
    hidden_size: 384,
    num_hidden_layers: 6,
    num_attention_heads: 12,
    intermediate_size: 1536,
    max_position_embeddings: 512,
  },
};

/** A BertModel config of a shape. */
export function shapeConfig(shape) {
  return {
    architectures: ["BertModel"],
    model_type: "bert",
    type_vocab_size: 2,
    hidden_act: "gelu",
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    position_embedding_type: "absolute",
    ...SHAPES[shape],
  };
}

/** Outlier channels of a hidden size: fixed, a few (as bert-base's 308 and 381). */
export function outlierChannels(H) {
  return [Math.floor(H * 0.13), Math.floor(H * 0.61), H - 3];
}

/** Random weights (Map name -> {shape, data}); outliers: BERT-like outlier dimensions. */
export function accuracyWeights(config, { seed = 1, outliers = false } = {}) {
  const r = rng(seed);
  const H = config.hidden_size,
    I = config.intermediate_size;
  const m = new Map();
  const normal = (n, std) => {
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = std * r.normal();
    return d;
  };
  const linear = (name, out, k) => {
    const d = new Float32Array(out * k);
    for (let o = 0; o < out; o++) {
      const rowStd = Math.exp(0.3 * r.normal()) / Math.sqrt(k);
      for (let j = 0; j < k; j++) d[o * k + j] = rowStd * r.normal();
    }
    m.set(`${name}.weight`, { shape: [out, k], data: d });
    m.set(`${name}.bias`, { shape: [out], data: normal(out, 0.05) });
  };
  const special = outliers ? outlierChannels(H) : [];
  const layerNorm = (name) => {
    const w = new Float32Array(H),
      b = normal(H, 0.05);
    for (let j = 0; j < H; j++) w[j] = 0.9 + 0.1 * r.normal();
    special.forEach((c, i) => {
      w[c] = 10 * (0.9 + 0.1 * r.normal());
      b[c] = (i % 2 ? 1 : -1) * 2;
    });
    m.set(`${name}.weight`, { shape: [H], data: w });
    m.set(`${name}.bias`, { shape: [H], data: b });
  };
  m.set("embeddings.word_embeddings.weight", {
    shape: [config.vocab_size, H],
    data: normal(config.vocab_size * H, 0.05),
  });
  m.set("embeddings.position_embeddings.weight", {
    shape: [config.max_position_embeddings, H],
    data: normal(config.max_position_embeddings * H, 0.02),
  });
  m.set("embeddings.token_type_embeddings.weight", {
    shape: [config.type_vocab_size, H],
    data: normal(config.type_vocab_size * H, 0.02),
  });
  layerNorm("embeddings.LayerNorm");
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    for (const n of ["query", "key", "value"]) linear(`${p}.attention.self.${n}`, H, H);
    linear(`${p}.attention.output.dense`, H, H);
    layerNorm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, I, H);
    linear(`${p}.output.dense`, H, I);
    layerNorm(`${p}.output.LayerNorm`);
  }
  linear("pooler.dense", H, H);
  return m;
}

/** n "texts": [CLS] random word ids [SEP], lengths spread over [minLen, seq], padded to seq. */
export function accuracyTexts(config, n, seq, seed = 3) {
  const r = rng(seed);
  const ids = [],
    mask = [],
    types = [];
  const minLen = Math.min(seq, 5);
  for (let i = 0; i < n; i++) {
    const len = n === 1 ? seq : minLen + Math.round(((seq - minLen) * i) / (n - 1));
    const row = [101 % config.vocab_size];
    for (let s = 1; s < len - 1; s++) row.push(1 + Math.floor(r() * (config.vocab_size - 1)));
    row.push(102 % config.vocab_size);
    ids.push([...row, ...new Array(seq - row.length).fill(0)]);
    mask.push(Array.from({ length: seq }, (_, s) => (s < len ? 1 : 0)));
    types.push(new Array(seq).fill(0));
  }
  return { input_ids: ids, attention_mask: mask, token_type_ids: types };
}

/** Mean pooled (by the mask), L2-normalized rows of last_hidden_state [n, seq, H] (any array type). */
export function sentenceEmbeddings(hidden, mask, H) {
  const n = mask.length,
    seq = mask[0].length;
  const out = [];
  for (let i = 0; i < n; i++) {
    const e = new Float64Array(H);
    let count = 0;
    for (let s = 0; s < seq; s++) {
      if (!mask[i][s]) continue;
      count++;
      for (let j = 0; j < H; j++) e[j] += hidden[(i * seq + s) * H + j];
    }
    let norm = 0;
    for (let j = 0; j < H; j++) norm += (e[j] / count) ** 2;
    norm = Math.sqrt(norm);
    out.push(e.map((v) => v / count / norm));
  }
  return out;
}

const dot = (a, b) => a.reduce((s, v, j) => s + v * b[j], 0);

/** The two figures of a candidate's embeddings against the reference's. */
export function compare(ref, got) {
  let cos = 0,
    pair = 0;
  for (let i = 0; i < ref.length; i++) {
    cos = Math.max(cos, 1 - dot(ref[i], got[i]));
    for (let j = i + 1; j < ref.length; j++)
      pair = Math.max(pair, Math.abs(dot(ref[i], ref[j]) - dot(got[i], got[j])));
  }
  return { cos, pair };
}

const rint = (x) => {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

// ------------------------------------------------------------------ float64 simulations

/**
 * Weights with every 2-D "*.weight" replaced by its per-row q8 rounding (simdbert's format: the
 * Linear weights and the word embeddings; the position and token-type tables stay f32).
 */
export function perRowWeights(weights) {
  const out = new Map();
  for (const [n, t] of weights) {
    if (t.shape.length !== 2 || /position_embeddings|token_type_embeddings/.test(n)) {
      out.set(n, t);
      continue;
    }
    const [rows, cols] = t.shape;
    const d = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      let m = 0;
      for (let j = 0; j < cols; j++) m = Math.max(m, Math.abs(t.data[r * cols + j]));
      const s = m ? Math.fround(m / 127) : 1;
      for (let j = 0; j < cols; j++)
        d[r * cols + j] = Math.fround(
          Math.max(-127, Math.min(127, rint(t.data[r * cols + j] / s))) * s,
        );
    }
    out.set(n, { shape: t.shape, data: d });
  }
  return out;
}

/** Weights with every 2-D "*.weight" replaced by its per-tensor q8 rounding (onnxruntime's QInt8). */
export function perTensorWeights(weights) {
  const out = new Map();
  for (const [n, t] of weights) {
    if (t.shape.length !== 2) {
      out.set(n, t);
      continue;
    }
    const { q, scale } = quantizePerTensor(t.data);
    out.set(n, { shape: t.shape, data: Float32Array.from(q, (v) => Math.fround(v * scale)) });
  }
  return out;
}

/** Activation quantizers ([rows, k] float64 -> its dequantized rounding). */
export const ACTIVATIONS = {
  /** per row, symmetric int8: s = max|x| / 127 (not used by the kernels: worse with outliers) */
  rowSym(x, rows, k) {
    const y = new Float64Array(rows * k);
    for (let r = 0; r < rows; r++) {
      let m = 0;
      for (let j = 0; j < k; j++) m = Math.max(m, Math.abs(x[r * k + j]));
      const s = Math.fround(m / 127) || 1;
      for (let j = 0; j < k; j++)
        y[r * k + j] = Math.max(-127, Math.min(127, rint(x[r * k + j] / s))) * s;
    }
    return y;
  },
  /** per row, asymmetric, 256 levels (the plain build's kernels: -128..127 with a zero point) */
  rowAsym(x, rows, k) {
    const y = new Float64Array(rows * k);
    for (let r = 0; r < rows; r++) dql(x, r * k, k, y, 255);
    return y;
  },
  /** per row, asymmetric, 128 levels (the relaxed build's kernels: 0..127 with a zero point) */
  rowAsym7(x, rows, k) {
    const y = new Float64Array(rows * k);
    for (let r = 0; r < rows; r++) dql(x, r * k, k, y, 127);
    return y;
  },
  /** per tensor, asymmetric uint8: DynamicQuantizeLinear on the whole input */
  tensorAsym(x, rows, k) {
    const y = new Float64Array(rows * k);
    dql(x, 0, rows * k, y, 255);
    return y;
  },
};

/**
 * ONNX DynamicQuantizeLinear's rule (levels 255: uint8) on x[at, at + n), dequantized into y: the
 * range includes 0, scale (max - min) / levels, zero point round(-min / scale).
 */
function dql(x, at, n, y, levels) {
  let lo = 0,
    hi = 0;
  for (let i = at; i < at + n; i++) {
    lo = Math.min(lo, x[i]);
    hi = Math.max(hi, x[i]);
  }
  const s = Math.fround((hi - lo) / levels) || 1;
  const zp = Math.max(0, Math.min(levels, rint(-lo / s)));
  for (let i = at; i < at + n; i++)
    y[i] = (Math.max(0, Math.min(levels, rint(x[i] / s) + zp)) - zp) * s;
}

const wide = new WeakMap();
/** linear64 with the same sums in a different order (4 partial sums): several times faster. */
function fastLinear64(x, rows, W, b, n, k) {
  let w = wide.get(W);
  if (!w) wide.set(W, (w = Float64Array.from(W)));
  const y = new Float64Array(rows * n);
  const k4 = k & ~3;
  for (let r = 0; r < rows; r++) {
    const xo = r * k;
    for (let j = 0; j < n; j++) {
      const wo = j * k;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      let t = 0;
      for (; t < k4; t += 4) {
        s0 += x[xo + t] * w[wo + t];
        s1 += x[xo + t + 1] * w[wo + t + 1];
        s2 += x[xo + t + 2] * w[wo + t + 2];
        s3 += x[xo + t + 3] * w[wo + t + 3];
      }
      for (; t < k; t++) s0 += x[xo + t] * w[wo + t];
      y[r * n + j] = (b ? b[j] : 0) + (s0 + s1 + (s2 + s3));
    }
  }
  return y;
}

/** float64 sentence embeddings of the texts, with optional activation quantization. */
export function embeddings64(config, weights, texts, linearInput) {
  const out = bertForward64(config, weights, texts, { linearInput, linear: fastLinear64 });
  return sentenceEmbeddings(out.last_hidden_state.data, texts.attention_mask, config.hidden_size);
}

/** The simulations: name -> [weights transform, activation quantizer]. */
export const SIMULATIONS = {
  "simdbert q8 plain build (8-bit asym rows), float64 sim": [perRowWeights, ACTIVATIONS.rowAsym],
  "simdbert q8 relaxed build (7-bit asym rows), float64 sim": [perRowWeights, ACTIVATIONS.rowAsym7],
  "simdbert q8 weights only (f32 activations), float64 sim": [perRowWeights, null],
  "per-row q8 with symmetric int8 rows (not used), float64 sim": [
    perRowWeights,
    ACTIVATIONS.rowSym,
  ],
  "transformers.js q8 graph, float64 sim": [perTensorWeights, ACTIVATIONS.tensorAsym],
};
