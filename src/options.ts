// Options checked by name: an option simdbert does not know is refused with an error that names it
// and lists the accepted ones (a typo such as `pooling_mode` or a habit from another library is
// never silently ignored), and the names users bring from transformers.js and HF Python are
// mapped onto simdbert's (`quantized: true` is `dtype: "q8"`, as transformers.js v2 meant it).
import { SimdbertError } from "./errors.js";

/** An option that the function does not take (misspelt, or from another library). */
export class OptionError extends SimdbertError {
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
] as const;

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
