// Memory: the engine's WebAssembly memory does not grow across repeated calls of one shape, and
// grows only for a bigger request.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BertModel } from "../dist/index.js";
import {
  TINY,
  checkpoint,
  encoderShapes,
  randomIds,
  randomTensors,
  rng,
} from "./support/random_model.mjs";

const quiet = { warn: () => {} };
const files = checkpoint({ ...TINY }, randomTensors(encoderShapes(TINY), 21));
const r = rng(9);
const ids = randomIds(r, 2, 7, TINY.vocab_size);
const good = {
  input_ids: ids,
  attention_mask: ids.map((row) => row.map((_, s) => (s < 6 ? 1 : 0))),
  output_attentions: true,
};

test("memory: no growth across repeated calls of the same shape; the arena grows only for bigger requests", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  await model.forward(good);
  const before = model.engine.memoryBytes;
  for (let i = 0; i < 50; i++) await model.forward(good);
  assert.is(model.engine.memoryBytes, before);
  await model.forward({ input_ids: randomIds(r, 8, 40, TINY.vocab_size) });
  const grown = model.engine.memoryBytes;
  for (let i = 0; i < 5; i++) await model.forward(good);
  assert.is(model.engine.memoryBytes, grown);
});

test.run();
