// A user's TypeScript, compiled against the packed tarball under --strict: the documented usage
// must type-check as written (no casts), and misuse must not.
import {
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

  const t = new Tensor("float32", new Float32Array(6), [2, 3]);
  const withWasm = await BertModel.fromPretrained(dir, { wasm });
  withWasm.engine.dispose();
  return h.length + shape.length + pooled + logits.length + e.length + t.data.length;
}

export const options: BertTokenizerOptions = { do_lower_case: false, strip_accents: null };
// @ts-expect-error: an unknown key (camelCase for do_lower_case) must not type-check
export const wrong: BertTokenizerOptions = { doLowerCase: false };
