// A small n-dimensional array, in the spirit of transformers.js' Tensor: a flat typed array and a
// shape. Results of the engine are always owned copies, never views into wasm memory.

export type DType = "float32" | "int64" | "int32";
export type TypedData = Float32Array | BigInt64Array | Int32Array;

type Nested = number | bigint | Nested[];

export class Tensor {
  readonly dtype: DType;
  readonly shape: number[];
  private _data: TypedData | null;
  private _load: (() => TypedData) | null = null;

  constructor(
    dtype: DType,
    data: TypedData | ArrayLike<number> | ArrayLike<bigint>,
    shape: readonly number[],
  ) {
    const size = shape.reduce((a, b) => a * b, 1);
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0)
        throw new Error(`Tensor: invalid shape [${shape.join(", ")}]`);
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
    else throw new Error(`Tensor: unknown dtype ${String(dtype)}`);
    if (arr.length !== size) {
      throw new Error(
        `Tensor: ${arr.length} values do not fill shape [${shape.join(", ")}] (${size} values)`,
      );
    }
    this.dtype = dtype;
    this.shape = [...shape];
    this._data = arr;
  }

  /** The values (for a lazy tensor, copied out of WebAssembly memory on first access). */
  get data(): TypedData {
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
  static lazy(dtype: DType, shape: readonly number[], load: () => TypedData): Tensor {
    const t = new Tensor(
      dtype,
      dtype === "float32"
        ? new Float32Array(0)
        : dtype === "int32"
          ? new Int32Array(0)
          : new BigInt64Array(0),
      [0],
    );
    (t as { shape: number[] }).shape = [...shape];
    t._data = null;
    t._load = load;
    return t;
  }

  /** transformers.js names. */
  get dims(): number[] {
    return this.shape;
  }
  get type(): DType {
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

  /** Builds a tensor from nested arrays of numbers (or bigints), checking that it is not ragged. */
  static fromNested(value: unknown, dtype: DType, name = "tensor"): Tensor {
    const shape: number[] = [];
    let probe: unknown = value;
    while (Array.isArray(probe)) {
      shape.push(probe.length);
      if (probe.length === 0) break;
      probe = probe[0];
    }
    const flat: (number | bigint)[] = [];
    const walk = (v: unknown, dim: number, path: string): void => {
      if (dim === shape.length) {
        if (Array.isArray(v))
          throw new Error(
            `${name}: ragged nested list at ${path} (deeper than [${shape.join(", ")}])`,
          );
        if (typeof v !== "number" && typeof v !== "bigint" && typeof v !== "boolean") {
          throw new Error(
            `${name}: expected a number at ${path}, got ${v === null ? "null" : typeof v}`,
          );
        }
        flat.push(typeof v === "boolean" ? (v ? 1 : 0) : v);
        return;
      }
      if (!Array.isArray(v) || v.length !== shape[dim]) {
        throw new Error(
          `${name}: ragged nested list at ${path}: expected ${shape[dim]} entries, got ${Array.isArray(v) ? v.length : typeof v}`,
        );
      }
      for (let i = 0; i < v.length; i++) walk(v[i], dim + 1, `${path}[${i}]`);
    };
    walk(value, 0, name);
    if (dtype === "int64")
      return new Tensor(
        "int64",
        flat.map((x) => BigInt(x)),
        shape,
      );
    return new Tensor(
      dtype,
      flat.map((x) => Number(x)),
      shape,
    );
  }
}
