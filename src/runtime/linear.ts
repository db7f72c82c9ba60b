// A Linear layer's weights as the GEMM reads them: packed once at load, multiplied many times.
//
// PackedLinear is the only way to a weight GEMM: model code calls `linear.forward(engine, ...)`,
// the engine dispatches on the weights' dtype and layout (Engine.linear). A new weight format
// (fp16, int8) is a new dtype here, its packing in `pack`, and its kernels in Engine.linear;
// nothing in src/models changes.
//
// Layout "panels8" (f32): HF's weight W[n, k] (row-major, [out, in]) as ceil(n/8) panels of 8 rows
// of W, each panel k steps of 8 floats: W[8p + j, kk] at ptr + p·panelBytes + kk·32 + j·4, zero
// past n. The micro-kernel (f32_gemm_4x8 / f32_gemm_4x8_packed) streams 32 contiguous bytes per k
// step. The bias, when there is one, is padded to whole panels.
import type { Engine } from "./engine.js";
import { F32_BYTES } from "./memory.js";

/** Columns of C per panel of packed weights (the micro-kernel's tile width: 8 f32 lanes). */
export const PANEL_COLS = 8;
/** Rows of A per micro-tile (f32_gemm_4x8, f32_pack_rows4). */
export const TILE_ROWS = 4;
/** Bytes between consecutive k steps inside one panel of packed f32 weights. */
export const PANEL_K_BYTES = PANEL_COLS * F32_BYTES;

/** Element types of packed weights. "f32" today; low-precision formats are added here. */
export type LinearDType = "f32";
/** How the weights are laid out for their kernels (see the file header). */
export type LinearLayout = "panels8";

/** What the GEMM does after the products (all optional). */
export interface LinearEpilogue {
  /** R added to the result (may be y itself: an in-place residual), rows `ldr` floats apart */
  residual?: number;
  ldr?: number;
  /** activation id (ACTIVATIONS in config.ts; 0: none), applied after bias and residual */
  act?: number;
  /** a bias other than the layer's own (n floats, padded to panels), e.g. a tied decoder's */
  bias?: number;
}

/** y[m, n] = act(x[m, k]·Wᵀ + b (+ residual)) over packed weights W[n, k]. */
export class PackedLinear {
  readonly kind = "packed";
  /** byte offset of the packed weights (set when they are laid out) */
  ptr = 0;
  /** byte offset of the bias padded to whole panels (0: no bias) */
  bias = 0;

  constructor(
    /** output features (HF's out_features: rows of W) */
    readonly n: number,
    /** input features (HF's in_features) */
    readonly k: number,
    readonly dtype: LinearDType = "f32",
    readonly layout: LinearLayout = "panels8",
  ) {}

  /** Panels of PANEL_COLS output columns. */
  get panels(): number {
    return Math.ceil(this.n / PANEL_COLS);
  }
  /** Bytes between consecutive panels. */
  get panelBytes(): number {
    return this.k * PANEL_K_BYTES;
  }
  /** Bytes of the packed weights. */
  get weightBytes(): number {
    return this.panels * this.panelBytes;
  }
  /** Bytes of the padded bias. */
  get biasBytes(): number {
    return this.panels * PANEL_COLS * F32_BYTES;
  }

  /**
   * Packs rows [row0, row0 + rows) of W (row-major f32 [rows, k] at byte offset `src`) into place;
   * row0 is a multiple of PANEL_COLS. Called while loading, once per block of rows.
   */
  pack(e: Engine, row0: number, rows: number, src: number): void {
    e.k.f32_pack_panels8(rows, this.k, src, this.ptr + (row0 / PANEL_COLS) * this.panelBytes);
  }

  /** y = act(x·Wᵀ + b (+ residual)); pointers in bytes, ldx/ldy in floats. */
  forward(
    e: Engine,
    m: number,
    x: number,
    ldx: number,
    y: number,
    ldy: number,
    epilogue: LinearEpilogue = {},
  ): void {
    e.linear(this, m, x, ldx, y, ldy, epilogue);
  }

  /** f32 weights already packed (by f32_pack_panels8) at `ptr`, with an optional bias. */
  static f32(n: number, k: number, ptr: number, bias = 0): PackedLinear {
    const l = new PackedLinear(n, k);
    l.ptr = ptr;
    l.bias = bias;
    return l;
  }
}
