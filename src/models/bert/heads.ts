// The task heads of modeling_bert.py (transformers 4.30.2) and the models that carry them.
// Each model runs BertModel.encode (sequence output left in the arena), its head on the arena,
// then HF's loss from the logits in float64, and HF's output class (or tuple, return_dict: false).
import { ACTIVATIONS, type BertConfig } from "../../config.js";
import type { Engine } from "../../runtime/engine.js";
import type { PackedLinear, RawParam, WeightLoader } from "../../loading/weights.js";
import type { ModelSource } from "../../loading/source.js";
import { Tensor } from "../../tensor.js";
import { InputError, floatInput, intInput, type TensorLike } from "../inputs.js";
import {
  BertForPreTrainingOutput,
  CausalLMOutputWithCrossAttentions,
  MaskedLMOutput,
  ModelOutput,
  MultipleChoiceModelOutput,
  NextSentencePredictorOutput,
  QuestionAnsweringModelOutput,
  SequenceClassifierOutput,
  TokenClassifierOutput,
  type OutputValue,
} from "../outputs.js";
import type { BertModelInputs } from "./arguments.js";
import { BertModel, BertPreTrainedModel, LayerNorm, linear, loadPretrained, type BertFields, type FromPretrainedOptions } from "./modeling_bert.js";
import { binaryCrossEntropyWithLogits, crossEntropy, meanSquaredError, scalar } from "./losses.js";

type Inputs = BertModelInputs & Record<string, unknown>;

/** HF's forward signatures: arguments a class takes besides BertModel's own. */
const ENCODER_ARGS = ["input_ids", "attention_mask", "token_type_ids", "position_ids", "head_mask", "inputs_embeds", "output_attentions", "output_hidden_states", "return_dict"];

function splitArgs(cls: string, inputs: Inputs, extra: string[], bertExtra: string[] = []): { bert: BertModelInputs; own: Record<string, unknown> } {
  const bert: Record<string, unknown> = {};
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs ?? {})) {
    if (ENCODER_ARGS.includes(k) || bertExtra.includes(k)) bert[k] = v;
    else if (extra.includes(k)) own[k] = v;
    else throw new InputError(`${cls}.forward() got an unexpected argument "${k}"`);
  }
  return { bert: bert as BertModelInputs, own };
}

// ---------------------------------------------------------------- head components

export class BertPredictionHeadTransform {
  readonly dense: PackedLinear;
  readonly act: number;
  readonly LayerNorm: LayerNorm;
  constructor(config: BertConfig, w: WeightLoader, prefix: string) {
    const h = config.hidden_size;
    this.dense = w.linear([`${prefix}.dense.weight`], [`${prefix}.dense.bias`], [h], h);
    this.act = ACTIVATIONS[config.hidden_act];
    this.LayerNorm = new LayerNorm(w, `${prefix}.LayerNorm`, h, config.layer_norm_eps);
  }
  /** y = LayerNorm(act(dense(x))) */
  forward(e: Engine, rows: number, x: number, y: number): void {
    const h = this.dense.n;
    linear(e, this.dense, rows, x, h, y, h);
    e.k.f32_activation(this.act, rows * h, y, y);
    this.LayerNorm.forward(e, rows, y, y);
  }
}

export class BertLMPredictionHead {
  readonly transform: BertPredictionHeadTransform;
  /** decoder weight [vocab, hidden]: the word embeddings when tied (HF's default), else its own */
  readonly decoder: PackedLinear;
  /** cls.predictions.bias (the same parameter as decoder.bias in HF) */
  readonly bias: RawParam;
  constructor(readonly config: BertConfig, w: WeightLoader, prefix: string, wordEmbeddings: PackedLinear | null) {
    this.transform = new BertPredictionHeadTransform(config, w, `${prefix}.transform`);
    this.decoder = wordEmbeddings ?? w.linear([`${prefix}.decoder.weight`], [null], [config.vocab_size], config.hidden_size);
    this.bias = w.raw([`${prefix}.bias`, `${prefix}.decoder.bias`], [config.vocab_size]);
    // HF ties decoder.weight to the word embeddings and decoder.bias to bias: same parameters
    w.accept(`${prefix}.decoder.bias`, ...(wordEmbeddings ? [`${prefix}.decoder.weight`] : []));
  }
  floats(rows: number): number {
    return rows * (this.config.hidden_size + this.config.vocab_size);
  }
  /** logits[rows, vocab] = decoder(transform(x)) + bias, computed at `out` (scratch for the transform after it). */
  forward(e: Engine, rows: number, x: number, out: number): void {
    const h = this.config.hidden_size;
    const V = this.config.vocab_size;
    const t = out + rows * V * 4;
    this.transform.forward(e, rows, x, t);
    e.k.f32_gemm_6x8(rows, V, h, t, h, this.decoder.ptr, 32, h * 32, this.bias.ptr, out, V, 0, 0);
  }
}

export class BertOnlyMLMHead {
  readonly predictions: BertLMPredictionHead;
  constructor(config: BertConfig, w: WeightLoader, prefix: string, wordEmbeddings: PackedLinear | null) {
    this.predictions = new BertLMPredictionHead(config, w, `${prefix}.predictions`, wordEmbeddings);
  }
}

export class BertOnlyNSPHead {
  readonly seq_relationship: PackedLinear;
  constructor(config: BertConfig, w: WeightLoader, prefix: string) {
    this.seq_relationship = w.linear([`${prefix}.seq_relationship.weight`], [`${prefix}.seq_relationship.bias`], [2], config.hidden_size);
  }
}

export class BertPreTrainingHeads {
  readonly predictions: BertLMPredictionHead;
  readonly seq_relationship: PackedLinear;
  constructor(config: BertConfig, w: WeightLoader, prefix: string, wordEmbeddings: PackedLinear | null) {
    this.predictions = new BertLMPredictionHead(config, w, `${prefix}.predictions`, wordEmbeddings);
    this.seq_relationship = w.linear([`${prefix}.seq_relationship.weight`], [`${prefix}.seq_relationship.bias`], [2], config.hidden_size);
  }
}

// ---------------------------------------------------------------- shared plumbing

type HeadResult = { loss: Tensor | null; fields: Record<string, OutputValue>; tupleHead: OutputValue[] };

abstract class BertTaskModel extends BertPreTrainedModel {
  abstract readonly bert: BertModel;
  protected abstract readonly outputClass: new (v: Record<string, OutputValue>) => ModelOutput;
  /** Whether the output class has past_key_values / cross_attentions (causal LM only). */
  protected readonly decoderFields: boolean = false;

  forward(inputs: Inputs): Promise<ModelOutput | OutputValue[]> {
    return this.serialize(() => this.run(inputs));
  }

  run(inputs: Inputs): ModelOutput | OutputValue[] {
    const { fields, result, returnDict } = this.compute(inputs);
    if (!returnDict) {
      // ((loss,) + (head outputs) + outputs[2:]): bert's tuple after (sequence, pooled)
      const tuple = [...result.tupleHead, ...this.bert.tupleRest(fields)];
      return result.loss ? [result.loss, ...tuple] : tuple;
    }
    const v: Record<string, OutputValue> = { loss: result.loss, ...result.fields, hidden_states: fields.hidden_states, attentions: fields.attentions };
    if (this.decoderFields) {
      v.past_key_values = fields.past_key_values;
      v.cross_attentions = fields.cross_attentions;
    }
    return new this.outputClass(v);
  }

  protected abstract compute(inputs: Inputs): { fields: BertFields; result: HeadResult; returnDict: boolean };

}

function labelsInt(name: string, v: TensorLike): { data: Float64Array; shape: number[] } {
  return intInput(name, v);
}

/** Labels whose dtype decides the problem type (HF: long/int -> classification, float -> regression / multi-label). */
function labelsAny(name: string, v: TensorLike): { data: Float64Array; shape: number[]; integer: boolean } {
  if (v instanceof Tensor) {
    const integer = v.dtype !== "float32";
    const f = integer ? intInput(name, v) : floatInput(name, v);
    return { data: Float64Array.from(f.data as ArrayLike<number>), shape: f.shape, integer };
  }
  const f = floatInput(name, v);
  const integer = f.data.every((x) => Number.isInteger(x));
  return { data: Float64Array.from(f.data), shape: f.shape, integer };
}

// ---------------------------------------------------------------- task models

export class BertForPreTraining extends BertTaskModel {
  readonly bert: BertModel;
  readonly cls: BertPreTrainingHeads;
  protected readonly outputClass = BertForPreTrainingOutput;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    const tied = config.tie_word_embeddings;
    this.bert = new BertModel(config, engine, w, "bert", { packedWordEmbeddings: tied });
    this.cls = new BertPreTrainingHeads(config, w, "cls", tied ? (this.bert.embeddings.word_embeddings as PackedLinear) : null);
  }
  static async fromPretrained(source: ModelSource, options: FromPretrainedOptions = {}): Promise<BertForPreTraining> {
    return loadPretrained(source, options, (c, e, w) => {
      return new BertForPreTraining(c, e, w);
    });
  }
  protected compute(inputs: Inputs) {
    const { bert, own } = splitArgs("BertForPreTraining", inputs, ["labels", "next_sentence_label"]);
    const { pass: p, args } = this.bert.encode(bert, (pp) => this.cls.predictions.floats(pp.rows) + pp.B * 2);
    const V = this.config.vocab_size;
    const H = this.config.hidden_size;
    this.cls.predictions.forward(p.e, p.rows, p.hidden, p.head);
    const nsp = p.head + (p.rows * (H + V)) * 4;
    linear(p.e, this.cls.seq_relationship, p.B, p.pooled, H, nsp, 2);
    const prediction_logits = p.tensor(p.head, [p.B, p.S, V]);
    const seq_relationship_logits = p.tensor(nsp, [p.B, 2]);
    let loss: Tensor | null = null;
    if (own.labels != null && own.next_sentence_label != null) {
      const l = labelsInt("labels", own.labels as TensorLike);
      const n = labelsInt("next_sentence_label", own.next_sentence_label as TensorLike);
      loss = scalar(crossEntropy(prediction_logits.data as Float32Array, V, l) + crossEntropy(seq_relationship_logits.data as Float32Array, 2, n));
    }
    const fields = this.bert.outputs(p, args);
    return {
      fields,
      returnDict: args.returnDict,
      result: { loss, fields: { prediction_logits, seq_relationship_logits }, tupleHead: [prediction_logits, seq_relationship_logits] },
    };
  }
}

export class BertLMHeadModel extends BertTaskModel {
  readonly bert: BertModel;
  readonly cls: BertOnlyMLMHead;
  protected readonly outputClass = CausalLMOutputWithCrossAttentions;
  protected override readonly decoderFields = true;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    if (!config.is_decoder) console.warn("simdbert: If you want to use `BertLMHeadModel` as a standalone, add `is_decoder=True.`");
    const tied = config.tie_word_embeddings;
    this.bert = new BertModel(config, engine, w, "bert", { addPoolingLayer: false, packedWordEmbeddings: tied });
    this.cls = new BertOnlyMLMHead(config, w, "cls", tied ? (this.bert.embeddings.word_embeddings as PackedLinear) : null);
  }
  static async fromPretrained(source: ModelSource, options: FromPretrainedOptions = {}): Promise<BertLMHeadModel> {
    return loadPretrained(source, options, (c, e, w) => {
      return new BertLMHeadModel(c, e, w);
    });
  }
  protected compute(inputs: Inputs) {
    const { bert, own } = splitArgs("BertLMHeadModel", inputs, ["labels"], ["encoder_hidden_states", "encoder_attention_mask", "past_key_values", "use_cache"]);
    if (own.labels != null) bert.use_cache = false;
    const { pass: p, args } = this.bert.encode(bert, (pp) => this.cls.predictions.floats(pp.rows));
    const V = this.config.vocab_size;
    this.cls.predictions.forward(p.e, p.rows, p.hidden, p.head);
    const logits = p.tensor(p.head, [p.B, p.S, V]);
    let loss: Tensor | null = null;
    if (own.labels != null) {
      // next-token prediction: scores[:, :-1] against labels[:, 1:]
      const l = labelsInt("labels", own.labels as TensorLike);
      if (l.shape.length !== 2 || l.shape[0] !== p.B || l.shape[1] !== p.S) throw new InputError(`labels: shape [${l.shape}] must be [${p.B}, ${p.S}]`);
      const scores: number[] = [];
      const targets: number[] = [];
      const data = logits.data as Float32Array;
      for (let b = 0; b < p.B; b++) {
        for (let s = 0; s + 1 < p.S; s++) {
          for (let v = 0; v < V; v++) scores.push(data[(b * p.S + s) * V + v]);
          targets.push(l.data[b * p.S + s + 1]);
        }
      }
      loss = scalar(crossEntropy(Float32Array.from(scores), V, { data: Float64Array.from(targets), shape: [targets.length] }));
    }
    const fields = this.bert.outputs(p, args);
    return { fields, returnDict: args.returnDict, result: { loss, fields: { logits }, tupleHead: [logits] } };
  }
}

export class BertForMaskedLM extends BertTaskModel {
  readonly bert: BertModel;
  readonly cls: BertOnlyMLMHead;
  protected readonly outputClass = MaskedLMOutput;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    if (config.is_decoder) {
      console.warn("simdbert: If you want to use `BertForMaskedLM` make sure `config.is_decoder=False` for bi-directional self-attention.");
    }
    const tied = config.tie_word_embeddings;
    this.bert = new BertModel(config, engine, w, "bert", { addPoolingLayer: false, packedWordEmbeddings: tied });
    this.cls = new BertOnlyMLMHead(config, w, "cls", tied ? (this.bert.embeddings.word_embeddings as PackedLinear) : null);
  }
  static async fromPretrained(source: ModelSource, options: FromPretrainedOptions = {}): Promise<BertForMaskedLM> {
    return loadPretrained(source, options, (c, e, w) => {
      return new BertForMaskedLM(c, e, w);
    });
  }
  protected compute(inputs: Inputs) {
    const { bert, own } = splitArgs("BertForMaskedLM", inputs, ["labels"], ["encoder_hidden_states", "encoder_attention_mask"]);
    const { pass: p, args } = this.bert.encode(bert, (pp) => this.cls.predictions.floats(pp.rows));
    const V = this.config.vocab_size;
    this.cls.predictions.forward(p.e, p.rows, p.hidden, p.head);
    const logits = p.tensor(p.head, [p.B, p.S, V]);
    const loss = own.labels != null ? scalar(crossEntropy(logits.data as Float32Array, V, labelsInt("labels", own.labels as TensorLike))) : null;
    const fields = this.bert.outputs(p, args);
    return { fields, returnDict: args.returnDict, result: { loss, fields: { logits }, tupleHead: [logits] } };
  }
}

export class BertForNextSentencePrediction extends BertTaskModel {
  readonly bert: BertModel;
  readonly cls: BertOnlyNSPHead;
  protected readonly outputClass = NextSentencePredictorOutput;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    this.bert = new BertModel(config, engine, w, "bert");
    this.cls = new BertOnlyNSPHead(config, w, "cls");
  }
  static async fromPretrained(source: ModelSource, options: FromPretrainedOptions = {}): Promise<BertForNextSentencePrediction> {
    return loadPretrained(source, options, (c, e, w) => {
      return new BertForNextSentencePrediction(c, e, w);
    });
  }
  protected compute(inputs: Inputs) {
    const { bert, own } = splitArgs("BertForNextSentencePrediction", inputs, ["labels", "next_sentence_label"]);
    // HF: next_sentence_label is the deprecated name of labels
    const labels = own.labels ?? own.next_sentence_label;
    const { pass: p, args } = this.bert.encode(bert, (pp) => pp.B * 2);
    linear(p.e, this.cls.seq_relationship, p.B, p.pooled, this.config.hidden_size, p.head, 2);
    const logits = p.tensor(p.head, [p.B, 2]);
    const loss = labels != null ? scalar(crossEntropy(logits.data as Float32Array, 2, labelsInt("labels", labels as TensorLike))) : null;
    const fields = this.bert.outputs(p, args);
    return { fields, returnDict: args.returnDict, result: { loss, fields: { logits }, tupleHead: [logits] } };
  }
}

/** Classification loss by HF's problem_type rules (num_labels 1 -> regression; integer labels -> single label; else multi label). */
function classificationLoss(config: BertConfig, logits: Float32Array, rows: number, numLabels: number, labels: TensorLike): Tensor {
  const l = labelsAny("labels", labels);
  let problem = config.problem_type;
  if (problem == null) problem = numLabels === 1 ? "regression" : l.integer ? "single_label_classification" : "multi_label_classification";
  if (problem === "regression") {
    if (numLabels === 1) {
      if (l.data.length !== rows) throw new InputError(`labels: ${l.data.length} values for ${rows} predictions`);
      return scalar(meanSquaredError(logits, l.data));
    }
    if (l.data.length !== logits.length) throw new InputError(`labels: shape [${l.shape}] does not match the logits [${rows}, ${numLabels}]`);
    return scalar(meanSquaredError(logits, l.data));
  }
  if (problem === "single_label_classification") return scalar(crossEntropy(logits, numLabels, { data: l.data, shape: l.shape }));
  if (l.data.length !== logits.length) throw new InputError(`labels: shape [${l.shape}] does not match the logits [${rows}, ${numLabels}]`);
  return scalar(binaryCrossEntropyWithLogits(logits, l.data));
}

export class BertForSequenceClassification extends BertTaskModel {
  readonly bert: BertModel;
  readonly classifier: PackedLinear;
  protected readonly outputClass = SequenceClassifierOutput;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    this.bert = new BertModel(config, engine, w, "bert");
    this.classifier = w.linear(["classifier.weight"], ["classifier.bias"], [config.num_labels], config.hidden_size);
  }
  static async fromPretrained(source: ModelSource, options: FromPretrainedOptions = {}): Promise<BertForSequenceClassification> {
    return loadPretrained(source, options, (c, e, w) => {
      return new BertForSequenceClassification(c, e, w);
    });
  }
  protected compute(inputs: Inputs) {
    const { bert, own } = splitArgs("BertForSequenceClassification", inputs, ["labels"]);
    const n = this.config.num_labels;
    const { pass: p, args } = this.bert.encode(bert, (pp) => pp.B * n);
    linear(p.e, this.classifier, p.B, p.pooled, this.config.hidden_size, p.head, n);
    const logits = p.tensor(p.head, [p.B, n]);
    const loss = own.labels != null ? classificationLoss(this.config, logits.data as Float32Array, p.B, n, own.labels as TensorLike) : null;
    const fields = this.bert.outputs(p, args);
    return { fields, returnDict: args.returnDict, result: { loss, fields: { logits }, tupleHead: [logits] } };
  }
}

export class BertForMultipleChoice extends BertTaskModel {
  readonly bert: BertModel;
  readonly classifier: PackedLinear;
  protected readonly outputClass = MultipleChoiceModelOutput;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    this.bert = new BertModel(config, engine, w, "bert");
    this.classifier = w.linear(["classifier.weight"], ["classifier.bias"], [1], config.hidden_size);
  }
  static async fromPretrained(source: ModelSource, options: FromPretrainedOptions = {}): Promise<BertForMultipleChoice> {
    return loadPretrained(source, options, (c, e, w) => {
      return new BertForMultipleChoice(c, e, w);
    });
  }
  protected compute(inputs: Inputs) {
    const { bert, own } = splitArgs("BertForMultipleChoice", inputs, ["labels"]);
    // [batch, choices, seq] -> [batch·choices, seq] (inputs_embeds: [batch, choices, seq, hidden])
    let choices = 0;
    const flat: BertModelInputs = { ...bert };
    const flatten = (name: keyof BertModelInputs, trailing: number, float: boolean) => {
      const v = bert[name] as TensorLike | null | undefined;
      if (v == null) return;
      const d = float ? floatInput(name, v) : intInput(name, v);
      const rank = 3 + trailing;
      if (d.shape.length !== rank) throw new InputError(`${name}: BertForMultipleChoice takes [batch, num_choices, seq${trailing ? ", hidden" : ""}], got [${d.shape}]`);
      if (choices && d.shape[1] !== choices) throw new InputError(`${name}: ${d.shape[1]} choices, other inputs have ${choices}`);
      choices = d.shape[1];
      (flat as Record<string, unknown>)[name] = { data: d.data, shape: [d.shape[0] * d.shape[1], ...d.shape.slice(2)] };
    };
    flatten("input_ids", 0, false);
    flatten("inputs_embeds", 1, true);
    flatten("attention_mask", 0, true);
    flatten("token_type_ids", 0, false);
    flatten("position_ids", 0, false);
    if (!choices) throw new InputError("BertForMultipleChoice needs input_ids or inputs_embeds of shape [batch, num_choices, seq]");
    const { pass: p, args } = this.bert.encode(flat, (pp) => pp.B);
    linear(p.e, this.classifier, p.B, p.pooled, this.config.hidden_size, p.head, 1);
    const logits = p.tensor(p.head, [p.B / choices, choices]);
    const loss = own.labels != null ? scalar(crossEntropy(logits.data as Float32Array, choices, labelsInt("labels", own.labels as TensorLike))) : null;
    const fields = this.bert.outputs(p, args);
    return { fields, returnDict: args.returnDict, result: { loss, fields: { logits }, tupleHead: [logits] } };
  }
}

export class BertForTokenClassification extends BertTaskModel {
  readonly bert: BertModel;
  readonly classifier: PackedLinear;
  protected readonly outputClass = TokenClassifierOutput;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    this.bert = new BertModel(config, engine, w, "bert", { addPoolingLayer: false });
    this.classifier = w.linear(["classifier.weight"], ["classifier.bias"], [config.num_labels], config.hidden_size);
  }
  static async fromPretrained(source: ModelSource, options: FromPretrainedOptions = {}): Promise<BertForTokenClassification> {
    return loadPretrained(source, options, (c, e, w) => {
      return new BertForTokenClassification(c, e, w);
    });
  }
  protected compute(inputs: Inputs) {
    const { bert, own } = splitArgs("BertForTokenClassification", inputs, ["labels"]);
    const n = this.config.num_labels;
    const { pass: p, args } = this.bert.encode(bert, (pp) => pp.rows * n);
    linear(p.e, this.classifier, p.rows, p.hidden, this.config.hidden_size, p.head, n);
    const logits = p.tensor(p.head, [p.B, p.S, n]);
    const loss = own.labels != null ? scalar(crossEntropy(logits.data as Float32Array, n, labelsInt("labels", own.labels as TensorLike))) : null;
    const fields = this.bert.outputs(p, args);
    return { fields, returnDict: args.returnDict, result: { loss, fields: { logits }, tupleHead: [logits] } };
  }
}

export class BertForQuestionAnswering extends BertTaskModel {
  readonly bert: BertModel;
  readonly qa_outputs: PackedLinear;
  protected readonly outputClass = QuestionAnsweringModelOutput;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    if (config.num_labels !== 2) {
      throw new Error(`BertForQuestionAnswering needs num_labels = 2 (start and end logits), the config has ${config.num_labels}`);
    }
    this.bert = new BertModel(config, engine, w, "bert", { addPoolingLayer: false });
    this.qa_outputs = w.linear(["qa_outputs.weight"], ["qa_outputs.bias"], [2], config.hidden_size);
  }
  static async fromPretrained(source: ModelSource, options: FromPretrainedOptions = {}): Promise<BertForQuestionAnswering> {
    return loadPretrained(source, options, (c, e, w) => {
      return new BertForQuestionAnswering(c, e, w);
    });
  }
  protected compute(inputs: Inputs) {
    const { bert, own } = splitArgs("BertForQuestionAnswering", inputs, ["start_positions", "end_positions"]);
    const { pass: p, args } = this.bert.encode(bert, (pp) => pp.rows * 2);
    linear(p.e, this.qa_outputs, p.rows, p.hidden, this.config.hidden_size, p.head, 2);
    // logits.split(1, dim=-1): column 0 is start, column 1 is end
    const both = p.e.f32.subarray(p.head / 4, p.head / 4 + p.rows * 2);
    const start = new Float32Array(p.rows);
    const end = new Float32Array(p.rows);
    for (let r = 0; r < p.rows; r++) {
      start[r] = both[2 * r];
      end[r] = both[2 * r + 1];
    }
    const start_logits = new Tensor("float32", start, [p.B, p.S]);
    const end_logits = new Tensor("float32", end, [p.B, p.S]);
    let loss: Tensor | null = null;
    if (own.start_positions != null && own.end_positions != null) {
      // positions outside the sequence are clamped to seq, which is the ignored index
      const ignored = p.S;
      const pos = (name: string, v: unknown) => {
        const d = intInput(name, v as TensorLike);
        if (d.data.length !== p.B) throw new InputError(`${name}: expected ${p.B} positions (one per sequence), got shape [${d.shape}]`);
        return { data: d.data.map((x) => Math.min(Math.max(x, 0), ignored)), shape: [p.B] };
      };
      const s = crossEntropy(start, p.S, pos("start_positions", own.start_positions), ignored);
      const e = crossEntropy(end, p.S, pos("end_positions", own.end_positions), ignored);
      loss = scalar((s + e) / 2);
    }
    const fields = this.bert.outputs(p, args);
    return {
      fields,
      returnDict: args.returnDict,
      result: { loss, fields: { start_logits, end_logits }, tupleHead: [start_logits, end_logits] },
    };
  }
}
