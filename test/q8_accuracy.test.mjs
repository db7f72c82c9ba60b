// Accuracy of low-precision weights on sentence embeddings against a float64 BertModel, beside
// transformers.js' q8 graph in onnxruntime-web (bench/lib/accuracy.mjs; the full-size figures are
// `npm run bench:q8-accuracy`). On a small shape (hidden 64, 2 layers), a plain random model and
// one with BERT-like outlier dimensions:
//   - the q8 ONNX graph run by onnxruntime-web gives the figures of its float64 simulation (the
//     graph is what we say it is, and the harness measures it right);
//   - simdbert's engine on q8 / fp16 checkpoints computes what the float64 simulation of those
//     weights gives;
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
  sentenceEmbeddings,
  shapeConfig,
} from "../bench/lib/accuracy.mjs";
import { runOrtQ8, runSimdbert } from "../bench/lib/accuracy-engines.mjs";
import { f16BitsToF32, f32ToF16Bits } from "../dist/index.js";

const config = shapeConfig("small");
const texts = accuracyTexts(config, 6, 24);
const H = config.hidden_size;

const near = (a, b, rel, what) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(a, b), `${what}: ${a} vs ${b}`);

for (const outliers of [false, true]) {
  const name = outliers ? "outlier model" : "plain model";
  const weights = accuracyWeights(config, { seed: 1, outliers });
  const ref = embeddings64(config, weights, texts);

  test(`${name}: transformers.js' q8 graph in onnxruntime-web = its float64 simulation`, async () => {
    const ort = compare(
      ref,
      sentenceEmbeddings(await runOrtQ8(config, weights, texts), texts.attention_mask, H),
    );
    const sim = compare(
      ref,
      embeddings64(config, perTensorWeights(weights), texts, ACTIVATIONS.tensorAsym),
    );
    // f32 vs float64 arithmetic and a rounding tie here and there
    near(ort.cos, sim.cos, 0.1, "1 - cos");
    near(ort.pair, sim.pair, 0.1, "pairwise");
    assert.ok(sim.cos > 1e-5, "the q8 graph's error is visible");
  });

  test(`${name}: simdbert's q8 and fp16 checkpoints compute what their weights give`, async () => {
    const q8 = compare(ref, (await runSimdbert(config, weights, texts, "q8")).embeddings);
    const q8sim = compare(ref, embeddings64(config, perRowWeights(weights), texts));
    near(q8.cos, q8sim.cos, 1e-3, "q8 1 - cos");
    near(q8.pair, q8sim.pair, 1e-3, "q8 pairwise");
    const f16w = new Map(
      [...weights].map(([n, t]) => [
        n,
        t.shape.length === 2
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
