// AutoTokenizer and AutoModel* as transformers.js and HF Python spell them:
//
//   const tokenizer = await AutoTokenizer.from_pretrained("bert-base-uncased");
//   const model = await AutoModelForSequenceClassification.from_pretrained("path/to/dir");
//   const out = await model(tokenizer(["a text"], { padding: true }));
//
// simdbert implements BERT only, so each Auto class loads the BERT class HF's mapping gives for
// model_type "bert" (AutoModel -> BertModel, AutoModelForCausalLM -> BertLMHeadModel, ...); a
// config.json of another model_type is refused by BertConfig with a ConfigError. Both spellings,
// `from_pretrained` and `fromPretrained`, are the same function.
import { BertModel, type FromPretrainedOptions } from "./models/bert/modeling_bert.js";
import {
  BertForMaskedLM,
  BertForMultipleChoice,
  BertForNextSentencePrediction,
  BertForPreTraining,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertLMHeadModel,
} from "./models/bert/heads.js";
import type { ModelSource } from "./loading/source.js";
import type { HubOptions } from "./loading/hub.js";
import { BertTokenizer, type BertTokenizerOptions } from "./tokenizer/bert_tokenizer.js";

/** An Auto class: from_pretrained (HF, transformers.js) and fromPretrained (simdbert) alike. */
export interface AutoClass<M, O> {
  /** The simdbert class this Auto class loads for a BERT checkpoint. */
  readonly modelClass: { readonly name: string };
  from_pretrained(source: ModelSource, options?: O): Promise<M>;
  fromPretrained(source: ModelSource, options?: O): Promise<M>;
}

function auto<M, O>(
  cls: { readonly name: string },
  load: (source: ModelSource, options?: O) => Promise<M>,
): AutoClass<M, O> {
  return Object.freeze({ modelClass: cls, from_pretrained: load, fromPretrained: load });
}

/** The tokenizer of a model folder, id or URL (BERT's: vocab.txt or tokenizer.json). */
export const AutoTokenizer: AutoClass<BertTokenizer, BertTokenizerOptions & HubOptions> = auto(
  BertTokenizer,
  (source, options) => BertTokenizer.fromPretrained(source, options),
);

/**
 * The base model (HF's AutoModel: BertModel, whatever head the checkpoint has). The pooler is
 * built when the checkpoint has its weights (addPoolingLayer "auto"), unless the option says.
 */
export const AutoModel: AutoClass<BertModel, FromPretrainedOptions> = auto(
  BertModel,
  (source, options = {}) =>
    BertModel.fromPretrained(source, { addPoolingLayer: "auto", ...options }),
);
type Options = FromPretrainedOptions;
export const AutoModelForPreTraining: AutoClass<BertForPreTraining, Options> = auto(
  BertForPreTraining,
  (s, o) => BertForPreTraining.fromPretrained(s, o),
);
/** HF's AutoModelForCausalLM: BertLMHeadModel (a decoder: config is_decoder true). */
export const AutoModelForCausalLM: AutoClass<BertLMHeadModel, Options> = auto(
  BertLMHeadModel,
  (s, o) => BertLMHeadModel.fromPretrained(s, o),
);
export const AutoModelForMaskedLM: AutoClass<BertForMaskedLM, Options> = auto(
  BertForMaskedLM,
  (s, o) => BertForMaskedLM.fromPretrained(s, o),
);
export const AutoModelForNextSentencePrediction: AutoClass<BertForNextSentencePrediction, Options> =
  auto(BertForNextSentencePrediction, (s, o) => BertForNextSentencePrediction.fromPretrained(s, o));
export const AutoModelForSequenceClassification: AutoClass<BertForSequenceClassification, Options> =
  auto(BertForSequenceClassification, (s, o) => BertForSequenceClassification.fromPretrained(s, o));
export const AutoModelForMultipleChoice: AutoClass<BertForMultipleChoice, Options> = auto(
  BertForMultipleChoice,
  (s, o) => BertForMultipleChoice.fromPretrained(s, o),
);
export const AutoModelForTokenClassification: AutoClass<BertForTokenClassification, Options> = auto(
  BertForTokenClassification,
  (s, o) => BertForTokenClassification.fromPretrained(s, o),
);
export const AutoModelForQuestionAnswering: AutoClass<BertForQuestionAnswering, Options> = auto(
  BertForQuestionAnswering,
  (s, o) => BertForQuestionAnswering.fromPretrained(s, o),
);
