// The error hierarchy: every error simdbert throws on purpose extends SimdbertError (one
// `instanceof` tells the library's refusals from bugs), and each part of the library throws its
// own subclass, with its name set.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  SimdbertError,
  ConfigError,
  WeightsError,
  InputError,
  SafetensorsError,
  EngineError,
  SourceError,
  TokenizerError,
  Tensor,
  BertConfig,
  BertModel,
  SequenceClassifierOutput,
  Engine,
  loadModelClass,
  modelFiles,
  parseHeader,
} from "../dist/index.js";
import { TINY, checkpoint, encoderShapes, randomTensors } from "./support/random_model.mjs";

test("every error class extends SimdbertError and names itself", () => {
  for (const E of [
    ConfigError,
    WeightsError,
    InputError,
    SafetensorsError,
    EngineError,
    SourceError,
    TokenizerError,
  ]) {
    const e = new E("x");
    assert.instance(e, SimdbertError, E.name);
    assert.instance(e, Error, E.name);
    assert.is(e.name, E.name);
  }
});

async function thrown(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.unreachable("expected an error");
}

test("errors thrown by each part are SimdbertErrors of that part's class", async () => {
  const cases = [
    [() => new Tensor("float32", [1, 2, 3], [2, 2]), InputError],
    [() => new Tensor("float64", [1], [1]), InputError],
    [() => new SequenceClassifierOutput({ logit: null }), InputError],
    [() => new BertConfig({ hidden_size: 10, num_attention_heads: 3 }), ConfigError],
    [() => loadModelClass("BertForNothing", {}), ConfigError],
    [() => modelFiles(42), SourceError],
    [() => parseHeader(new Uint8Array(3)), SafetensorsError],
    [() => Engine.create({ threads: -1 }), EngineError],
    [
      () =>
        BertModel.fromPretrained(
          checkpoint(TINY, randomTensors({ "embeddings.word_embeddings.weight": [37, 16] }, 1)),
          { warn: () => {} },
        ),
      WeightsError,
    ],
  ];
  for (const [fn, type] of cases) {
    const e = await thrown(fn);
    assert.instance(e, type, `${fn}: ${e?.name}: ${e?.message}`);
    assert.instance(e, SimdbertError);
  }
  const model = await BertModel.fromPretrained(
    checkpoint(TINY, randomTensors(encoderShapes(TINY), 3)),
  );
  const e = await thrown(() => model.forward({ input_ids: [[1, 2]], bogus: 1 }));
  assert.instance(e, InputError);
  assert.instance(e, SimdbertError);
});

test.run();
