// One engine in its own process (so that engines share no heap, JIT or allocator state), driven
// by bench/lib/models-bench.mjs over IPC:
//   node bench/lib/engine-worker.mjs <engine> <model dir>
// engines: simdbert, simdbert-relaxed, simdbert-2t (two kernel threads), simdbert[-relaxed][-2t]-(fp16|q8) (dtype), ort-web (wasm backend, SIMD, 1 thread), ort-web-2t,
//          ort-node-1t (CPU, 1 intra-op thread), ort-node-2t, ort-node (CPU, default threads); an ort
//          engine with a -q8 suffix runs transformers.js' q8 graph of the same weights (model-q8.onnx)
// messages in:  { id, cmd: "load" } | { id, cmd: "outputs", batch, seq } | { id, cmd: "warmup", batch, seq, minTime, maxTime, maxRuns }
//               { id, cmd: "time", batch, seq, maxTime, minSamples } | { id, cmd: "memory", batch, seq, forwards }
// messages out: { id, value } or { id, error }
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
import { ROOT, timeAsync, median } from "./common.mjs";
import { makeInputs } from "./models.mjs";

const [engineName, dir] = process.argv.slice(2);
const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));

async function simdbert(relaxed, threads = 1, dtype = "fp32") {
  const { BertModel } = await import(pathToFileURL(join(ROOT, "dist", "index.js")).href);
  const model = await BertModel.fromPretrained(dir, { relaxedSimd: relaxed, threads, dtype });
  if (model.engine.threads !== threads)
    throw new Error(`simdbert: ${threads} threads asked, ${model.engine.threads} running`);
  if (model.engine.relaxed !== relaxed)
    throw new Error(`simdbert: relaxed build ${relaxed ? "not " : ""}in use`);
  const prepared = new Map();
  const feeds = (batch, seq) => {
    const key = `${batch}x${seq}`;
    if (!prepared.has(key)) {
      const x = makeInputs(config, batch, seq);
      const t = (a) => ({ data: Int32Array.from(a), shape: [batch, seq] });
      prepared.set(key, {
        input_ids: t(x.ids),
        attention_mask: t(x.mask),
        token_type_ids: t(x.types),
      });
    }
    return prepared.get(key);
  };
  return {
    async run(batch, seq) {
      const out = await model.forward(feeds(batch, seq));
      return {
        last_hidden_state: out.last_hidden_state.data,
        pooler_output: out.pooler_output.data,
      };
    },
    info: { q8Kernel: model.engine.q8Kernel },
    memory: () => ({
      memoryBytes: model.engine.memoryBytes,
      weightBytes: model.engine.weightBytes,
      arenaBytes: model.engine.arenaBytes,
    }),
  };
}

async function ort(kind, threads, q8 = false) {
  let ortmod;
  const options = { graphOptimizationLevel: "all" };
  if (kind === "web") {
    ortmod = await import("onnxruntime-web");
    ortmod.env.wasm.numThreads = threads;
    ortmod.env.wasm.simd = true;
    ortmod.env.wasm.proxy = false;
    options.executionProviders = ["wasm"];
  } else {
    ortmod = await import("onnxruntime-node");
    options.executionProviders = ["cpu"];
    if (threads) {
      options.intraOpNumThreads = threads;
      options.interOpNumThreads = 1;
    }
  }
  const file = join(dir, q8 ? "model-q8.onnx" : "model.onnx");
  const session = await ortmod.InferenceSession.create(
    kind === "web" ? new Uint8Array(readFileSync(file)) : file,
    options,
  );
  const prepared = new Map();
  const feeds = (batch, seq) => {
    const key = `${batch}x${seq}`;
    if (!prepared.has(key)) {
      const x = makeInputs(config, batch, seq);
      const t = (a) => new ortmod.Tensor("int64", BigInt64Array.from(a.map(BigInt)), [batch, seq]);
      prepared.set(key, {
        input_ids: t(x.ids),
        attention_mask: t(x.mask),
        token_type_ids: t(x.types),
      });
    }
    return prepared.get(key);
  };
  return {
    async run(batch, seq) {
      const out = await session.run(feeds(batch, seq));
      return {
        last_hidden_state: out.last_hidden_state.data,
        pooler_output: out.pooler_output.data,
      };
    },
    memory: () => ({}),
  };
}

const makers = {
  simdbert: () => simdbert(false),
  "simdbert-relaxed": () => simdbert(true),
  "simdbert-2t": () => simdbert(false, 2),
  // the dtype option: simdbert[-relaxed][-2t]-(fp16|q8)
  ...Object.fromEntries(
    ["fp16", "q8"].flatMap((d) =>
      [
        ["", false, 1],
        ["-relaxed", true, 1],
        ["-2t", false, 2],
        ["-relaxed-2t", true, 2],
      ].map(([tag, relaxed, t]) => [`simdbert${tag}-${d}`, () => simdbert(relaxed, t, d)]),
    ),
  ),
  "simdbert-relaxed-2t": () => simdbert(true, 2),
  "ort-web": () => ort("web", 1),
  "ort-web-2t": () => ort("web", 2),
  "ort-node-1t": () => ort("node", 1),
  "ort-node-2t": () => ort("node", 2),
  "ort-node": () => ort("node", 0),
  // transformers.js' q8 graph: ort-web-q8, ort-web-2t-q8, ort-node-1t-q8, ort-node-2t-q8, ort-node-q8
  "ort-web-q8": () => ort("web", 1, true),
  "ort-web-2t-q8": () => ort("web", 2, true),
  "ort-node-1t-q8": () => ort("node", 1, true),
  "ort-node-2t-q8": () => ort("node", 2, true),
  "ort-node-q8": () => ort("node", 0, true),
};

let engine = null;
const handlers = {
  async load() {
    const t0 = performance.now();
    engine = await makers[engineName]();
    return { loadMs: performance.now() - t0, ...engine.info };
  },
  async outputs({ batch, seq }) {
    const o = await engine.run(batch, seq);
    return {
      last_hidden_state: Float32Array.from(o.last_hidden_state),
      pooler_output: Float32Array.from(o.pooler_output),
    };
  },
  // Runs until the timings settle: the median of the last w runs within 5% of the w before them
  // (w = 3, or 2 / 1 for runs over 0.2 s / 1 s), after at least minTime seconds; at most maxTime
  // seconds or maxRuns runs.
  async warmup({ batch, seq, minTime = 2, maxTime = 20, maxRuns = 200 }) {
    const times = [];
    const t0 = performance.now();
    for (;;) {
      const t = performance.now();
      await engine.run(batch, seq);
      times.push((performance.now() - t) / 1e3);
      const elapsed = (performance.now() - t0) / 1e3;
      const n = times.length;
      const last = times[n - 1];
      const w = last > 1 ? 1 : last > 0.2 ? 2 : 3;
      const settled =
        n >= (w === 1 ? 2 : 2 * w + 1) &&
        Math.abs(median(times.slice(n - w)) / median(times.slice(n - 2 * w, n - w)) - 1) < 0.05;
      if ((settled && elapsed >= minTime) || elapsed >= maxTime || n >= maxRuns) {
        return {
          runs: n,
          seconds: elapsed,
          settled,
          first: times[0],
          last: median(times.slice(n - w)),
        };
      }
    }
  },
  async time({ batch, seq, maxTime, minSamples }) {
    return timeAsync(`${engineName} ${batch}x${seq}`, () => engine.run(batch, seq), {
      maxTime,
      minSamples,
    });
  },
  // simdbert's memory after one forward of (batch, seq), then after `forwards` more: one in ten
  // of (batch, seq), the others of (batch, smallSeq) (the same code paths, less time)
  async memory({ batch, seq, forwards, smallSeq = 16 }) {
    await engine.run(batch, seq);
    const before = engine.memory();
    const rss0 = process.memoryUsage().rss;
    for (let i = 0; i < forwards; i++) await engine.run(batch, i % 10 === 0 ? seq : smallSeq);
    const after = engine.memory();
    return {
      before,
      after,
      forwards,
      smallSeq,
      rssBefore: rss0,
      rssAfter: process.memoryUsage().rss,
    };
  },
};

process.on("message", async (m) => {
  try {
    process.send({ id: m.id, value: await handlers[m.cmd](m) });
  } catch (e) {
    process.send({ id: m.id, error: String(e && e.stack ? e.stack : e) });
  }
});
process.on("disconnect", () => process.exit(0));
