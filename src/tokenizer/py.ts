// Small Python semantics the HF code relies on: truthiness, list slicing with negative bounds,
// floor division and modulo. Options reach us as JSON, where null is Python's None.
import { TokenizerError } from "./errors.js";

/** Python's bool(v) for JSON-like values. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

/** Python's a[start:end] for a list (None = undefined bounds). */
export function pySlice<T>(a: readonly T[], start?: number, end?: number): T[] {
  const n = a.length;
  const s = start === undefined ? 0 : start < 0 ? Math.max(0, n + start) : Math.min(start, n);
  let e = end === undefined ? n : end < 0 ? Math.max(0, n + end) : Math.min(end, n);
  if (e < s) e = s;
  return a.slice(s, e);
}

export function pyMod(a: number, b: number): number {
  if (b === 0) throw new TokenizerError("integer division or modulo by zero", "ZeroDivisionError");
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

export function pyFloorDiv(a: number, b: number): number {
  if (b === 0) throw new TokenizerError("integer division or modulo by zero", "ZeroDivisionError");
  return Math.floor(a / b);
}

/**
 * Python's repr-ish rendering of a value, for messages that quote HF's. Never throws (bigints,
 * cyclic or very deep values) and stays short.
 */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return `'${v.length > 200 ? v.slice(0, 200) + "..." : v}'`;
  if (typeof v === "bigint" || typeof v === "number") return String(v);
  let s: string | undefined;
  try {
    s = JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? Number(x) : x));
  } catch {
    s = undefined; // cyclic, or too deep for the stack
  }
  if (s === undefined) s = Array.isArray(v) ? `[list of ${v.length}]` : `<${typeof v}>`;
  return s.length > 200 ? s.slice(0, 200) + "..." : s;
}

/** An int option (Python would fail on anything else in arithmetic). */
export function intOption(name: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new TokenizerError(`${name} must be an integer or None, got ${pyRepr(v)}`, "TypeError");
  }
  return v;
}
