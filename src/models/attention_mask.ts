// HF's attention-mask helpers (transformers 4.30.2, modeling_utils.ModuleUtilsMixin), writing the
// additive masks the attention kernel reads straight into the arena:
//   getExtendedAttentionMask  the self-attention mask: [batch, keys] (broadcast over the queries)
//                             or [batch, seq, keys]; a decoder's [batch, keys] mask also gets the
//                             causal rule (ones over the past, lower-triangular after it)
//   invertAttentionMask       the cross-attention mask over the encoder's states
// Both give (1 - mask)·finfo(float32).min: 0 where a key is attended, the most negative float
// where it is not.
import type { MaskView } from "../runtime/attention.js";
import { f32At, f32Index } from "../runtime/memory.js";
import type { Dense } from "./inputs.js";

/** torch.finfo(torch.float32).min */
export const F32_MIN = -3.4028234663852886e38;

/** Rows of an extended mask per batch: one per query ([batch, seq, keys] masks, decoders), or one. */
export function extendedMaskRows(
  mask: Dense<Float32Array> | null,
  S: number,
  isDecoder: boolean,
): number {
  return (mask && mask.shape.length === 3) || isDecoder ? S : 1;
}

/**
 * HF's get_extended_attention_mask for a call of B sequences of S new tokens after P cached ones
 * (L = P + S keys): written at `ptr` (B·rows·L floats, rows from extendedMaskRows). With no mask
 * (and not a decoder) there is nothing to write: every key is attended.
 */
export function getExtendedAttentionMask(
  f32: Float32Array,
  ptr: number,
  attentionMask: Dense<Float32Array> | null,
  B: number,
  S: number,
  P: number,
  isDecoder: boolean,
): MaskView {
  const L = P + S;
  const rows = extendedMaskRows(attentionMask, S, isDecoder);
  const am = attentionMask;
  for (let b = 0; b < B; b++) {
    for (let r = 0; r < rows; r++) {
      const row = f32Index(f32At(ptr, (b * rows + r) * L));
      for (let j = 0; j < L; j++) {
        let v: number;
        if (am && am.shape.length === 3) v = am.data[(b * S + r) * L + j];
        else {
          v = am ? am.data[b * L + j] : 1;
          // create_extended_attention_mask_for_decoder: ones over the past, causal after it
          if (isDecoder && j >= P && j - P > r) v = 0;
        }
        f32[row + j] = (1 - v) * F32_MIN;
      }
    }
  }
  return { ptr, ld: rows === 1 ? 0 : L, batch: rows * L };
}

/**
 * HF's invert_attention_mask for the encoder's [B, Se] or [B, S, Se] mask, written at `ptr` (as
 * many floats as the mask has).
 */
export function invertAttentionMask(
  f32: Float32Array,
  ptr: number,
  encoderAttentionMask: Dense<Float32Array>,
  Se: number,
): MaskView {
  const em = encoderAttentionMask.data;
  const at = f32Index(ptr);
  for (let i = 0; i < em.length; i++) f32[at + i] = (1 - em[i]) * F32_MIN;
  const perQuery = encoderAttentionMask.shape.length === 3;
  const rows = perQuery ? encoderAttentionMask.shape[1] : 1;
  return { ptr, ld: perQuery ? Se : 0, batch: rows * Se };
}
