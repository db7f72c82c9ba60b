// simdbert's WebAssembly kernels. Every kernel takes byte offsets into the one linear memory
// (imported from JS as env.memory) and allocates nothing: the TypeScript layer lays out the
// weights once and plans one activation arena per request shape.
export {
  f32_pack_panels8,
  f32_pack_cols8,
  f32_gemm_4x8,
  f32_pack_rows4,
  f32_gemm_4x8_packed,
} from "./gemm";
export {
  q8_pack_weights,
  q8_pack_rows4,
  q8_gemm_packed,
  q8_packed_a_bytes,
  q8_packed_w_bytes,
  q8_qmin,
  q8_kernel,
  q8_use_kernel,
  q8_quantize_rows,
  q8_gather_rows,
  q8_gather_packed_rows,
} from "./gemm_q8";
export {
  f16_pack_panels8,
  f16_gemm_4x8_packed,
  f16_widen,
  f32_to_f16,
  f16_gather_rows,
} from "./gemm_f16";
export { f32_attn_scores, f32_attn_relative, f32_softmax_rows } from "./attention";
export { f32_mha, f32_mha_context_bytes } from "./mha";
export { f32_layernorm } from "./norm";
export { f32_activation, f32_activation1 } from "./activations";
export { f32_bert_embeddings } from "./embeddings";
export { bf16_to_f32, f16_to_f32 } from "./convert";

/** First byte after the module's static data: the TS allocator starts here. */
export function heap_base(): usize {
  return __heap_base;
}

/** 1 when this build uses relaxed SIMD (f32x4.relaxed_madd) in the GEMM. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
