// PyTorch checkpoints (pytorch_model.bin) as a TensorSource, read in place:
//   - the zip container (torch.save since 1.6): <top>/data.pkl is the state dict's pickle, each
//     storage the stored record <top>/data/<key>;
//   - the legacy format (before 1.6): five pickles back to back (magic number, protocol 1001,
//     sys_info, the state dict, the storage keys), then each storage as an int64 element count
//     and its raw bytes, in the order of the keys.
// The pickles go through pickle.ts (data only, nothing executed). Each tensor is a view
// (storage, offset, size, stride) of a storage; the source presents every tensor as if it were
// stored contiguously (TensorInfo offsets in a virtual data section) and a read gathers the view's
// elements from its storage: contiguous views are read in one piece straight into the
// destination, others through a buffer of the storage span they touch.
import type { SafetensorsHeader, TensorInfo, TensorSource } from "../safetensors.js";
import {
  PickleError,
  PickleTruncated,
  readPickle,
  storageFromPid,
  type StorageRef,
  type TensorRef,
} from "./pickle.js";
import { readAt, type RandomAccess } from "./random_access.js";
import { WeightsError } from "../errors.js";
import { checkStored, isZip, readZip, ZipError } from "./zip.js";

export interface Located {
  ref: TensorRef;
  /** Absolute file position of the storage's first byte. */
  pos: number;
  /** Byte offset of this tensor in the virtual contiguous data section. */
  vbegin: number;
  contiguous: boolean;
}

/** The largest pickle read into memory (a BERT-large state dict's is ~40 KB). */
const MAX_PICKLE = 256 << 20;
/** The largest tensor (a broadcast view may declare more elements than its storage holds). */
const MAX_TENSOR_BYTES = 2 ** 31;
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export class TorchSource implements TensorSource {
  readonly header: SafetensorsHeader;
  private constructor(
    private readonly ra: RandomAccess,
    private readonly located: Map<string, Located>,
    readonly format: "zip" | "legacy",
  ) {
    const tensors = new Map<string, TensorInfo>();
    for (const [name, l] of located) {
      const n = l.ref.size.reduce((a, b) => a * b, 1);
      const bytes = n * l.ref.storage.itemSize;
      tensors.set(name, {
        name,
        dtype: l.ref.storage.dtype,
        shape: l.ref.size,
        begin: l.vbegin,
        end: l.vbegin + bytes,
      });
    }
    this.header = { dataStart: 0, tensors, metadata: null };
  }

  /** Reads the checkpoint's directory and state dict (tensor bytes stay in the file). */
  static async open(ra: RandomAccess): Promise<TorchSource> {
    if (await isZip(ra)) return openZip(ra);
    return openLegacy(ra);
  }

  static create(ra: RandomAccess, state: Map<string, Located>, format: "zip" | "legacy") {
    return new TorchSource(ra, state, format);
  }

  async read(t: TensorInfo, dst: Uint8Array): Promise<void> {
    const l = this.located.get(t.name);
    if (!l) throw new WeightsError(`${this.ra.where}: no tensor "${t.name}"`);
    const es = l.ref.storage.itemSize;
    const from = t.begin - l.vbegin;
    if (from < 0 || from % es || dst.length % es || from + dst.length > totalBytes(l))
      throw new WeightsError(`${this.ra.where}: "${t.name}": a read outside the tensor`);
    if (l.contiguous) {
      await this.ra.read(l.pos + l.ref.offset * es + from, dst);
      return;
    }
    // a strided view: elements [e0, e1) in row-major order, gathered from the storage span
    const e0 = from / es,
      e1 = e0 + dst.length / es;
    const { size, stride, offset } = l.ref;
    const index = (e: number): number => {
      let at = offset;
      for (let d = size.length - 1; d >= 0; d--) {
        at += (e % size[d]) * stride[d];
        e = Math.floor(e / size[d]);
      }
      return at;
    };
    // strides are non-negative: the view lies within [offset, maxIndex] of its storage
    const lo = offset,
      hi = maxIndex(l.ref);
    const buf = await readAt(this.ra, l.pos + lo * es, (hi - lo + 1) * es);
    for (let e = e0; e < e1; e++) {
      const s = (index(e) - lo) * es;
      dst.set(buf.subarray(s, s + es), (e - e0) * es);
    }
  }

  async close(): Promise<void> {
    await this.ra.close();
  }
}

function totalBytes(l: Located): number {
  return l.ref.size.reduce((a, b) => a * b, 1) * l.ref.storage.itemSize;
}

/** The largest storage index a view reaches (offset when it is empty). */
function maxIndex(t: TensorRef): number {
  let m = t.offset;
  for (let d = 0; d < t.size.length; d++) if (t.size[d] > 0) m += (t.size[d] - 1) * t.stride[d];
  return m;
}

function isContiguous(t: TensorRef): boolean {
  let expect = 1;
  for (let d = t.size.length - 1; d >= 0; d--) {
    if (t.size[d] !== 1 && t.stride[d] !== expect) return false;
    expect *= t.size[d];
  }
  return true;
}

/** The state dict's tensors by name; anything else in it is refused. */
function stateDict(value: unknown, where: string): Map<string, TensorRef> {
  if (!(value instanceof Map))
    throw new PickleError(`${where}: the pickle holds no state dict (a dict of tensors)`);
  const out = new Map<string, TensorRef>();
  for (const [k, v] of value) {
    if (typeof k !== "string")
      throw new PickleError(`${where}: a state dict key that is not a string`);
    if (!v || (v as TensorRef).kind !== "tensor")
      throw new PickleError(`${where}: state dict entry "${k.slice(0, 100)}" is not a tensor`);
    out.set(k, v as TensorRef);
  }
  return out;
}

/** Checks every view against its storage and lays the tensors out in storage order. */
function locate(
  tensors: Map<string, TensorRef>,
  storagePos: (s: StorageRef) => number,
  storageBytes: (s: StorageRef) => number,
  where: string,
): Map<string, Located> {
  const rows: { name: string; ref: TensorRef; pos: number }[] = [];
  for (const [name, ref] of tensors) {
    const s = ref.storage;
    let n = 1;
    for (const d of ref.size) {
      n *= d;
      if (n * s.itemSize > MAX_TENSOR_BYTES)
        throw new WeightsError(
          `${where}: "${name}": size [${ref.size.join(", ")}] is too large (over ${MAX_TENSOR_BYTES} bytes, larger than any weight simdbert can hold)`,
        );
    }
    const have = storageBytes(s);
    if (have < s.numel * s.itemSize)
      throw new WeightsError(
        `${where}: storage ${s.key} holds ${have} bytes, shorter than the ${s.numel} elements of ${s.itemSize} bytes its id declares`,
      );
    if (n > 0 && maxIndex(ref) >= s.numel)
      throw new WeightsError(
        `${where}: "${name}": the view (offset ${ref.offset}, size [${ref.size.join(", ")}], stride [${ref.stride.join(", ")}]) reaches element ${maxIndex(ref)}, past its storage ${s.key} of ${s.numel} elements`,
      );
    rows.push({ name, ref, pos: storagePos(s) });
  }
  rows.sort(
    (a, b) =>
      a.pos +
      a.ref.offset * a.ref.storage.itemSize -
      (b.pos + b.ref.offset * b.ref.storage.itemSize),
  );
  const out = new Map<string, Located>();
  let v = 0;
  for (const r of rows) {
    const l: Located = { ref: r.ref, pos: r.pos, vbegin: v, contiguous: isContiguous(r.ref) };
    out.set(r.name, l);
    v += totalBytes(l);
  }
  return out;
}

async function openZip(ra: RandomAccess): Promise<TorchSource> {
  const where = ra.where;
  const records = await readZip(ra);
  const pkls = [...records.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1)
    throw new ZipError(
      `${where}: ${pkls.length ? "several" : "no"} <top>/data.pkl record${pkls.length ? "s" : ""}: not a torch.save archive`,
    );
  const top = pkls[0].slice(0, -"data.pkl".length);
  const pkl = records.get(pkls[0])!;
  checkStored(pkl, where);
  if (pkl.size > MAX_PICKLE)
    throw new ZipError(`${where}: data.pkl of ${pkl.size} bytes is over the limit`);
  const bytes = await readAt(ra, pkl.offset, pkl.size);
  const { load } = storageTable(false, where);
  const { value } = readPickle(bytes, 0, load, `${where} (${pkls[0]})`);
  const tensors = stateDict(value, where);
  const rec = (s: StorageRef) => {
    const r = records.get(`${top}data/${s.key}`);
    if (!r)
      throw new ZipError(
        `${where}: the pickle names storage ${s.key}, but the archive has no record ${top}data/${s.key}`,
      );
    checkStored(r, where);
    return r;
  };
  return TorchSource.create(
    ra,
    locate(
      tensors,
      (s) => rec(s).offset,
      (s) => rec(s).size,
      where,
    ),
    "zip",
  );
}

/**
 * The storages a checkpoint's pickle names (its persistent ids), each once: `load` is the pickle's
 * persistent_load, which gives the same StorageRef for a key named again (and refuses a key
 * declared again with another type or size).
 */
function storageTable(
  legacy: boolean,
  where: string,
): { storages: Map<string, StorageRef>; load: (pid: unknown[]) => StorageRef } {
  const storages = new Map<string, StorageRef>();
  const load = (pid: unknown[]): StorageRef => {
    const s = storageFromPid(pid, legacy, where);
    const seen = storages.get(s.key);
    if (seen) {
      if (seen.dtype !== s.dtype || seen.numel !== s.numel)
        throw new PickleError(
          `${where}: storage ${s.key} is declared twice with different types or sizes`,
        );
      return seen;
    }
    storages.set(s.key, s);
    return s;
  };
  return { storages, load };
}

async function openLegacy(ra: RandomAccess): Promise<TorchSource> {
  const where = ra.where;
  const head = await readAt(ra, 0, Math.min(ra.size, 2));
  if (head.length < 2 || head[0] !== 0x80)
    throw new WeightsError(
      `${where}: not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save pickle)`,
    );
  // the pickles come first; their length is only known by reading them: grow until they parse
  let want = Math.min(ra.size, 1 << 20);
  for (;;) {
    const bytes = await readAt(ra, 0, want);
    try {
      return await parseLegacy(ra, bytes);
    } catch (e) {
      if (!(e instanceof PickleTruncated) || want >= Math.min(ra.size, MAX_PICKLE)) throw e;
      want = Math.min(ra.size, MAX_PICKLE, want * 4);
    }
  }
}

async function parseLegacy(ra: RandomAccess, bytes: Uint8Array): Promise<TorchSource> {
  const where = ra.where;
  let p = 0;
  const next = (load: ((pid: unknown[]) => StorageRef) | null, what: string): unknown => {
    const r = readPickle(bytes, p, load, `${where} (${what})`);
    p = r.end;
    return r.value;
  };
  const magic = next(null, "magic number");
  if (magic !== Number(LEGACY_MAGIC) && magic !== LEGACY_MAGIC)
    throw new WeightsError(`${where}: not a PyTorch checkpoint (no legacy magic number)`);
  const version = next(null, "protocol version");
  if (version !== 1001)
    throw new WeightsError(`${where}: legacy protocol version ${String(version)}, expected 1001`);
  const sys = next(null, "sys_info");
  if (!(sys instanceof Map) || sys.get("little_endian") !== true)
    throw new WeightsError(`${where}: a big-endian (or unknown) legacy checkpoint`);
  const { storages, load } = storageTable(true, where);
  const state = next(load, "state dict");
  const keys = next(null, "storage keys");
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== "string"))
    throw new WeightsError(`${where}: the legacy storage key list is damaged`);
  const tensors = stateDict(state, where);
  // storages follow in key order: int64 count, then count * itemSize bytes
  const at = new Map<string, { pos: number; bytes: number }>();
  let pos = p;
  for (const k of keys as string[]) {
    const s = storages.get(k);
    if (!s)
      throw new WeightsError(`${where}: storage ${k} is listed but no tensor declares its type`);
    if (at.has(k)) throw new WeightsError(`${where}: storage ${k} is listed twice`);
    const c = new DataView((await readAt(ra, pos, 8)).buffer).getBigInt64(0, true);
    if (c < 0n || c * BigInt(s.itemSize) > BigInt(ra.size - pos - 8))
      throw new WeightsError(
        `${where}: storage ${k} declares ${c} elements, past the end of the file (truncated?)`,
      );
    const bytesN = Number(c) * s.itemSize;
    at.set(k, { pos: pos + 8, bytes: bytesN });
    pos += 8 + bytesN;
  }
  const loc = (s: StorageRef) => {
    const a = at.get(s.key);
    if (!a)
      throw new WeightsError(`${where}: storage ${s.key} is missing from the file's storage list`);
    return a;
  };
  return TorchSource.create(
    ra,
    locate(
      tensors,
      (s) => loc(s).pos,
      (s) => loc(s).bytes,
      where,
    ),
    "legacy",
  );
}
