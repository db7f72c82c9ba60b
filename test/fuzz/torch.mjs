// Fuzzer of the PyTorch checkpoint readers (src/loading/zip.ts, pickle.ts, torch.ts): random
// state dicts (zip or legacy container, F32/F16/BF16/F64/I64 storages, shared storages, views with
// offsets and non-contiguous strides) written by test/support/torch_writer.mjs, then either read
// intact (every tensor must come back exactly as its view of the storage says: an independent
// gather written here) or broken: truncated anywhere, bytes flipped, runs of random bytes, a
// malicious value injected (a random global outside the allowed list, STACK_GLOBAL, INST, OBJ,
// a storage type called), huge sizes and offsets, a missing or short record. A broken file must
// load correctly or end in a typed error; an injected payload must always be refused by name.
import { BytesAccess, PickleError, TorchSource, WeightsError } from "../../dist/index.js";
import { attempt, isTyped, judge, show } from "./lib.mjs";
import { encode, torchSave } from "../support/torch_writer.mjs";

export const name = "torch";

const DTYPES = [
  ["F32", 4],
  ["F16", 2],
  ["BF16", 2],
  ["F64", 8],
  ["I64", 8],
];

/** A random state dict: storages with values, tensors as views of them. */
function randomDict(r) {
  const storages = new Map();
  const tensors = [];
  const nStorages = r.int(1, 5);
  for (let s = 0; s < nStorages; s++) {
    const [dtype] = r.pick(DTYPES);
    const n = r.int(0, 60);
    const values = Array.from({ length: n }, () =>
      dtype === "I64" ? r.int(-1000, 1000) : Math.round(r.normal() * 64) / 64,
    );
    storages.set(String(s), { dtype, values });
  }
  const nTensors = r.int(1, 6);
  for (let t = 0; t < nTensors; t++) {
    const key = String(r.int(0, nStorages));
    const numel = storages.get(key).values.length;
    const rank = r.int(0, 4);
    const size = Array.from({ length: rank }, () => r.int(1, 5));
    let stride;
    if (r.chance(0.5)) stride = size.map((_, i) => size.slice(i + 1).reduce((a, b) => a * b, 1));
    else stride = size.map((d) => (d === 1 && r.chance(0.3) ? 0 : r.int(1, 8)));
    let reach = 0;
    for (let i = 0; i < rank; i++) reach += (size[i] - 1) * stride[i];
    if (reach >= numel) continue; // does not fit this storage
    const offset = r.int(0, numel - reach);
    tensors.push({
      name: `t${t}.${r.pick(["weight", "bias", "x"])}`,
      storage: key,
      offset,
      size,
      stride,
    });
  }
  return { storages, tensors };
}

/** The view's elements as the checkpoint's dtype bytes (the oracle). */
function expected(t, storages) {
  const s = storages.get(t.storage);
  const size = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8 }[s.dtype];
  const all = encode(s.values, s.dtype);
  const n = t.size.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(n * size);
  for (let e = 0; e < n; e++) {
    let at = t.offset,
      rest = e;
    for (let d = t.size.length - 1; d >= 0; d--) {
      at += (rest % t.size[d]) * t.stride[d];
      rest = Math.floor(rest / t.size[d]);
    }
    out.set(all.subarray(at * size, at * size + size), e * size);
  }
  return out;
}

async function readAll(bytes) {
  const src = await TorchSource.open(new BytesAccess(bytes, "fuzz.bin"));
  const got = new Map();
  for (const [n, t] of src.header.tensors) {
    const dst = new Uint8Array(t.end - t.begin);
    await src.read(t, dst);
    got.set(n, dst);
  }
  return got;
}

const BAD_GLOBALS = [
  ["posix", "system"],
  ["os", "system"],
  ["__builtin__", "eval"],
  ["builtins", "exec"],
  ["__builtin__", "getattr"],
  ["subprocess", "Popen"],
  ["torch", "load"],
  ["torch._utils", "_rebuild_tensor"],
  ["collections", "OrderedDictX"],
  ["torch", "Tensor"],
  ["nt", "system"],
  ["", ""],
];

function payload(r) {
  const kind = r.int(0, 6);
  const [m, n] = r.pick(BAD_GLOBALS);
  if (kind === 0)
    return { inject: (p) => p.global(m, n).str("x").raw(0x85).reduce(), re: /refused/ };
  if (kind === 1)
    return {
      inject: (p) => p.str(m).str(n).raw(0x93).raw(0x29).reduce(),
      re: /refused|STACK_GLOBAL/,
    };
  if (kind === 2)
    return { inject: (p) => p.mark().bytes(new TextEncoder().encode(`i${m}\n${n}\n`)), re: /INST/ };
  if (kind === 3)
    return { inject: (p) => p.mark().global("collections", "OrderedDict").raw(0x6f), re: /OBJ/ };
  if (kind === 4)
    return {
      inject: (p) => p.global("torch", "FloatStorage").raw(0x29).reduce(),
      re: /calls torch\.FloatStorage/,
    };
  return { inject: (p) => p.global(m, n), re: /refused/ };
}

async function run(state, r, ctx) {
  ctx.stats.add("tried");
  const { storages, tensors } = randomDict(r);
  const format = r.chance(0.5) ? "zip" : "legacy";
  const mode = r.weighted([
    [3, "intact"],
    [2, "truncate"],
    [2, "flip"],
    [1, "garbage"],
    [2, "inject"],
    [1, "record"],
    [1, "huge"],
  ]);
  const label = `${format} ${mode}`;
  if (mode === "intact") {
    const bytes = torchSave(tensors, storages, {
      format,
      top: r.pick(["archive", "pytorch_model", "x"]),
    });
    const [got, err, ok] = await attempt(() => readAll(bytes));
    if (judge(ctx, null, err, ok, label)) return;
    for (const t of tensors) {
      const want = expected(t, storages);
      const g = got.get(t.name);
      ctx.stats.add("checks");
      if (!g || g.length !== want.length || g.some((b, i) => b !== want[i])) {
        ctx.stats.fail("wrong", ctx.i, `${label}: tensor ${t.name} ${show(t)} read wrong`);
        return;
      }
    }
    return;
  }
  if (mode === "inject") {
    const { inject, re } = payload(r);
    const bytes = torchSave(tensors, storages, { format, inject });
    const [, err, ok] = await attempt(() => readAll(bytes));
    judge(ctx, { re, what: "a payload outside a state dict", type: PickleError }, err, ok, label);
    return;
  }
  let bytes;
  if (mode === "record") {
    const key = String(r.int(0, storages.size));
    bytes = torchSave(tensors, storages, {
      format,
      ...(r.chance(0.5) ? { skipRecord: key } : { shortRecord: key }),
    });
  } else if (mode === "huge") {
    const t = tensors.length ? r.pick(tensors) : null;
    if (t) {
      const big = r.pick([2 ** 31, 2 ** 40, 2 ** 53 - 1, 2 ** 62]);
      if (r.chance(0.5)) t.offset = big;
      else t.size = t.size.length ? t.size.map((d, i) => (i === 0 ? big : d)) : [big];
      if (t.stride.length !== t.size.length) t.stride = t.size.map(() => 1);
    }
    bytes = torchSave(tensors, storages, { format });
  } else {
    bytes = torchSave(tensors, storages, { format });
    if (mode === "truncate") bytes = bytes.subarray(0, r.int(0, bytes.length));
    else if (mode === "flip") {
      bytes = bytes.slice();
      for (let k = r.int(1, 6); k > 0; k--) bytes[r.int(0, bytes.length)] ^= 1 << r.int(0, 8);
    } else {
      bytes = bytes.slice();
      const at = r.int(0, bytes.length),
        n = r.int(1, 40);
      bytes.set(r.bytes(Math.min(n, bytes.length - at)), at);
    }
  }
  // a broken file either reads (what it reads is not checked: flipped data bytes are valid) or
  // ends in a typed error
  const [, err, ok] = await attempt(() => readAll(bytes));
  if (ok) {
    ctx.stats.add("ok");
    return;
  }
  if (!isTyped(err) || !(err instanceof WeightsError)) {
    ctx.stats.fail(
      "crashes",
      ctx.i,
      `${label}: ${err?.name}: ${err?.message}\n${err?.stack ?? ""}`,
    );
    return;
  }
  if (String(err.message).length < 12 || /undefined|NaN|\[object/.test(err.message)) {
    ctx.stats.fail("unclear", ctx.i, `${label}: ${err.name}: ${err.message}`);
    return;
  }
  ctx.stats.add("rejected");
}

export const surface = {
  name,
  async setup() {
    return {};
  },
  run,
};
