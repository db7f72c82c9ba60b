// PyTorch checkpoints (zip and legacy .bin, views, shared storages, F16/BF16/F64, shards) and
// the choice of weight file: each must give exactly the bits the same weights give from
// model.safetensors. Refusals (globals and opcodes outside a state dict's, calls) and damaged
// files end in a typed error naming the problem. Files are written by test/support/torch_writer.mjs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import {
  BertModel,
  PickleError,
  WeightsError,
  ZipError,
  writeSafetensors,
  readPickle,
} from "../dist/index.js";
import {
  TINY,
  checkpoint,
  encoderShapes,
  randomTensors,
  randomIds,
  rng,
} from "./support/random_model.mjs";
import { Pickler, encode, plainLayout, torchSave } from "./support/torch_writer.mjs";

const quiet = { warn: () => {} };
const c = { ...TINY };
const T = randomTensors(encoderShapes(c), 31);
const ids = randomIds(rng(3), 2, 6, c.vocab_size);
const inputs = {
  input_ids: ids,
  attention_mask: [
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0],
  ],
};

async function run(files) {
  const m = await BertModel.fromPretrained(files, quiet);
  const o = await m.forward(inputs);
  return [o.last_hidden_state.data, o.pooler_output.data];
}
const same = (a, b, what) => {
  for (let k = 0; k < a.length; k++) {
    assert.is(a[k].length, b[k].length, what);
    for (let i = 0; i < a[k].length; i++)
      if (!Object.is(a[k][i], b[k][i]))
        assert.unreachable(`${what}: output ${k}[${i}] ${a[k][i]} != ${b[k][i]}`);
  }
};
/** Tensors with values rounded through a dtype (what a loader must reproduce bit for bit). */
function rounded(dtype) {
  const m = new Map();
  for (const [n, t] of T) {
    const b = encode(t.data, dtype);
    let data;
    if (dtype === "F16" || dtype === "BF16") {
      const u16 = new Uint16Array(b.buffer);
      data = new Float32Array(u16.length);
      for (let i = 0; i < u16.length; i++) {
        const h = u16[i];
        if (dtype === "BF16") data[i] = new Float32Array(new Uint32Array([h << 16]).buffer)[0];
        else {
          const s = h & 0x8000 ? -1 : 1,
            e = (h >> 10) & 31,
            f = h & 1023;
          data[i] = e === 0 ? s * f * 2 ** -24 : s * (1 + f / 1024) * 2 ** (e - 15);
        }
      }
    } else data = t.data;
    m.set(n, { shape: t.shape, data });
  }
  return m;
}

let reference;
const cfg = JSON.stringify(c);
test.before(async () => {
  reference = await run(checkpoint(c, T));
});

for (const format of ["zip", "legacy"]) {
  for (const dtype of ["F32", "F16", "BF16", "F64"]) {
    test(`pytorch_model.bin (${format}, ${dtype} storages) gives the safetensors bits`, async () => {
      const { tensors, storages } = plainLayout(T, dtype);
      const bin = torchSave(tensors, storages, { format, top: "pytorch_model" });
      const want =
        dtype === "F32" || dtype === "F64" ? reference : await run(checkpoint(c, rounded(dtype)));
      same(await run({ "config.json": cfg, "pytorch_model.bin": bin }), want, `${format} ${dtype}`);
    });
  }
}

test("views: one shared storage at offsets, transposed weights (strides), Parameters", async () => {
  // every tensor a slice of one storage; Linear weights stored transposed and read through a
  // [n, k] view with stride [1, n]
  const values = [];
  const tensors = [];
  for (const [name, t] of T) {
    const offset = values.length;
    if (t.shape.length === 2 && /(query|key|value|dense)\.weight$/.test(name)) {
      const [n, k] = t.shape;
      for (let j = 0; j < k; j++) for (let i = 0; i < n; i++) values.push(t.data[i * k + j]);
      tensors.push({ name, storage: "0", offset, size: t.shape, stride: [1, n] });
    } else {
      values.push(...t.data);
      const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
      tensors.push({ name, storage: "0", offset, size: t.shape, stride });
    }
    values.push(0, 0, 0); // gaps between views
  }
  const storages = new Map([["0", { dtype: "F32", values }]]);
  for (const format of ["zip", "legacy"]) {
    const bin = torchSave(tensors, storages, { format, parameter: true });
    same(await run({ "config.json": cfg, "pytorch_model.bin": bin }), reference, `views ${format}`);
  }
});

test("tied weights: two names, one storage", async () => {
  const { tensors, storages } = plainLayout(T);
  // the pooler's dense weight [H, H] as a view of the first query weight's storage
  const q = tensors.find((t) => t.name === "encoder.layer.0.attention.self.query.weight");
  const p = tensors.find((t) => t.name === "pooler.dense.weight");
  storages.delete(p.storage);
  p.storage = q.storage;
  const tied = new Map(T);
  tied.set("pooler.dense.weight", T.get("encoder.layer.0.attention.self.query.weight"));
  same(
    await run({ "config.json": cfg, "pytorch_model.bin": torchSave(tensors, storages) }),
    await run(checkpoint(c, tied)),
    "tied",
  );
});

test("which file: the first of model.safetensors, its index, pytorch_model.bin, its index", async () => {
  const other = randomTensors(encoderShapes(c), 99);
  const { tensors, storages } = plainLayout(other);
  const bin = torchSave(tensors, storages);
  // model.safetensors wins over a .bin holding other weights
  same(
    await run({
      "config.json": cfg,
      "model.safetensors": writeSafetensors(T),
      "pytorch_model.bin": bin,
    }),
    reference,
    "safetensors first",
  );
  // a damaged .bin is never opened when model.safetensors exists
  same(
    await run({
      "config.json": cfg,
      "model.safetensors": writeSafetensors(T),
      "pytorch_model.bin": "junk",
    }),
    reference,
    "others never opened",
  );
  // the safetensors index wins over pytorch_model.bin
  const names = [...T.keys()];
  const half = names.length >> 1;
  const a = new Map(names.slice(0, half).map((n) => [n, T.get(n)]));
  const b = new Map(names.slice(half).map((n) => [n, T.get(n)]));
  const weight_map = Object.fromEntries(
    names.map((n, i) => [
      n,
      i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors",
    ]),
  );
  const sharded = {
    "config.json": cfg,
    "model.safetensors.index.json": JSON.stringify({ metadata: { total_size: 0 }, weight_map }),
    "model-00001-of-00002.safetensors": writeSafetensors(a),
    "model-00002-of-00002.safetensors": writeSafetensors(b),
    "pytorch_model.bin": bin,
  };
  same(await run(sharded), reference, "safetensors shards");
  // .bin shards
  const A = plainLayout(a),
    B = plainLayout(b);
  const binShards = {
    "config.json": cfg,
    "pytorch_model.bin.index.json": JSON.stringify({
      weight_map: Object.fromEntries(
        names.map((n, i) => [
          n,
          i < half ? "pytorch_model-00001-of-00002.bin" : "pytorch_model-00002-of-00002.bin",
        ]),
      ),
    }),
    "pytorch_model-00001-of-00002.bin": torchSave(A.tensors, A.storages, {
      top: "pytorch_model-00001-of-00002",
    }),
    "pytorch_model-00002-of-00002.bin": torchSave(B.tensors, B.storages, { format: "legacy" }),
  };
  same(await run(binShards), reference, ".bin shards");
  // an absent shard
  const missing = { ...binShards };
  delete missing["pytorch_model-00002-of-00002.bin"];
  const e = await BertModel.fromPretrained(missing, quiet).catch((x) => x);
  assert.instance(e, WeightsError);
  assert.match(e.message, /pytorch_model-00002-of-00002\.bin/);
  // a shard name that leaves the folder
  const evil = {
    ...binShards,
    "pytorch_model.bin.index.json": JSON.stringify({ weight_map: { x: "../x.bin" } }),
  };
  const e2 = await BertModel.fromPretrained(evil, quiet).catch((x) => x);
  assert.instance(e2, WeightsError);
  assert.match(e2.message, /shard file name/);
  // no weights at all
  const e3 = await BertModel.fromPretrained({ "config.json": cfg }, quiet).catch((x) => x);
  assert.instance(e3, WeightsError);
  assert.match(e3.message, /model\.safetensors.*pytorch_model\.bin/);
});

/** A one-tensor state dict with a malicious value injected. */
function evilBin(inject, format = "zip") {
  const { tensors, storages } = plainLayout(T);
  return torchSave(tensors, storages, { format, inject });
}

const REFUSALS = [
  [
    "os.system via GLOBAL",
    (p) => p.global("posix", "system").str("touch x").raw(0x85).reduce(),
    /posix\.system/,
  ],
  [
    "builtins eval",
    (p) => p.global("__builtin__", "eval").str("1").raw(0x85).reduce(),
    /__builtin__\.eval/,
  ],
  [
    "subprocess",
    (p) => p.global("subprocess", "check_output").str("id").raw(0x85).reduce(),
    /subprocess\.check_output/,
  ],
  [
    "getattr chain",
    (p) =>
      p
        .global("__builtin__", "getattr")
        .global("collections", "OrderedDict")
        .str("x")
        .raw(0x86)
        .reduce(),
    /__builtin__\.getattr/,
  ],
  [
    "STACK_GLOBAL",
    (p) => p.str("os").str("system").raw(0x93).str("id").raw(0x85).reduce(),
    /os\.system.*STACK_GLOBAL/,
  ],
  ["INST", (p) => p.mark().bytes(new TextEncoder().encode("ios\nsystem\n")), /INST/],
  ["OBJ", (p) => p.mark().global("collections", "OrderedDict").raw(0x6f), /OBJ/],
  ["NEWOBJ", (p) => p.global("collections", "OrderedDict").raw(0x29).raw(0x81), /NEWOBJ/],
  [
    "a storage type called",
    (p) => p.global("torch", "FloatStorage").raw(0x29).reduce(),
    /torch\.FloatStorage/,
  ],
  ["REDUCE of a string", (p) => p.str("os.system").raw(0x29).reduce(), /not a global/],
  ["BUILD on a tensor (setstate)", (p) => p.raw(0x7d).raw(0x4e).raw(0x62).raw(0x30), /BUILD|POP/],
];

for (const [name, inject, re] of REFUSALS) {
  test(`refused before anything runs: ${name}`, async () => {
    for (const format of ["zip", "legacy"]) {
      const e = await BertModel.fromPretrained(
        { "config.json": cfg, "pytorch_model.bin": evilBin(inject, format) },
        quiet,
      ).catch((x) => x);
      assert.instance(e, PickleError, `${format}: ${e?.message}`);
      assert.match(e.message, re);
    }
  });
}

test("damaged checkpoints: typed errors that name the problem", async () => {
  const { tensors, storages } = plainLayout(T);
  const key = tensors[3].storage;
  const load = (bin) =>
    BertModel.fromPretrained({ "config.json": cfg, "pytorch_model.bin": bin }, quiet).catch(
      (x) => x,
    );
  let e = await load(torchSave(tensors, storages, { skipRecord: key }));
  assert.instance(e, ZipError);
  assert.match(e.message, new RegExp(`no record archive/data/${key}`));
  for (const format of ["zip", "legacy"]) {
    e = await load(torchSave(tensors, storages, { format, shortRecord: key }));
    assert.instance(e, WeightsError, format);
    assert.match(e.message, /shorter than|past the end/, format);
  }
  // a view past its storage
  const past = tensors.map((t, i) => (i === 3 ? { ...t, offset: 1 } : t));
  for (const format of ["zip", "legacy"]) {
    e = await load(torchSave(past, storages, { format }));
    assert.instance(e, WeightsError);
    assert.match(e.message, /past its storage/);
  }
  // huge declared sizes
  const huge = tensors.map((t, i) =>
    i === 3 ? { ...t, size: [2 ** 40, 2 ** 30], stride: [2 ** 30, 1] } : t,
  );
  e = await load(torchSave(huge, storages));
  assert.instance(e, WeightsError);
  assert.match(e.message, /too large|past its storage/);
  const hugeStorage = new Map(storages);
  const big = plainLayout(T);
  e = await load(torchSave(big.tensors, big.storages, { inject: (p) => p }).subarray(0, 100));
  assert.instance(e, WeightsError);
  // truncated files, every container
  const full = torchSave(tensors, storages);
  for (const cut of [10, full.length >> 1, full.length - 30])
    assert.instance(await load(full.subarray(0, cut)), WeightsError, `zip cut at ${cut}`);
  const leg = torchSave(tensors, storages, { format: "legacy" });
  for (const cut of [10, 500, leg.length >> 1, leg.length - 3])
    assert.instance(await load(leg.subarray(0, cut)), WeightsError, `legacy cut at ${cut}`);
  assert.instance(await load("not a checkpoint at all"), WeightsError);
  void hugeStorage;
});

test("readPickle: plain data only; unknown opcodes named", () => {
  const p = new Pickler().proto();
  p.mark()
    .str("a")
    .int(70000)
    .int(-5)
    .int(2 ** 40)
    .raw(0x88, 0x89, 0x4e)
    .raw(0x74)
    .stop();
  const v = readPickle(p.build(), 0, null, "t").value;
  assert.equal(v, ["a", 70000, -5, 2 ** 40, true, false, null]);
  assert.throws(() => readPickle(Uint8Array.of(0x80, 2, 0x64, 0x2e), 0, null, "t"), /opcode DICT/);
  assert.throws(
    () => readPickle(Uint8Array.of(0x80, 2, 0xff), 0, null, "t"),
    /unknown opcode 0xff/,
  );
  assert.throws(() => readPickle(Uint8Array.of(0x80, 2, 0x4b), 0, null, "t"), /ends early/);
});

test("a .bin read from a folder in place, and refused there with nothing written", async () => {
  const dir = mkdtempSync(join(tmpdir(), "simdbert-bin-"));
  try {
    const { tensors, storages } = plainLayout(T);
    writeFileSync(join(dir, "config.json"), cfg);
    writeFileSync(
      join(dir, "pytorch_model.bin"),
      torchSave(tensors, storages, { format: "legacy" }),
    );
    same(await run(dir), reference, "folder");
    const marker = join(dir, "MARKER");
    writeFileSync(
      join(dir, "pytorch_model.bin"),
      evilBin((p) => p.global("posix", "system").str(`touch ${marker}`).raw(0x85).reduce()),
    );
    const e = await BertModel.fromPretrained(dir, quiet).catch((x) => x);
    assert.instance(e, PickleError);
    assert.not.ok(existsSync(marker));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A static file server with Range support (or without), logging each request. */
async function serve(files, { ranges = true, head = true } = {}) {
  const log = [];
  const server = createServer((req, res) => {
    const name = decodeURIComponent(req.url.slice(1));
    log.push({ method: req.method, name, range: req.headers.range ?? null });
    if (req.method === "HEAD" && !head) return res.writeHead(405).end();
    const f = Object.prototype.hasOwnProperty.call(files, name) ? files[name] : null;
    if (f === null) return res.writeHead(404).end();
    const body = typeof f === "string" ? Buffer.from(f) : Buffer.from(f);
    const m = ranges && /bytes=(\d+)-(\d+)?/.exec(req.headers.range ?? "");
    if (m) {
      const a = Number(m[1]),
        b = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
      if (a >= body.length) return res.writeHead(416).end();
      res.writeHead(206, {
        "Content-Range": `bytes ${a}-${b}/${body.length}`,
        "Content-Length": b - a + 1,
        "Accept-Ranges": "bytes",
      });
      return req.method === "HEAD" ? res.end() : res.end(body.subarray(a, b + 1));
    }
    res.writeHead(200, { "Content-Length": body.length });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, log, close: () => new Promise((r) => server.close(r)) };
}

test("from a URL: weights streamed with Range reads; probes before downloading", async () => {
  const { tensors, storages } = plainLayout(T);
  const files = {
    "config.json": cfg,
    "pytorch_model.bin": torchSave(tensors, storages),
  };
  const s = await serve(files);
  try {
    same(await run(s.url), reference, "url .bin");
    const gets = s.log.filter((r) => r.method === "GET" && r.name === "pytorch_model.bin");
    assert.ok(
      gets.length > 0 && gets.every((r) => r.range),
      "every GET of the weights is a Range read",
    );
    // model.safetensors was probed (HEAD), never fetched
    assert.ok(s.log.some((r) => r.method === "HEAD" && r.name === "model.safetensors"));
    assert.not.ok(s.log.some((r) => r.method === "GET" && r.name === "model.safetensors"));
  } finally {
    await s.close();
  }
  // no weights at all: an error after HEADs only, nothing downloaded
  const s2 = await serve({ "config.json": cfg, "tf_model.h5": new Uint8Array(1 << 20) });
  try {
    const e = await BertModel.fromPretrained(s2.url, quiet).catch((x) => x);
    assert.instance(e, WeightsError);
    assert.ok(
      s2.log.every((r) => r.method === "HEAD" || r.name === "config.json"),
      JSON.stringify(s2.log),
    );
  } finally {
    await s2.close();
  }
  // a server without Range (and without HEAD) still works: the file is read whole
  const s3 = await serve(
    { "config.json": cfg, "model.safetensors": writeSafetensors(T) },
    { ranges: false, head: false },
  );
  try {
    same(await run(s3.url), reference, "no ranges");
  } finally {
    await s3.close();
  }
});

test.run();
