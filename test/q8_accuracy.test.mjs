// Accuracy of low-precision weights on sentence embeddings against a float64 BertModel, beside
// transformers.js' q8 graph in onnxruntime-web (bench/lib/accuracy.mjs; the full-size figures are
// `npm run bench:q8-accuracy`). On a small shape (hidden 64, 2 layers), a plain random model and
// one with BERT-like outlier dimensions:
//   - simdbert's q8 engine (plain build) gives the figures of the float64 simulation of its numerics
//     (per-row weights, per-row activations with a zero point), a q8 checkpoint and the f32 one
//     quantized at load the same bits, and fp16 exactly the float64 model of binary16 weights;
//   - fp16: 1 - cos <= 1e-6; pairwise <= 2e-4 here (the 1e-4 is for the MiniLM shape in the
//     bench: with hidden 64 a pair's cosine moves ~2.4x more than with hidden 384 for the same
//     rounding);
//   - simdbert's q8 numerics (per-row weights, per-row asymmetric activations: the plain build's)
//     no worse than the q8 graph in 1 - cos, on both models, and in the pairwise figure on the
//     outlier model (the plain model's pairwise figure at this size is within noise of the graph's:
//     see the bench for the MiniLM shape).
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ACTIVATIONS,
  accuracyTexts,
  accuracyWeights,
  compare,
  embeddings64,
  perRowWeights,
  perTensorWeights,
  shapeConfig,
} from "../bench/lib/accuracy.mjs";
import { runSimdbert } from "../bench/lib/accuracy-engines.mjs";
import { f16BitsToF32, f32ToF16Bits } from "../dist/index.js";

const config = shapeConfig("small");
const texts = accuracyTexts(config, 6, 24);

const near = (a, b, rel, what) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(a, b), `${what}: ${a} vs ${b}`);

for (const outliers of [false, true]) {
  const name = outliers ? "outlier model" : "plain model";
  const weights = accuracyWeights(config, { seed: 1, outliers });
  const ref = embeddings64(config, weights, texts);

  test(`${name}: simdbert's q8 and fp16 engines compute what their numerics give`, async () => {
    // q8 (plain build): per-row int8 weights, activations quantized per row with a zero point
    const q8 = await runSimdbert(config, weights, texts, "q8");
    const q8sim = compare(
      ref,
      embeddings64(config, perRowWeights(weights), texts, ACTIVATIONS.rowAsym),
    );
    const q8e = compare(ref, q8.embeddings);
    // f32 arithmetic in the kernels (the activations' scale and rounding) against float64
    near(q8e.cos, q8sim.cos, 0.2, "q8 1 - cos");
    near(q8e.pair, q8sim.pair, 0.2, "q8 pairwise");
    // quantized at load = the q8 checkpoint, bit for bit
    const atLoad = await runSimdbert(config, weights, texts, "q8", { from: "f32" });
    assert.ok(
      atLoad.hidden.every((x, i) => Object.is(x, q8.hidden[i])),
      "q8 at load = q8 file",
    );
    // fp16: binary16 weights (Linear and word embeddings) widened exactly: the float64 simulation
    const f16w = new Map(
      [...weights].map(([n, t]) => [
        n,
        t.shape.length === 2 && !/position|token_type/.test(n)
          ? {
              shape: t.shape,
              data: Float32Array.from(t.data, (x) => f16BitsToF32(f32ToF16Bits(x))),
            }
          : t,
      ]),
    );
    const f16 = compare(ref, (await runSimdbert(config, weights, texts, "fp16")).embeddings);
    const f16sim = compare(ref, embeddings64(config, f16w, texts));
    near(f16.cos, f16sim.cos, 0.01, "fp16 1 - cos");
    near(f16.pair, f16sim.pair, 0.01, "fp16 pairwise");
    assert.ok(f16.cos <= 1e-6, `fp16 1 - cos ${f16.cos}`);
    assert.ok(f16.pair <= 2e-4, `fp16 pairwise ${f16.pair}`);
    const f32 = compare(ref, (await runSimdbert(config, weights, texts, "fp32")).embeddings);
    assert.ok(f32.cos < 1e-9 && f32.pair < 1e-6, "fp32 as before");
    // the engine's q8 against transformers.js' q8 graph (its float64 simulation: onnxruntime-web
    // gives the same figures, see npm run bench:q8-accuracy; it is not loaded here, in npm test's
    // one process, where its wasm runtime stalls simdbert's worker threads in later suites)
    const graph = compare(
      ref,
      embeddings64(config, perTensorWeights(weights), texts, ACTIVATIONS.tensorAsym),
    );
    assert.ok(q8e.cos <= graph.cos, `1 - cos: q8 ${q8e.cos}, graph ${graph.cos}`);
    if (outliers)
      assert.ok(q8e.pair <= graph.pair, `pairwise: q8 ${q8e.pair}, graph ${graph.pair}`);
  });

  test(`${name}: simdbert's q8 numerics no worse than the q8 graph's`, () => {
    const ours = compare(
      ref,
      embeddings64(config, perRowWeights(weights), texts, ACTIVATIONS.rowAsym),
    );
    const graph = compare(
      ref,
      embeddings64(config, perTensorWeights(weights), texts, ACTIVATIONS.tensorAsym),
    );
    assert.ok(ours.cos <= graph.cos, `1 - cos: ours ${ours.cos}, graph ${graph.cos}`);
    if (outliers)
      assert.ok(ours.pair <= graph.pair, `pairwise: ours ${ours.pair}, graph ${graph.pair}`);
  });
}

test.run();
