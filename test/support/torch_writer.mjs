// torch.save written by the tests themselves: the zip container (stored records padded to 64
// bytes, zero sizes in local headers with data descriptors, a zip64 end record, as PyTorch writes
// them) and the legacy pre-1.6 format (five pickles, then each storage as an int64 count and its
// bytes), with protocol-2 pickles of a state dict. Tensors may be views of shared storages (offset,
// size, stride), of any storage type. `extra` pickle bytes can be injected as a state dict entry's
// value to test refusals.

const STORAGE = {
  F32: ["FloatStorage", 4],
  F16: ["HalfStorage", 2],
  BF16: ["BFloat16Storage", 2],
  F64: ["DoubleStorage", 8],
  I64: ["LongStorage", 8],
  I32: ["IntStorage", 4],
};

const enc = new TextEncoder();

/** A protocol-2 pickle writer (just the opcodes torch.save uses). */
export class Pickler {
  constructor() {
    this.parts = [];
    this.memo = 0;
  }
  raw(...bytes) {
    this.parts.push(Uint8Array.from(bytes.flat()));
    return this;
  }
  bytes(b) {
    this.parts.push(b);
    return this;
  }
  u32(n) {
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
  }
  proto() {
    return this.raw(0x80, 2);
  }
  global(module, name) {
    return this.bytes(enc.encode(`c${module}\n${name}\n`));
  }
  str(s) {
    const b = enc.encode(s);
    this.raw(0x58, this.u32(b.length));
    return this.bytes(b);
  }
  int(n) {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 255, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.raw(0x4a, this.u32(n));
    // LONG1
    let v = BigInt(n);
    const out = [];
    while (v !== 0n && v !== -1n) {
      out.push(Number(v & 255n));
      v >>= 8n;
    }
    if (!out.length || (n > 0 && out[out.length - 1] & 0x80)) out.push(0);
    return this.raw(0x8a, out.length, out);
  }
  long1(v) {
    const out = [];
    while (v !== 0n) {
      out.push(Number(v & 255n));
      v >>= 8n;
    }
    if (out[out.length - 1] & 0x80) out.push(0);
    return this.raw(0x8a, out.length, out);
  }
  put() {
    return this.raw(0x71, this.memo++ & 255);
  }
  mark() {
    return this.raw(0x28);
  }
  tuple(items) {
    if (items.length === 0) return this.raw(0x29);
    this.mark();
    for (const it of items) it(this);
    return this.raw(0x74);
  }
  reduce() {
    return this.raw(0x52);
  }
  stop() {
    return this.raw(0x2e);
  }
  build() {
    const n = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/**
 * The state dict pickle. tensors: [{ name, storage: key, offset, size, stride }]; storages:
 * Map key -> { dtype, numel }. `inject`: (pickler) => void writes an extra entry's value
 * (name "evil") after the first tensor.
 */
export function statePickle(
  tensors,
  storages,
  { legacy = false, inject = null, parameter = false } = {},
) {
  const p = new Pickler().proto();
  p.global("collections", "OrderedDict").put().raw(0x29).reduce().put();
  p.mark();
  tensors.forEach((t, i) => {
    p.str(t.name);
    if (parameter) p.global("torch._utils", "_rebuild_parameter");
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.mark();
    // persistent id
    const s = storages.get(t.storage);
    p.mark()
      .str("storage")
      .global("torch", STORAGE[s.dtype][0])
      .str(t.storage)
      .str("cpu")
      .int(s.numel);
    if (legacy) p.raw(0x4e);
    p.raw(0x74).raw(0x51);
    p.int(t.offset);
    p.tuple(t.size.map((d) => (q) => q.int(d)));
    p.tuple(t.stride.map((d) => (q) => q.int(d)));
    p.raw(0x89); // requires_grad False
    p.global("collections", "OrderedDict").raw(0x29).reduce();
    p.raw(0x74).reduce();
    if (parameter)
      p.raw(0x89).global("collections", "OrderedDict").raw(0x29).reduce().raw(0x87).reduce();
    if (i === 0 && inject) {
      p.str("evil");
      inject(p);
    }
  });
  if (inject && !tensors.length) {
    p.str("evil");
    inject(p);
  }
  p.raw(0x75); // SETITEMS
  p.stop();
  return p.build();
}

function crc32(b) {
  let c = ~0;
  for (let i = 0; i < b.length; i++) {
    c ^= b[i];
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A zip of stored records as PyTorch's writer lays it out. */
export function zip(records) {
  const chunks = [];
  const central = [];
  let at = 0;
  const push = (b) => {
    chunks.push(b);
    at += b.length;
  };
  for (const [name, data] of records) {
    const nameB = enc.encode(name);
    const local = at;
    // pad the data start to 64 bytes with an extra field ("FB" + zeros)
    let extraLen = 4;
    while ((local + 30 + nameB.length + extraLen) % 64) extraLen++;
    const h = new Uint8Array(30 + nameB.length + extraLen);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, 0x04034b50, true);
    dv.setUint16(4, 45, true);
    dv.setUint16(6, 8, true); // data descriptor follows
    dv.setUint16(26, nameB.length, true);
    dv.setUint16(28, extraLen, true);
    h.set(nameB, 30);
    dv.setUint16(30 + nameB.length, 0x4246, true);
    dv.setUint16(32 + nameB.length, extraLen - 4, true);
    h.fill(0x5a, 34 + nameB.length);
    push(h);
    push(data);
    const crc = crc32(data);
    const dd = new Uint8Array(16);
    const ddv = new DataView(dd.buffer);
    ddv.setUint32(0, 0x08074b50, true);
    ddv.setUint32(4, crc, true);
    ddv.setUint32(8, data.length, true);
    ddv.setUint32(12, data.length, true);
    push(dd);
    central.push({ nameB, local, size: data.length, crc });
  }
  const cdStart = at;
  for (const c of central) {
    const e = new Uint8Array(46 + c.nameB.length);
    const dv = new DataView(e.buffer);
    dv.setUint32(0, 0x02014b50, true);
    dv.setUint16(4, 45, true);
    dv.setUint16(6, 45, true);
    dv.setUint16(8, 8, true);
    dv.setUint32(16, c.crc, true);
    dv.setUint32(20, c.size, true);
    dv.setUint32(24, c.size, true);
    dv.setUint16(28, c.nameB.length, true);
    dv.setUint32(42, c.local, true);
    e.set(c.nameB, 46);
    push(e);
  }
  const cdSize = at - cdStart;
  const z64 = new Uint8Array(56);
  const zv = new DataView(z64.buffer);
  zv.setUint32(0, 0x06064b50, true);
  zv.setBigUint64(4, 44n, true);
  zv.setUint16(12, 45, true);
  zv.setUint16(14, 45, true);
  zv.setBigUint64(24, BigInt(central.length), true);
  zv.setBigUint64(32, BigInt(central.length), true);
  zv.setBigUint64(40, BigInt(cdSize), true);
  zv.setBigUint64(48, BigInt(cdStart), true);
  const z64At = at;
  push(z64);
  const loc = new Uint8Array(20);
  const lv = new DataView(loc.buffer);
  lv.setUint32(0, 0x07064b50, true);
  lv.setBigUint64(8, BigInt(z64At), true);
  lv.setUint32(16, 1, true);
  push(loc);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, cdStart, true);
  push(end);
  const out = new Uint8Array(at);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** Encodes f32 values as a storage dtype's little-endian bytes. */
export function encode(values, dtype) {
  const n = values.length;
  if (dtype === "F32") return new Uint8Array(Float32Array.from(values).buffer);
  if (dtype === "F64") return new Uint8Array(Float64Array.from(values).buffer);
  if (dtype === "I64") return new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer);
  if (dtype === "I32") return new Uint8Array(Int32Array.from(values).buffer);
  const u16 = new Uint16Array(n);
  const f = new Float32Array(1),
    u = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    f[0] = values[i];
    const x = u[0];
    if (dtype === "BF16") u16[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    else {
      // f16, round to nearest even (normal range only: test weights are small)
      const sign = (x >>> 16) & 0x8000,
        e = ((x >>> 23) & 0xff) - 127 + 15;
      if (e <= 0) u16[i] = sign;
      else {
        let h = (e << 10) | ((x >>> 13) & 0x3ff);
        const rem = x & 0x1fff;
        if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
        u16[i] = sign | h;
      }
    }
  }
  return new Uint8Array(u16.buffer);
}

/**
 * A checkpoint file. storages: Map key -> { dtype, values (numbers) }, tensors as statePickle's.
 * format "zip" | "legacy". Options: top (zip folder), inject, skipRecord (a key whose record is
 * left out), shortRecord (a key whose record is cut by 4 bytes), parameter.
 */
export function torchSave(tensors, storages, { format = "zip", top = "archive", ...o } = {}) {
  const meta = new Map(
    [...storages].map(([k, s]) => [k, { dtype: s.dtype, numel: s.values.length }]),
  );
  const pkl = statePickle(tensors, meta, { legacy: format === "legacy", ...o });
  const bytesOf = (k) => {
    let b = encode(storages.get(k).values, storages.get(k).dtype);
    if (o.shortRecord === k) b = b.subarray(0, b.length - 4);
    return b;
  };
  if (format === "zip") {
    const recs = [[`${top}/data.pkl`, pkl]];
    for (const k of storages.keys())
      if (o.skipRecord !== k) recs.push([`${top}/data/${k}`, bytesOf(k)]);
    recs.push([`${top}/version`, enc.encode("3\n")]);
    return zip(recs);
  }
  const small = (f) => {
    const p = new Pickler().proto();
    f(p);
    return p.stop().build();
  };
  // torch writes only the storages that tensors use
  const used = new Set(tensors.map((t) => t.storage));
  const keys = [...storages.keys()].filter((k) => used.has(k)).sort();
  const parts = [
    small((p) => p.long1(0x1950a86a20f9469cfc6cn)),
    small((p) => p.int(1001)),
    small((p) =>
      p.raw(0x7d).mark().str("protocol_version").int(1001).str("little_endian").raw(0x88).raw(0x75),
    ),
    pkl,
    small((p) => {
      p.raw(0x5d).mark();
      for (const k of keys) p.str(k);
      p.raw(0x65);
    }),
  ];
  for (const k of keys) {
    const b = bytesOf(k);
    const c = new Uint8Array(8);
    new DataView(c.buffer).setBigInt64(0, BigInt(storages.get(k).values.length), true);
    parts.push(c, b);
  }
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A state dict of tensors (name -> { shape, data: Float32Array }) as storages and views: each
 * tensor its own contiguous storage, unless `views` transforms the layout.
 */
export function plainLayout(tensors, dtype = "F32") {
  const storages = new Map();
  const list = [];
  let k = 0;
  for (const [name, t] of tensors) {
    const key = String(k++);
    storages.set(key, { dtype, values: Array.from(t.data) });
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    list.push({ name, storage: key, offset: 0, size: t.shape, stride });
  }
  return { tensors: list, storages };
}
