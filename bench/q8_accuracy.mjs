// npm run bench:q8-accuracy [-- --shape minilm-l6|small] [--texts 8] [--seq 32] [--json FILE]
//
// Accuracy of simdbert's q8 and fp16 weights against a float64 BertModel, beside transformers.js'
// q8 graph run by onnxruntime-web on the same weights (bench/lib/accuracy.mjs says what is
// measured and how the models are made). Deterministic: no timing, the same figures on any machine.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import {
  accuracyTexts,
  accuracyWeights,
  compare,
  embeddings64,
  sentenceEmbeddings,
  shapeConfig,
  SIMULATIONS,
} from "./lib/accuracy.mjs";
import { runOrtQ8, runSimdbert } from "./lib/accuracy-engines.mjs";
import { relaxedExecArgv } from "./lib/common.mjs";

// the relaxed build's row needs relaxed SIMD: on runtimes where it is behind a flag, run again
// with the flag
if (!process.env.SIMDBERT_Q8_ACCURACY_CHILD) {
  const flags = await relaxedExecArgv();
  if (flags.length) {
    const r = spawnSync(process.execPath, [...flags, ...process.argv.slice(1)], {
      stdio: "inherit",
      env: { ...process.env, SIMDBERT_Q8_ACCURACY_CHILD: "1" },
    });
    process.exit(r.status ?? 1);
  }
}

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const shape = opt("shape", "minilm-l6");
const nTexts = Number(opt("texts", 8));
const seq = Number(opt("seq", 32));
const jsonOut = opt("json", "");

const config = shapeConfig(shape);
const texts = accuracyTexts(config, nTexts, seq);
const H = config.hidden_size;
const fmt = (x) => x.toExponential(2).padStart(9);
const results = [];

for (const outliers of [false, true]) {
  const model = `${shape}${outliers ? " + outlier dims" : ""}`;
  const weights = accuracyWeights(config, { seed: 1, outliers });
  const t0 = performance.now();
  const ref = embeddings64(config, weights, texts);
  console.log(
    `\n${model}: ${nTexts} texts of ${texts.attention_mask.map((m) => m.reduce((a, b) => a + b)).join("/")} tokens (float64 reference ${((performance.now() - t0) / 1e3).toFixed(1)} s)`,
  );
  console.log(`  ${"candidate".padEnd(62)} ${"1 - cos".padStart(9)} ${"pairwise".padStart(9)}`);
  const row = (name, emb) => {
    const f = compare(ref, emb);
    results.push({ model, candidate: name, ...f });
    console.log(`  ${name.padEnd(62)} ${fmt(f.cos)} ${fmt(f.pair)}`);
  };
  const mb = (b) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  let f32Bytes = 0;
  for (const dtype of ["fp32", "fp16", "q8"]) {
    const r = await runSimdbert(config, weights, texts, dtype);
    if (dtype === "fp32") f32Bytes = r.weightBytes;
    row(`simdbert ${dtype} (engine, ${dtype} file, weights ${mb(r.weightBytes)})`, r.embeddings);
    if (dtype !== "fp32") {
      const a = await runSimdbert(config, weights, texts, dtype, { from: "f32" });
      const same = a.hidden.every((x, i) => Object.is(x, r.hidden[i]));
      const what =
        a.weightBytes >= f32Bytes
          ? "dtype option not applied: f32 in memory"
          : `weights ${mb(a.weightBytes)}${same ? ", same bits as the file" : ""}`;
      row(`simdbert ${dtype} (engine, quantized at load, ${what})`, a.embeddings);
    }
  }
  try {
    const r = await runSimdbert(config, weights, texts, "q8", { relaxed: true });
    row("simdbert q8 (engine, relaxed build)", r.embeddings);
  } catch (e) {
    console.log(`  simdbert q8 relaxed build: not run (${e.message.split("\n")[0]})`);
  }
  row(
    "transformers.js q8 graph (onnxruntime-web)",
    sentenceEmbeddings(await runOrtQ8(config, weights, texts), texts.attention_mask, H),
  );
  for (const [name, [w, act]] of Object.entries(SIMULATIONS))
    row(name, embeddings64(config, w(weights), texts, act));
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ shape, nTexts, seq, results }, null, 2));
