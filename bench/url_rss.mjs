#!/usr/bin/env node
// Peak memory of loading a MiniLM-shaped checkpoint (vocab 30522, hidden 384, 6 layers: ~90 MB of
// F32) from a folder, from a URL whose server allows Range requests, and from one that does not:
// each load in a fresh child process, peak RSS (process.resourceUsage().maxRSS) after
// BertModel.fromPretrained, modes interleaved, medians of --runs (default 3).
//
//   node bench/url_rss.mjs [--runs 3] [--format safetensors|bin]
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  openSync,
  readSync,
  fstatSync,
  closeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] || 3) || 3;
const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));

if (args[0] === "--child") {
  const { BertModel } = await import(dist);
  const t0 = performance.now();
  await BertModel.fromPretrained(args[1], { warn: () => {} });
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ maxRssMiB: process.resourceUsage().maxRSS / 1024, ms }));
  process.exit(0);
}

const { writeSafetensors } = await import(dist);
const c = {
  vocab_size: 30522,
  hidden_size: 384,
  num_hidden_layers: 6,
  num_attention_heads: 12,
  intermediate_size: 1536,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  hidden_act: "gelu",
  layer_norm_eps: 1e-12,
};
const H = c.hidden_size,
  I = c.intermediate_size;
const shapes = {
  "embeddings.word_embeddings.weight": [c.vocab_size, H],
  "embeddings.position_embeddings.weight": [c.max_position_embeddings, H],
  "embeddings.token_type_embeddings.weight": [c.type_vocab_size, H],
  "embeddings.LayerNorm.weight": [H],
  "embeddings.LayerNorm.bias": [H],
  "pooler.dense.weight": [H, H],
  "pooler.dense.bias": [H],
};
for (let l = 0; l < c.num_hidden_layers; l++) {
  const L = `encoder.layer.${l}`;
  for (const m of ["query", "key", "value"]) {
    shapes[`${L}.attention.self.${m}.weight`] = [H, H];
    shapes[`${L}.attention.self.${m}.bias`] = [H];
  }
  Object.assign(shapes, {
    [`${L}.attention.output.dense.weight`]: [H, H],
    [`${L}.attention.output.dense.bias`]: [H],
    [`${L}.attention.output.LayerNorm.weight`]: [H],
    [`${L}.attention.output.LayerNorm.bias`]: [H],
    [`${L}.intermediate.dense.weight`]: [I, H],
    [`${L}.intermediate.dense.bias`]: [I],
    [`${L}.output.dense.weight`]: [H, I],
    [`${L}.output.dense.bias`]: [H],
    [`${L}.output.LayerNorm.weight`]: [H],
    [`${L}.output.LayerNorm.bias`]: [H],
  });
}
const tensors = new Map();
let seed = 1;
for (const [n, s] of Object.entries(shapes)) {
  const data = new Float32Array(s.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++)
    data[i] = ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.1;
  tensors.set(n, { shape: s, data });
}
const dir = mkdtempSync(join(tmpdir(), "simdbert-url-rss-"));
writeFileSync(join(dir, "config.json"), JSON.stringify(c));
writeFileSync(join(dir, "model.safetensors"), writeSafetensors(tensors));
tensors.clear();

let requests = 0;
const server = (ranges) =>
  createServer((req, res) => {
    requests++;
    const name = decodeURIComponent(req.url.slice(1));
    let fd;
    try {
      fd = openSync(join(dir, name), "r");
    } catch {
      return res.writeHead(404).end();
    }
    const size = fstatSync(fd).size;
    const m = ranges && /bytes=(\d+)-(\d+)?/.exec(req.headers.range ?? "");
    let a = 0,
      b = size - 1;
    if (m) {
      a = Number(m[1]);
      b = Math.min(m[2] ? Number(m[2]) : size - 1, size - 1);
      res.writeHead(206, {
        "Content-Range": `bytes ${a}-${b}/${size}`,
        "Content-Length": b - a + 1,
      });
    } else res.writeHead(200, { "Content-Length": size });
    if (req.method === "HEAD") {
      closeSync(fd);
      return res.end();
    }
    const buf = Buffer.alloc(1 << 20);
    const pump = () => {
      while (a <= b) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, b - a + 1), a);
        a += n;
        if (!res.write(Buffer.from(buf.subarray(0, n)))) return res.once("drain", pump);
      }
      closeSync(fd);
      res.end();
    };
    pump();
  });
const withRange = server(true),
  noRange = server(false);
await new Promise((r) => withRange.listen(0, "127.0.0.1", r));
await new Promise((r) => noRange.listen(0, "127.0.0.1", r));
const modes = {
  folder: dir,
  "url (Range)": `http://127.0.0.1:${withRange.address().port}/`,
  "url (no Range)": `http://127.0.0.1:${noRange.address().port}/`,
};
const child = (src) =>
  new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), "--child", src]);
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => process.stderr.write(d));
    p.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exit ${code}`)),
    );
  });
const results = Object.fromEntries(Object.keys(modes).map((k) => [k, []]));
const reqs = {};
for (let r = 0; r < runs; r++)
  for (const [k, src] of Object.entries(modes)) {
    requests = 0;
    results[k].push(await child(src));
    reqs[k] = requests;
  }
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const size = readFileSync(join(dir, "model.safetensors")).length / 1048576;
console.log(
  `MiniLM-shaped checkpoint: ${size.toFixed(1)} MiB of F32 weights; medians of ${runs} runs per mode (a loaded machine: compare ratios)`,
);
console.log("mode              peak RSS MiB   load ms   HTTP requests");
for (const k of Object.keys(modes))
  console.log(
    `${k.padEnd(18)}${median(results[k].map((x) => x.maxRssMiB))
      .toFixed(0)
      .padStart(12)}${median(results[k].map((x) => x.ms))
      .toFixed(0)
      .padStart(10)}${String(k === "folder" ? "-" : reqs[k]).padStart(16)}`,
  );
withRange.close();
noRange.close();
rmSync(dir, { recursive: true, force: true });
