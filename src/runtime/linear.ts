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
import type { Kernels } from "./kernel_bindings.js";
import { F32_BYTES, f32At, f32Index } from "./memory.js";
import { EngineError } from "../errors.js";

/** q8: k padded to the micro-kernel's groups of 4. */
export const q8K = (k: number): number => Math.ceil(k / 4) * 4;

/** Columns of C per panel of packed weights (the micro-kernel's tile width: 8 f32 lanes). */
export const PANEL_COLS = 8;
/** Rows of A per micro-tile (f32_gemm_4x8, f32_pack_rows4). */
export const TILE_ROWS = 4;
/** Bytes between consecutive k steps inside one panel of packed f32 weights. */
export const PANEL_K_BYTES = PANEL_COLS * F32_BYTES;

/**
 * Element types of packed weights: "f32"; "f16" (IEEE binary16 in the f32 layout with 2-byte
 * elements, widened per panel inside the GEMM: assembly/gemm_f16.ts); "q8" (int8, symmetric, one
 * f32 scale per output channel, activations quantized per row at run time: assembly/gemm_q8.ts,
 * whose header documents the packed layout: panels of 8 channels, k in groups of 4, then the
 * channels' scales and sums).
 */
export type LinearDType = "f32" | "f16" | "q8";
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

/**
 * What a PackedLinear needs of its engine (Engine is one). Declared here rather than imported, so
 * that the engine can import this file without an import cycle.
 */
export interface LinearEngine {
  readonly k: Kernels;
  readonly f32: Float32Array;
  linear(
    l: PackedLinear,
    m: number,
    x: number,
    ldx: number,
    y: number,
    ldy: number,
    epilogue?: LinearEpilogue,
  ): void;
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
    if (this.dtype === "q8") return PANEL_COLS * q8K(this.k);
    return this.k * (this.dtype === "f16" ? PANEL_K_BYTES / 2 : PANEL_K_BYTES);
  }
  /** Bytes of the packed weights (q8: with the channels' scales and sums). */
  get weightBytes(): number {
    const w = this.panels * this.panelBytes;
    return this.dtype === "q8" ? w + 2 * this.biasBytes : w;
  }
  /** q8: the channels' f32 scales (8 per panel, 0 past n), after the packed int8 weights. */
  get scales(): number {
    return this.ptr + this.panels * this.panelBytes;
  }
  /** q8: the channels' i32 sums Σ_k W[j, k] (8 per panel), after the scales. */
  get sums(): number {
    return this.scales + this.biasBytes;
  }
  /** Bytes of the padded bias. */
  get biasBytes(): number {
    return this.panels * PANEL_COLS * F32_BYTES;
  }

  /**
   * Packs rows [row0, row0 + rows) of W (row-major f32 [rows, k] at byte offset `src`) into place;
   * row0 is a multiple of PANEL_COLS. Called while loading, once per block of rows.
   */
  pack(e: LinearEngine, row0: number, rows: number, src: number): void {
    const { k } = this;
    const dst = this.ptr + (row0 / PANEL_COLS) * this.panelBytes;
    switch (this.dtype) {
      case "f32":
        e.k.f32_pack_panels8(rows, k, src, dst);
        return;
      case "f16": {
        // narrowed in place (the f16 bits fill the first half of the staged rows), then packed
        e.k.f32_to_f16(rows * k, src, src);
        e.k.f16_pack_panels8(rows, k, src, dst);
        return;
      }
      case "q8": {
        // quantized in place (int8 rows over the start of the staged f32 rows: row r's bytes are
        // written after rows < r were read, and before its own floats are overwritten... row r's
        // int8 lands at src + r·k, below its floats at src + 4·r·k: read first, row by row)
        const bad = e.k.q8_quantize_rows(rows, k, src, src, f32At(this.scales, row0));
        if (bad >= 0)
          throw new EngineError(
            `simdbert: row ${row0 + bad} of a weight [${this.n}, ${k}] has a non-finite value: it cannot be quantized to q8`,
          );
        this.packInt8(e, row0, rows, src, null);
        return;
      }
    }
  }

  /**
   * q8: packs rows [row0, row0 + rows) of int8 weights already quantized (int8 [rows, k] at `q`),
   * their scales given (or already in place when null). row0 is a multiple of PANEL_COLS.
   */
  packInt8(
    e: LinearEngine,
    row0: number,
    rows: number,
    q: number,
    scales: ArrayLike<number> | null,
  ): void {
    if (scales) e.f32.set(scales, f32Index(f32At(this.scales, row0)));
    e.k.q8_pack_weights(
      rows,
      this.k,
      q,
      this.ptr + (row0 / PANEL_COLS) * this.panelBytes,
      f32At(this.sums, row0),
    );
    // channels past n (the last panel's padding): scale 0
    if (row0 + rows >= this.n) {
      const end = this.panels * PANEL_COLS;
      e.f32.fill(0, f32Index(f32At(this.scales, this.n)), f32Index(f32At(this.scales, end)));
    }
  }

  /** y = act(x·Wᵀ + b (+ residual)); pointers in bytes, ldx/ldy in floats. */
  forward(
    e: LinearEngine,
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
