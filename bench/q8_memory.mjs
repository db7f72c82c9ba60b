// npm run bench:memory [-- --shapes minilm-l6,bge-small,bert-base] [--dtypes fp32,fp16,q8]
//
// Memory of low-precision weights: for each shape and dtype, in a fresh process, the wasm memory
// after loading the model and after one b1 s128 forward, the weights' bytes, and the process's
// RSS and peak RSS (VmHWM). Models: random weights (bench/.cache/memory-<shape>-v1/: an f32
// checkpoint and its q8 / fp16 conversions by `simdbert quantize`'s code). Rows:
//   <dtype> file:        a checkpoint already in that precision (the fp16 one with { dtype: "fp16" };
//                        a q8 one loads as q8 by itself);
//   <dtype> from f32 file: the f32 checkpoint loaded with { dtype } (converted at load); its peak
//                        RSS is checked against final RSS + largest tensor + 16 MB.
// Goals (issue 17): MiniLM q8 <= 32 MB, bge-small q8 <= 48 MB, bert-base q8 <= 125 MB.
import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join, dirname } from "node:path";
import { parameterShapes } from "./lib/models.mjs";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, "..");
const dist = (p) => new URL(`../dist/${p}`, import.meta.url).href;
const MB = 2 ** 20;

const base = {
  architectures: ["BertModel"],
  model_type: "bert",
  vocab_size: 30522,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  hidden_act: "gelu",
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: "absolute",
};
export const SHAPES = {
  "minilm-l6": {
    ...base,
    hidden_size: 384,
    num_hidden_layers: 6,
    num_attention_heads: 12,
    intermediate_size: 1536,
  },
  "bge-small": {
    ...base,
    hidden_size: 384,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 1536,
  },
  "bert-base": {
    ...base,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
  },
};
const GOALS = { "minilm-l6": 32, "bge-small": 48, "bert-base": 125 };

/** Writes the f32 checkpoint tensor by tensor (xorshift weights at HF's init scale), then its q8 / fp16 conversions. */
async function ensureModels(shape) {
  const dir = join(ROOT, "bench", ".cache", `memory-${shape}-v1`);
  const config = SHAPES[shape];
  const { safetensorsLayout, convertCheckpoint, convertedConfig, modelFiles } = await import(
    dist("index.js")
  );
  const write = (d, fill) => {
    mkdirSync(d, { recursive: true });
    return fill(d);
  };
  const f32 = join(dir, "fp32");
  if (!existsSync(join(f32, "model.safetensors"))) {
    await write(f32, async (d) => {
      const list = parameterShapes(config);
      const { header } = safetensorsLayout(
        list.map(([name, s]) => ({ name, dtype: "F32", shape: s })),
      );
      const tmp = join(d, "model.safetensors.tmp");
      const fd = openSync(tmp, "w");
      writeSync(fd, header);
      let s = 1234;
      for (const [name, sh] of list) {
        const n = sh.reduce((a, b) => a * b, 1);
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          s ^= s << 13;
          s >>>= 0;
          s ^= s >>> 17;
          s ^= s << 5;
          s >>>= 0;
          const u = s / 2147483648 - 1;
          a[i] = name.endsWith("LayerNorm.weight") ? 1 + 0.1 * u : 0.0346 * u;
        }
        writeSync(fd, new Uint8Array(a.buffer));
      }
      closeSync(fd);
      renameSync(tmp, join(d, "model.safetensors"));
      writeFileSync(join(d, "config.json"), JSON.stringify(config, null, 2));
    });
  }
  for (const dtype of ["q8", "fp16"]) {
    const d = join(dir, dtype);
    if (existsSync(join(d, "model.safetensors"))) continue;
    mkdirSync(d, { recursive: true });
    const src = await modelFiles(f32).tensors("model.safetensors");
    const tmp = join(d, "model.safetensors.tmp");
    const fd = openSync(tmp, "w");
    await convertCheckpoint(src, dtype, async (b) => {
      writeSync(fd, b);
    });
    closeSync(fd);
    await src.close?.();
    renameSync(tmp, join(d, "model.safetensors"));
    writeFileSync(join(d, "config.json"), JSON.stringify(convertedConfig(config, dtype), null, 2));
  }
  let largest = 0;
  for (const [, sh] of parameterShapes(config))
    largest = Math.max(largest, sh.reduce((a, b) => a * b, 1) * 4);
  return { dir, largest };
}

const status = (key) => {
  const m = readFileSync("/proc/self/status", "utf8").match(
    new RegExp(`^${key}:\\s+(\\d+) kB`, "m"),
  );
  return m ? Number(m[1]) * 1024 : NaN;
};

/** In the child: load, one b1 s128 forward; prints JSON. */
async function child(dir, dtype) {
  const { BertModel } = await import(dist("index.js"));
  const rss0 = process.memoryUsage().rss;
  const options = { warn: () => {} };
  if (dtype) options.dtype = dtype;
  const t0 = performance.now();
  const model = await BertModel.fromPretrained(dir, options);
  const loadMs = performance.now() - t0;
  const afterLoad = {
    wasm: model.engine.memoryBytes,
    weights: model.engine.weightBytes,
    rss: process.memoryUsage().rss,
    peakRss: status("VmHWM"),
  };
  const seq = 128;
  const ids = [
    Array.from({ length: seq }, (_, i) => (i === 0 ? 101 : 1000 + ((i * 7919) % 20000))),
  ];
  await model.forward({ input_ids: ids, attention_mask: [new Array(seq).fill(1)] });
  const afterForward = {
    wasm: model.engine.memoryBytes,
    rss: process.memoryUsage().rss,
    peakRss: status("VmHWM"),
  };
  console.log(JSON.stringify({ rss0, loadMs, afterLoad, afterForward }));
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === "--child") return child(args[1], args[2] || undefined);
  const opt = (n, d) => {
    const i = args.indexOf(`--${n}`);
    return i >= 0 ? args[i + 1] : d;
  };
  const shapeList = opt("shapes", "minilm-l6,bge-small,bert-base").split(",");
  const dtypes = opt("dtypes", "fp32,fp16,q8").split(",");
  const f = (b) => (b / MB).toFixed(1).padStart(7);
  console.log(
    `${"shape".padEnd(10)} ${"weights as".padEnd(18)} ${"wasm load".padStart(9)} ${"wasm fwd".padStart(9)} ${"weights".padStart(8)} ${"RSS".padStart(8)} ${"peak RSS".padStart(8)}  goal / check  (MiB)`,
  );
  for (const shape of shapeList) {
    const { dir, largest } = await ensureModels(shape);
    // [label, folder, dtype option]: a q8 folder loads as q8 by itself (its config says so)
    const rows = dtypes.map((d) => [`${d} file`, join(dir, d), d === "fp16" ? "fp16" : ""]);
    for (const d of dtypes.filter((x) => x !== "fp32"))
      rows.push([`${d} from f32 file`, join(dir, "fp32"), d]);
    for (const [label, d, loadDtype] of rows) {
      let r;
      try {
        r = JSON.parse(
          execFileSync(
            process.execPath,
            [fileURLToPath(import.meta.url), "--child", d, loadDtype],
            {
              encoding: "utf8",
              stdio: ["ignore", "pipe", "pipe"],
            },
          ),
        );
      } catch (e) {
        console.log(
          `${shape.padEnd(10)} ${label.padEnd(18)} failed: ${String(e.stderr ?? e).split("\n")[0]}`,
        );
        continue;
      }
      let note = "";
      if (label === "q8 file" || label === "q8 from f32 file") {
        const goal = GOALS[shape];
        note = `goal <= ${goal}: ${r.afterForward.wasm / MB <= goal ? "met" : "NOT met"}`;
      }
      if (label.includes("from f32")) {
        const bound = r.afterLoad.rss + largest + 16 * MB;
        note += `; peak ${f(r.afterLoad.peakRss).trim()} <= final ${f(r.afterLoad.rss).trim()} + largest tensor ${f(largest).trim()} + 16: ${r.afterLoad.peakRss <= bound ? "met" : "NOT met"}`;
      }
      console.log(
        `${shape.padEnd(10)} ${label.padEnd(18)} ${f(r.afterLoad.wasm)}   ${f(r.afterForward.wasm)}  ${f(r.afterLoad.weights)} ${f(r.afterLoad.rss)} ${f(r.afterLoad.peakRss)}  ${note}`,
      );
    }
  }
}

await main();
