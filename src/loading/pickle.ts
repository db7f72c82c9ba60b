// A pickle reader for PyTorch state dicts, and nothing else. To Python a pickle is a program
// (GLOBAL names any function, REDUCE calls it); this reader runs no program: it knows the opcodes
// torch.save writes for a state dict and the globals it names, and turns them into plain data
// (Maps, arrays, numbers, strings, and TensorRef / StorageRef records). Any other opcode, any
// other global (checked on the name as written, before anything is resolved), and any call of
// anything but _rebuild_tensor_v2 / _rebuild_parameter / OrderedDict is refused with a
// PickleError naming it. Nothing is imported, looked up or executed, whatever the input.
import { WeightsError } from "../errors.js";

export class PickleError extends WeightsError {
  override name = "PickleError";
}

/** Storage types torch.save names, and the element type each one holds. */
export const STORAGE_DTYPES: Record<string, { dtype: string; size: number }> = {
  "torch.FloatStorage": { dtype: "F32", size: 4 },
  "torch.HalfStorage": { dtype: "F16", size: 2 },
  "torch.BFloat16Storage": { dtype: "BF16", size: 2 },
  "torch.DoubleStorage": { dtype: "F64", size: 8 },
  "torch.LongStorage": { dtype: "I64", size: 8 },
  "torch.IntStorage": { dtype: "I32", size: 4 },
  "torch.ShortStorage": { dtype: "I16", size: 2 },
  "torch.CharStorage": { dtype: "I8", size: 1 },
  "torch.ByteStorage": { dtype: "U8", size: 1 },
  "torch.BoolStorage": { dtype: "BOOL", size: 1 },
};

const CALLABLES = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
]);

/** A global the pickle named (only allowed names are ever made into one). */
export class Global {
  constructor(readonly qualname: string) {}
}

/** A storage named by a persistent id. */
export interface StorageRef {
  kind: "storage";
  key: string;
  type: string;
  dtype: string;
  itemSize: number;
  /** Elements the persistent id declares. */
  numel: number;
}

export interface TensorRef {
  kind: "tensor";
  storage: StorageRef;
  /** In elements. */
  offset: number;
  size: number[];
  stride: number[];
}

export type PersistentLoad = (pid: unknown[]) => StorageRef;

class Mark {}
const MARK = new Mark();
/** A tuple as built by the pickle (kept apart from lists only for messages). */
type PickleValue = unknown;

const OPNAMES: Record<number, string> = {
  0x28: "MARK",
  0x2e: "STOP",
  0x30: "POP",
  0x31: "POP_MARK",
  0x32: "DUP",
  0x46: "FLOAT",
  0x49: "INT",
  0x4a: "BININT",
  0x4b: "BININT1",
  0x4c: "LONG",
  0x4d: "BININT2",
  0x4e: "NONE",
  0x50: "PERSID",
  0x51: "BINPERSID",
  0x52: "REDUCE",
  0x53: "STRING",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x56: "UNICODE",
  0x58: "BINUNICODE",
  0x61: "APPEND",
  0x62: "BUILD",
  0x63: "GLOBAL",
  0x64: "DICT",
  0x7d: "EMPTY_DICT",
  0x65: "APPENDS",
  0x67: "GET",
  0x68: "BINGET",
  0x69: "INST",
  0x6a: "LONG_BINGET",
  0x6c: "LIST",
  0x5d: "EMPTY_LIST",
  0x6f: "OBJ",
  0x70: "PUT",
  0x71: "BINPUT",
  0x72: "LONG_BINPUT",
  0x73: "SETITEM",
  0x74: "TUPLE",
  0x29: "EMPTY_TUPLE",
  0x75: "SETITEMS",
  0x47: "BINFLOAT",
  0x80: "PROTO",
  0x81: "NEWOBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x85: "TUPLE1",
  0x86: "TUPLE2",
  0x87: "TUPLE3",
  0x88: "NEWTRUE",
  0x89: "NEWFALSE",
  0x8a: "LONG1",
  0x8b: "LONG4",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8",
  0x8e: "BINBYTES8",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x92: "NEWOBJ_EX",
  0x93: "STACK_GLOBAL",
  0x94: "MEMOIZE",
  0x95: "FRAME",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/** Thrown when the bytes end inside a pickle (the legacy reader then reads more). */
export class PickleTruncated extends PickleError {
  override name = "PickleError";
}

/** The largest integer a size, stride or offset may be. */
const MAX_INT = Number.MAX_SAFE_INTEGER;

/**
 * Reads one pickle starting at `start`; returns its value and where it ended (after STOP).
 * `persistentLoad` turns a BINPERSID id into a StorageRef.
 */
export function readPickle(
  bytes: Uint8Array,
  start: number,
  persistentLoad: PersistentLoad | null,
  where: string,
): { value: unknown; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let p = start;
  const fail = (msg: string): never => {
    throw new PickleError(`${where}: pickle byte ${p}: ${msg}`);
  };
  const need = (n: number) => {
    if (p + n > bytes.length)
      throw new PickleTruncated(`${where}: the pickle ends early (byte ${p}, ${n} more needed)`);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail("pops from an empty stack");
    const v = stack.pop();
    if (v === MARK) fail("a MARK where a value was expected");
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("reads an empty stack");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    if (!marks.length) fail("no MARK before a list-building opcode");
    const at = marks.pop()!;
    return stack.splice(at);
  };
  const string = (n: number): string => {
    need(n);
    try {
      return utf8.decode(bytes.subarray(p, p + n));
    } catch {
      return fail("a string that is not UTF-8");
    } finally {
      p += n;
    }
  };
  const checkGlobal = (module: string, name: string, op: string): Global => {
    const q = `${module}.${name}`;
    if (!CALLABLES.has(q) && !Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, q))
      throw new PickleError(
        `${where}: refused: the pickle names the global ${q} (${op}), which a PyTorch state dict never uses; nothing was loaded or run (the file may be malicious)`,
      );
    return new Global(q);
  };
  for (;;) {
    need(1);
    const op = bytes[p++];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        if (bytes[p] < 2 || bytes[p] > 5) fail(`unsupported pickle protocol ${bytes[p]}`);
        p += 1;
        break;
      case 0x95: // FRAME: a length hint only
        need(8);
        p += 8;
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail("STOP with a stack that is not one value");
        return { value: stack[0], end: p };
      case 0x28: // MARK
        marks.push(stack.length);
        stack.push(MARK);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(bytes[p]);
        p += 1;
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(dv.getUint16(p, true));
        p += 2;
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(dv.getInt32(p, true));
        p += 4;
        break;
      case 0x8a: {
        // LONG1: n bytes, two's complement little-endian
        need(1);
        const n = bytes[p++];
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[p + i]);
        if (n && bytes[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(v >= -BigInt(MAX_INT) && v <= BigInt(MAX_INT) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x58: {
        // BINUNICODE
        need(4);
        const n = dv.getUint32(p, true);
        p += 4;
        stack.push(string(n));
        break;
      }
      case 0x8c: {
        // SHORT_BINUNICODE
        need(1);
        const n = bytes[p++];
        stack.push(string(n));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark().slice(1));
        break;
      case 0x85:
        stack.push([pop()]);
        break;
      case 0x86: {
        const b = pop(),
          a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        const c = pop(),
          b = pop(),
          a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) fail("APPEND to something that is not a list");
        (l as unknown[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark().slice(1);
        const l = top();
        if (!Array.isArray(l)) fail("APPENDS to something that is not a list");
        for (const v of items) (l as unknown[]).push(v);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x73: {
        // SETITEM
        const v = pop(),
          k = pop();
        const d = top();
        if (!(d instanceof Map)) fail("SETITEM on something that is not a dict");
        (d as Map<unknown, unknown>).set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark().slice(1);
        const d = top();
        if (!(d instanceof Map)) fail("SETITEMS on something that is not a dict");
        if (items.length % 2) fail("SETITEMS with an odd number of items");
        for (let i = 0; i < items.length; i += 2)
          (d as Map<unknown, unknown>).set(items[i], items[i + 1]);
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memo.set(bytes[p++], top());
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(dv.getUint32(p, true), top());
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: {
        // BINGET
        need(1);
        const k = bytes[p++];
        if (!memo.has(k)) fail(`BINGET of memo ${k}, which was never stored`);
        stack.push(memo.get(k));
        break;
      }
      case 0x6a: {
        // LONG_BINGET
        need(4);
        const k = dv.getUint32(p, true);
        p += 4;
        if (!memo.has(k)) fail(`LONG_BINGET of memo ${k}, which was never stored`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n": the names are checked before anything else
        const line = (): string => {
          const e = bytes.indexOf(0x0a, p);
          if (e < 0 || e - p > 256) {
            need(bytes.length - p + 1);
            fail("GLOBAL without its newline");
          }
          const s = new TextDecoder("latin1").decode(bytes.subarray(p, e));
          p = e + 1;
          return s;
        };
        const module = line();
        const name = line();
        stack.push(checkGlobal(module, name, "GLOBAL"));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL: the same rule on the two strings
        const name = pop(),
          module = pop();
        if (typeof module !== "string" || typeof name !== "string")
          fail("STACK_GLOBAL without two strings");
        stack.push(checkGlobal(module as string, name as string, "STACK_GLOBAL"));
        break;
      }
      case 0x51: {
        // BINPERSID: a storage
        const pid = pop();
        if (!persistentLoad) fail("a persistent id where none is expected");
        if (!Array.isArray(pid)) fail("a persistent id that is not a tuple");
        stack.push(persistentLoad!(pid as unknown[]));
        break;
      }
      case 0x52: {
        // REDUCE: only the three known callables
        const args = pop();
        const f = pop();
        if (!(f instanceof Global))
          fail("REDUCE of something that is not a global (refused, nothing was run)");
        const g = f as Global;
        if (!CALLABLES.has(g.qualname))
          throw new PickleError(
            `${where}: refused: the pickle calls ${g.qualname}, which a state dict never calls; nothing was run (the file may be malicious)`,
          );
        if (!Array.isArray(args)) fail(`REDUCE of ${g.qualname} without an argument tuple`);
        stack.push(call(g.qualname, args as unknown[], fail));
        break;
      }
      case 0x62: {
        // BUILD: only an OrderedDict's attributes (its _metadata), which are ignored
        const state = pop();
        const obj = top();
        if (
          !(obj instanceof Map) ||
          !(state instanceof Map || state === null || Array.isArray(state))
        )
          fail("BUILD on something that is not a dict (refused)");
        break;
      }
      default: {
        const n = OPNAMES[op];
        fail(
          n
            ? `refused: opcode ${n} is not one a PyTorch state dict uses (nothing was run)`
            : `unknown opcode 0x${op.toString(16).padStart(2, "0")} (not a pickle, or damaged)`,
        );
      }
    }
  }
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}

function call(q: string, args: PickleValue[], fail: (m: string) => never): unknown {
  if (q === "collections.OrderedDict") {
    if (args.length !== 0) fail("OrderedDict called with arguments");
    return new Map();
  }
  if (q === "torch._utils._rebuild_parameter") {
    if (args.length !== 3) fail(`_rebuild_parameter takes 3 arguments, got ${args.length}`);
    const t = args[0] as TensorRef;
    if (!t || (t as TensorRef).kind !== "tensor")
      fail("_rebuild_parameter of something that is not a tensor");
    return t;
  }
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args.length !== 6 && args.length !== 7)
    fail(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
  const [storage, offset, size, stride] = args as [StorageRef, unknown, unknown, unknown];
  if (!storage || (storage as StorageRef).kind !== "storage")
    fail("_rebuild_tensor_v2 of something that is not a storage");
  if (!isInt(offset) || offset < 0)
    fail(`tensor storage offset ${String(offset)} is not a non-negative integer`);
  if (
    !Array.isArray(size) ||
    !Array.isArray(stride) ||
    size.length !== stride.length ||
    size.length > 16
  )
    fail("tensor size and stride must be tuples of the same length (at most 16)");
  for (const d of [...(size as unknown[]), ...(stride as unknown[])])
    if (!isInt(d) || d < 0) fail(`tensor size/stride ${String(d)} is not a non-negative integer`);
  return {
    kind: "tensor",
    storage,
    offset: offset as number,
    size: size as number[],
    stride: stride as number[],
  } satisfies TensorRef;
}

/** Builds a StorageRef from a persistent id ('storage', Type, key, location, numel[, view]). */
export function storageFromPid(pid: unknown[], legacy: boolean, where: string): StorageRef {
  const [tag, type, key, , numel] = pid;
  if (tag !== "storage" || pid.length !== (legacy ? 6 : 5))
    throw new PickleError(
      `${where}: a persistent id that is not a storage: (${pid.map(brief).join(", ")})`,
    );
  if (
    !(type instanceof Global) ||
    !Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, type.qualname)
  )
    throw new PickleError(`${where}: a storage whose type is not a torch storage type`);
  if (typeof key !== "string" || !key.length || key.length > 200)
    throw new PickleError(`${where}: a storage key that is not a short string`);
  if (!isInt(numel) || numel < 0)
    throw new PickleError(
      `${where}: storage ${key}: element count ${brief(numel)} is not a non-negative integer`,
    );
  if (legacy && pid[5] !== null)
    throw new PickleError(`${where}: storage ${key}: legacy storage views are not supported`);
  const { dtype, size } = STORAGE_DTYPES[type.qualname];
  if (numel * size > Number.MAX_SAFE_INTEGER)
    throw new PickleError(`${where}: storage ${key}: ${numel} elements is too large`);
  return { kind: "storage", key, type: type.qualname, dtype, itemSize: size, numel };
}

function brief(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.slice(0, 40));
  if (v instanceof Global) return v.qualname;
  if (Array.isArray(v)) return "(...)";
  if (v instanceof Map) return "{...}";
  return String(v);
}
