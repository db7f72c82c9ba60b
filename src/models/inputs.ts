// Turning user inputs (Tensors, nested lists, typed arrays) into flat arrays with a shape, and
// rejecting what HF would reject, with errors that name the input and the problem.
import { Tensor } from "../tensor.js";

export class InputError extends Error {
  override name = "InputError";
}

export interface Dense<T> {
  data: T;
  shape: number[];
}

/** What forward accepts for one tensor input. */
export type TensorLike = Tensor | ArrayLike<unknown> | { data: ArrayLike<number> | ArrayLike<bigint>; shape?: number[]; dims?: number[] };

function shapeOf(name: string, v: TensorLike): { flat: ArrayLike<unknown>; shape: number[] } {
  if (v instanceof Tensor) return { flat: v.data as ArrayLike<unknown>, shape: v.shape };
  if (v && typeof v === "object" && "data" in v && !Array.isArray(v)) {
    const o = v as { data: ArrayLike<unknown>; shape?: number[]; dims?: number[] };
    const shape = o.shape ?? o.dims;
    if (!Array.isArray(shape)) throw new InputError(`${name}: an object input needs "data" and "shape"`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!o.data || typeof o.data.length !== "number" || o.data.length !== n) {
      throw new InputError(`${name}: ${o.data?.length} values do not fill shape [${shape.join(", ")}]`);
    }
    return { flat: o.data, shape: [...shape] };
  }
  if (ArrayBuffer.isView(v)) return { flat: v as unknown as ArrayLike<unknown>, shape: [(v as unknown as ArrayLike<unknown>).length] };
  if (Array.isArray(v)) {
    let t: Tensor;
    try {
      t = Tensor.fromNested(v, "float32", name);
    } catch (e) {
      // bigints in a nested list
      if (e instanceof TypeError) t = Tensor.fromNested(v, "int64", name);
      else throw new InputError((e as Error).message);
    }
    return { flat: t.data as ArrayLike<unknown>, shape: t.shape };
  }
  throw new InputError(`${name}: expected a Tensor, a nested list or {data, shape}, got ${v === null ? "null" : typeof v}`);
}

/** An integer input (ids, types, positions, masks). Values are checked to be integers. */
export function intInput(name: string, v: TensorLike): Dense<Float64Array> {
  const { flat, shape } = shapeOf(name, v);
  const out = new Float64Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const x = flat[i];
    const n = typeof x === "bigint" ? Number(x) : typeof x === "boolean" ? Number(x) : (x as number);
    if (typeof n !== "number" || !Number.isInteger(n)) {
      throw new InputError(`${name}: expected integers, found ${typeof x === "bigint" ? x.toString() : String(x)} at flat index ${i}`);
    }
    out[i] = n;
  }
  return { data: out, shape };
}

/** A float input (inputs_embeds, encoder states, masks, caches). Values must be finite. */
export function floatInput(name: string, v: TensorLike): Dense<Float32Array> {
  const { flat, shape } = shapeOf(name, v);
  const out = flat instanceof Float32Array ? flat : Float32Array.from(flat as ArrayLike<number>, (x) => Number(x));
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw new InputError(`${name}: value ${out[i]} at flat index ${i} is not a finite number`);
  }
  return { data: out, shape };
}

export function expectShape(name: string, got: number[], want: (number | null)[], hint = ""): void {
  const ok = got.length === want.length && want.every((w, i) => w === null || w === got[i]);
  if (!ok) {
    throw new InputError(
      `${name}: shape [${got.join(", ")}] does not match the expected [${want.map((w) => (w === null ? "*" : w)).join(", ")}]${hint ? ` (${hint})` : ""}`,
    );
  }
}

export function checkRange(name: string, d: Dense<Float64Array>, lo: number, hi: number, what: string): void {
  for (let i = 0; i < d.data.length; i++) {
    const x = d.data[i];
    if (x < lo || x >= hi) {
      const idx: number[] = [];
      let r = i;
      for (let k = d.shape.length - 1; k >= 0; k--) {
        idx.unshift(r % d.shape[k]);
        r = Math.floor(r / d.shape[k]);
      }
      throw new InputError(`${name}[${idx.join(", ")}] = ${x} is out of range: ${what} (valid: ${lo} to ${hi - 1})`);
    }
  }
}
