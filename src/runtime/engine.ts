// One WebAssembly instance and its linear memory, laid out as
//
//   [ module static data | weights (laid once, at load) | kept | arena (activations, per request) ]
//
// Weights are placed by a bump allocator and never move. "kept" is a resizable region whose
// content survives between requests (a decoder's key/value cache). The arena starts after it;
// each forward plans its buffers in it (Arena) and the memory grows only when a request needs more
// than any before it. Kernels get byte offsets; JS reads and writes through typed-array views that
// are re-made after a grow (growing detaches the old ArrayBuffer).
import { kernelsModule, type WasmOptions } from "./wasm.js";

export interface Kernels {
  heap_base(): number;
  relaxed(): number;
  f32_pack_panels8(n: number, k: number, w: number, out: number): void;
  f32_gemm_6x8(
    m: number, n: number, k: number,
    a: number, lda: number,
    b: number, kStride: number, panelStride: number,
    bias: number,
    c: number, ldc: number,
    r: number, ldr: number,
  ): void;
  f32_attn_scores(sq: number, sk: number, d: number, q: number, ldq: number, k: number, ldk: number, s: number, lds: number): void;
  f32_attn_relative(
    sq: number, sk: number, d: number, x: number, ldx: number, byKey: number,
    e: number, maxPos: number, l0: number, lstep: number, s: number, lds: number,
  ): void;
  f32_softmax_rows(rows: number, n: number, s: number, lds: number, scale: number, mask: number, ldm: number, headScale: number): void;
  f32_layernorm(rows: number, n: number, x: number, ldx: number, gamma: number, beta: number, eps: number, y: number, ldy: number): void;
  f32_activation(kind: number, n: number, x: number, y: number): void;
  f32_activation1(kind: number, x: number): number;
  f32_bert_embeddings(
    rows: number, h: number,
    word: number, wordPacked: number, ids: number, inputsEmbeds: number,
    type: number, tids: number,
    pos: number, pids: number,
    out: number,
  ): void;
  bf16_to_f32(n: number, src: number, out: number): void;
  f16_to_f32(n: number, src: number, out: number): void;
}

const PAGE = 65536;
/** Every allocation is aligned to a cache line and followed by this much readable slack (kernels
 * may load, never store, up to 8 floats past a row end). */
export const ALIGN = 64;
const SLACK = 64;

export const alignUp = (n: number, a = ALIGN) => Math.ceil(n / a) * a;

export class Engine {
  readonly memory: WebAssembly.Memory;
  readonly k: Kernels;
  readonly relaxed: boolean;
  /** End of the permanent (weights) region; the arena starts here. */
  private top: number;
  private keptBytes = 0;
  private arenaEnd: number;
  private buf: ArrayBuffer | null = null;
  private _f32!: Float32Array;
  private _i32!: Int32Array;
  private _u8!: Uint8Array;

  private constructor(memory: WebAssembly.Memory, instance: WebAssembly.Instance) {
    this.memory = memory;
    this.k = instance.exports as unknown as Kernels;
    this.relaxed = this.k.relaxed() === 1;
    this.top = alignUp(this.k.heap_base());
    this.arenaEnd = this.top;
  }

  static async create(options: WasmOptions = {}): Promise<Engine> {
    const mod = await kernelsModule(options);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    const instance = await WebAssembly.instantiate(mod, { env: { memory } });
    return new Engine(memory, instance);
  }

  private refresh(): void {
    if (this.buf !== this.memory.buffer) {
      this.buf = this.memory.buffer;
      this._f32 = new Float32Array(this.buf);
      this._i32 = new Int32Array(this.buf);
      this._u8 = new Uint8Array(this.buf);
    }
  }

  get f32(): Float32Array {
    this.refresh();
    return this._f32;
  }
  get i32(): Int32Array {
    this.refresh();
    return this._i32;
  }
  get u8(): Uint8Array {
    this.refresh();
    return this._u8;
  }

  /** Bytes of linear memory (what the runtime holds for this engine). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
  /** Bytes used by the module's static data and the weights. */
  get weightBytes(): number {
    return this.top;
  }

  /** Makes the memory at least `end` bytes long. */
  ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new Error(
        `simdbert: out of memory: this request needs ${(end / 2 ** 20).toFixed(1)} MiB of WebAssembly memory ` +
          `(have ${(have / 2 ** 20).toFixed(1)} MiB; the runtime refused to grow it: ${(e as Error).message})`,
      );
    }
  }

  /** Permanent allocation (weights). Invalidates the arena, so it is only used while loading. */
  alloc(bytes: number): number {
    if (this.keptBytes) throw new Error("simdbert: weights must be laid out before any cache is kept");
    const p = this.top;
    this.top = alignUp(p + bytes + SLACK);
    this.ensure(this.top);
    this.arenaEnd = this.top;
    return p;
  }

  /**
   * Sizes the kept region (right after the weights) and returns its offset. Its first
   * min(old, new) bytes are preserved; the arena moves after it.
   */
  keep(bytes: number): number {
    const size = alignUp(bytes);
    this.ensure(this.top + size + SLACK);
    this.keptBytes = size;
    if (this.arenaEnd < this.top + size) this.arenaEnd = this.top + size;
    return this.top;
  }
  get kept(): number {
    return this.keptBytes;
  }

  /** Starts planning the arena for one request: buffers are carved from where the kept region ends. */
  arena(): Arena {
    return new Arena(this, this.top + this.keptBytes);
  }

  /** Called by Arena.commit: grows the memory for the plan. */
  reserve(end: number): void {
    this.ensure(end);
    if (end > this.arenaEnd) this.arenaEnd = end;
  }

  /** High-water mark of the arena (and kept region) in bytes. */
  get arenaBytes(): number {
    return this.arenaEnd - this.top;
  }
}

/** A bump plan over the arena. Buffers live until the next plan. */
export class Arena {
  private end: number;
  constructor(private readonly engine: Engine, private readonly base: number) {
    this.end = base;
  }
  /** Reserves `count` floats (or int32s); returns the byte offset. */
  take(count: number): number {
    const p = this.end;
    this.end = alignUp(p + count * 4 + SLACK);
    return p;
  }
  /** Grows memory for everything taken so far. */
  commit(): void {
    this.engine.reserve(this.end);
  }
  get bytes(): number {
    return this.end - this.base;
  }
}
