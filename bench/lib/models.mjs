// The bench's models: BERT configs of the two shapes the issue names, random weights (HF's
// initialisation scale) written once as an HF checkpoint (config.json + model.safetensors) and as
// ONNX graphs of the same weights (model.onnx: f32; model-q8.onnx: transformers.js' q8 graph, see
// onnx.mjs), cached under bench/.cache/ (git-ignored).
import { existsSync, mkdirSync, writeFileSync, renameSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { bertOnnx } from "./onnx.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const CACHE = join(here, "..", ".cache");
const GENERATOR = "v1";

const base = {
  architectures: ["BertModel"],
  model_type: "bert",
  vocab_size: 30522,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: "absolute",
  use_cache: true,
  torch_dtype: "float32",
  transformers_version: "4.30.2",
};

export const MODELS = {
  "minilm-l6": {
    ...base,
    hidden_size: 384,
    num_hidden_layers: 6,
    num_attention_heads: 12,
    intermediate_size: 1536,
  },
  "bert-base": {
    ...base,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
  },
  // tiny: for the smoke run only
  tiny: {
    ...base,
    vocab_size: 1000,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 256,
  },
};

/** xorshift32 stream of uniform floats in [-1, 1). */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2147483648 - 1;
  };
}

/** The parameter list of BertModel (HF names and shapes, pooler included). */
export function parameterShapes(c) {
  const H = c.hidden_size,
    I = c.intermediate_size;
  const out = [
    ["embeddings.word_embeddings.weight", [c.vocab_size, H]],
    ["embeddings.position_embeddings.weight", [c.max_position_embeddings, H]],
    ["embeddings.token_type_embeddings.weight", [c.type_vocab_size, H]],
    ["embeddings.LayerNorm.weight", [H]],
    ["embeddings.LayerNorm.bias", [H]],
  ];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    for (const n of ["query", "key", "value"])
      out.push([`${p}.attention.self.${n}.weight`, [H, H]], [`${p}.attention.self.${n}.bias`, [H]]);
    out.push(
      [`${p}.attention.output.dense.weight`, [H, H]],
      [`${p}.attention.output.dense.bias`, [H]],
    );
    out.push(
      [`${p}.attention.output.LayerNorm.weight`, [H]],
      [`${p}.attention.output.LayerNorm.bias`, [H]],
    );
    out.push([`${p}.intermediate.dense.weight`, [I, H]], [`${p}.intermediate.dense.bias`, [I]]);
    out.push([`${p}.output.dense.weight`, [H, I]], [`${p}.output.dense.bias`, [H]]);
    out.push([`${p}.output.LayerNorm.weight`, [H]], [`${p}.output.LayerNorm.bias`, [H]]);
  }
  out.push(["pooler.dense.weight", [H, H]], ["pooler.dense.bias", [H]]);
  return out;
}

/** Random weights at HF's init scale (std 0.02); LayerNorm weights near 1. */
export function randomWeights(c, seed = 1234) {
  const r = rng(seed);
  const a = c.initializer_range * Math.sqrt(3);
  const weights = new Map();
  for (const [name, shape] of parameterShapes(c)) {
    const n = shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    if (name.endsWith("LayerNorm.weight")) for (let i = 0; i < n; i++) data[i] = 1 + 0.1 * r();
    else if (name.endsWith("LayerNorm.bias")) for (let i = 0; i < n; i++) data[i] = 0.05 * r();
    else for (let i = 0; i < n; i++) data[i] = a * r();
    weights.set(name, { shape, data });
  }
  return weights;
}

function safetensors(weights) {
  const header = {};
  let off = 0;
  for (const [n, t] of weights) {
    header[n] = { dtype: "F32", shape: t.shape, data_offsets: [off, off + t.data.length * 4] };
    off += t.data.length * 4;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  return [
    head,
    Buffer.from(json),
    ...[...weights.values()].map((t) =>
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    ),
  ];
}

function writeAtomic(path, chunks) {
  const tmp = `${path}.tmp${process.pid}`;
  writeFileSync(
    tmp,
    Buffer.concat(
      chunks.map((c) =>
        Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength),
      ),
    ),
  );
  renameSync(tmp, path);
}

/**
 * The model's directory (config.json, model.safetensors, model.onnx, model-q8.onnx), written on
 * first use. Returns { dir, config, onnx, onnxQ8, floats (parameter count) }.
 */
export function ensureModel(name) {
  const config = MODELS[name];
  const dir = join(CACHE, `${name}-${GENERATOR}`);
  const onnx = join(dir, "model.onnx");
  const onnxQ8 = join(dir, "model-q8.onnx");
  const floats = parameterShapes(config).reduce(
    (s, [, shape]) => s + shape.reduce((x, y) => x * y, 1),
    0,
  );
  if (!existsSync(onnx)) {
    mkdirSync(dir, { recursive: true });
    const weights = randomWeights(config);
    writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
    writeAtomic(join(dir, "model.safetensors"), safetensors(weights));
    writeAtomic(onnx, [bertOnnx(config, weights)]);
  }
  // written apart (a cache made before the q8 graph existed gets it on first use)
  if (!existsSync(onnxQ8))
    writeAtomic(onnxQ8, [bertOnnx(config, randomWeights(config), { q8: true })]);
  return { name, dir, config, onnx, onnxQ8, floats };
}

/** Deterministic inputs: token ids in [1, vocab), a padded tail in every other row (mask 0). */
export function makeInputs(config, batch, seq, seed = 7) {
  const r = rng(seed);
  const ids = new Array(batch * seq),
    mask = new Array(batch * seq),
    types = new Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    const pad = b % 2 === 1 ? Math.floor(seq / 4) : 0;
    for (let s = 0; s < seq; s++) {
      const i = b * seq + s;
      ids[i] = s === 0 ? 101 : Math.floor(((r() + 1) / 2) * (config.vocab_size - 1)) + 1;
      mask[i] = s < seq - pad ? 1 : 0;
      types[i] = s < seq / 2 ? 0 : 1;
    }
  }
  return { batch, seq, ids, mask, types };
}
