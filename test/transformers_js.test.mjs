// transformers.js (and HF Python) habits: callable tokenizers and models, AutoTokenizer /
// AutoModel*, the env object, Tensor methods, pipeline dispose(), pooling names, and every
// unknown option refused by name. Models are small random checkpoints written here.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  BertForMaskedLM,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertModel,
  BertPreTrainedModel,
  BertTokenizer,
  InputError,
  SimdbertError,
} from "../dist/index.js";
import {
  TINY,
  checkpoint,
  encoderShapes,
  headShapes,
  randomTensors,
} from "./support/random_model.mjs";

const quiet = { warn: () => {} };
const VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "a", "b", "##s"];
for (let i = VOCAB.length; i < TINY.vocab_size; i++) VOCAB.push(`w${i}`);

/** A model folder in memory: config (with architectures), weights of `cls`, vocab.txt. */
function folder(cls = "BertModel", config = {}, seed = 5) {
  const c = { ...TINY, architectures: [cls], ...config };
  const prefix = cls === "BertModel" ? "" : "bert.";
  const shapes = { ...encoderShapes(c, prefix), ...headShapes(cls, c) };
  return { ...checkpoint(c, randomTensors(shapes, seed)), "vocab.txt": VOCAB.join("\n") };
}
const same = (a, b, what) => assert.equal(Array.from(a.data), Array.from(b.data), what);

test("the tokenizer is callable: tokenizer(text, options) is tokenizer.call(text, options)", async () => {
  const tok = await BertTokenizer.fromPretrained(folder());
  assert.ok(tok instanceof BertTokenizer);
  assert.is(typeof tok, "function");
  assert.is(tok.length, VOCAB.length, "the tokenizer's own length (len(tokenizer)) is not hidden");
  assert.equal(tok("hello worlds"), tok.call("hello worlds"));
  const opts = { padding: true, truncation: true, max_length: 5 };
  assert.equal(
    tok(["hello", "a b a b a b hello"], opts),
    tok.call(["hello", "a b a b a b hello"], opts),
  );
  const pairs = tok(["hello", "a"], {
    text_pair: ["world", "b"],
    padding: true,
    return_tensors: "pt",
  });
  const ref = tok.call(["hello", "a"], {
    text_pair: ["world", "b"],
    padding: true,
    return_tensors: "pt",
  });
  for (const k of ["input_ids", "token_type_ids", "attention_mask"]) {
    assert.equal(pairs[k].shape, ref[k].shape);
    assert.equal(Array.from(pairs[k].data), Array.from(ref[k].data), k);
  }
  assert.equal(tok.tokenize("hello worlds"), ["hello", "world", "##s"]);
  assert.throws(
    () => tok(42),
    (e) => e instanceof SimdbertError,
  );
});

test("models are callable: await model(inputs) is await model.forward(inputs), bit for bit", async () => {
  const inputs = {
    input_ids: [
      [2, 5, 6, 9, 3],
      [2, 7, 8, 3, 0],
    ],
    attention_mask: [
      [1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0],
    ],
  };
  const m = await BertModel.fromPretrained(folder(), quiet);
  assert.ok(m instanceof BertModel && m instanceof BertPreTrainedModel);
  const a = await m(inputs);
  const b = await m.forward(inputs);
  same(a.last_hidden_state, b.last_hidden_state, "last_hidden_state");
  same(a.pooler_output, b.pooler_output, "pooler_output");
  const tuple = await m({ ...inputs, return_dict: false });
  assert.ok(Array.isArray(tuple));
  same(tuple[0], b.last_hidden_state);
  for (const [Cls, field] of [
    [BertForSequenceClassification, "logits"],
    [BertForMaskedLM, "logits"],
    [BertForQuestionAnswering, "start_logits"],
  ]) {
    const t = await Cls.fromPretrained(folder(Cls.name), quiet);
    assert.ok(t instanceof Cls && t instanceof BertPreTrainedModel);
    same((await t(inputs))[field], (await t.forward(inputs))[field], `${Cls.name}.${field}`);
    assert.is(t.config.hidden_size, TINY.hidden_size);
  }
  // a text where named inputs belong: the typed error, and the model still answers
  await m("hello").then(
    () => assert.unreachable("a text was taken as inputs"),
    (e) => assert.ok(e instanceof InputError, String(e)),
  );
  same((await m(inputs)).last_hidden_state, b.last_hidden_state, "after a refused call");
  m.engine.dispose();
});

test.run();
