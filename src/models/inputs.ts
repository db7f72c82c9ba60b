// Turning user inputs (Tensors, nested lists, typed arrays) into flat arrays with a shape, and
// rejecting what HF would reject, with errors that name the input and the problem.
import { Tensor } from "../tensor.js";
import { InputError } from "../errors.js";
export { InputError };

export interface Dense<T> {
  data: T;
  shape: number[];
}

/** What forward accepts for one tensor input. */
export type TensorLike =
  | Tensor
  | ArrayLike<unknown>
  | { data: ArrayLike<number> | ArrayLike<bigint>; shape?: number[]; dims?: number[] };

/** Most dimensions an input may have (nested lists deeper than this are rejected before walking them). */
const MAX_RANK = 16;

/** What a value is, for messages (never calls a user's toString). */
function kindOf(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "a list";
  if (x instanceof DataView) return "a DataView";
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  if (typeof x === "object") return `an object (${Object.prototype.toString.call(x).slice(8, -1)})`;
  if (typeof x === "string")
    return `the string ${JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}...` : x)}`;
  if (typeof x === "number" || typeof x === "boolean") return String(x);
  if (typeof x === "bigint") return `${x}n`;
  return typeof x;
}

function checkShape(name: string, shape: unknown): number[] {
  if (
    !Array.isArray(shape) ||
    shape.length > MAX_RANK ||
    !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  ) {
    const dims =
      Array.isArray(shape) && shape.length <= MAX_RANK
        ? `[${shape.map(kindOf).join(", ")}]`
        : kindOf(shape);
    throw new InputError(
      `${name}: shape must be a list of at most ${MAX_RANK} non-negative integers, got ${dims}`,
    );
  }
  return shape as number[];
}

/** A nested list of numbers (or bigints, booleans) -> flat values and shape; ragged lists are errors. */
function fromNested(name: string, v: unknown[]): { flat: unknown[]; shape: number[] } {
  const shape: number[] = [];
  let probe: unknown = v;
  while (Array.isArray(probe)) {
    if (shape.length === MAX_RANK)
      throw new InputError(`${name}: nested list is more than ${MAX_RANK} levels deep`);
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0];
  }
  const flat: unknown[] = [];
  const walk = (x: unknown, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (Array.isArray(x))
        throw new InputError(
          `${name}: ragged nested list at ${path} (deeper than [${shape.join(", ")}])`,
        );
      if (typeof x !== "number" && typeof x !== "bigint" && typeof x !== "boolean") {
        throw new InputError(`${name}: expected a number at ${path}, got ${kindOf(x)}`);
      }
      flat.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[dim]) {
      throw new InputError(
        `${name}: ragged nested list at ${path}: expected ${shape[dim]} entries, got ${Array.isArray(x) ? x.length : kindOf(x)}`,
      );
    }
    for (let i = 0; i < x.length; i++) walk(x[i], dim + 1, `${path}[${i}]`);
  };
  walk(v, 0, name);
  return { flat, shape };
}

function shapeOf(name: string, v: TensorLike): { flat: ArrayLike<unknown>; shape: number[] } {
  let flat: ArrayLike<unknown>;
  let shape: number[];
  if (v instanceof Tensor) {
    flat = v.data as ArrayLike<unknown>;
    shape = checkShape(name, v.shape);
  } else if (v && typeof v === "object" && "data" in v && !Array.isArray(v)) {
    const o = v as { data: unknown; shape?: unknown; dims?: unknown };
    if (o.shape === undefined && o.dims === undefined)
      throw new InputError(`${name}: an object input needs "data" and "shape"`);
    shape = checkShape(name, o.shape ?? o.dims);
    // real arrays only: an array-like could claim any length
    if (!Array.isArray(o.data) && !(ArrayBuffer.isView(o.data) && !(o.data instanceof DataView))) {
      throw new InputError(
        `${name}: "data" must be an array or a typed array, got ${kindOf(o.data)}`,
      );
    }
    flat = o.data as ArrayLike<unknown>;
  } else if (ArrayBuffer.isView(v)) {
    if (v instanceof DataView)
      throw new InputError(
        `${name}: expected a Tensor, a nested list, a typed array or {data, shape}, got a DataView`,
      );
    flat = v as unknown as ArrayLike<unknown>;
    shape = [flat.length];
  } else if (Array.isArray(v)) {
    ({ flat, shape } = fromNested(name, v));
  } else {
    throw new InputError(
      `${name}: expected a Tensor, a nested list or {data, shape}, got ${kindOf(v)}`,
    );
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== n)
    throw new InputError(
      `${name}: ${flat.length} values do not fill shape [${shape.join(", ")}] (${n} values)`,
    );
  return { flat, shape: [...shape] };
}

/** An integer input (ids, types, positions, masks). Values are checked to be integers. */
export function intInput(name: string, v: TensorLike): Dense<Float64Array> {
  const { flat, shape } = shapeOf(name, v);
  const out = new Float64Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const x = flat[i];
    const n =
      typeof x === "bigint" ? Number(x) : typeof x === "boolean" ? Number(x) : (x as number);
    if (typeof n !== "number" || !Number.isInteger(n)) {
      throw new InputError(
        `${name}: expected integers, found ${typeof x === "number" ? String(x) : kindOf(x)} at flat index ${i}`,
      );
    }
    out[i] = n;
  }
  return { data: out, shape };
}

/** A float input (inputs_embeds, encoder states, masks, caches). Values must be finite. */
export function floatInput(name: string, v: TensorLike): Dense<Float32Array> {
  const { flat, shape } = shapeOf(name, v);
  let out: Float32Array;
  if (flat instanceof Float32Array) out = flat;
  else {
    out = new Float32Array(flat.length);
    for (let i = 0; i < flat.length; i++) {
      const x = flat[i];
      if (typeof x !== "number" && typeof x !== "bigint" && typeof x !== "boolean")
        throw new InputError(`${name}: expected numbers, found ${kindOf(x)} at flat index ${i}`);
      out[i] = Number(x);
    }
  }
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]))
      throw new InputError(`${name}: value ${out[i]} at flat index ${i} is not a finite number`);
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

export function checkRange(
  name: string,
  d: Dense<Float64Array>,
  lo: number,
  hi: number,
  what: string,
): void {
  for (let i = 0; i < d.data.length; i++) {
    const x = d.data[i];
    if (x < lo || x >= hi) {
      const idx: number[] = [];
      let r = i;
      for (let k = d.shape.length - 1; k >= 0; k--) {
        idx.unshift(r % d.shape[k]);
        r = Math.floor(r / d.shape[k]);
      }
      throw new InputError(
        `${name}[${idx.join(", ")}] = ${x} is out of range: ${what} (valid: ${lo} to ${hi - 1})`,
      );
    }
  }
}
