// What f32_mha (assembly/mha.ts) reads, as views of linear memory: the heads of Q, K, V and the
// context, and the additive attention mask. Pointers are byte offsets, strides count floats.

/** A [batch, heads, rows, head_dim] tensor read in place: element (b, h, i, t) at ptr + 4·(b·batch + h·head + i·ld + t). */
export interface HeadsView {
  ptr: number;
  batch: number;
  head: number;
  ld: number;
}

/**
 * An additive mask in linear memory (0 where a key is attended, finfo(f32).min where it is not):
 * batch b's rows at ptr + 4·b·batch, one row per query `ld` floats apart (ld 0: one row for all).
 */
export interface MaskView {
  ptr: number;
  ld: number;
  batch: number;
}

/** No mask: every key attended. */
export const NO_MASK: Readonly<MaskView> = { ptr: 0, ld: 0, batch: 0 };
