// Where a model's files come from, in every runtime:
//   - a directory path or file: URL (Node, Deno, Bun: read with node:fs, weights read straight
//     into wasm memory tensor by tensor, never the whole file in JS memory),
//   - an http(s) base URL (browsers, workers: fetch),
//   - files in memory: { "config.json": string | object, "model.safetensors": bytes, ... }.
import { BertConfig, ConfigError } from "../config.js";
import {
  BufferSource,
  headerLength,
  parseHeader,
  SafetensorsError,
  type TensorInfo,
  type TensorSource,
} from "../safetensors.js";
import { WeightsError } from "./weights.js";
import { SourceError } from "../errors.js";

export type FileMap = Record<string, string | Uint8Array | ArrayBuffer | object>;
export type ModelSource = string | URL | FileMap | ModelFiles;

export interface ModelFiles {
  /** Bytes of a file, or null when it does not exist. */
  bytes(name: string): Promise<Uint8Array | null>;
  /** A tensor source over a safetensors file (may read lazily). */
  tensors(name: string): Promise<TensorSource | null>;
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

/** Resolves any ModelSource to ModelFiles. */
export function modelFiles(source: ModelSource): ModelFiles {
  if (isModelFiles(source)) return source;
  if (typeof source === "string" || source instanceof URL) {
    const s = source instanceof URL ? source.href : source;
    if (
      /^https?:\/\//i.test(s) ||
      (typeof location !== "undefined" && !/^file:/i.test(s) && !isNodeLike())
    )
      return new UrlFiles(s);
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
  async bytes(name: string): Promise<Uint8Array | null> {
    const fs = await nodeFs();
    try {
      return new Uint8Array(await fs.readFile(this.path(name)));
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return null;
      throw e;
    }
  }
  async tensors(name: string): Promise<TensorSource | null> {
    const fs = await nodeFs();
    let handle;
    try {
      handle = await fs.open(this.path(name), "r");
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return null;
      throw e;
    }
    try {
      return await FileSource.open(handle, this.path(name));
    } catch (e) {
      await handle.close();
      throw e;
    }
  }
}

type Handle = Awaited<ReturnType<typeof import("node:fs/promises").open>>;

/** A safetensors file read in place: the header once, each tensor straight into its destination. */
class FileSource implements TensorSource {
  private constructor(
    private readonly handle: Handle,
    readonly header: TensorSource["header"],
    private readonly path: string,
  ) {}

  static async open(handle: Handle, path: string): Promise<FileSource> {
    const size = (await handle.stat()).size;
    const prefix = new Uint8Array(8);
    await readFully(handle, prefix, 0, path);
    const n = headerLength(prefix, size);
    const json = new Uint8Array(n);
    await readFully(handle, json, 8, path);
    return new FileSource(handle, parseHeader(json, size), path);
  }
  async read(t: TensorInfo, dst: Uint8Array): Promise<void> {
    await readFully(this.handle, dst, this.header.dataStart + t.begin, this.path);
  }
  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function readFully(
  handle: Handle,
  dst: Uint8Array,
  position: number,
  path: string,
): Promise<void> {
  let done = 0;
  while (done < dst.length) {
    const { bytesRead } = await handle.read(dst, done, dst.length - done, position + done);
    if (bytesRead === 0)
      throw new SafetensorsError(`${path}: file ended early (truncated while reading)`);
    done += bytesRead;
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
  async bytes(name: string): Promise<Uint8Array | null> {
    const res = await fetch(this.url(name));
    if (res.status === 404) return null;
    if (!res.ok) throw new SourceError(`simdbert: GET ${this.url(name)}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  async tensors(name: string): Promise<TensorSource | null> {
    const b = await this.bytes(name);
    return b ? new BufferSource(b) : null;
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
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return new TextEncoder().encode(JSON.stringify(v));
  }
  async tensors(name: string): Promise<TensorSource | null> {
    const b = await this.bytes(name);
    return b ? new BufferSource(b) : null;
  }
}

/** Reads a JSON file of a model, or null when absent. */
export async function readJson(
  files: ModelFiles,
  name: string,
): Promise<Record<string, unknown> | null> {
  const b = await files.bytes(name);
  if (!b) return null;
  let text: string;
  try {
    // HF opens it as UTF-8: a damaged byte is an error, not a silently different key
    text = new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    throw new ConfigError(`${files.where}: ${name} is not valid UTF-8`);
  }
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(
      `${files.where}: ${name} is not a valid JSON object: ${(e as Error).message}`,
    );
  }
}

/** config.json + model.safetensors of a model. */
export async function openModel(
  source: ModelSource,
  overrides?: Record<string, unknown>,
): Promise<{
  files: ModelFiles;
  config: BertConfig;
  tensors: TensorSource;
  close: () => Promise<void>;
}> {
  const files = modelFiles(source);
  const json = await readJson(files, "config.json");
  if (!json) throw new ConfigError(`${files.where}: no config.json`);
  const config = new BertConfig({ ...json, ...(overrides ?? {}) });
  const tensors = await files.tensors("model.safetensors");
  if (!tensors) {
    const bin = await files.bytes("pytorch_model.bin").catch(() => null);
    throw new WeightsError(
      `${files.where}: no model.safetensors${bin ? " (pytorch_model.bin is a pickle, which simdbert does not read: convert it with safetensors' convert script)" : ""}`,
    );
  }
  return { files, config, tensors, close: async () => tensors.close?.() };
}
