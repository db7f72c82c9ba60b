// Where a model's files come from, in every runtime:
//   - a directory path or file: URL (Node, Deno, Bun: read with node:fs, weights read straight
//     into wasm memory tensor by tensor, never the whole file in JS memory),
//   - an http(s) base URL (browsers, workers: fetch),
//   - a hub model id: the disk cache shared with Python (hub.ts), or where there is no file
//     system the hub's URLs through fetch and the Cache API (hub_web.ts),
//   - files in memory: { "config.json": string | object, "model.safetensors": bytes, ... }.
import { BertConfig, ConfigError } from "../config.js";
import { BufferSource, type TensorSource } from "../safetensors.js";
import { openWeights, SafetensorsFile, type WeightFiles } from "./checkpoint.js";
import { BytesAccess, FileAccess, HttpAccess, type RandomAccess } from "./random_access.js";
import { quote } from "../messages.js";
import { FileError, MAX_FILE_BYTES, MAX_JSON_BYTES, readRegularFile } from "./files.js";
import { SourceError } from "../errors.js";
import { envSettings } from "../env.js";
import {
  HubError,
  hubDownload,
  hubEndpoint,
  hubFileExists,
  isModelId,
  offlineReason,
  type HubOptions,
} from "./hub.js";
import { hasFileSystem, WebHubFiles } from "./hub_web.js";

export type FileMap = Record<string, string | Uint8Array | ArrayBuffer | object>;
export type ModelSource = string | URL | FileMap | ModelFiles;

export interface ModelFiles {
  /**
   * Bytes of a file, or null when it does not exist. Files larger than maxBytes (default
   * MAX_FILE_BYTES, 1 GiB) are refused, and local files must be regular files.
   */
  bytes(name: string, maxBytes?: number): Promise<Uint8Array | null>;
  /** A tensor source over a safetensors file (may read lazily). */
  tensors(name: string): Promise<TensorSource | null>;
  /** Random access to a file without reading it whole (default: through bytes()). */
  open?(name: string): Promise<RandomAccess | null>;
  /** Whether a file exists, without fetching it (default: through open()). */
  exists?(name: string): Promise<boolean>;
  /** Human-readable location for messages. */
  readonly where: string;
}

// The specifier is a variable, not a literal, so that bundlers for browsers and workers (esbuild,
// wrangler, Vite) leave this import alone instead of failing to resolve node:fs for their platform.
const NODE_FS = "node:fs/promises";
const nodeFs = () =>
  import(/* @vite-ignore */ NODE_FS) as Promise<typeof import("node:fs/promises")>;

function isModelFiles(s: unknown): s is ModelFiles {
  return (
    !!s &&
    typeof s === "object" &&
    typeof (s as ModelFiles).bytes === "function" &&
    typeof (s as ModelFiles).tensors === "function"
  );
}

/**
 * Resolves any ModelSource to ModelFiles: a hub model id ("org/name", "bert-base-uncased") goes
 * through the hub and its cache (hub.ts), unless a local folder of that name exists (a local path
 * always wins over an id).
 */
export function modelFiles(source: ModelSource, hub: HubOptions = {}): ModelFiles {
  if (isModelFiles(source)) return source;
  if (typeof source === "string" || source instanceof URL) {
    const s = source instanceof URL ? source.href : source;
    if (typeof s === "string" && isModelId(s)) {
      // no file system for the disk cache, or the Cache API asked for: fetch + Cache API (with
      // env.allowRemoteModels false, that cache only)
      if (!hasFileSystem() || (hub.browser_cache !== undefined && hub.browser_cache !== false))
        return new WebHubFiles(s, hub);
      return new IdFiles(s, hub);
    }
    if (
      /^https?:\/\//i.test(s) ||
      (typeof location !== "undefined" && !/^file:/i.test(s) && !isNodeLike())
    ) {
      if (!envSettings().allowRemoteModels)
        throw new SourceError(
          `${s}: env.allowRemoteModels is false, so no model is fetched from a URL`,
        );
      return new UrlFiles(s);
    }
    return new DirFiles(s);
  }
  if (source && typeof source === "object") return new MemoryFiles(source as FileMap);
  throw new SourceError(`simdbert: cannot load a model from ${String(source)}`);
}

function isNodeLike(): boolean {
  const g = globalThis as {
    process?: { versions?: { node?: string } };
    Deno?: unknown;
    Bun?: unknown;
  };
  return !!(g.process?.versions?.node || g.Deno || g.Bun);
}

class DirFiles implements ModelFiles {
  readonly where: string;
  private readonly dir: string;
  constructor(dir: string) {
    this.dir = dir.startsWith("file:") ? decodeURIComponent(new URL(dir).pathname) : dir;
    this.where = this.dir;
  }
  private path(name: string): string {
    return this.dir.replace(/[\\/]+$/, "") + "/" + name;
  }
  async bytes(name: string, maxBytes = MAX_FILE_BYTES): Promise<Uint8Array | null> {
    return readRegularFile(this.path(name), { maxBytes, what: name });
  }
  async tensors(name: string): Promise<TensorSource | null> {
    return safetensorsAt(await this.open(name));
  }
  open(name: string): Promise<RandomAccess | null> {
    return FileAccess.open(this.path(name));
  }
  async exists(name: string): Promise<boolean> {
    const fs = await nodeFs();
    try {
      // anything at the path "exists": opening it then says what it is (a FIFO, a device...)
      await fs.stat(this.path(name));
      return true;
    } catch {
      return false;
    }
  }
}

/** A model id: a local folder of that name if there is one, else the hub through its cache. */
class IdFiles implements ModelFiles {
  private resolved: Promise<ModelFiles> | null = null;
  private inner: ModelFiles | null = null;
  constructor(
    private readonly id: string,
    private readonly hub: HubOptions,
  ) {}
  get where(): string {
    return this.inner?.where ?? this.id;
  }
  private files(): Promise<ModelFiles> {
    this.resolved ??= (async () => {
      const fs = await nodeFs();
      // env.localModelPath + id, unless env.allowLocalModels is false
      const { allowLocalModels, localModelPath } = envSettings();
      const local = localModelPath
        ? `${localModelPath.replace(/[\\/]+$/, "")}/${this.id}`
        : this.id;
      try {
        if (allowLocalModels && (await fs.stat(local)).isDirectory())
          return (this.inner = new DirFiles(local));
      } catch {
        /* not a local folder */
      }
      return (this.inner = new HubFiles(this.id, this.hub));
    })();
    return this.resolved;
  }
  async bytes(name: string, maxBytes?: number) {
    return (await this.files()).bytes(name, maxBytes);
  }
  async tensors(name: string) {
    return (await this.files()).tensors(name);
  }
  async open(name: string) {
    const f = await this.files();
    return f.open ? f.open(name) : null;
  }
  async exists(name: string) {
    const f = await this.files();
    return f.exists ? f.exists(name) : (await f.bytes(name)) !== null;
  }
}

/** A safetensors source over an opened file (null: absent), closing the file when it is refused. */
async function safetensorsAt(ra: RandomAccess | null): Promise<TensorSource | null> {
  if (!ra) return null;
  try {
    return await SafetensorsFile.open(ra);
  } catch (e) {
    await ra.close();
    throw e;
  }
}

/** Files of a hub repo, each downloaded into the cache (or found there) when first read. */
export class HubFiles implements ModelFiles {
  private readonly base: string;
  /** Files asked for offline that the cache does not have (optional ones are then absent). */
  private readonly notCached: string[] = [];
  constructor(
    readonly repo: string,
    private readonly hub: HubOptions = {},
  ) {
    this.base = `${repo} (${hubEndpoint(hub)}, revision ${hub.revision ?? "main"})`;
  }
  get where(): string {
    return this.notCached.length
      ? `${this.base} (offline, and the cache does not have ${this.notCached.join(", ")}; the network is off: ${offlineReason(this.hub)})`
      : this.base;
  }
  private async local(name: string): Promise<string | null> {
    this.hub.progress_callback?.({ status: "initiate", name: this.repo, file: name });
    try {
      return await hubDownload(this.repo, name, this.hub);
    } catch (e) {
      // offline, a file the cache does not know is absent (as transformers treats optional files);
      // a required one is then reported missing with the offline context in `where`
      if (e instanceof HubError && e.code === "Offline") {
        this.notCached.push(name);
        return null;
      }
      throw e;
    }
  }
  async bytes(name: string, maxBytes?: number): Promise<Uint8Array | null> {
    const p = await this.local(name);
    return p ? new DirFiles(p.slice(0, p.length - name.length)).bytes(name, maxBytes) : null;
  }
  async tensors(name: string): Promise<TensorSource | null> {
    return safetensorsAt(await this.open(name));
  }
  async open(name: string): Promise<RandomAccess | null> {
    const p = await this.local(name);
    return p ? FileAccess.open(p) : null;
  }
  exists(name: string): Promise<boolean> {
    return hubFileExists(this.repo, name, this.hub);
  }
}

class UrlFiles implements ModelFiles {
  readonly where: string;
  constructor(private readonly base: string) {
    this.where = base;
  }
  private url(name: string): string {
    return this.base.replace(/\/+$/, "") + "/" + name;
  }
  async bytes(name: string, maxBytes = MAX_FILE_BYTES): Promise<Uint8Array | null> {
    const url = this.url(name);
    const res = await fetch(url);
    if (res.status === 404) return null;
    if (!res.ok) throw new SourceError(`simdbert: GET ${url}: HTTP ${res.status}`);
    const tooLarge = () =>
      new FileError(`${url}: more than the ${maxBytes}-byte limit for ${name}`);
    if (Number(res.headers.get("content-length") ?? 0) > maxBytes) {
      await res.body?.cancel();
      throw tooLarge();
    }
    if (!res.body) return new Uint8Array(await res.arrayBuffer());
    // read as a stream: a response without (or lying about) its length stops at the cap
    const parts: Uint8Array[] = [];
    let total = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      parts.push(value);
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  async tensors(name: string): Promise<TensorSource | null> {
    return safetensorsAt(await this.open(name));
  }
  /** Range reads (a read-ahead window at a time) where the server allows them. */
  open(name: string): Promise<RandomAccess | null> {
    return HttpAccess.open(this.url(name));
  }
  /** A HEAD request (a GET of one byte where HEAD is not allowed): nothing is downloaded. */
  async exists(name: string): Promise<boolean> {
    let res = await fetch(this.url(name), { method: "HEAD" });
    if (res.status === 405 || res.status === 501) {
      res = await fetch(this.url(name), { headers: { Range: "bytes=0-0" } });
      await res.body?.cancel();
    }
    if (res.status === 404) return false;
    if (res.ok) return true;
    throw new SourceError(`simdbert: HEAD ${this.url(name)}: HTTP ${res.status}`);
  }
}

class MemoryFiles implements ModelFiles {
  readonly where = "in-memory files";
  constructor(private readonly files: FileMap) {}
  async bytes(name: string): Promise<Uint8Array | null> {
    if (!Object.prototype.hasOwnProperty.call(this.files, name)) return null;
    const v = this.files[name];
    if (typeof v === "string") return new TextEncoder().encode(v);
    if (v instanceof Uint8Array) return v;
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (typeof SharedArrayBuffer === "function" && v instanceof SharedArrayBuffer)
      return new Uint8Array(v);
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    // a JSON file given as an object: a plain object only (a Map would become "{}"), serializable
    const tag = Object.prototype.toString.call(v);
    if (v === null || typeof v !== "object" || tag !== "[object Object]")
      throw new ConfigError(
        `in-memory files: ${quote(name)} must be a string, bytes or a plain object, got ${v === null ? "null" : typeof v !== "object" ? typeof v : `a ${tag.slice(8, -1)}`}`,
      );
    let text: string | undefined;
    try {
      text = JSON.stringify(v);
    } catch (e) {
      throw new ConfigError(
        `in-memory files: ${quote(name)} cannot be written as JSON (${/circular/i.test((e as Error).message) ? "it refers to itself" : /bigint/i.test((e as Error).message) ? "it holds a BigInt" : quote((e as Error).message)})`,
      );
    }
    return new TextEncoder().encode(text);
  }
  async tensors(name: string): Promise<TensorSource | null> {
    const b = await this.bytes(name);
    return b ? new BufferSource(b) : null;
  }
  async open(name: string): Promise<RandomAccess | null> {
    const b = await this.bytes(name);
    return b ? new BytesAccess(b, `${this.where}: ${name}`) : null;
  }
  async exists(name: string): Promise<boolean> {
    return Object.prototype.hasOwnProperty.call(this.files, name);
  }
}

/** A ModelFiles seen through open/exists (defaults for custom implementations without them). */
export function weightFiles(files: ModelFiles): WeightFiles {
  const open = async (name: string): Promise<RandomAccess | null> => {
    if (files.open) return files.open(name);
    const b = await files.bytes(name);
    return b ? new BytesAccess(b, `${files.where}/${name}`) : null;
  };
  return {
    where: files.where,
    bytes: (name) => files.bytes(name),
    safetensors: (name) => files.tensors(name),
    open,
    exists: async (name) => {
      if (files.exists) return files.exists(name);
      const ra = await open(name);
      await ra?.close();
      return ra !== null;
    },
  };
}

/** What was wrong with a file read by readJson / decodeUtf8, for the caller's typed error. */
export type FileFormatFailure = "utf8" | "json" | "not-object";
/** Makes the typed error of a file format failure (default: ConfigError). */
export type FileFormatError = (message: string, failure: FileFormatFailure) => Error;

const configError: FileFormatError = (message) => new ConfigError(message);

/**
 * A model file's text, strict UTF-8 as Python's open(encoding="utf-8"): a damaged byte is an
 * error (`name` in `files.where`), not a silently different key or token.
 */
export function decodeUtf8(
  b: Uint8Array,
  where: string,
  name: string,
  error: FileFormatError = configError,
): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    throw error(`${where}: ${name} is not valid UTF-8`, "utf8");
  }
}

/**
 * Reads a JSON object file of a model, or null when absent (strict UTF-8, see decodeUtf8). Errors
 * are made by `error` (default: a config's ConfigError; a tokenizer's gives TokenizerError).
 */
export async function readJson(
  files: ModelFiles,
  name: string,
  error: FileFormatError = configError,
): Promise<Record<string, unknown> | null> {
  const b = await files.bytes(name, MAX_JSON_BYTES);
  if (!b) return null;
  const text = decodeUtf8(b, files.where, name, error);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw error(
      `${files.where}: ${name} is not a valid JSON object: ${(e as Error).message}`,
      "json",
    );
  }
  if (!v || typeof v !== "object" || Array.isArray(v))
    throw error(`${files.where}: ${name} is not a valid JSON object: not an object`, "not-object");
  return v as Record<string, unknown>;
}

/** config.json and the weights of a model (see checkpoint.ts for which file). */
export async function openModel(
  source: ModelSource,
  overrides?: Record<string, unknown>,
  hub?: HubOptions,
): Promise<{
  files: ModelFiles;
  config: BertConfig;
  tensors: TensorSource;
  close: () => Promise<void>;
}> {
  const files = modelFiles(source, hub);
  if (
    overrides !== undefined &&
    overrides !== null &&
    Object.prototype.toString.call(overrides) !== "[object Object]"
  )
    throw new ConfigError(
      `the config option (overrides of config.json) must be a plain object, got ${Array.isArray(overrides) ? "an array" : typeof overrides !== "object" ? typeof overrides : `a ${Object.prototype.toString.call(overrides).slice(8, -1)}`}`,
    );
  const json = await readJson(files, "config.json");
  if (!json) throw new ConfigError(`${files.where}: no config.json`);
  const config = new BertConfig({ ...json, ...(overrides ?? {}) });
  const tensors = await openWeights(weightFiles(files));
  return { files, config, tensors, close: async () => tensors.close?.() };
}
