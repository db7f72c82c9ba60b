// The tokenizer's public API.
export { BertTokenizer, type BertTokenizerOptions } from "./bert_tokenizer.js";
export type {
  EncodeOptions,
  BatchEncodeOptions,
  DecodeOptions,
  TextInput,
} from "./call_options.js";
export { BasicTokenizer, type BasicTokenizerOptions } from "./basic.js";
export { WordpieceTokenizer, type WordpieceOptions } from "./wordpiece.js";
export { Vocab } from "./vocab.js";
export { AddedToken, type AddedTokenInit, type TokenSpec } from "./special_tokens.js";
export { BatchEncoding, type TensorEncoding, type ReturnTensors } from "./encoding.js";
export { TokenizerError } from "./errors.js";
export { loadTokenizerFiles, TokenizerFiles } from "./pretrained.js";
export type {
  PaddingOption,
  TruncationOption,
  PaddingStrategy,
  TruncationStrategy,
} from "./strategies.js";
