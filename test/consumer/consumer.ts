// A user's TypeScript, compiled against the packed tarball under --strict: the documented usage
// must type-check as written (no casts), and misuse must not.
import {
  AutoModel,
  AutoModelForSequenceClassification,
  AutoTokenizer,
  env,
  BertForSequenceClassification,
  BertModel,
  BertTokenizer,
  pipeline,
  Tensor,
  type BertTokenizerOptions,
} from "simdbert";
import wasm from "simdbert/wasm";

export async function documented(dir: string): Promise<number> {
  const model = await BertModel.fromPretrained(dir, { threads: "auto", relaxedSimd: false });
  const tokenizer = await BertTokenizer.fromPretrained(dir, { do_lower_case: true });
  const inputs = tokenizer.call(["Hello world!", "A second sentence."], {
    padding: true,
    return_tensors: "pt",
  });
  const out = await model.forward({ ...inputs, output_hidden_states: true });
  const h: Float32Array = out.last_hidden_state.data;
  const shape: number[] = out.last_hidden_state.shape;
  const pooled = out.pooler_output?.data.length ?? 0;

  const classifier = await BertForSequenceClassification.fromPretrained(dir);
  const logits: Float32Array = (await classifier.forward({ input_ids: [[2, 5, 3]] })).logits.data;

  const extractor = await pipeline("feature-extraction", dir);
  const emb = await extractor(["first sentence", "second"], { pooling: "mean", normalize: true });
  const e: Float32Array = emb.data as Float32Array;

  // transformers.js habits: the tokenizer and the models are callable
  const enc = tokenizer(["a", "b"], { padding: true, truncation: true, return_tensors: "pt" });
  const called = await model(enc);
  const h2: Float32Array = called.last_hidden_state.data;
  const listed: number[] | number[][] = tokenizer("hi").input_ids;
  const calledLogits: Float32Array = (await classifier({ input_ids: [[2, 5, 3]] })).logits.data;

  // Auto classes, env, Tensor methods, dispose
  env.cacheDir = null;
  env.allowRemoteModels = false;
  const autoTok = await AutoTokenizer.from_pretrained(dir, { revision: "main" });
  const auto = await AutoModel.from_pretrained(dir, { quantized: false });
  const autoOut = await auto(autoTok(["a"], { return_tensor: true }));
  const sentence: Float32Array = autoOut.last_hidden_state.mean(1).normalize().data;
  const first: number[] = autoOut.last_hidden_state.slice(0, 0).tolist() as number[];
  const autoClassifier = await AutoModelForSequenceClassification.fromPretrained(dir);
  const autoLogits: Float32Array = (await autoClassifier({ input_ids: [[2, 5, 3]] })).logits.data;
  await auto.dispose();
  await extractor.dispose();

  const t = new Tensor("float32", new Float32Array(6), [2, 3]);
  const withWasm = await BertModel.fromPretrained(dir, { wasm });
  withWasm.engine.dispose();
  return (
    h2.length +
    listed.length +
    calledLogits.length +
    h.length +
    shape.length +
    pooled +
    logits.length +
    e.length +
    t.data.length
  );
}

export const options: BertTokenizerOptions = { do_lower_case: false, strip_accents: null };
// @ts-expect-error: an unknown key (camelCase for do_lower_case) must not type-check
export const wrong: BertTokenizerOptions = { doLowerCase: false };

export async function misuse(model: BertModel, tokenizer: BertTokenizer): Promise<void> {
  // @ts-expect-error: a model takes named inputs, not a text
  await model("Hello world!");
  // @ts-expect-error: a tokenizer takes texts, not numbers alone
  tokenizer(42);
}
