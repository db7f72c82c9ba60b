// The task heads of modeling_bert.py (transformers 4.30.2) and the models that carry them.
// Each model runs BertModel.encode (sequence output left in the arena), its head on the arena,
// then HF's loss from the logits in float64, and HF's output class (or tuple, return_dict: false).
import { ACTIVATIONS, ConfigError, type BertConfig } from "../../config.js";
import type { Engine } from "../../runtime/engine.js";
import type { RawParam, WeightLoader } from "../../loading/weights.js";
import type { PackedLinear } from "../../runtime/linear.js";
import { f32At } from "../../runtime/memory.js";
import type { ModelSource } from "../../loading/source.js";
import { Tensor } from "../../tensor.js";
import { InputError, floatInput, intInput, type TensorLike } from "../inputs.js";
import {
  BertForPreTrainingOutput,
  CausalLMOutputWithCrossAttentions,
  MaskedLMOutput,
  ModelOutput,
  MultipleChoiceModelOutput,
  type OutputClass,
  NextSentencePredictorOutput,
  QuestionAnsweringModelOutput,
  SequenceClassifierOutput,
  TokenClassifierOutput,
  type OutputValue,
} from "../outputs.js";
import type { BertModelInputs } from "./arguments.js";
import {
  BertModel,
  BertPreTrainedModel,
  LayerNorm,
  loadPretrained,
  type FromPretrainedOptions,
} from "./modeling_bert.js";
import {
  binaryCrossEntropyWithLogits,
  checkTargets,
  crossEntropy,
  meanSquaredError,
  scalar,
} from "./losses.js";
import type { Pass } from "./pass.js";
import { OptionError } from "../../options.js";

type Inputs = BertModelInputs & Record<string, unknown>;

/** The BertModel arguments every task class's forward takes (HF's signatures). */
const ENCODER_ARGS = [
  "input_ids",
  "attention_mask",
  "token_type_ids",
  "position_ids",
  "head_mask",
  "inputs_embeds",
  "output_attentions",
  "output_hidden_states",
  "return_dict",
];

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
    this.dense.forward(e, rows, x, h, y, h, { act: this.act });
    this.LayerNorm.forward(e, rows, y, y);
  }
}

export class BertLMPredictionHead {
  readonly transform: BertPredictionHeadTransform;
  /** decoder weight [vocab, hidden]: the word embeddings when tied (HF's default), else its own */
  readonly decoder: PackedLinear;
  /** cls.predictions.bias (the same parameter as decoder.bias in HF) */
  readonly bias: RawParam;
  constructor(
    readonly config: BertConfig,
    w: WeightLoader,
    prefix: string,
    wordEmbeddings: PackedLinear | null,
  ) {
    this.transform = new BertPredictionHeadTransform(config, w, `${prefix}.transform`);
    this.decoder =
      wordEmbeddings ??
      w.linear([`${prefix}.decoder.weight`], [null], [config.vocab_size], config.hidden_size);
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
    const t = f32At(out, rows * V);
    this.transform.forward(e, rows, x, t);
    this.decoder.forward(e, rows, t, h, out, V, { bias: this.bias.ptr });
  }
}

export class BertOnlyMLMHead {
  readonly predictions: BertLMPredictionHead;
  constructor(
    config: BertConfig,
    w: WeightLoader,
    prefix: string,
    wordEmbeddings: PackedLinear | null,
  ) {
    this.predictions = new BertLMPredictionHead(config, w, `${prefix}.predictions`, wordEmbeddings);
  }
}

export class BertOnlyNSPHead {
  readonly seq_relationship: PackedLinear;
  constructor(config: BertConfig, w: WeightLoader, prefix: string) {
    this.seq_relationship = w.linear(
      [`${prefix}.seq_relationship.weight`],
      [`${prefix}.seq_relationship.bias`],
      [2],
      config.hidden_size,
    );
  }
}

export class BertPreTrainingHeads {
  readonly predictions: BertLMPredictionHead;
  readonly seq_relationship: PackedLinear;
  constructor(
    config: BertConfig,
    w: WeightLoader,
    prefix: string,
    wordEmbeddings: PackedLinear | null,
  ) {
    this.predictions = new BertLMPredictionHead(config, w, `${prefix}.predictions`, wordEmbeddings);
    this.seq_relationship = w.linear(
      [`${prefix}.seq_relationship.weight`],
      [`${prefix}.seq_relationship.bias`],
      [2],
      config.hidden_size,
    );
  }
}

// ---------------------------------------------------------------- the task models

type Own = Record<string, unknown>;
/** A head's result: its loss (when labels were given) and its output fields in HF's order. */
type HeadResult = { loss: Tensor | null; fields: Record<string, Tensor> };

/**
 * What every task model does: split HF's arguments, run the encoder with arena room for the head,
 * run the head, and build HF's output class, or ((loss,) + head outputs + outputs[2:]) with
 * return_dict: false. A subclass states its arguments, arena needs and head.
 */
// the call signatures of a Callable (merged into the class below)
interface BertTaskModel<O extends ModelOutput> {
  /** `await model(inputs)` is `await model.forward(inputs)` (transformers.js' callable models). */
  (inputs: Inputs & { return_dict: false }): Promise<OutputValue[]>;
  (inputs: Inputs & { return_dict?: true | null }): Promise<O>;
  (inputs: Inputs): Promise<O | OutputValue[]>;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see the interface
abstract class BertTaskModel<O extends ModelOutput> extends BertPreTrainedModel {
  abstract readonly bert: BertModel;
  protected abstract readonly outputClass: OutputClass<O>;
  /** The class's own forward arguments (labels...), and the BertModel arguments it adds to the common ones. */
  protected abstract readonly ownArgs: string[];
  protected readonly extraBertArgs: string[] = [];
  /** Whether the output class has past_key_values / cross_attentions (causal LM only). */
  protected readonly decoderFields: boolean = false;

  static async fromPretrained<T extends BertTaskModel<ModelOutput>>(
    this: new (config: BertConfig, engine: Engine, w: WeightLoader) => T,
    source: ModelSource,
    options: FromPretrainedOptions = {},
  ): Promise<T> {
    return loadPretrained(source, options, (c, e, w) => new this(c, e, w));
  }

  /**
   * HF's forward: the BertModel arguments plus the class's own (labels...); returns the class's
   * output container, or HF's tuple with return_dict: false.
   */
  forward(inputs: Inputs & { return_dict: false }): Promise<OutputValue[]>;
  forward(inputs: Inputs & { return_dict?: true | null }): Promise<O>;
  forward(inputs: Inputs): Promise<O | OutputValue[]>;
  forward(inputs: Inputs): Promise<O | OutputValue[]> {
    return this.serialize(() => this.run(inputs));
  }

  /** @internal The synchronous forward (what forward queues). */
  run(inputs: Inputs): O | OutputValue[] {
    const bert: Record<string, unknown> = {};
    const own: Own = {};
    if (!inputs || typeof inputs !== "object" || Array.isArray(inputs))
      throw new InputError(
        `${this.constructor.name}.forward expects an object of named inputs, got ${inputs === null ? "null" : Array.isArray(inputs) ? "an array" : typeof inputs}`,
      );
    for (const [k, v] of Object.entries(inputs)) {
      if (ENCODER_ARGS.includes(k) || this.extraBertArgs.includes(k)) bert[k] = v;
      else if (this.ownArgs.includes(k)) own[k] = v;
      else
        throw new OptionError(
          `${this.constructor.name}.forward() got an unexpected argument "${k}" (accepted: ${this.acceptedArgs().join(", ")})`,
          k,
          this.acceptedArgs(),
        );
    }
    const encoded = this.bert.encode(this.bertInputs(bert as BertModelInputs, own), (d) => {
      // own arguments checked against the shapes before the arena is planned: a rejected call does not grow it
      this.checkOwn(own, d);
      return this.headFloats(d);
    });
    const { pass, args } = encoded;
    const result = this.head(pass, own);
    const f = this.bert.outputs(encoded);
    if (!args.returnDict) {
      const tuple = [...Object.values(result.fields), ...this.bert.tupleRest(f)];
      return result.loss ? [result.loss, ...tuple] : tuple;
    }
    const v: Record<string, OutputValue> = {
      loss: result.loss,
      ...result.fields,
      hidden_states: f.hidden_states,
      attentions: f.attentions,
    };
    if (this.decoderFields)
      Object.assign(v, {
        past_key_values: f.past_key_values,
        cross_attentions: f.cross_attentions,
      });
    return new this.outputClass(v);
  }

  /** The forward arguments this class takes. */
  private acceptedArgs(): string[] {
    return [...ENCODER_ARGS, ...this.extraBertArgs, ...this.ownArgs];
  }

  /** BertModel's inputs from this class's (MultipleChoice reshapes them). */
  protected bertInputs(bert: BertModelInputs, _own: Own): BertModelInputs {
    return bert;
  }
  /** Checks this class's own arguments (labels) for a pass of B sequences of S tokens, before the encoder runs. */
  protected checkOwn(_own: Own, _d: Dims): void {}
  /** Floats of arena the head needs, for a pass of B sequences of S tokens. */
  protected abstract headFloats(d: { B: number; S: number; rows: number }): number;
  protected abstract head(p: Pass, own: Own): HeadResult;

  /** A Linear over the pooled output ([B, n]) or the sequence output ([B, S, n]), into the head area at `at` floats. */
  protected dense(p: Pass, l: PackedLinear, on: "pooled" | "sequence", at = 0): Tensor<"float32"> {
    const H = this.config.hidden_size;
    const out = f32At(p.head, at);
    if (on === "pooled") {
      l.forward(p.e, p.B, p.pooled, H, out, l.n);
      return p.tensor(out, [p.B, l.n]);
    }
    l.forward(p.e, p.rows, p.hidden, H, out, l.n);
    return p.tensor(out, [p.B, p.S, l.n]);
  }
}

const ints = (name: string, v: unknown) => intInput(name, v as TensorLike);
type Dims = { B: number; S: number; rows: number };

/** Labels whose dtype decides the problem type (HF: long/int -> classification, float -> regression / multi-label). */
function labelsAny(
  name: string,
  v: TensorLike,
): { data: Float64Array; shape: number[]; integer: boolean } {
  if (v instanceof Tensor) {
    const integer = v.dtype !== "float32";
    const f = integer ? intInput(name, v) : floatInput(name, v);
    return { data: Float64Array.from(f.data as ArrayLike<number>), shape: f.shape, integer };
  }
  const f = floatInput(name, v);
  const integer = f.data.every((x) => Number.isInteger(x));
  return { data: Float64Array.from(f.data), shape: f.shape, integer };
}

/** Classification loss by HF's problem_type rules (num_labels 1 -> regression; integer labels -> single label; else multi label). */
function classificationLoss(
  config: BertConfig,
  logits: Float32Array,
  rows: number,
  numLabels: number,
  labels: TensorLike,
): Tensor {
  const { l, problem } = classificationLabels(config, numLabels, labels);
  if (problem === "single_label_classification") return scalar(crossEntropy(logits, numLabels, l));
  return scalar(
    problem === "regression"
      ? meanSquaredError(logits, l.data)
      : binaryCrossEntropyWithLogits(logits, l.data),
  );
}

/** The labels of a classification and its problem type (HF's problem_type rules). */
function classificationLabels(config: BertConfig, numLabels: number, labels: TensorLike) {
  const l = labelsAny("labels", labels);
  const problem =
    config.problem_type ??
    (numLabels === 1
      ? "regression"
      : l.integer
        ? "single_label_classification"
        : "multi_label_classification");
  return { l, problem };
}

/** Checks a classification's labels against [rows, numLabels] logits, before the model runs. */
function checkClassificationLabels(
  config: BertConfig,
  rows: number,
  numLabels: number,
  labels: TensorLike,
): void {
  const { l, problem } = classificationLabels(config, numLabels, labels);
  if (problem === "single_label_classification") checkTargets(l, rows, numLabels);
  // regression (squeezed when num_labels is 1) and multi-label compare element by element
  else if (l.data.length !== rows * numLabels)
    throw new InputError(
      `labels: shape [${l.shape}] does not match the logits [${rows}, ${numLabels}]`,
    );
}

/** The word embeddings, packed, when HF ties the MLM decoder to them. */
function tiedWords(config: BertConfig, bert: BertModel): PackedLinear | null {
  return config.tie_word_embeddings ? (bert.embeddings.word_embeddings as PackedLinear) : null;
}

export class BertForPreTraining extends BertTaskModel<BertForPreTrainingOutput> {
  readonly bert: BertModel;
  readonly cls: BertPreTrainingHeads;
  protected readonly outputClass = BertForPreTrainingOutput;
  protected readonly ownArgs = ["labels", "next_sentence_label"];
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    this.bert = new BertModel(config, engine, w, "bert", {
      packedWordEmbeddings: config.tie_word_embeddings,
    });
    this.cls = new BertPreTrainingHeads(config, w, "cls", tiedWords(config, this.bert));
  }
  protected override checkOwn(own: Own, d: Dims): void {
    if (own.labels == null || own.next_sentence_label == null) return;
    checkTargets(ints("labels", own.labels), d.rows, this.config.vocab_size);
    checkTargets(
      ints("next_sentence_label", own.next_sentence_label),
      d.B,
      2,
      -100,
      "next_sentence_label",
    );
  }
  protected headFloats(d: { B: number; rows: number }): number {
    return this.cls.predictions.floats(d.rows) + d.B * 2;
  }
  protected head(p: Pass, own: Own): HeadResult {
    const V = this.config.vocab_size;
    this.cls.predictions.forward(p.e, p.rows, p.hidden, p.head);
    const prediction_logits = p.tensor(p.head, [p.B, p.S, V]);
    const seq_relationship_logits = this.dense(
      p,
      this.cls.seq_relationship,
      "pooled",
      this.cls.predictions.floats(p.rows),
    );
    let loss: Tensor | null = null;
    if (own.labels != null && own.next_sentence_label != null) {
      const mlm = crossEntropy(prediction_logits.data, V, ints("labels", own.labels));
      loss = scalar(
        mlm +
          crossEntropy(
            seq_relationship_logits.data,
            2,
            ints("next_sentence_label", own.next_sentence_label),
          ),
      );
    }
    return { loss, fields: { prediction_logits, seq_relationship_logits } };
  }
}

export class BertLMHeadModel extends BertTaskModel<CausalLMOutputWithCrossAttentions> {
  readonly bert: BertModel;
  readonly cls: BertOnlyMLMHead;
  protected readonly outputClass = CausalLMOutputWithCrossAttentions;
  protected readonly ownArgs = ["labels"];
  protected override readonly extraBertArgs = [
    "encoder_hidden_states",
    "encoder_attention_mask",
    "past_key_values",
    "use_cache",
  ];
  protected override readonly decoderFields = true;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    if (!config.is_decoder)
      console.warn(
        "simdbert: If you want to use `BertLMHeadModel` as a standalone, add `is_decoder=True.`",
      );
    this.bert = new BertModel(config, engine, w, "bert", {
      addPoolingLayer: false,
      packedWordEmbeddings: config.tie_word_embeddings,
    });
    this.cls = new BertOnlyMLMHead(config, w, "cls", tiedWords(config, this.bert));
  }
  protected override bertInputs(bert: BertModelInputs, own: Own): BertModelInputs {
    return own.labels != null ? { ...bert, use_cache: false } : bert; // HF: labels switch the cache off
  }
  protected override checkOwn(own: Own, d: Dims): void {
    if (own.labels == null) return;
    const l = ints("labels", own.labels);
    if (l.shape.length !== 2 || l.shape[0] !== d.B || l.shape[1] !== d.S)
      throw new InputError(`labels: shape [${l.shape}] must be [${d.B}, ${d.S}]`);
    // the targets are labels[:, 1:]
    checkTargets(
      { data: l.data.filter((_, i) => i % d.S !== 0), shape: [d.B, d.S - 1] },
      d.B * (d.S - 1),
      this.config.vocab_size,
    );
  }
  protected headFloats(d: { rows: number }): number {
    return this.cls.predictions.floats(d.rows);
  }
  protected head(p: Pass, own: Own): HeadResult {
    const V = this.config.vocab_size;
    this.cls.predictions.forward(p.e, p.rows, p.hidden, p.head);
    const logits = p.tensor(p.head, [p.B, p.S, V]);
    let loss: Tensor | null = null;
    if (own.labels != null) {
      // next-token prediction: scores[:, :-1] against labels[:, 1:]
      const l = ints("labels", own.labels); // checked by checkOwn
      const data = logits.data;
      const n = p.B * (p.S - 1);
      const scores = new Float32Array(n * V);
      const targets = new Float64Array(n);
      for (let b = 0, r = 0; b < p.B; b++) {
        for (let s = 0; s + 1 < p.S; s++, r++) {
          scores.set(data.subarray((b * p.S + s) * V, (b * p.S + s + 1) * V), r * V);
          targets[r] = l.data[b * p.S + s + 1];
        }
      }
      loss = scalar(crossEntropy(scores, V, { data: targets, shape: [n] }));
    }
    return { loss, fields: { logits } };
  }
}

export class BertForMaskedLM extends BertTaskModel<MaskedLMOutput> {
  readonly bert: BertModel;
  readonly cls: BertOnlyMLMHead;
  protected readonly outputClass = MaskedLMOutput;
  protected readonly ownArgs = ["labels"];
  protected override readonly extraBertArgs = ["encoder_hidden_states", "encoder_attention_mask"];
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    if (config.is_decoder) {
      console.warn(
        "simdbert: If you want to use `BertForMaskedLM` make sure `config.is_decoder=False` for bi-directional self-attention.",
      );
    }
    this.bert = new BertModel(config, engine, w, "bert", {
      addPoolingLayer: false,
      packedWordEmbeddings: config.tie_word_embeddings,
    });
    this.cls = new BertOnlyMLMHead(config, w, "cls", tiedWords(config, this.bert));
  }
  protected override checkOwn(own: Own, d: Dims): void {
    if (own.labels != null)
      checkTargets(ints("labels", own.labels), d.rows, this.config.vocab_size);
  }
  protected headFloats(d: { rows: number }): number {
    return this.cls.predictions.floats(d.rows);
  }
  protected head(p: Pass, own: Own): HeadResult {
    const V = this.config.vocab_size;
    this.cls.predictions.forward(p.e, p.rows, p.hidden, p.head);
    const logits = p.tensor(p.head, [p.B, p.S, V]);
    const loss =
      own.labels != null ? scalar(crossEntropy(logits.data, V, ints("labels", own.labels))) : null;
    return { loss, fields: { logits } };
  }
}

export class BertForNextSentencePrediction extends BertTaskModel<NextSentencePredictorOutput> {
  readonly bert: BertModel;
  readonly cls: BertOnlyNSPHead;
  protected readonly outputClass = NextSentencePredictorOutput;
  protected readonly ownArgs = ["labels", "next_sentence_label"];
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    this.bert = new BertModel(config, engine, w, "bert");
    this.cls = new BertOnlyNSPHead(config, w, "cls");
  }
  protected override checkOwn(own: Own, d: Dims): void {
    const labels = own.labels ?? own.next_sentence_label;
    if (labels != null) checkTargets(ints("labels", labels), d.B, 2);
  }
  protected headFloats(d: { B: number }): number {
    return d.B * 2;
  }
  protected head(p: Pass, own: Own): HeadResult {
    const logits = this.dense(p, this.cls.seq_relationship, "pooled");
    const labels = own.labels ?? own.next_sentence_label; // HF: next_sentence_label is the deprecated name
    const loss =
      labels != null ? scalar(crossEntropy(logits.data, 2, ints("labels", labels))) : null;
    return { loss, fields: { logits } };
  }
}

export class BertForSequenceClassification extends BertTaskModel<SequenceClassifierOutput> {
  readonly bert: BertModel;
  readonly classifier: PackedLinear;
  protected readonly outputClass = SequenceClassifierOutput;
  protected readonly ownArgs = ["labels"];
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    this.bert = new BertModel(config, engine, w, "bert");
    this.classifier = w.linear(
      ["classifier.weight"],
      ["classifier.bias"],
      [config.num_labels],
      config.hidden_size,
    );
  }
  protected override checkOwn(own: Own, d: Dims): void {
    if (own.labels != null)
      checkClassificationLabels(this.config, d.B, this.config.num_labels, own.labels as TensorLike);
  }
  protected headFloats(d: { B: number }): number {
    return d.B * this.config.num_labels;
  }
  protected head(p: Pass, own: Own): HeadResult {
    const logits = this.dense(p, this.classifier, "pooled");
    const n = this.config.num_labels;
    const loss =
      own.labels != null
        ? classificationLoss(this.config, logits.data, p.B, n, own.labels as TensorLike)
        : null;
    return { loss, fields: { logits } };
  }
}

export class BertForMultipleChoice extends BertTaskModel<MultipleChoiceModelOutput> {
  readonly bert: BertModel;
  readonly classifier: PackedLinear;
  protected readonly outputClass = MultipleChoiceModelOutput;
  protected readonly ownArgs = ["labels"];
  private choices = 0;
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    this.bert = new BertModel(config, engine, w, "bert");
    this.classifier = w.linear(["classifier.weight"], ["classifier.bias"], [1], config.hidden_size);
  }
  /** [batch, choices, seq] -> [batch·choices, seq] (inputs_embeds: [batch, choices, seq, hidden]) */
  protected override bertInputs(bert: BertModelInputs): BertModelInputs {
    let choices = 0;
    const flat: Record<string, unknown> = { ...bert };
    for (const [name, float, trailing] of [
      ["input_ids", false, 0],
      ["inputs_embeds", true, 1],
      ["attention_mask", true, 0],
      ["token_type_ids", false, 0],
      ["position_ids", false, 0],
    ] as const) {
      const v = bert[name] as TensorLike | null | undefined;
      if (v == null) continue;
      const d = float ? floatInput(name, v) : intInput(name, v);
      if (d.shape.length !== 3 + trailing) {
        throw new InputError(
          `${name}: BertForMultipleChoice takes [batch, num_choices, seq${trailing ? ", hidden" : ""}], got [${d.shape}]`,
        );
      }
      if (choices && d.shape[1] !== choices)
        throw new InputError(`${name}: ${d.shape[1]} choices, other inputs have ${choices}`);
      choices = d.shape[1];
      flat[name] = { data: d.data, shape: [d.shape[0] * d.shape[1], ...d.shape.slice(2)] };
    }
    if (!choices)
      throw new InputError(
        "BertForMultipleChoice needs input_ids or inputs_embeds of shape [batch, num_choices, seq]",
      );
    this.choices = choices;
    return flat as BertModelInputs;
  }
  protected override checkOwn(own: Own, d: Dims): void {
    if (own.labels != null)
      checkTargets(ints("labels", own.labels), d.B / this.choices, this.choices);
  }
  protected headFloats(d: { B: number }): number {
    return d.B;
  }
  protected head(p: Pass, own: Own): HeadResult {
    const flat = this.dense(p, this.classifier, "pooled");
    const logits = new Tensor("float32", flat.data, [p.B / this.choices, this.choices]); // logits.view(-1, num_choices)
    const loss =
      own.labels != null
        ? scalar(crossEntropy(logits.data, this.choices, ints("labels", own.labels)))
        : null;
    return { loss, fields: { logits } };
  }
}

export class BertForTokenClassification extends BertTaskModel<TokenClassifierOutput> {
  readonly bert: BertModel;
  readonly classifier: PackedLinear;
  protected readonly outputClass = TokenClassifierOutput;
  protected readonly ownArgs = ["labels"];
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    this.bert = new BertModel(config, engine, w, "bert", { addPoolingLayer: false });
    this.classifier = w.linear(
      ["classifier.weight"],
      ["classifier.bias"],
      [config.num_labels],
      config.hidden_size,
    );
  }
  protected override checkOwn(own: Own, d: Dims): void {
    if (own.labels != null)
      checkTargets(ints("labels", own.labels), d.rows, this.config.num_labels);
  }
  protected headFloats(d: { rows: number }): number {
    return d.rows * this.config.num_labels;
  }
  protected head(p: Pass, own: Own): HeadResult {
    const logits = this.dense(p, this.classifier, "sequence");
    const loss =
      own.labels != null
        ? scalar(crossEntropy(logits.data, this.config.num_labels, ints("labels", own.labels)))
        : null;
    return { loss, fields: { logits } };
  }
}

export class BertForQuestionAnswering extends BertTaskModel<QuestionAnsweringModelOutput> {
  readonly bert: BertModel;
  readonly qa_outputs: PackedLinear;
  protected readonly outputClass = QuestionAnsweringModelOutput;
  protected readonly ownArgs = ["start_positions", "end_positions"];
  constructor(config: BertConfig, engine: Engine, w: WeightLoader) {
    super(config, engine);
    if (config.num_labels !== 2) {
      throw new ConfigError(
        `BertForQuestionAnswering needs num_labels = 2 (start and end logits), the config has ${config.num_labels}`,
      );
    }
    this.bert = new BertModel(config, engine, w, "bert", { addPoolingLayer: false });
    this.qa_outputs = w.linear(["qa_outputs.weight"], ["qa_outputs.bias"], [2], config.hidden_size);
  }
  protected override checkOwn(own: Own, d: Dims): void {
    if (own.start_positions == null || own.end_positions == null) return;
    for (const name of ["start_positions", "end_positions"]) {
      const p = ints(name, own[name]);
      if (p.data.length !== d.B)
        throw new InputError(
          `${name}: expected ${d.B} positions (one per sequence), got shape [${p.shape}]`,
        );
    }
  }
  protected headFloats(d: { rows: number }): number {
    return d.rows * 2;
  }
  protected head(p: Pass, own: Own): HeadResult {
    const both = this.dense(p, this.qa_outputs, "sequence").data;
    // logits.split(1, dim=-1): column 0 is start, column 1 is end
    const start_logits = new Tensor(
      "float32",
      both.filter((_, i) => i % 2 === 0),
      [p.B, p.S],
    );
    const end_logits = new Tensor(
      "float32",
      both.filter((_, i) => i % 2 === 1),
      [p.B, p.S],
    );
    let loss: Tensor | null = null;
    if (own.start_positions != null && own.end_positions != null) {
      // positions outside the sequence are clamped to seq, which is the ignored index
      const ignored = p.S;
      const pos = (name: string) => {
        const d = ints(name, own[name]); // one per sequence: checked by checkOwn
        return { data: d.data.map((x) => Math.min(Math.max(x, 0), ignored)), shape: [p.B] };
      };
      const s = crossEntropy(start_logits.data, p.S, pos("start_positions"), ignored);
      const e = crossEntropy(end_logits.data, p.S, pos("end_positions"), ignored);
      loss = scalar((s + e) / 2);
    }
    return { loss, fields: { start_logits, end_logits } };
  }
}
