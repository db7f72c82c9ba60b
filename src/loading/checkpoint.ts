// Which weights a model folder offers, and every checkpoint container as one TensorSource.
//
// transformers 4.30.2 (a local folder, the safetensors package installed) loads the first of
// model.safetensors, model.safetensors.index.json, pytorch_model.bin,
// pytorch_model.bin.index.json that exists, and never opens the others; so does openWeights.
// Existence is probed first (a HEAD for a URL), so nothing is downloaded to learn a file is absent.
// A sharded checkpoint's index maps tensor names to shard files beside it; every named shard is
// opened (an absent one is an error) and the shards are presented as one source.
import {
  headerLength,
  parseHeader,
  type SafetensorsHeader,
  type TensorInfo,
  type TensorSource,
} from "../safetensors.js";
import { readAt, type RandomAccess } from "./random_access.js";
import { TorchSource } from "./torch.js";
import { WeightsError } from "../errors.js";

/** The weight files transformers 4.30.2 looks for in a folder, in its order. */
export const WEIGHT_FILES = [
  "model.safetensors",
  "model.safetensors.index.json",
  "pytorch_model.bin",
  "pytorch_model.bin.index.json",
] as const;

/** What openWeights needs of a model's files. */
export interface WeightFiles {
  readonly where: string;
  bytes(name: string): Promise<Uint8Array | null>;
  open(name: string): Promise<RandomAccess | null>;
  exists(name: string): Promise<boolean>;
  /** A safetensors file as a source (the ModelFiles' own reader). */
  safetensors(name: string): Promise<TensorSource | null>;
}

/** A safetensors file read in place through random access. */
export class SafetensorsFile implements TensorSource {
  private constructor(
    private readonly ra: RandomAccess,
    readonly header: SafetensorsHeader,
  ) {}
  static async open(ra: RandomAccess): Promise<SafetensorsFile> {
    const prefix = await readAt(ra, 0, Math.min(8, ra.size));
    const n = headerLength(prefix, ra.size);
    const json = await readAt(ra, 8, n);
    return new SafetensorsFile(ra, parseHeader(json, ra.size));
  }
  async read(t: TensorInfo, dst: Uint8Array): Promise<void> {
    await this.ra.read(this.header.dataStart + t.begin, dst);
  }
  async close(): Promise<void> {
    await this.ra.close();
  }
}

/** Several sources seen as one: tensor offsets shifted into one virtual data section. */
export class ShardedSource implements TensorSource {
  readonly header: SafetensorsHeader;
  private readonly from = new Map<string, { source: TensorSource; info: TensorInfo }>();
  constructor(
    private readonly shards: { name: string; source: TensorSource }[],
    owner: Map<string, string> | null,
  ) {
    const tensors = new Map<string, TensorInfo>();
    let base = 0;
    for (const { name, source } of shards) {
      let end = 0;
      for (const [k, t] of source.header.tensors) {
        end = Math.max(end, t.end);
        // a tensor the index assigns to another shard is taken from that one
        if (owner?.has(k) && owner.get(k) !== name) continue;
        if (tensors.has(k))
          throw new WeightsError(`tensor "${k}" is in two shards (${name} and another)`);
        tensors.set(k, { ...t, begin: base + t.begin, end: base + t.end });
        this.from.set(k, { source, info: t });
      }
      base += end;
    }
    if (owner)
      for (const [k, shard] of owner)
        if (!tensors.has(k))
          throw new WeightsError(
            `the index places "${k}" in ${shard}, but that shard does not hold it`,
          );
    this.header = { dataStart: 0, tensors, metadata: null };
  }
  async read(t: TensorInfo, dst: Uint8Array): Promise<void> {
    const f = this.from.get(t.name);
    const v = this.header.tensors.get(t.name);
    if (!f || !v) throw new WeightsError(`no tensor "${t.name}" in the shards`);
    const delta = t.begin - v.begin;
    await f.source.read(
      { ...f.info, begin: f.info.begin + delta, end: f.info.begin + delta + dst.length },
      dst,
    );
  }
  async close(): Promise<void> {
    for (const s of this.shards) await s.source.close?.();
  }
}

async function openContainer(files: WeightFiles, name: string): Promise<TensorSource | null> {
  if (name.endsWith(".safetensors")) return files.safetensors(name);
  const ra = await files.open(name);
  if (!ra) return null;
  try {
    return await TorchSource.open(ra);
  } catch (e) {
    await ra.close();
    throw e;
  }
}

/** Reads an index file: weight_map as tensor -> shard file (a plain name beside the index). */
export function parseIndex(bytes: Uint8Array, where: string): Map<string, string> {
  let obj: unknown;
  try {
    obj = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new WeightsError(`${where}: not valid JSON: ${(e as Error).message}`);
  }
  const map = (obj as { weight_map?: unknown } | null)?.weight_map;
  if (!map || typeof map !== "object" || Array.isArray(map))
    throw new WeightsError(`${where}: no "weight_map" object`);
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
    if (typeof v !== "string" || !v || /[\\/]/.test(v) || v === "." || v === "..")
      throw new WeightsError(
        `${where}: weight_map["${k}"] must be a shard file name beside the index, got ${JSON.stringify(v)}`,
      );
    out.set(k, v);
  }
  return out;
}

/** The weights of a model folder, picked as transformers 4.30.2 picks them. */
export async function openWeights(files: WeightFiles): Promise<TensorSource> {
  for (const name of WEIGHT_FILES) {
    if (!(await files.exists(name))) continue;
    if (!name.endsWith(".index.json")) {
      const s = await openContainer(files, name);
      if (s) return s;
      continue;
    }
    const bytes = await files.bytes(name);
    if (!bytes) continue;
    const where = `${files.where}/${name}`;
    const owner = parseIndex(bytes, where);
    const shardNames = [...new Set(owner.values())];
    const shards: { name: string; source: TensorSource }[] = [];
    try {
      for (const s of shardNames) {
        const ext = name.startsWith("model.") ? ".safetensors" : ".bin";
        if (!s.endsWith(ext)) throw new WeightsError(`${where}: shard ${s} is not a ${ext} file`);
        const src = await openContainer(files, s);
        if (!src)
          throw new WeightsError(`${where} names the shard ${s}, which is not in ${files.where}`);
        shards.push({ name: s, source: src });
      }
      return new ShardedSource(shards, owner);
    } catch (e) {
      for (const s of shards) await s.source.close?.();
      throw e;
    }
  }
  throw new WeightsError(
    `${files.where}: no model.safetensors (nor ${WEIGHT_FILES.slice(1).join(", ")}): no weights to load`,
  );
}
