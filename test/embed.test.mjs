// simdbert embed as a stream: lines are answered while stdin is still open (a corpus never has to
// fit in memory, and no output is lost to one giant string: the old command joined all its output
// and threw RangeError: Invalid string length past ~70,000 MiniLM lines, after computing
// everything), --out FILE.npy is written row by row with its header fixed up at the end, and the
// numbers are the pipeline's.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { pipeline, writeSafetensors } from "../dist/index.js";
import { encoderShapes, randomTensors, rng, TINY } from "./support/random_model.mjs";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "simdbert-embed-stream-"));
const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
for (let i = 5; i < 60; i++) vocab.push(`w${i}`);
const CFG = { ...TINY, vocab_size: vocab.length };
writeFileSync(join(dir, "config.json"), JSON.stringify(CFG));
writeFileSync(join(dir, "vocab.txt"), vocab.join("\n") + "\n");
writeFileSync(
  join(dir, "model.safetensors"),
  writeSafetensors(randomTensors(encoderShapes(CFG), 2)),
);
const H = CFG.hidden_size;

function lines(seed, n) {
  const r = rng(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: 1 + Math.floor(r() * 20) }, () => vocab[5 + Math.floor(r() * 55)]).join(
      " ",
    ),
  );
}

test("lines are answered while stdin is still open, in order, with the pipeline's numbers", async () => {
  const texts = lines(1, 50);
  const child = spawn(process.execPath, [CLI, "embed", dir, "--pooling", "mean", "--normalize"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  child.stdin.write(texts.slice(0, 40).join("\n") + "\n");
  // stdin stays open: the first 40 answers must come anyway
  const t0 = Date.now();
  while (out.split("\n").length <= 40) {
    assert.ok(
      Date.now() - t0 < 30_000,
      `no streamed answers while stdin is open (got: ${out.length} bytes) ${err}`,
    );
    await new Promise((r) => setTimeout(r, 20));
  }
  child.stdin.end(texts.slice(40).join("\n")); // the last line without a newline
  const code = await new Promise((r) => child.on("exit", r));
  assert.is(code, 0, err);
  const rows = out
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.is(rows.length, 50);
  const extractor = await pipeline("feature-extraction", dir, { warn: () => {} });
  const want = await extractor(texts, { pooling: "mean", normalize: true });
  let d = 0;
  rows.forEach((row, i) => {
    assert.is(row.length, H);
    row.forEach((x, k) => (d = Math.max(d, Math.abs(x - want.data[i * H + k]))));
  });
  assert.ok(d < 1e-6, `max |diff| vs the pipeline ${d}`);
});

test("--out FILE.npy is streamed: header fixed up at the end, rows equal the JSON lines", async () => {
  const texts = lines(2, 1000);
  const input = join(dir, "in.txt");
  writeFileSync(input, texts.join("\r\n") + "\r\n");
  const run = (args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, "embed", dir, "--input", input, ...args]);
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("exit", (code) => resolve({ code, out, err }));
    });
  const npyPath = join(dir, "e.npy");
  const [a, b] = await Promise.all([run(["--out", npyPath]), run([])]);
  assert.is(a.code, 0, a.err);
  assert.is(b.code, 0, b.err);
  const npy = readFileSync(npyPath);
  assert.equal([...npy.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const hlen = npy.readUInt16LE(8);
  assert.is((10 + hlen) % 64, 0);
  assert.match(npy.subarray(10, 10 + hlen).toString("latin1"), /'shape': \(1000, 16\), \}\s*\n$/);
  assert.is(npy.length, 10 + hlen + 1000 * H * 4);
  const data = new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + hlen));
  const rows = b.out
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.is(rows.length, 1000);
  rows.forEach((row, i) =>
    row.forEach((x, k) => assert.is(Math.fround(x), data[i * H + k], `row ${i} value ${k}`)),
  );
  // an empty input gives an empty array of the right width
  writeFileSync(input, "");
  const e = await run(["--out", npyPath]);
  assert.is(e.code, 0, e.err);
  const empty = readFileSync(npyPath);
  assert.match(empty.toString("latin1"), /'shape': \(0, 16\)/);
  // a wrong --out is refused before anything runs
  const bad = await run(["--out", join(dir, "e.txt")]);
  assert.is(bad.code, 2);
  assert.match(bad.err, /--out.*\.npy/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
