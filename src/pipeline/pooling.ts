// sentence-transformers' folder settings and its Pooling module, shared by the
// feature-extraction pipeline (which follows them when asked) and SentenceTransformer (built on
// that pipeline), in their own module so that neither imports the other's file back.
//
// The folder's files decide (as sentence-transformers 2.2.2 loads them): modules.json lists the
// modules in order (Transformer at the folder itself, Pooling, Normalize);
// sentence_bert_config.json gives max_seq_length and do_lower_case; <pooling path>/config.json
// gives the pooling modes (cls, max, mean, mean_sqrt_len; several are concatenated in that fixed
// order). Modules simdbert does not implement are refused by name.
import { ConfigError } from "../config.js";
import { readJson, type ModelFiles } from "../loading/source.js";

/** Pooling modes, in the order sentence-transformers concatenates them. */
export const POOLING_MODES = ["cls", "max", "mean", "mean_sqrt_len"] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

export interface SentenceTransformersConfig {
  /** Pooling modes in concatenation order (empty: token embeddings, no Pooling module). */
  pooling: PoolingMode[];
  normalize: boolean;
  /** sentence_bert_config.json's max_seq_length, when present. */
  maxSeqLength: number | null;
  /** sentence-transformers lowercases each text itself before the tokenizer. */
  doLowerCase: boolean;
  /** Whether the folder has modules.json (false: the defaults of a plain model, mean pooling). */
  fromModules: boolean;
}

const TYPE = "sentence_transformers.models.";
const FLAGS: Record<string, PoolingMode> = {
  pooling_mode_cls_token: "cls",
  pooling_mode_max_tokens: "max",
  pooling_mode_mean_tokens: "mean",
  pooling_mode_mean_sqrt_len_tokens: "mean_sqrt_len",
};

/**
 * Reads a folder's sentence-transformers files. Without modules.json a folder is a plain model:
 * mean pooling, no normalization (what sentence-transformers does with a bare transformers model).
 */
export async function readSentenceTransformersConfig(
  files: ModelFiles,
): Promise<SentenceTransformersConfig> {
  const where = files.where;
  const stBytes = await files.bytes("sentence_bert_config.json");
  const st = stBytes ? await readJson(files, "sentence_bert_config.json") : null;
  let maxSeqLength: number | null = null;
  if (st && st.max_seq_length !== undefined && st.max_seq_length !== null) {
    const m = st.max_seq_length;
    if (typeof m !== "number" || !Number.isSafeInteger(m) || m < 2)
      throw new ConfigError(
        `${where}: sentence_bert_config.json: max_seq_length must be an integer >= 2, got ${JSON.stringify(m)}`,
      );
    maxSeqLength = m;
  }
  const doLowerCase = st?.do_lower_case === true;
  const modulesBytes = await files.bytes("modules.json");
  if (!modulesBytes)
    return { pooling: ["mean"], normalize: false, maxSeqLength, doLowerCase, fromModules: false };
  let modules: unknown;
  try {
    modules = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(modulesBytes));
  } catch (e) {
    throw new ConfigError(`${where}: modules.json is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(modules) || modules.some((m) => !m || typeof m !== "object"))
    throw new ConfigError(`${where}: modules.json must be a list of modules`);
  const list = [...(modules as Record<string, unknown>[])].sort(
    (a, b) => Number(a.idx ?? 0) - Number(b.idx ?? 0),
  );
  let pooling: PoolingMode[] = [];
  let normalize = false;
  let sawTransformer = false;
  for (const m of list) {
    const type = String(m.type ?? "");
    const path = typeof m.path === "string" ? m.path : "";
    const short = type.startsWith(TYPE) ? type.slice(TYPE.length) : type;
    if (short === "Transformer") {
      if (sawTransformer || pooling.length || normalize)
        throw new ConfigError(`${where}: modules.json: the Transformer must come first, once`);
      if (path !== "" && path !== ".")
        throw new ConfigError(
          `${where}: modules.json: a Transformer in a subfolder ("${path}") is not supported; use a folder whose Transformer path is ""`,
        );
      sawTransformer = true;
    } else if (short === "Pooling") {
      if (!sawTransformer || pooling.length)
        throw new ConfigError(`${where}: modules.json: Pooling must follow the Transformer, once`);
      pooling = await readPooling(files, path);
    } else if (short === "Normalize") {
      normalize = true;
    } else {
      throw new ConfigError(
        `${where}: modules.json: the module ${type || "(no type)"} is not supported by simdbert (supported: Transformer, Pooling with cls/max/mean/mean_sqrt_len, Normalize); its embeddings would differ`,
      );
    }
  }
  if (!sawTransformer) throw new ConfigError(`${where}: modules.json has no Transformer module`);
  if (!pooling.length)
    throw new ConfigError(
      `${where}: modules.json has no Pooling module: the model gives token embeddings (use the feature-extraction pipeline with pooling "none")`,
    );
  return { pooling, normalize, maxSeqLength, doLowerCase, fromModules: true };
}

async function readPooling(files: ModelFiles, path: string): Promise<PoolingMode[]> {
  const name = `${path.replace(/\/+$/, "")}/config.json`;
  const c = await readJson(files, name);
  if (!c)
    throw new ConfigError(
      `${files.where}: modules.json names a Pooling module at ${path} but ${name} is missing`,
    );
  for (const k of ["pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"])
    if (c[k] === true)
      throw new ConfigError(
        `${files.where}/${name}: ${k} is not supported by simdbert (supported: cls, max, mean, mean_sqrt_len)`,
      );
  const modes = new Set<PoolingMode>();
  for (const [k, mode] of Object.entries(FLAGS)) if (c[k] === true) modes.add(mode);
  if (!modes.size) throw new ConfigError(`${files.where}/${name}: no pooling mode is true`);
  return POOLING_MODES.filter((m) => modes.has(m));
}

/**
 * Pools one row of token embeddings h[base .. base + len*H) (the kept tokens) into out at o, by
 * each mode in turn (sentence-transformers' Pooling, float64 sums).
 */
export function poolRow(
  h: Float32Array,
  base: number,
  len: number,
  H: number,
  modes: readonly (PoolingMode | "last_token")[],
  out: Float32Array,
  o: number,
): void {
  let at = o;
  for (const m of modes) {
    if (m === "cls") out.set(h.subarray(base, base + H), at);
    else if (m === "last_token") {
      // the last kept token of the row (padding is never part of `len`); no token: zeros
      if (len) out.set(h.subarray(base + (len - 1) * H, base + len * H), at);
      else out.fill(0, at, at + H);
    } else if (m === "max") {
      for (let j = 0; j < H; j++) {
        let v = -Infinity;
        for (let s = 0; s < len; s++) v = Math.max(v, h[base + s * H + j]);
        out[at + j] = len ? v : -1e9;
      }
    } else {
      const acc = new Float64Array(H);
      for (let s = 0; s < len; s++) for (let j = 0; j < H; j++) acc[j] += h[base + s * H + j];
      // sentence-transformers: sum / clamp(count, 1e-9), or sum / sqrt(count)
      const d = m === "mean" ? Math.max(len, 1e-9) : Math.sqrt(len);
      for (let j = 0; j < H; j++) out[at + j] = acc[j] / d;
    }
    at += H;
  }
}
