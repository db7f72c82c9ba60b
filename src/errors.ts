// The errors simdbert throws. Every one extends SimdbertError, so a caller can tell the library's
// refusals (bad input, config, weights, files, engine limits) from bugs and from the runtime's own
// errors with one `instanceof`; the subclass says which part refused, the message says what was
// wrong (the argument, its shape, what was expected).

import { QUOTE_MAX, quote } from "./messages.js";

/** Base class of every error simdbert throws on purpose. */
export class SimdbertError extends Error {
  override name = "SimdbertError";
}

/** A config.json (or config override) that HF would refuse or that names something unsupported. */
export class ConfigError extends SimdbertError {
  override name = "ConfigError";
}

/** A checkpoint whose tensors do not fit the model (missing, wrong shape or dtype). */
export class WeightsError extends SimdbertError {
  override name = "WeightsError";
}

/** A forward argument (or tensor built by the user) that is not what was expected. */
export class InputError extends SimdbertError {
  override name = "InputError";
}

/** A malformed or unsupported safetensors file. */
export class SafetensorsError extends SimdbertError {
  override name = "SafetensorsError";
}

/**
 * The engine cannot do what was asked (WebAssembly support, kernels' module, memory, threads,
 * layout), said in words.
 */
export class EngineError extends SimdbertError {
  override name = "EngineError";
}

/** A model's files cannot be found or read (directory, URL, in-memory map). */
export class SourceError extends SimdbertError {
  override name = "SourceError";
}

/**
 * @internal
 * A value of untrusted input (a config, a file header) for an error message: strings quoted and
 * cut as `quote` does, other values as JSON of at most about 80 characters. Bounded work whatever
 * the value: at most a few dozen nodes are visited (a header can hold a million-element list or
 * nest 100k deep), and BigInts and cycles are safe.
 */
export function brief(v: unknown): string {
  if (typeof v === "string") return quote(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "symbol" || typeof v === "function") return typeof v;
  let nodes = 0;
  try {
    const s = JSON.stringify(v, (_key, x: unknown) => {
      if (++nodes > BRIEF_NODES) throw new RangeError("too large to show");
      return x;
    });
    if (s !== undefined) return s.length > QUOTE_MAX ? `${s.slice(0, QUOTE_MAX)}...` : s;
  } catch {
    // large, cyclic, or holding BigInts
  }
  return Array.isArray(v) ? "[...]" : v !== null && typeof v === "object" ? "{...}" : String(v);
}

/** Values JSON.stringify may visit for `brief` before it shows "[...]" / "{...}". */
const BRIEF_NODES = 64;
