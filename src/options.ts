// Options checked by name: an option simdbert does not know is refused with an error that names it
// and lists the accepted ones (a typo such as `pooling_mode` or a habit from another library is
// never silently ignored), and the names users bring from transformers.js and HF Python are
// mapped onto simdbert's (`quantized: true` is `dtype: "q8"`, as transformers.js v2 meant it).
import { InputError } from "./errors.js";

/** An option that the function does not take (misspelt, or from another library). */
export class OptionError extends InputError {
  override name = "OptionError";
  constructor(
    message: string,
    /** the refused option's name */
    readonly option: string,
    /** the options the function accepts */
    readonly accepted: readonly string[],
  ) {
    super(message);
  }
}

/** The hub options every from_pretrained takes (HubOptions' keys). */
export const HUB_OPTIONS = [
  "endpoint",
  "revision",
  "token",
  "cache_dir",
  "local_files_only",
  "progress_callback",
  "retries",
  "retryDelayMs",
  "browser_cache",
] as const;

/**
 * The options of every model class's fromPretrained (FromPretrainedOptions' keys: the engine's,
 * the loader's, the hub's), with transformers.js' `quantized` / `quantize` (see quantizedDtype).
 */
export const FROM_PRETRAINED_OPTIONS: readonly string[] = [
  "threads",
  "maxArenaBytes",
  "wasm",
  "relaxedSimd",
  "sharedMemory",
  "warn",
  "dtype",
  "quantized",
  "quantize",
  "device",
  "addPoolingLayer",
  "engine",
  "config",
  ...HUB_OPTIONS,
];

/**
 * Throws an OptionError for the first own key of `options` not in `accepted` (undefined / null
 * options: nothing to check). `where` names the function for the message.
 */
export function checkOptionNames(
  where: string,
  options: unknown,
  accepted: readonly string[],
): void {
  if (options === undefined || options === null) return;
  if (typeof options !== "object" || Array.isArray(options))
    throw new OptionError(
      `${where}: options must be an object, got ${Array.isArray(options) ? "an array" : typeof options}`,
      "",
      accepted,
    );
  for (const k of Object.keys(options)) {
    if (!accepted.includes(k))
      throw new OptionError(
        `${where}: unknown option ${JSON.stringify(k)}${hint(k, accepted)} (accepted: ${[...accepted].sort().join(", ")})`,
        k,
        accepted,
      );
  }
}

/** " (did you mean "x"?)" for a near name: same letters ignoring case, "_" and "-", or camelCase. */
function hint(k: string, accepted: readonly string[]): string {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, "");
  const near = accepted.find((a) => norm(a) === norm(k));
  return near ? ` (did you mean ${JSON.stringify(near)}?)` : "";
}

/**
 * transformers.js' `quantized` (v2; HF's issue spelling `quantize`): true loaded the int8 model,
 * so it is `dtype: "q8"`; false is `dtype: "fp32"`. With `dtype` also given they must agree
 * (q8 with true, fp32 / fp16 with false). Returns the options with `dtype` set and the alias
 * removed.
 */
export function withQuantized<O extends { dtype?: unknown }>(where: string, options: O): O {
  if (!options || typeof options !== "object") return options;
  options = withDevice(where, options);
  const o = options as O & { quantized?: unknown; quantize?: unknown };
  if (o.quantized === undefined && o.quantize === undefined) return options;
  const name = o.quantized !== undefined ? "quantized" : "quantize";
  const q = o.quantized ?? o.quantize;
  if (o.quantized !== undefined && o.quantize !== undefined && o.quantized !== o.quantize)
    throw new OptionError(`${where}: quantized and quantize disagree`, "quantize", []);
  if (typeof q !== "boolean")
    throw new OptionError(
      `${where}: ${name} must be true (int8 weights: dtype "q8") or false (dtype "fp32"), got ${JSON.stringify(q)}`,
      name,
      [],
    );
  const implied = q ? "q8" : "fp32";
  if (o.dtype !== undefined && (q ? o.dtype !== "q8" : o.dtype === "q8"))
    throw new OptionError(
      `${where}: ${name}: ${String(q)} means dtype "${implied}", but dtype is ${JSON.stringify(o.dtype)}: give one of them`,
      name,
      [],
    );
  const { quantized: _a, quantize: _b, ...rest } = o;
  return { ...rest, dtype: o.dtype ?? implied } as O;
}

/** The devices simdbert runs on: WebAssembly on the CPU, which is what each of these names means. */
export const DEVICES: readonly string[] = ["wasm", "cpu", "auto"];

/**
 * transformers.js' `device`: "wasm", "cpu" and "auto" are where simdbert runs (WebAssembly SIMD on
 * the CPU) and are accepted; another device ("webgpu", "cuda", ...) is refused by name instead of
 * running on the CPU unannounced. Returns the options without `device`.
 */
export function withDevice<O>(where: string, options: O): O {
  const o = options as O & { device?: unknown };
  if (!o || typeof o !== "object" || o.device === undefined) return options;
  if (typeof o.device !== "string" || !DEVICES.includes(o.device))
    throw new OptionError(
      `${where}: device ${JSON.stringify(o.device)} is not available: simdbert runs on the CPU through WebAssembly (device ${DEVICES.map((d) => JSON.stringify(d)).join(", ")})`,
      "device",
      DEVICES,
    );
  const { device: _d, ...rest } = o;
  return rest as O;
}
