// Regressions of the second attack on simdbert (an unlucky user and an attacker, ~280 inputs beyond
// the fuzzers): each entry replays one input that ended badly (a hang, unbounded memory, a silent
// wrong answer, an unclear error) and throws when the bug is back. Run by test/fuzz.test.mjs with
// regressions.mjs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import * as lib from "../../dist/index.js";
import { readRequest } from "../../dist/cli/request.js";
import { fixture, quiet } from "./models.mjs";

// through the namespace: on a build without one of these, the entries fail one by one
const {
  BertConfig,
  BertModel,
  BertTokenizer,
  BufferSource,
  ConfigError,
  Engine,
  EngineError,
  FileError,
  InputError,
  SafetensorsError,
  Tensor,
  TokenizerError,
  WeightsError,
  autoModel,
  pipeline,
  writeSafetensors,
} = lib;

export async function rejects(fn, type, re, ms = 10000) {
  let err = null;
  let timer;
  try {
    await Promise.race([
      fn(),
      new Promise((_, no) => {
        timer = setTimeout(() => no(new Error(`no answer in ${ms} ms (a hang)`)), ms);
      }),
    ]);
  } catch (e) {
    err = e;
  } finally {
    clearTimeout(timer);
  }
  if (!err) throw new Error(`expected a ${type.name} matching ${re}, the call succeeded`);
  if (!(err instanceof type))
    throw new Error(`expected a ${type.name}, got ${err.name}: ${err.message.slice(0, 300)}`);
  if (!re.test(err.message))
    throw new Error(`expected a message matching ${re}, got: ${err.message.slice(0, 300)}`);
  return err;
}

const VOCAB = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n";

/** A model directory of the tiny fixture, with `replace(dir)` making some of its files special. */
function modelDir(fx, extra = {}) {
  const dir = mkdtempSync(join(tmpdir(), "simdbert-attack-"));
  for (const [name, v] of Object.entries({ ...fx.files, "vocab.txt": VOCAB, ...extra }))
    writeFileSync(join(dir, name), v);
  return dir;
}

const bitsEqual = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

function collectGarbage() {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  gc();
  return gc;
}

export const ATTACK_REGRESSIONS = [
  {
    name: "files: a FIFO as config.json, model.safetensors, vocab.txt or a request's tensor_file is a FileError at once (each attempt held a file-I/O thread for ever; after four nothing loaded)",
    async run() {
      const fx = fixture("BertModel", {}, 1);
      for (const name of ["config.json", "model.safetensors", "vocab.txt"]) {
        const dir = modelDir(fx);
        try {
          rmSync(join(dir, name));
          execFileSync("mkfifo", [join(dir, name)]);
          // five attempts: more than libuv's four file-I/O threads
          for (let i = 0; i < 5; i++) {
            const load =
              name === "vocab.txt"
                ? () => BertTokenizer.fromPretrained(dir)
                : () => BertModel.fromPretrained(dir, quiet);
            await rejects(load, FileError, new RegExp(`${name}.* a FIFO \\(named pipe\\)`), 5000);
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      // the thread pool is free: a valid model still loads
      const dir = modelDir(fx);
      try {
        await BertModel.fromPretrained(dir, quiet);
        writeFileSync(
          join(dir, "request.json"),
          JSON.stringify({ tensor_file: "t.safetensors", forward_kwargs: {} }),
        );
        execFileSync("mkfifo", [join(dir, "t.safetensors")]);
        await rejects(
          () => readRequest(join(dir, "request.json")),
          FileError,
          /tensor_file must be a regular file, but it is a FIFO/,
          5000,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "files: /dev/zero and /dev/urandom as config.json, vocab.txt, model.safetensors are refused without reading (config.json -> /dev/zero reached 14 GB)",
    async run() {
      const fx = fixture("BertModel", {}, 1);
      for (const [name, dev] of [
        ["config.json", "/dev/zero"],
        ["vocab.txt", "/dev/urandom"],
        ["model.safetensors", "/dev/zero"],
        ["tokenizer_config.json", "/dev/zero"],
      ]) {
        const dir = modelDir(fx);
        try {
          rmSync(join(dir, name), { force: true });
          symlinkSync(dev, join(dir, name));
          const before = process.memoryUsage().rss;
          await rejects(
            () =>
              name === "vocab.txt" || name === "tokenizer_config.json"
                ? BertTokenizer.fromPretrained(dir)
                : BertModel.fromPretrained(dir, quiet),
            FileError,
            new RegExp(`${name}.* a character device`),
            5000,
          );
          if (process.memoryUsage().rss - before > 256 * 2 ** 20)
            throw new Error(`reading ${dev} as ${name} grew the process by over 256 MiB`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    },
  },
  {
    name: "tokenizer: padding a batch of 64 texts to max_length 16e6 is a TokenizerError (V8 ran out of heap, exit 134)",
    async run() {
      const tok = new BertTokenizer(VOCAB.trim().split("\n"));
      const texts = Array.from({ length: 64 }, () => "hello world");
      await rejects(
        () => tok.call(texts, { padding: "max_length", max_length: 16e6 }),
        TokenizerError,
        /padding this batch of 64 sequences \(to 16000000 tokens\) makes 1024000000 tokens/,
      );
      // a batch under the cap still pads (and one sequence keeps its own cap)
      const ok = tok.call(texts.slice(0, 2), { padding: "max_length", max_length: 1000 });
      if (ok.input_ids[1].length !== 1000) throw new Error("a small batch was not padded");
    },
  },
  {
    name: 'config: model_type other than "bert" is refused, naming the type (a RoBERTa config loaded as BertModel: wrong numbers)',
    async run() {
      const fx = fixture("BertModel", {}, 1);
      for (const type of ["roberta", "distilbert", 7]) {
        await rejects(
          () =>
            BertModel.fromPretrained(
              { ...fx.files, "config.json": JSON.stringify({ ...fx.config, model_type: type }) },
              quiet,
            ),
          ConfigError,
          new RegExp(`config\\.model_type is ${JSON.stringify(type)}: simdbert implements "bert"`),
        );
      }
      // "bert" and no type (HF's default) load
      for (const c of [{ ...fx.config, model_type: "bert" }, { ...fx.config }]) {
        delete c.model_type;
        await BertModel.fromPretrained({ ...fx.files, "config.json": JSON.stringify(c) }, quiet);
      }
      await BertModel.fromPretrained(
        { ...fx.files, "config.json": JSON.stringify({ ...fx.config, model_type: "bert" }) },
        quiet,
      );
    },
  },
  {
    name: 'engine: threads "auto" uses os.availableParallelism() on Node (navigator.hardwareConcurrency is missing before Node 21: one thread)',
    async run() {
      const os = await import("node:os");
      const want = Math.min(os.availableParallelism?.() ?? os.cpus().length, 256);
      const nav = Object.getOwnPropertyDescriptor(globalThis, "navigator");
      // as on Node 18/20: no navigator
      Object.defineProperty(globalThis, "navigator", { value: undefined, configurable: true });
      let e;
      try {
        e = await Engine.create({ threads: "auto" });
      } finally {
        if (nav) Object.defineProperty(globalThis, "navigator", nav);
        else delete globalThis.navigator;
      }
      try {
        if (e.threads !== want)
          throw new Error(`threads "auto" gave ${e.threads} threads, the machine offers ${want}`);
      } finally {
        e.dispose();
      }
    },
  },
  {
    name: "safetensors: a 98 MB header (1.6 M zero-size tensors) is refused on its length, 100k tensors before parsing (21.6 s and 1.36 GB)",
    async run() {
      // 98 MB: refused on its length alone (over 32 MiB), before reading or decoding it
      const f = new Uint8Array(8 + 98_000_000);
      new DataView(f.buffer).setBigUint64(0, 98_000_000n, true);
      const t0 = performance.now();
      await rejects(
        () => new BufferSource(f),
        SafetensorsError,
        /larger than the 33554432-byte limit/,
      );
      // 100k entries in 6 MB: refused by the count, before JSON.parse
      const small = ["{"];
      for (let i = 0; i < 100_000; i++)
        small.push(`${i ? "," : ""}"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
      small.push("}");
      const j2 = new TextEncoder().encode(small.join(""));
      const f2 = new Uint8Array(8 + j2.length);
      new DataView(f2.buffer).setBigUint64(0, BigInt(j2.length), true);
      f2.set(j2, 8);
      await rejects(() => new BufferSource(f2), SafetensorsError, /more than 65536 tensors/);
      const dt = performance.now() - t0;
      if (dt > 2000) throw new Error(`rejecting the headers took ${dt.toFixed(0)} ms`);
    },
  },
  {
    name: "safetensors: the tensor count before parsing is exact: 65,537 tensors (names with commas, quotes, backslashes) are refused before JSON.parse (they were parsed: 1,165 ms), 65,536 with __metadata__ (even spelled with escapes) are read",
    async run() {
      const header = (count, meta, tail = "") => {
        const parts = ["{", meta ?? ""];
        for (let k = 0; k < count; k++) {
          const nm = k % 7 === 0 ? `t${k},{"[\\` : `t${k}`;
          parts.push(
            `${k || meta ? "," : ""}${JSON.stringify(nm)}:{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`,
          );
        }
        parts.push("}", tail);
        const j = new TextEncoder().encode(parts.join(""));
        const f = new Uint8Array(8 + j.length);
        new DataView(f.buffer).setBigUint64(0, BigInt(j.length), true);
        f.set(j, 8);
        return f;
      };
      // a byte after the object makes the JSON invalid: only a count before parsing names the tensors
      await rejects(
        () => new BufferSource(header(65_537, null, "x")),
        SafetensorsError,
        /more than 65536 tensors \(65537\)/,
      );
      // __metadata__ is not a tensor, however spelled (here with an escape)
      const src = new BufferSource(header(65_536, '"\\u005f_metadata__":{"a,b":"{,}"}'));
      if (src.header.tensors.size !== 65_536)
        throw new Error(`read ${src.header.tensors.size} tensors of 65536`);
      await rejects(
        () => new BufferSource(header(65_537, '"__metadata__":{}', "x")),
        SafetensorsError,
        /more than 65536 tensors \(65537\)/,
      );
    },
  },
  {
    name: 'tokenizer files: a bad UTF-8 byte in tokenizer.json / tokenizer_config.json is an error ("hello" became "hell\\uFFFD"); tokenizer.json\'s max_input_chars_per_word is honoured',
    async run() {
      const vocab = Object.fromEntries(
        VOCAB.trim()
          .split("\n")
          .map((t, i) => [t, i]),
      );
      const tj = (extra = {}) => ({
        model: { type: "WordPiece", unk_token: "[UNK]", vocab, ...extra },
        normalizer: { type: "BertNormalizer", lowercase: true },
        pre_tokenizer: { type: "BertPreTokenizer" },
      });
      const bad = new TextEncoder().encode(JSON.stringify(tj()));
      const at = new TextDecoder().decode(bad).indexOf('"hello"') + 5;
      bad[at] = 0xff; // "hell\xff"
      await rejects(
        () => BertTokenizer.fromPretrained({ "tokenizer.json": bad }),
        TokenizerError,
        /tokenizer\.json is not valid UTF-8/,
      );
      const cfg = new TextEncoder().encode('{"do_lower_case": true, "x": "\xff"}');
      cfg[cfg.length - 3] = 0xfe;
      await rejects(
        () => BertTokenizer.fromPretrained({ "vocab.txt": VOCAB, "tokenizer_config.json": cfg }),
        TokenizerError,
        /tokenizer_config\.json is not valid UTF-8/,
      );
      const tok = await BertTokenizer.fromPretrained({
        "tokenizer.json": JSON.stringify(tj({ max_input_chars_per_word: 4 })),
      });
      const got = tok.tokenize("hello world").join(" ");
      if (got !== "[UNK] [UNK]")
        throw new Error(`max_input_chars_per_word 4: "hello world" gave ${got}`);
      const dflt = await BertTokenizer.fromPretrained({ "tokenizer.json": JSON.stringify(tj()) });
      if (dflt.tokenize("hello world").join(" ") !== "hello world")
        throw new Error("the default max_input_chars_per_word changed");
    },
  },
  {
    name: "embedding: a checkpoint without pooler weights loads for feature extraction (it asked for an option the CLI lacks)",
    async run() {
      const fx = fixture("BertModel", {}, 1);
      const tensors = new Map([...fx.tensors].filter(([k]) => !k.startsWith("pooler.")));
      const files = {
        ...fx.files,
        "model.safetensors": writeSafetensors(tensors),
        "vocab.txt": VOCAB + "a\n".repeat(fx.config.vocab_size - 7),
      };
      const warnings = [];
      const extract = await pipeline("feature-extraction", files, {
        warn: (m) => warnings.push(m),
      });
      const emb = await extract(["hello world"], { pooling: "mean" });
      if (emb.shape.join() !== `1,${fx.config.hidden_size}`) throw new Error("wrong shape");
      if (extract.model.pooler !== null) throw new Error("a pooler was built without weights");
      // with pooler weights, nothing is reported unused
      const withPooler = await pipeline(
        "feature-extraction",
        { ...fx.files, "vocab.txt": files["vocab.txt"] },
        { warn: (m) => warnings.push(m) },
      );
      const again = await withPooler(["hello world"], { pooling: "mean" });
      if (!bitsEqual(again.data, emb.data))
        throw new Error("the pooler's presence changed the embeddings");
      if (warnings.length) throw new Error(`unexpected warnings: ${warnings.join("; ")}`);
      // BertModel itself still needs the pooler unless told (HF's default)
      await rejects(
        () => BertModel.fromPretrained(files, quiet),
        WeightsError,
        /no pooler: load BertModel with \{ addPoolingLayer: false \} or "auto"/,
      );
    },
  },
  {
    name: "memory: a model does not keep its last output alive through its call queue; maxArenaBytes caps the arena",
    async run() {
      const gc = collectGarbage();
      const fx = fixture("BertModel", {}, 1);
      const m = await BertModel.fromPretrained(fx.files, quiet);
      // the output is dropped when this function returns
      const ref = await (async () => {
        const out = await m.forward({
          input_ids: [[1, 2, 3]],
          output_hidden_states: true,
          output_attentions: true,
        });
        return new WeakRef(out.last_hidden_state);
      })();
      for (let i = 0; i < 5 && ref.deref(); i++) {
        await new Promise((r) => setTimeout(r, 10));
        gc();
      }
      if (ref.deref()) throw new Error("the model kept its last output alive");
      const e = await Engine.create({ maxArenaBytes: 4 * 2 ** 20 });
      const capped = await BertModel.fromPretrained(fx.files, { ...quiet, engine: e });
      await capped.forward({ input_ids: [[1, 2, 3]] });
      const before = e.memoryBytes;
      const big = Array.from({ length: 256 }, () => Array(40).fill(1));
      await rejects(
        () => capped.forward({ input_ids: big, output_attentions: true }),
        EngineError,
        /more than maxArenaBytes \(4\.0 MiB\)/,
      );
      if (e.memoryBytes !== before) throw new Error("a request over the cap grew the memory");
      await capped.forward({ input_ids: [[1, 2, 3]] });
      await rejects(() => Engine.create({ maxArenaBytes: -1 }), EngineError, /maxArenaBytes/);
    },
  },
  {
    name: "messages: tensor names are cut to a readable length (a 50 M-character message, an 80 M-character warning)",
    async run() {
      const long = "x".repeat(5_000_000);
      const json = `{"${long}":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`;
      const bytes = new TextEncoder().encode(json);
      const f = new Uint8Array(8 + bytes.length + 8);
      new DataView(f.buffer).setBigUint64(0, BigInt(bytes.length), true);
      f.set(bytes, 8);
      const err = await rejects(() => new BufferSource(f), SafetensorsError, /needs 4 bytes/);
      if (err.message.length > 400) throw new Error(`a ${err.message.length}-character message`);
      const fx = fixture("BertModel", {}, 1);
      const tensors = new Map(fx.tensors);
      for (let i = 0; i < 10; i++)
        tensors.set(`${"y".repeat(1_000_000)}${i}`, { shape: [1], data: new Float32Array(1) });
      const warnings = [];
      await BertModel.fromPretrained(
        { ...fx.files, "model.safetensors": writeSafetensors(tensors) },
        { warn: (w) => warnings.push(w) },
      );
      if (warnings.join("").length > 2000)
        throw new Error(`a ${warnings.join("").length}-character warning`);
    },
  },
  {
    name: 'in-memory configs and files: BigInt, cycles, Maps and SharedArrayBuffer weights get typed errors naming the file (raw TypeError, {} or "file too short")',
    async run() {
      const fx = fixture("BertModel", {}, 1);
      const cyclic = { ...fx.config };
      cyclic.self = cyclic;
      await rejects(
        () => BertModel.fromPretrained({ ...fx.files, "config.json": cyclic }, quiet),
        ConfigError,
        /"config\.json" cannot be written as JSON \(it refers to itself\)/,
      );
      await rejects(
        () =>
          BertModel.fromPretrained(
            { ...fx.files, "config.json": { ...fx.config, hidden_size: 32n } },
            quiet,
          ),
        ConfigError,
        /"config\.json" cannot be written as JSON \(it holds a BigInt\)/,
      );
      await rejects(
        () =>
          BertModel.fromPretrained(
            { ...fx.files, "config.json": new Map(Object.entries(fx.config)) },
            quiet,
          ),
        ConfigError,
        /"config\.json" must be a string, bytes or a plain object, got a Map/,
      );
      await rejects(
        () => new BertConfig(new Map([["hidden_size", 8]])),
        ConfigError,
        /plain object of keys, got a Map \(use Object\.fromEntries\(map\)\)/,
      );
      await rejects(
        () => BertModel.fromPretrained(fx.files, { ...quiet, config: new Map() }),
        ConfigError,
        /the config option .* must be a plain object, got a Map/,
      );
      const st = fx.files["model.safetensors"];
      const shared = new SharedArrayBuffer(st.length);
      new Uint8Array(shared).set(st);
      const a = await BertModel.fromPretrained({ ...fx.files, "model.safetensors": shared }, quiet);
      const b = await BertModel.fromPretrained(fx.files, quiet);
      const x = { input_ids: [[1, 2, 3]] };
      const [oa, ob] = [await a.forward(x), await b.forward(x)];
      if (!bitsEqual(oa.last_hidden_state.data, ob.last_hidden_state.data))
        throw new Error("weights from a SharedArrayBuffer answer differently");
    },
  },
  {
    name: 'auto/requests: architectures ["toString"] falls back to BertModel; a null request, a null forward and model_class 5 are typed errors naming the field',
    async run() {
      const fx = fixture("BertModel", {}, 1);
      const m = await autoModel(
        {
          ...fx.files,
          "config.json": JSON.stringify({ ...fx.config, architectures: ["toString"] }),
        },
        quiet,
      );
      if (!(m instanceof BertModel)) throw new Error(`loaded ${m.constructor.name}`);
      await rejects(
        () => m.forward(null),
        InputError,
        /forward expects an object of named inputs, got null/,
      );
      const dir = mkdtempSync(join(tmpdir(), "simdbert-attack-"));
      try {
        writeFileSync(join(dir, "null.json"), "null");
        await rejects(
          () => readRequest(join(dir, "null.json")),
          InputError,
          /the request must be a JSON object/,
        );
        writeFileSync(join(dir, "five.json"), JSON.stringify({ model_class: 5 }));
        await rejects(
          () => readRequest(join(dir, "five.json")),
          InputError,
          /model_class must be a transformers class name .* got 5/,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "shared engine: loading a model while another serves forwards, and two loads at once, give the bits of models alone (B's weights were off by ~10, ~2% of A's answers wrong)",
    async run() {
      const fa = fixture("BertModel", {}, 1);
      const fb = fixture("BertModel", { hidden_size: 24, num_attention_heads: 3 }, 2);
      const fc = fixture("BertModel", { num_hidden_layers: 3 }, 3);
      const soloA = await BertModel.fromPretrained(fa.files, quiet);
      const soloB = await BertModel.fromPretrained(fb.files, quiet);
      const soloC = await BertModel.fromPretrained(fc.files, quiet);
      const dir = modelDir(fb);
      try {
        const e = await Engine.create();
        const a = await BertModel.fromPretrained(fa.files, { ...quiet, engine: e });
        const x = { input_ids: [[1, 2, 3, 4, 5, 6, 7, 8]] };
        const during = [a.forward(x)];
        const loads = Promise.all([
          BertModel.fromPretrained(dir, { ...quiet, engine: e }),
          BertModel.fromPretrained(fc.files, { ...quiet, engine: e }),
        ]);
        // once a load holds the engine, a synchronous run() (it cannot wait) is refused rather
        // than run over the load's staging rows
        const t0 = Date.now();
        while (!e.loading && Date.now() - t0 < 5000) await new Promise((res) => setImmediate(res));
        const sync = await rejects(
          () => a.run(x),
          EngineError,
          /being loaded into this engine/,
        ).catch((err) => err);
        for (let k = 0; k < 8; k++) {
          during.push(a.forward(x));
          await new Promise((res) => setImmediate(res));
        }
        const [b, c] = await loads;
        if (!(sync instanceof EngineError)) throw sync;
        const want = (await soloA.forward(x)).last_hidden_state.data;
        for (const p of during)
          if (!bitsEqual((await p).last_hidden_state.data, want))
            throw new Error("a forward during a load on its engine answered differently");
        for (const [m, solo] of [
          [b, soloB],
          [c, soloC],
        ]) {
          const got = (await m.forward(x)).last_hidden_state.data;
          if (!bitsEqual(got, (await solo.forward(x)).last_hidden_state.data))
            throw new Error("a model loaded into a busy shared engine answers differently");
        }
        e.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "decoder cache: a returned cache edited in place, or with a tensor or a layer replaced, answers as its values passed as plain tensors (edits were ignored: off by 0.14-0.60)",
    async run() {
      const fx = fixture("BertModel", { is_decoder: true }, 2);
      const m = await BertModel.fromPretrained(fx.files, quiet);
      const solo = await BertModel.fromPretrained(fx.files, quiet);
      const step = { input_ids: [[4, 5]], use_cache: true };
      const edits = {
        inplace: (c) => {
          c[0][0].data[3] += 1;
        },
        tensor: (c) => {
          c[1][1] = new Tensor(
            "float32",
            c[1][1].data.map((v) => v * 2),
            c[1][1].shape,
          );
        },
        layer: (c) => {
          c[0] = c[0].map(
            (t) =>
              new Tensor(
                "float32",
                t.data.map((v) => -v),
                t.shape,
              ),
          );
        },
        nested: (c) => {
          c[0][1] = c[0][1].tolist();
        },
      };
      for (const [what, edit] of Object.entries(edits)) {
        const { past_key_values: cache } = await m.forward({
          input_ids: [[1, 2, 3]],
          use_cache: true,
        });
        edit(cache);
        const plain = cache.map((layer) =>
          layer.map((t) =>
            t instanceof Tensor ? new Tensor("float32", Float32Array.from(t.data), t.shape) : t,
          ),
        );
        const got = await m.forward({ ...step, past_key_values: cache });
        const want = await solo.forward({ ...step, past_key_values: plain });
        if (!bitsEqual(got.last_hidden_state.data, want.last_hidden_state.data))
          throw new Error(`a cache edited (${what}) was not used as given`);
      }
    },
  },
  {
    name: "decoder cache: a tensor kept after its past_key_values was collected still reads its values (internal error: a cache was read after its slab was reused)",
    async run() {
      const gc = collectGarbage();
      const fx = fixture("BertModel", { is_decoder: true }, 2);
      const m = await BertModel.fromPretrained(fx.files, quiet);
      const solo = await BertModel.fromPretrained(fx.files, quiet);
      const x = { input_ids: [[1, 2]], use_cache: true };
      // kept from a container that is dropped when the helper returns
      const k = await (async () => {
        const [[t]] = (await m.forward(x)).past_key_values;
        return t;
      })();
      await m.forward({ input_ids: [[1]], use_cache: false });
      gc();
      await new Promise((res) => setTimeout(res, 5));
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((res) => setTimeout(res, 5));
        await m.forward({ input_ids: [[3, 4, 5]], use_cache: true });
      }
      const want = (await solo.forward(x)).past_key_values[0][0].data;
      if (!bitsEqual(k.data, want)) throw new Error("a kept cache tensor changed");
    },
  },
];
