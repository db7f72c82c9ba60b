// A minimal ONNX writer (protobuf by hand: no dependency) and the BERT encoder graph as
// transformers' ONNX export lays it out (opset 17): Gather embeddings, LayerNormalization, MatMul +
// Add, Reshape/Transpose attention heads, Softmax, GELU as its Erf decomposition (which
// onnxruntime fuses into Gelu/BiasGelu under its default graph optimizations), pooler with Tanh.
// The weights are the same tensors as the safetensors checkpoint (Linear weights transposed to
// [in, out], as torch's exporter writes them).
//
// With { q8: true } the graph is transformers.js' q8 model: what onnxruntime's quantize_dynamic
// (IntegerOps, weight_type QInt8, per_channel False, reduce_range False) makes of that export.
// Each weight MatMul becomes DynamicQuantizeLinear of its input (uint8, one scale and zero point
// for the whole tensor, computed at run time; shared by Q/K/V, which read the same input) ->
// MatMulInteger with the int8 weight (one symmetric scale per tensor, zero point 0) -> Cast to
// float -> Mul by x_scale·w_scale (onnxruntime fuses the four into DynamicQuantizeMatMul); every
// embedding table is int8 (one scale per tensor) read by Gather/Slice + DequantizeLinear. The
// attention products, softmax, LayerNorm and GELU stay f32.

// ---------------------------------------------------------------- protobuf encoding

class Writer {
  constructor() {
    this.parts = [];
    this.length = 0;
  }
  bytes(b) {
    this.parts.push(b);
    this.length += b.length;
  }
  varint(v) {
    const out = [];
    let n = BigInt.asUintN(64, BigInt(v));
    do {
      let byte = Number(n & 0x7fn);
      n >>= 7n;
      if (n) byte |= 0x80;
      out.push(byte);
    } while (n);
    this.bytes(Uint8Array.from(out));
  }
  tag(field, wire) {
    this.varint((field << 3) | wire);
  }
  int(field, v) {
    this.tag(field, 0);
    this.varint(v);
  }
  float(field, v) {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes(b);
  }
  string(field, s) {
    this.blob(field, new TextEncoder().encode(s));
  }
  blob(field, b) {
    this.tag(field, 2);
    this.varint(b.length);
    this.bytes(b);
  }
  message(field, w) {
    this.tag(field, 2);
    this.varint(w.length);
    for (const p of w.parts) this.bytes(p);
  }
  /** Concatenation of every part (copying). */
  finish() {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

const FLOAT = 1;
const INT8 = 3;
const INT64 = 7;

/** x rounded to the nearest integer, ties to even (numpy's rint, ONNX's rounding). */
function rint(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * onnxruntime's per-tensor symmetric int8 quantization of a weight (QInt8, symmetric: range
 * -127..127, zero point 0): scale = max|w| / 127 (f32), q = clip(rint(w / scale)).
 */
export function quantizePerTensor(data) {
  let m = 0;
  for (let i = 0; i < data.length; i++) m = Math.max(m, Math.abs(data[i]));
  const scale = Math.fround(m / 127) || 1;
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) q[i] = Math.max(-127, Math.min(127, rint(data[i] / scale)));
  return { q, scale };
}

function tensorProto(name, dims, type, raw) {
  const w = new Writer();
  for (const d of dims) w.int(1, d);
  w.int(2, type);
  w.string(8, name);
  w.blob(9, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
  return w;
}

function attribute(name, value) {
  const w = new Writer();
  w.string(1, name);
  if (value instanceof Float) {
    w.float(2, value.v);
    w.int(20, 1); // FLOAT
  } else if (typeof value === "number" && Number.isInteger(value)) {
    w.int(3, value);
    w.int(20, 2); // INT
  } else if (Array.isArray(value)) {
    for (const v of value) w.int(8, v);
    w.int(20, 7); // INTS
  } else if (value && value.tensor) {
    w.message(5, value.tensor);
    w.int(20, 4); // TENSOR
  } else {
    throw new Error(`unsupported attribute ${name}`);
  }
  return w;
}

class Float {
  constructor(v) {
    this.v = v;
  }
}
const f = (v) => new Float(v);

function valueInfo(name, type, dims) {
  const shape = new Writer();
  for (const d of dims) {
    const dim = new Writer();
    if (typeof d === "number") dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tt = new Writer();
  tt.int(1, type);
  tt.message(2, shape);
  const tp = new Writer();
  tp.message(1, tt);
  const w = new Writer();
  w.string(1, name);
  w.message(2, tp);
  return w;
}

class Graph {
  constructor() {
    this.nodes = [];
    this.inits = [];
    this.inputs = [];
    this.outputs = [];
    this.n = 0;
  }
  /** Adds a node; returns its output names (one unless `outputs` > 1). */
  op(type, inputs, attrs = {}, outputs = 1) {
    const outs = Array.from({ length: outputs }, () => `t${this.n++}`);
    const w = new Writer();
    for (const i of inputs) w.string(1, i);
    for (const o of outs) w.string(2, o);
    w.string(3, `${type}_${this.n}`);
    w.string(4, type);
    for (const [k, v] of Object.entries(attrs)) w.message(5, attribute(k, v));
    this.nodes.push(w);
    return outputs === 1 ? outs[0] : outs;
  }
  init(name, dims, data, type = FLOAT) {
    this.inits.push(tensorProto(name, dims, type, data));
    return name;
  }
  int64(name, values) {
    return this.init(name, [values.length], BigInt64Array.from(values.map(BigInt)), INT64);
  }
  scalar(name, v) {
    return this.init(name, [], Float32Array.of(v));
  }
  /** Renames a value by an Identity node (graph outputs need fixed names). */
  output(name, value, type, dims) {
    const w = new Writer();
    w.string(1, value);
    w.string(2, name);
    w.string(3, `out_${name}`);
    w.string(4, "Identity");
    this.nodes.push(w);
    this.outputs.push(valueInfo(name, type, dims));
  }
  model() {
    const g = new Writer();
    for (const n of this.nodes) g.message(1, n);
    g.string(2, "bert");
    for (const t of this.inits) g.message(5, t);
    for (const i of this.inputs) g.message(11, i);
    for (const o of this.outputs) g.message(12, o);
    const opset = new Writer();
    opset.string(1, "");
    opset.int(2, 17);
    const m = new Writer();
    m.int(1, 8); // IR version 8 (opset 17)
    m.string(2, "simdbert-bench");
    m.message(7, g);
    m.message(8, opset);
    return m.finish();
  }
}

/**
 * The ONNX model of BertModel with the given config and weights (Map name -> {shape, data},
 * HF names). Inputs input_ids, attention_mask, token_type_ids ([batch, seq] int64); outputs
 * last_hidden_state and pooler_output.
 */
export function bertOnnx(config, weights, { q8 = false } = {}) {
  const H = config.hidden_size;
  const heads = config.num_attention_heads;
  const d = H / heads;
  const eps = config.layer_norm_eps;
  const W = (n) => {
    const t = weights.get(n);
    if (!t) throw new Error(`missing ${n}`);
    return t;
  };
  const g = new Graph();
  g.inputs.push(valueInfo("input_ids", INT64, ["batch", "seq"]));
  g.inputs.push(valueInfo("attention_mask", INT64, ["batch", "seq"]));
  g.inputs.push(valueInfo("token_type_ids", INT64, ["batch", "seq"]));
  const param = (n) => g.init(n, W(n).shape, W(n).data);
  // Linear weight [out, in] -> MatMul B [in, out]
  const linearWeight = (n) => {
    const t = W(n);
    const [o, i] = t.shape;
    const tr = new Float32Array(o * i);
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) tr[c * o + r] = t.data[r * i + c];
    return g.init(`${n}.T`, [i, o], tr);
  };
  // q8: an int8 weight [in, out] with its per-tensor scale and zero point
  const q8Weight = (n) => {
    const t = W(n);
    const [o, i] = t.shape;
    const { q, scale } = quantizePerTensor(t.data);
    const tr = new Int8Array(o * i);
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) tr[c * o + r] = q[r * i + c];
    return {
      w: g.init(`${n}.q8`, [i, o], tr, INT8),
      scale: g.scalar(`${n}.scale`, scale),
      zero: g.init(`${n}.zero`, [], Int8Array.of(0), INT8),
    };
  };
  const dynamic = new Map(); // input name -> [x_q, x_scale, x_zero]: Q/K/V share one quantization
  const quantizeInput = (x) => {
    if (!dynamic.has(x)) dynamic.set(x, g.op("DynamicQuantizeLinear", [x], {}, 3));
    return dynamic.get(x);
  };
  const linear = (x, prefix) => {
    if (!q8)
      return g.op("Add", [
        g.op("MatMul", [x, linearWeight(`${prefix}.weight`)]),
        param(`${prefix}.bias`),
      ]);
    const [xq, xs, xz] = quantizeInput(x);
    const w = q8Weight(`${prefix}.weight`);
    const acc = g.op("MatMulInteger", [xq, w.w, xz, w.zero]);
    const y = g.op("Mul", [g.op("Cast", [acc], { to: FLOAT }), g.op("Mul", [xs, w.scale])]);
    return g.op("Add", [y, param(`${prefix}.bias`)]);
  };
  // an embedding table, int8 + DequantizeLinear after the read in q8
  const table = (n, read) => {
    if (!q8) return read(param(n));
    const { q, scale } = quantizePerTensor(W(n).data);
    const tq = g.init(`${n}.q8`, W(n).shape, q, INT8);
    return g.op("DequantizeLinear", [
      read(tq),
      g.scalar(`${n}.scale`, scale),
      g.init(`${n}.zero`, [], Int8Array.of(0), INT8),
    ]);
  };
  const layerNorm = (x, prefix) =>
    g.op("LayerNormalization", [x, param(`${prefix}.weight`), param(`${prefix}.bias`)], {
      axis: -1,
      epsilon: f(eps),
    });

  // embeddings
  const words = table("embeddings.word_embeddings.weight", (t) =>
    g.op("Gather", [t, "input_ids"], { axis: 0 }),
  );
  const types = table("embeddings.token_type_embeddings.weight", (t) =>
    g.op("Gather", [t, "token_type_ids"], { axis: 0 }),
  );
  const seqLen = g.op("Shape", ["input_ids"], { start: 1, end: 2 });
  const positions = table("embeddings.position_embeddings.weight", (t) =>
    g.op("Slice", [t, g.int64("zero1", [0]), seqLen, g.int64("axis0", [0])]),
  );
  let hidden = layerNorm(
    g.op("Add", [g.op("Add", [words, types]), positions]),
    "embeddings.LayerNorm",
  );

  // extended attention mask: (1 - mask)·finfo(f32).min, [batch, 1, 1, seq]
  const maskF = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", g.int64("axes12", [1, 2])])], {
    to: FLOAT,
  });
  const extMask = g.op("Mul", [
    g.op("Sub", [g.scalar("one", 1), maskF]),
    g.scalar("f32min", -3.4028234663852886e38),
  ]);

  const headsShape = g.int64("heads_shape", [0, 0, heads, d]);
  const mergedShape = g.int64("merged_shape", [0, 0, H]);
  const scale = g.scalar("sqrt_d", Math.sqrt(d));
  const toHeads = (x) =>
    g.op("Transpose", [g.op("Reshape", [x, headsShape])], { perm: [0, 2, 1, 3] });
  const half = g.scalar("half", 0.5);
  const one = "one";
  const sqrt2 = g.scalar("sqrt2", Math.SQRT2);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    const q = toHeads(linear(hidden, `${p}.attention.self.query`));
    const kT = g.op(
      "Transpose",
      [g.op("Reshape", [linear(hidden, `${p}.attention.self.key`), headsShape])],
      { perm: [0, 2, 3, 1] },
    );
    const v = toHeads(linear(hidden, `${p}.attention.self.value`));
    const scores = g.op("Add", [g.op("Div", [g.op("MatMul", [q, kT]), scale]), extMask]);
    const probs = g.op("Softmax", [scores], { axis: -1 });
    const ctx = g.op("Reshape", [
      g.op("Transpose", [g.op("MatMul", [probs, v])], { perm: [0, 2, 1, 3] }),
      mergedShape,
    ]);
    const attnOut = layerNorm(
      g.op("Add", [linear(ctx, `${p}.attention.output.dense`), hidden]),
      `${p}.attention.output.LayerNorm`,
    );
    const inter = linear(attnOut, `${p}.intermediate.dense`);
    // gelu(x) = x·0.5·(1 + erf(x/√2)), as torch exports it
    const gelu = g.op("Mul", [
      g.op("Mul", [inter, half]),
      g.op("Add", [g.op("Erf", [g.op("Div", [inter, sqrt2])]), one]),
    ]);
    hidden = layerNorm(
      g.op("Add", [linear(gelu, `${p}.output.dense`), attnOut]),
      `${p}.output.LayerNorm`,
    );
  }
  g.output("last_hidden_state", hidden, FLOAT, ["batch", "seq", H]);
  const first = g.op("Gather", [hidden, g.init("index0", [], BigInt64Array.of(0n), INT64)], {
    axis: 1,
  });
  g.output("pooler_output", g.op("Tanh", [linear(first, "pooler.dense")]), FLOAT, ["batch", H]);
  return g.model();
}
