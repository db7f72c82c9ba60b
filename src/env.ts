// `env`: transformers.js' global settings of where models come from, for simdbert's loader.
//
//   import { env } from "simdbert";
//   env.cacheDir = "/data/hf-cache";           // the hub cache (huggingface_hub's layout)
//   env.remoteHost = "https://hf-mirror.example"; // the hub (HF_ENDPOINT)
//   env.localModelPath = "/models";            // model ids looked up here first
//   env.allowRemoteModels = false;             // never download (the cache and local folders only)
//   env.allowLocalModels = false;              // ids never resolve to local folders
//
// A per-call option wins over env (cache_dir, endpoint, local_files_only), and env wins over the
// environment variables (HF_HUB_CACHE / HF_HOME, HF_ENDPOINT). Assigning a key env does not have,
// or a value of the wrong type, is an OptionError naming it: a setting is never silently ignored.
import { OptionError } from "./options.js";

const DEFAULT_TEMPLATE = "{model}/resolve/{revision}/";

interface Settings {
  cacheDir: string | null;
  remoteHost: string | null;
  remotePathTemplate: string;
  localModelPath: string;
  allowRemoteModels: boolean;
  allowLocalModels: boolean;
}

const settings: Settings = {
  cacheDir: null,
  remoteHost: null,
  remotePathTemplate: DEFAULT_TEMPLATE,
  localModelPath: "",
  allowRemoteModels: true,
  allowLocalModels: true,
};

/** The settings and what each accepts. */
const KINDS: Record<keyof Settings, "path" | "url" | "template" | "boolean"> = {
  cacheDir: "path",
  remoteHost: "url",
  remotePathTemplate: "template",
  localModelPath: "path",
  allowRemoteModels: "boolean",
  allowLocalModels: "boolean",
};
const KEYS = Object.keys(KINDS);

function processEnv(): Record<string, string | undefined> {
  return (
    (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {}
  );
}

/** transformers.js' env, for simdbert's loader. */
export interface Env {
  /**
   * The hub cache folder (huggingface_hub's layout, shared with Python). null (default): the
   * per-call cache_dir, else HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub.
   */
  cacheDir: string | null;
  /** The hub's address (default: HF_ENDPOINT, else https://huggingface.co/); null resets it. */
  remoteHost: string | null;
  /** Path of a repo's files under remoteHost: "{model}/resolve/{revision}/" (the hub's). */
  remotePathTemplate: string;
  /** Folder where model ids are looked up before the hub (default "": the working directory). */
  localModelPath: string;
  /** false: model ids load from local folders and the cache only, URLs are refused. */
  allowRemoteModels: boolean;
  /** false: model ids never resolve to local folders (explicit paths still load). */
  allowLocalModels: boolean;
  /** simdbert's version of the settings object (read only). */
  readonly version: string;
}

export const env: Env = new Proxy(settings as unknown as Env, {
  get(target, key) {
    if (key === "version") return "simdbert";
    if (key === "remoteHost")
      return settings.remoteHost ?? withSlash(processEnv().HF_ENDPOINT ?? "https://huggingface.co");
    return Reflect.get(target, key);
  },
  set(_target, key, value) {
    const name = String(key);
    if (!Object.prototype.hasOwnProperty.call(KINDS, name))
      throw new OptionError(
        `env.${name}: simdbert's env has no such setting (settings: ${KEYS.join(", ")})`,
        name,
        KEYS,
      );
    const kind = KINDS[name as keyof Settings];
    const bad = (what: string) =>
      new OptionError(
        `env.${name} must be ${what}, got ${JSON.stringify(value) ?? String(value)}`,
        name,
        KEYS,
      );
    if (kind === "boolean") {
      if (typeof value !== "boolean") throw bad("true or false");
    } else if (kind === "template") {
      if (typeof value !== "string" || !value.includes("{model}"))
        throw bad(
          'a path template with {model} (and {revision}), such as "{model}/resolve/{revision}/"',
        );
    } else if (kind === "url") {
      if (value !== null && (typeof value !== "string" || !/^https?:\/\/[^/]/i.test(value)))
        throw bad("an http(s) URL, or null for the default");
    } else if (value !== null && typeof value !== "string") throw bad("a path (a string)");
    if (name === "localModelPath" && value === null) value = "";
    (settings as unknown as Record<string, unknown>)[name] = value;
    return true;
  },
  deleteProperty(_target, key) {
    throw new OptionError(
      `env.${String(key)} cannot be deleted (assign it instead)`,
      String(key),
      KEYS,
    );
  },
  defineProperty(_target, key) {
    throw new OptionError(
      `env.${String(key)} cannot be defined (assign it instead)`,
      String(key),
      KEYS,
    );
  },
});

function withSlash(s: string): string {
  return s.endsWith("/") ? s : `${s}/`;
}

/** @internal The hub endpoint env sets (without the trailing slash), or null. */
export function envEndpoint(): string | null {
  return settings.remoteHost === null ? null : settings.remoteHost.replace(/\/+$/, "");
}

/** @internal The path of a repo's file under the endpoint, by env.remotePathTemplate. */
export function envRepoPath(repo: string, revision: string, file: string): string {
  const dir = settings.remotePathTemplate
    .replaceAll("{model}", repo)
    .replaceAll("{revision}", encodeURIComponent(revision));
  return `${dir.replace(/^\/+/, "").replace(/\/*$/, "/")}${file}`;
}

/** @internal The settings as they are now (the loader reads them at each call). */
export function envSettings(): Readonly<Settings> {
  return settings;
}
