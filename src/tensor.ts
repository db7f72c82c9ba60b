// A small n-dimensional array, in the spirit of transformers.js' Tensor: a flat typed array and a
// shape. Results of the engine are always owned copies, never views into wasm memory.

import { InputError } from "./errors.js";

export type DType = "float32" | "int64" | "int32";
/** The typed array that holds each dtype's values. */
export interface DataTypes {
  float32: Float32Array;
  int64: BigInt64Array;
  int32: Int32Array;
}
export type TypedData = DataTypes[DType];

type Nested = number | bigint | Nested[];

/**
 * `Tensor<"float32">` (every model output) has `data: Float32Array`; a plain `Tensor` may hold any
 * dtype.
 */
export class Tensor<T extends DType = DType> {
  readonly dtype: T;
  readonly shape: number[];
  private _data: DataTypes[T] | null;
  private _load: (() => DataTypes[T]) | null = null;

  constructor(
    dtype: T,
    data: DataTypes[T] | ArrayLike<number> | ArrayLike<bigint>,
    shape: readonly number[],
  ) {
    const size = shape.reduce((a, b) => a * b, 1);
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0)
        throw new InputError(`Tensor: invalid shape [${shape.join(", ")}]`);
    }
    let arr: TypedData;
    if (dtype === "float32")
      arr =
        data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>, Number);
    else if (dtype === "int32")
      arr = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>, Number);
    else if (dtype === "int64")
      arr =
        data instanceof BigInt64Array
          ? data
          : BigInt64Array.from(data as ArrayLike<bigint>, (v) => BigInt(v));
    else throw new InputError(`Tensor: unknown dtype ${String(dtype)}`);
    if (arr.length !== size) {
      throw new InputError(
        `Tensor: ${arr.length} values do not fill shape [${shape.join(", ")}] (${size} values)`,
      );
    }
    this.dtype = dtype;
    this.shape = [...shape];
    this._data = arr as DataTypes[T];
  }

  /** The values (for a lazy tensor, copied out of WebAssembly memory on first access). */
  get data(): DataTypes[T] {
    if (!this._data) {
      this._data = this._load!();
      this._load = null;
    }
    return this._data;
  }

  /** Whether the values are still to be copied (a lazy tensor not yet read). */
  get pending(): boolean {
    return this._data === null;
  }

  /**
   * A tensor whose values are produced on first access (e.g. a decoder cache that stays in
   * WebAssembly memory unless JS reads it). `load` must return `shape`'s element count.
   */
  static lazy<T extends DType>(
    dtype: T,
    shape: readonly number[],
    load: () => DataTypes[T],
  ): Tensor<T> {
    const t = new Tensor<T>(dtype, [], [0]);
    (t as { shape: number[] }).shape = [...shape];
    t._data = null;
    t._load = load;
    return t;
  }

  /** transformers.js names. */
  get dims(): number[] {
    return this.shape;
  }
  get type(): T {
    return this.dtype;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get ndim(): number {
    return this.shape.length;
  }

  /** Nested arrays, like torch's tolist(). int64 values come back as numbers. */
  tolist(): Nested {
    const data = this.data;
    const read = (i: number): number => Number(data[i]);
    const build = (dim: number, offset: number): Nested => {
      if (dim === this.shape.length) return read(offset);
      const n = this.shape[dim];
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      const out: Nested[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * stride);
      return out;
    };
    return build(0, 0);
  }
}
