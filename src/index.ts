// simdbert: BERT inference in TypeScript + WebAssembly SIMD, with Hugging Face's numbers.
export { Tensor, type DType, type DataTypes, type TypedData } from "./tensor.js";
export {
  SimdbertError,
  ConfigError,
  WeightsError,
  InputError,
  SafetensorsError,
  EngineError,
  SourceError,
} from "./errors.js";
export { BertConfig, ACTIVATIONS, type Activation } from "./config.js";
export { Engine, hardwareThreads, type EngineOptions } from "./runtime/engine.js";
export {
  PackedLinear,
  PANEL_COLS,
  TILE_ROWS,
  type LinearDType,
  type LinearLayout,
  type LinearEpilogue,
} from "./runtime/linear.js";
export {
  hasSimd,
  hasRelaxedSimd,
  kernelsModule,
  type WasmOptions,
  type WasmSource,
} from "./runtime/wasm.js";
export {
  parseHeader,
  headerLength,
  writeSafetensors,
  safetensorsLayout,
  readTensor,
  BufferSource,
  type TensorSource,
  type TensorInfo,
} from "./safetensors.js";
export { FileError, readRegularFile, openRegularFile } from "./loading/files.js";
export { PickleError, readPickle } from "./loading/pickle.js";
export { ZipError, readZip } from "./loading/zip.js";
export { TorchSource } from "./loading/torch.js";
export {
  openWeights,
  parseIndex,
  SafetensorsFile,
  ShardedSource,
  WEIGHT_FILES,
} from "./loading/checkpoint.js";
export {
  BytesAccess,
  FileAccess,
  HttpAccess,
  readAt,
  type RandomAccess,
} from "./loading/random_access.js";
export {
  HubError,
  isModelId,
  hubDownload,
  downloadModel,
  hubCacheDir,
  repoFolderName,
  DEFAULT_MODELS,
  type HubOptions,
  type HubCacheLike,
  type ProgressInfo,
} from "./loading/hub.js";
export { WebHubFiles, HUB_CACHE_NAME } from "./loading/hub_web.js";
export {
  modelFiles,
  HubFiles,
  type ModelSource,
  type ModelFiles,
  type FileMap,
} from "./loading/source.js";
export { type TensorLike } from "./models/inputs.js";
export * from "./models/outputs.js";
export {
  BertModel,
  BertPreTrainedModel,
  BertEmbeddings,
  BertSelfAttention,
  BertSelfOutput,
  BertAttention,
  BertIntermediate,
  BertOutput,
  BertLayer,
  BertEncoder,
  BertPooler,
  type FromPretrainedOptions,
} from "./models/bert/modeling_bert.js";
export type { BertModelInputs } from "./models/bert/arguments.js";
export { KVCache } from "./models/bert/kv_cache.js";
export {
  BertForPreTraining,
  BertLMHeadModel,
  BertForMaskedLM,
  BertForNextSentencePrediction,
  BertForSequenceClassification,
  BertForMultipleChoice,
  BertForTokenClassification,
  BertForQuestionAnswering,
  BertPredictionHeadTransform,
  BertLMPredictionHead,
  BertOnlyMLMHead,
  BertOnlyNSPHead,
  BertPreTrainingHeads,
} from "./models/bert/heads.js";
export { MODEL_CLASSES, loadModelClass, autoModel } from "./models/auto.js";
export {
  AutoTokenizer,
  AutoModel,
  AutoModelForPreTraining,
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForNextSentencePrediction,
  AutoModelForSequenceClassification,
  AutoModelForMultipleChoice,
  AutoModelForTokenClassification,
  AutoModelForQuestionAnswering,
  type AutoClass,
} from "./auto.js";
export { OptionError } from "./options.js";
export { env, type Env } from "./env.js";
export * from "./tokenizer/index.js";
export * from "./pipeline/index.js";
export {
  type FeatureExtractionPipeline,
  type ExtractOptions,
  type PipelineOptions,
  type Pooling,
} from "./pipeline/feature_extraction.js";
export {
  createHandler,
  ServeCore,
  ServeError,
  type FetchHandler,
  type ServeOptions,
} from "./serve/index.js";
export {
  SentenceTransformer,
  readSentenceTransformersConfig,
  POOLING_MODES,
  type PoolingMode,
  type EncodeOptions,
  type SentenceTransformerOptions,
  type SentenceTransformersConfig,
} from "./pipeline/sentence_transformers.js";
export {
  WEIGHT_DTYPES,
  QuantizationError,
  checkDtype,
  roundHalfEven,
  quantizeRows,
  dequantizeRows,
  f32ToF16Bits,
  f16BitsToF32,
  f32ToF16,
  type WeightDtype,
} from "./quant/quantize.js";
export {
  SCALE_SUFFIX,
  QUANT_METHOD,
  convertCheckpoint,
  convertedConfig,
  declaredDtype,
  isLowPrecisionTarget,
  q8QuantizationConfig,
} from "./quant/checkpoint.js";
