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
      if (!this._load)
        throw new InputError(
          `Tensor: this ${this.dtype} tensor of shape [${this.shape.join(", ")}] was disposed; its values are gone`,
        );
      this._data = this._load!();
      this._load = null;
    }
    return this._data;
  }

  /** Whether the values are still to be copied (a lazy tensor not yet read). */
  get pending(): boolean {
    return this._data === null && this._load !== null;
  }

  /**
   * Lets go of the values (transformers.js' dispose(): there, the ONNX runtime's buffer). The
   * shape stays; reading `data` afterwards is an InputError. Disposing twice is harmless.
   */
  dispose(): void {
    this._data = null;
    this._load = null;
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this._data === null && this._load === null;
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

  // ---- transformers.js' (and torch's) methods. Reductions accumulate in float64; results are
  // new tensors (the input is never changed). `dim` may be negative (counted from the end).

  /** The mean over `dim` (all values when dim is null), in float64, as float32 (torch.mean). */
  mean(dim: number | null = null, keepdim = false): Tensor<"float32"> {
    return this.reduce("mean", dim, keepdim, (get, n) => {
      let s = 0;
      for (let k = 0; k < n; k++) s += get(k);
      return s / n;
    });
  }

  /** The sum over `dim` (all values when dim is null), in float64, as float32 (torch.sum). */
  sum(dim: number | null = null, keepdim = false): Tensor<"float32"> {
    return this.reduce("sum", dim, keepdim, (get, n) => {
      let s = 0;
      for (let k = 0; k < n; k++) s += get(k);
      return s;
    });
  }

  /** The largest value over `dim` (all values when dim is null), as float32 (torch.amax). */
  max(dim: number | null = null, keepdim = false): Tensor<"float32"> {
    return this.reduce("max", dim, keepdim, (get, n) => {
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, get(k)); // NaN propagates, as torch's
      return m;
    });
  }

  /** The smallest value over `dim` (all values when dim is null), as float32 (torch.amin). */
  min(dim: number | null = null, keepdim = false): Tensor<"float32"> {
    return this.reduce("min", dim, keepdim, (get, n) => {
      let m = Infinity;
      for (let k = 0; k < n; k++) m = Math.min(m, get(k));
      return m;
    });
  }

  /**
   * The p-norm over `dim` (all values when dim is null): (Σ|x|^p)^(1/p); "fro" is 2, Infinity the
   * largest |x| (torch.norm / transformers.js' norm).
   */
  norm(p: number | "fro" = "fro", dim: number | null = null, keepdim = false): Tensor<"float32"> {
    const q = pNorm(p);
    return this.reduce("norm", dim, keepdim, (get, n) => lpNorm(get, n, q));
  }

  /**
   * Each slice along `dim` divided by its p-norm (torch.nn.functional.normalize: x / max(‖x‖p,
   * 1e-12)); transformers.js' normalize(p = 2, dim = 1).
   */
  normalize(p: number = 2, dim: number = 1): Tensor<"float32"> {
    const q = pNorm(p);
    const d = this.axis("normalize", dim);
    const [outer, n, inner] = this.split(d);
    const x = this.numbers();
    const out = new Float32Array(x.length);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        const get = (k: number) => x[base + k * inner];
        const denom = Math.max(lpNorm(get, n, q), 1e-12);
        for (let k = 0; k < n; k++) out[base + k * inner] = get(k) / denom;
      }
    }
    return new Tensor("float32", out, this.shape);
  }

  /**
   * transformers.js' slice: one argument per leading dimension, each an index (the dimension is
   * dropped), a [start, end] range (end exclusive, either may be negative or null), or null /
   * undefined for the whole dimension. `t.slice(null, [1, 3])` is torch's `t[:, 1:3]`.
   */
  slice(
    ...slices: (number | readonly [number | null, (number | null)?] | null | undefined)[]
  ): Tensor<T> {
    const rank = this.shape.length;
    if (slices.length > rank)
      throw new InputError(
        `Tensor.slice: ${slices.length} slices for a tensor of ${rank} dimensions [${this.shape.join(", ")}]`,
      );
    const starts: number[] = [];
    const lengths: number[] = [];
    const keep: boolean[] = [];
    for (let d = 0; d < rank; d++) {
      const n = this.shape[d];
      const s = slices[d];
      if (s === undefined || s === null) {
        starts.push(0);
        lengths.push(n);
        keep.push(true);
      } else if (typeof s === "number") {
        if (!Number.isInteger(s) || s < -n || s >= n)
          throw new InputError(
            `Tensor.slice: index ${String(s)} is out of range for dimension ${d} of size ${n}`,
          );
        starts.push(s < 0 ? s + n : s);
        lengths.push(1);
        keep.push(false);
      } else if (Array.isArray(s) && s.length >= 1 && s.length <= 2) {
        const clamp = (v: number | null | undefined, dflt: number): number => {
          if (v === null || v === undefined) return dflt;
          if (!Number.isInteger(v))
            throw new InputError(`Tensor.slice: bounds must be integers, got ${String(v)}`);
          return Math.min(Math.max(v < 0 ? v + n : v, 0), n);
        };
        const a = clamp(s[0], 0);
        const b = clamp(s[1], n);
        starts.push(a);
        lengths.push(Math.max(b - a, 0));
        keep.push(true);
      } else
        throw new InputError(
          `Tensor.slice: slice ${d} must be an index, a [start, end] pair or null, got ${JSON.stringify(s)}`,
        );
    }
    const strides = this.strides();
    const size = lengths.reduce((a, b) => a * b, 1);
    const src = this.data as ArrayLike<number | bigint>;
    const out = new (src.constructor as new (n: number) => DataTypes[T])(size) as unknown as (
      number | bigint
    )[];
    const idx = new Array<number>(rank).fill(0);
    for (let j = 0; j < size; j++) {
      let off = 0;
      for (let d = 0; d < rank; d++) off += (starts[d] + idx[d]) * strides[d];
      out[j] = src[off];
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < lengths[d]) break;
        idx[d] = 0;
      }
    }
    return new Tensor<T>(
      this.dtype,
      out as unknown as DataTypes[T],
      lengths.filter((_, d) => keep[d]),
    );
  }

  /** The same values in another shape (one dimension may be -1: inferred); torch's view. */
  view(...dims: number[]): Tensor<T> {
    const size = this.size;
    const free = dims.filter((d) => d === -1).length;
    const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const bad = (why: string) =>
      new InputError(
        `Tensor.view: shape [${dims.join(", ")}] ${why} for ${size} values (shape [${this.shape.join(", ")}])`,
      );
    if (free > 1) throw bad("has more than one -1");
    if (dims.some((d) => !Number.isSafeInteger(d) || d < -1)) throw bad("is invalid");
    const shape = dims.map((d) => (d === -1 ? (known === 0 ? 0 : size / known) : d));
    if (shape.reduce((a, b) => a * b, 1) !== size || shape.some((d) => !Number.isInteger(d)))
      throw bad("does not fit");
    return new Tensor<T>(this.dtype, this.data, shape);
  }

  /** Alias of view (torch's reshape). */
  reshape(...dims: number[]): Tensor<T> {
    return this.view(...dims);
  }

  /** Without dimensions of size 1 (only `dim`, when given). */
  squeeze(dim: number | null = null): Tensor<T> {
    if (dim === null) return this.view(...this.shape.filter((d) => d !== 1));
    const d = this.axis("squeeze", dim);
    return this.shape[d] === 1
      ? this.view(...this.shape.filter((_, i) => i !== d))
      : this.view(...this.shape);
  }

  /** With a dimension of size 1 inserted at `dim` (-1: last). */
  unsqueeze(dim: number): Tensor<T> {
    const r = this.shape.length + 1;
    if (!Number.isInteger(dim) || dim < -r || dim >= r)
      throw new InputError(
        `Tensor.unsqueeze: dim ${String(dim)} is out of range for ${r} dimensions`,
      );
    const d = dim < 0 ? dim + r : dim;
    return this.view(...this.shape.slice(0, d), 1, ...this.shape.slice(d));
  }

  /** The dimensions reordered (torch's permute; transformers.js' permute / transpose). */
  permute(...dims: number[]): Tensor<T> {
    const rank = this.shape.length;
    const order = dims.map((d) => this.axis("permute", d));
    if (order.length !== rank || new Set(order).size !== rank)
      throw new InputError(
        `Tensor.permute: [${dims.join(", ")}] is not an order of the ${rank} dimensions of [${this.shape.join(", ")}]`,
      );
    const shape = order.map((d) => this.shape[d]);
    const strides = this.strides();
    const src = this.data as ArrayLike<number | bigint>;
    const out = new (src.constructor as new (n: number) => (number | bigint)[])(src.length);
    const idx = new Array<number>(rank).fill(0);
    for (let j = 0; j < src.length; j++) {
      let off = 0;
      for (let d = 0; d < rank; d++) off += idx[d] * strides[order[d]];
      out[j] = src[off];
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
    return new Tensor<T>(this.dtype, out as unknown as DataTypes[T], shape);
  }

  /** The one value of a tensor of one element (int64 as a number, as tolist gives it). */
  item(): number {
    if (this.size !== 1)
      throw new InputError(
        `Tensor.item: a tensor of ${this.size} values (shape [${this.shape.join(", ")}]) has no single value`,
      );
    return Number(this.data[0]);
  }

  /** A copy with its own values. */
  clone(): Tensor<T> {
    return new Tensor<T>(this.dtype, this.data.slice() as DataTypes[T], this.shape);
  }

  /** The values converted to another dtype (float to int truncates toward zero, as torch). */
  to<U extends DType>(dtype: U): Tensor<U> {
    const x = this.data as ArrayLike<number | bigint>;
    if (dtype === "float32")
      return new Tensor(dtype, Float32Array.from(x, Number) as DataTypes[U], this.shape);
    const ints = Array.from(x, (v) => (typeof v === "bigint" ? v : BigInt(Math.trunc(v))));
    if (dtype === "int64")
      return new Tensor(dtype, BigInt64Array.from(ints) as DataTypes[U], this.shape);
    if (dtype === "int32")
      return new Tensor(
        dtype,
        Int32Array.from(ints, (v) => Number(BigInt.asIntN(32, v))) as DataTypes[U],
        this.shape,
      );
    throw new InputError(
      `Tensor.to: unknown dtype ${JSON.stringify(dtype)} (float32, int32, int64)`,
    );
  }

  // ---- helpers

  /** Row-major strides of the shape. */
  private strides(): number[] {
    const s = new Array<number>(this.shape.length);
    let k = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      s[d] = k;
      k *= this.shape[d];
    }
    return s;
  }

  /** `dim` checked and made non-negative. */
  private axis(what: string, dim: number): number {
    const r = this.shape.length;
    if (typeof dim !== "number" || !Number.isInteger(dim) || dim < -r || dim >= r)
      throw new InputError(
        `Tensor.${what}: dim ${String(dim)} is out of range for shape [${this.shape.join(", ")}] (${r} dimensions)`,
      );
    return dim < 0 ? dim + r : dim;
  }

  /** [product of the dims before d, shape[d], product of the dims after d]. */
  private split(d: number): [number, number, number] {
    const before = this.shape.slice(0, d).reduce((a, b) => a * b, 1);
    const after = this.shape.slice(d + 1).reduce((a, b) => a * b, 1);
    return [before, this.shape[d], after];
  }

  /** The values as float64 numbers. */
  private numbers(): Float64Array {
    return Float64Array.from(this.data as ArrayLike<number | bigint>, Number);
  }

  /** op over `dim` (every value when null) for each position of the other dims, as float32. */
  private reduce(
    what: string,
    dim: number | null,
    keepdim: boolean,
    op: (get: (k: number) => number, n: number) => number,
  ): Tensor<"float32"> {
    const x = this.numbers();
    if (dim === null) {
      const v = op((k) => x[k], x.length);
      return new Tensor("float32", [v], keepdim ? this.shape.map(() => 1) : []);
    }
    const d = this.axis(what, dim);
    const [outer, n, inner] = this.split(d);
    const out = new Float32Array(outer * inner);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        out[o * inner + i] = op((k) => x[base + k * inner], n);
      }
    const shape = keepdim
      ? this.shape.map((s, j) => (j === d ? 1 : s))
      : this.shape.filter((_, j) => j !== d);
    return new Tensor("float32", out, shape);
  }
}

function pNorm(p: number | "fro"): number {
  const q = p === "fro" ? 2 : p;
  if (typeof q !== "number" || !(q > 0))
    throw new InputError(
      `Tensor: the norm's p must be a positive number or "fro", got ${String(p)}`,
    );
  return q;
}

/** (Σ|x|^p)^(1/p) in float64 (Infinity: max |x|); p = 2 and 1 without pow. */
function lpNorm(get: (k: number) => number, n: number, p: number): number {
  let s = 0;
  if (p === Infinity) {
    for (let k = 0; k < n; k++) s = Math.max(s, Math.abs(get(k)));
    return s;
  }
  if (p === 2) {
    for (let k = 0; k < n; k++) s += get(k) * get(k);
    return Math.sqrt(s);
  }
  if (p === 1) {
    for (let k = 0; k < n; k++) s += Math.abs(get(k));
    return s;
  }
  for (let k = 0; k < n; k++) s += Math.abs(get(k)) ** p;
  return s ** (1 / p);
}
