// The errors simdbert throws. Every one extends SimdbertError, so a caller can tell the library's
// refusals (bad input, config, weights, files, engine limits) from bugs and from the runtime's own
// errors with one `instanceof`; the subclass says which part refused, the message says what was
// wrong (the argument, its shape, what was expected).

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
 * A value of untrusted input (a config, a file header) for an error message: at most about 80
 * characters, and safe on BigInts, cycles and 100k-deep nesting.
 */
export function brief(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "symbol" || typeof v === "function") return typeof v;
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s.length > 80 ? `${s.slice(0, 80)}...` : s;
  } catch {
    // cyclic, too deep, or holding BigInts
  }
  return Array.isArray(v) ? "[...]" : v !== null && typeof v === "object" ? "{...}" : String(v);
}
