// The engines of the accuracy bench (bench/q8_accuracy.mjs) and test: simdbert on a checkpoint of
// the given precision, and transformers.js' q8 graph in onnxruntime-web.
import { BertModel, BufferSource, convertCheckpoint, writeSafetensors } from "../../dist/index.js";
import { bertOnnx } from "./onnx.mjs";
import { sentenceEmbeddings } from "./accuracy.mjs";

/** A q8 or fp16 checkpoint file (simdbert quantize's format) of f32 weights, in memory. */
export async function lowPrecisionFile(weights, dtype) {
  const parts = [];
  await convertCheckpoint(new BufferSource(writeSafetensors(weights)), dtype, async (b) => {
    parts.push(Uint8Array.from(b));
  });
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * simdbert's sentence embeddings of the texts with weights in `dtype` (the dtype option), loaded
 * from a checkpoint in that precision (`simdbert quantize`'s format), or with from: "f32" from the
 * f32 checkpoint (quantized at load); the plain build unless relaxed. `weightBytes`: the engine's
 * weight memory.
 */
export async function runSimdbert(
  config,
  weights,
  texts,
  dtype,
  { from = dtype, relaxed = false } = {},
) {
  const file =
    from === "fp32" || from === "f32"
      ? writeSafetensors(weights)
      : await lowPrecisionFile(weights, from);
  const model = await BertModel.fromPretrained(
    { "config.json": config, "model.safetensors": file },
    { warn: () => {}, relaxedSimd: relaxed, ...(dtype === "fp32" ? {} : { dtype }) },
  );
  const out = await model.forward(texts);
  return {
    embeddings: sentenceEmbeddings(
      out.last_hidden_state.data,
      texts.attention_mask,
      config.hidden_size,
    ),
    hidden: Float32Array.from(out.last_hidden_state.data),
    weightBytes: model.engine.weightBytes,
  };
}

/** last_hidden_state of transformers.js' q8 graph of the weights, run by onnxruntime-web (wasm, one thread). */
export async function runOrtQ8(config, weights, texts) {
  const ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  const session = await ort.InferenceSession.create(bertOnnx(config, weights, { q8: true }), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const n = texts.input_ids.length,
    seq = texts.input_ids[0].length;
  const t = (a) => new ort.Tensor("int64", BigInt64Array.from(a.flat().map(BigInt)), [n, seq]);
  const out = await session.run({
    input_ids: t(texts.input_ids),
    attention_mask: t(texts.attention_mask),
    token_type_ids: t(texts.token_type_ids),
  });
  const h = out.last_hidden_state.data;
  await session.release?.();
  return h;
}
