// What f32_mha (assembly/mha.ts) reads, as views of linear memory: the heads of Q, K, V and the
// context, the additive attention mask and the relative-position terms, grouped as the kernel
// reads them. Pointers are byte offsets, strides count floats. mhaContext flattens the views into
// the kernel's argument block (MhaContext, generated from the kernel's own declaration), so a
// field the kernel adds or renames is a type error here.
import { REL, type MhaContext } from "./kernel_bindings.js";

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

/**
 * Relative-position terms (HF's relative_key / relative_key_query) over the distance table
 * [2·maxPos - 1, d] at `table`; query i sits at position l0 + i·lstep, keys at 0 .. sk - 1.
 */
export interface RelativePositions {
  kind: "relative_key" | "relative_key_query";
  table: number;
  maxPos: number;
  l0: number;
  lstep: number;
}

/** f32_mha's arguments as the models give them (the engine adds its packing scratch). */
export interface MhaArgs {
  /** heads per sequence: pair bh is batch bh / heads, head bh % heads */
  heads: number;
  /** queries, keys, head size */
  sq: number;
  sk: number;
  d: number;
  q: HeadsView;
  k: HeadsView;
  v: HeadsView;
  relative: RelativePositions | null;
  mask: MaskView;
  /** head h's probabilities scaled by the float at headScales + 4·h (0: none) */
  headScales: number;
  /** 1/√d */
  scale: number;
  /**
   * The probabilities: pair bh's [sq, sk] at ptr + 4·bh·pairStride when kept (output_attentions);
   * with pairStride 0 they are not kept, and thread t uses [sq, sk] scratch at ptr + 4·t·scratch.
   */
  probs: { ptr: number; pairStride: number; scratch: number };
  /** the context: batch b, head h at ptr + 4·(b·batch + h·d), rows ld floats apart */
  context: { ptr: number; batch: number; ld: number };
}

/** The kernel's argument block for `x`, with `packBytes` of packing scratch per thread at `pack`. */
export function mhaContext(x: MhaArgs, pack: number, packBytes: number): MhaContext {
  const { q, k, v, relative: rel, mask, probs, context } = x;
  return {
    heads: x.heads,
    sq: x.sq,
    sk: x.sk,
    d: x.d,
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
    rel: !rel ? REL.NONE : rel.kind === "relative_key_query" ? REL.KEY_QUERY : REL.KEY,
    e: rel?.table ?? 0,
    maxPos: rel?.maxPos ?? 0,
    l0: rel?.l0 ?? 0,
    lstep: rel?.lstep ?? 0,
    mask: mask.ptr,
    maskB: mask.batch,
    ldm: mask.ld,
    headScales: x.headScales,
    scale: x.scale,
    probs: probs.ptr,
    probsStride: probs.pairStride,
    scratch: probs.scratch,
    ctx: context.ptr,
    ctxB: context.batch,
    ldc: context.ld,
    pack,
    packBytes,
  };
}
