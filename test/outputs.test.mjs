// The output containers: HF's ModelOutput semantics (fields by name, by position and by slice,
// absent fields skipped, to_tuple) and HF's return_dict=False tuples.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BertModel, BaseModelOutputWithPoolingAndCrossAttentions } from "../dist/index.js";
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

function same(a, b, what) {
  assert.equal(a.shape, b.shape, what);
  for (let i = 0; i < a.data.length; i++) {
    if (!Object.is(a.data[i], b.data[i]))
      assert.unreachable(`${what}: differs at ${i}: ${a.data[i]} vs ${b.data[i]}`);
  }
}

test("ModelOutput: index by position, slice, name; absent fields skipped; HF tuple order", async () => {
  const model = await BertModel.fromPretrained(files, quiet);
  const out = await model.forward({ input_ids: ids, output_hidden_states: true });
  assert.instance(out, BaseModelOutputWithPoolingAndCrossAttentions);
  assert.equal(out.keys(), ["last_hidden_state", "pooler_output", "hidden_states"]);
  assert.is(out[0], out.last_hidden_state);
  assert.is(out[1], out.get("pooler_output"));
  assert.is(out[2], out.hidden_states);
  assert.is(out[3], undefined);
  assert.is(out.at(-1), out.hidden_states);
  assert.equal(out.slice(0, 2), [out.last_hidden_state, out.pooler_output]);
  assert.equal(out.toTuple().length, 3);
  assert.equal([...out].length, 3);
  assert.is(out.attentions, null);
  assert.ok(!out.has("attentions"));
  assert.throws(() => out.get("logits"), /has no field "logits"/);
  // return_dict false: (sequence, pooled) + encoder extras without Nones
  const t = await model.forward({ input_ids: ids, output_attentions: true, return_dict: false });
  assert.ok(Array.isArray(t));
  assert.equal(t.length, 3);
  same(t[0], out.last_hidden_state, "tuple[0]");
  assert.equal(t[2].length, 2);
  // without a pooler the tuple keeps None at position 1, as HF
  const np = await BertModel.fromPretrained(files, { ...quiet, addPoolingLayer: false });
  const t2 = await np.forward({ input_ids: ids, return_dict: false });
  assert.equal(t2.length, 2);
  assert.is(t2[1], null);
  const o2 = await np.forward({ input_ids: ids });
  assert.equal(o2.keys(), ["last_hidden_state"]);
});

test.run();
