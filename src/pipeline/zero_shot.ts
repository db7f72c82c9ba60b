// zero-shot-classification, as transformers 4.30.2's ZeroShotClassificationPipeline answers it:
// each (sequence, "This example is {label}.") pair through an NLI classifier, then the entailment
// logits softmaxed across the labels, or per label against the "contradiction" logit (multi_label,
// or one label) - which HF takes at index 0 (the last index when entailment is 0), not by name.
//
//   const classify = await pipeline("zero-shot-classification", dir);
//   await classify("The orchestra played Beethoven.", ["music", "sports"], { multi_label: true });
//   // { sequence, labels: [...best first], scores: [...] }
import type { ModelSource } from "../loading/source.js";
import type { BertTokenizer } from "../tokenizer/bert_tokenizer.js";
import {
  asPipelineError,
  batchOpt,
  checkOptions,
  forwardEach,
  loadTask,
  PipelineError,
  pyTruthy,
  type Encoded,
  type ForwardModel,
  type TaskPipelineOptions,
  disposable,
  type DisposablePipeline,
} from "./common.js";

export interface ZeroShotOptions {
  candidate_labels?: string | string[];
  /** default "This example is {}." */
  hypothesis_template?: string;
  multi_label?: boolean | null;
  /** deprecated name of multi_label */
  multi_class?: boolean | null;
  batch_size?: number;
}

export interface ZeroShotResult {
  sequence: string;
  labels: string[];
  scores: number[];
}

export interface ZeroShotPipeline extends DisposablePipeline {
  (
    sequences: string | string[],
    labelsOrOptions?: string | string[] | ZeroShotOptions,
    options?: ZeroShotOptions,
  ): Promise<ZeroShotResult | ZeroShotResult[]>;
  readonly task: "zero-shot-classification";
  readonly model: ForwardModel;
  readonly tokenizer: BertTokenizer;
  /** the label2id index whose name starts with "entail" (-1: none, the last logit) */
  readonly entailment_id: number;
}

const OPTIONS = [
  "candidate_labels",
  "hypothesis_template",
  "multi_label",
  "multi_class",
  "batch_size",
];

/** Python's str.format(label) for a template: "{}" / "{0}" take the label, "{{" "}}" are braces. */
export function pyFormat(template: string, value: string): string {
  let out = "";
  let auto = 0;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === "{") {
      if (template[i + 1] === "{") {
        out += "{";
        i++;
        continue;
      }
      const close = template.indexOf("}", i);
      if (close < 0) throw new PipelineError("Single '{' encountered in format string");
      const field = template.slice(i + 1, close);
      const name = field.split(/[!:]/)[0];
      if (name === "") auto++;
      else if (name !== "0")
        throw new PipelineError(
          /^\d+$/.test(name)
            ? `Replacement index ${name} out of range for positional args tuple`
            : `'${name}'`,
          /^\d+$/.test(name) ? "IndexError" : "KeyError",
        );
      if (name === "" && auto > 1)
        throw new PipelineError(
          "Replacement index 1 out of range for positional args tuple",
          "IndexError",
        );
      if (field !== name)
        throw new PipelineError(`hypothesis_template: format spec in {${field}} is not supported`);
      out += value;
      i = close;
    } else if (c === "}") {
      if (template[i + 1] === "}") {
        out += "}";
        i++;
        continue;
      }
      throw new PipelineError("Single '}' encountered in format string");
    } else out += c;
  }
  return out;
}

export async function zeroShotPipeline(
  source: ModelSource,
  options: TaskPipelineOptions = {},
): Promise<ZeroShotPipeline> {
  const { model, tokenizer, rawConfig, batchSize } = await loadTask(
    "zero-shot-classification",
    source,
    options,
  );
  const config = model.config;
  // HF: config.label2id in its own order (config.json's, else id2label's)
  const label2id =
    rawConfig.label2id && typeof rawConfig.label2id === "object"
      ? (rawConfig.label2id as Record<string, number>)
      : config.label2id;
  let entailmentId = -1;
  for (const [name, id] of Object.entries(label2id)) {
    if (name.toLowerCase().startsWith("entail")) {
      entailmentId = Number(id);
      break;
    }
  }
  const L = config.num_labels;
  const entail = entailmentId < 0 ? L + entailmentId : entailmentId;
  const contra = entailmentId === 0 ? L - 1 : 0;

  const run = async (
    sequences: string | string[],
    labelsOrOptions?: string | string[] | ZeroShotOptions,
    options?: ZeroShotOptions,
  ): Promise<ZeroShotResult | ZeroShotResult[]> => {
    let o: Record<string, unknown>;
    if (typeof labelsOrOptions === "string" || Array.isArray(labelsOrOptions)) {
      o = checkOptions("zero-shot-classification", options, OPTIONS);
      o = { ...o, candidate_labels: labelsOrOptions };
    } else o = checkOptions("zero-shot-classification", labelsOrOptions, OPTIONS);
    const bs = batchOpt(o, batchSize);
    const labels = parseLabels(o.candidate_labels);
    const template = o.hypothesis_template ?? "This example is {}.";
    if (typeof template !== "string")
      throw new PipelineError("hypothesis_template must be a string", "TypeError");
    const multi = pyTruthy(
      o.multi_class !== undefined && o.multi_class !== null ? o.multi_class : o.multi_label,
    );
    const list = typeof sequences === "string" ? [sequences] : sequences;
    if (!Array.isArray(list) || list.some((t) => typeof t !== "string"))
      throw new PipelineError(
        "zero-shot-classification takes a string or a list of strings",
        "TypeError",
      );
    const encs: Encoded[] = [];
    for (const seq of list) {
      if (labels.length === 0 || seq.length === 0)
        throw new PipelineError("You must include at least one label and at least one sequence.");
      if (pyFormat(template, labels[0]) === template)
        throw new PipelineError(
          `The provided hypothesis_template "${template}" was not able to be formatted with the target labels. Make sure the passed template includes formatting syntax such as {{}} where the label should go.`,
        );
      for (const label of labels) {
        try {
          encs.push(
            tokenizer.encode_plus(seq, pyFormat(template, label), {
              truncation: "only_first",
            }) as unknown as Encoded,
          );
        } catch (e) {
          throw asPipelineError(e);
        }
      }
    }
    const outs = await forwardEach(model, encs, ["logits"], bs, tokenizer.pad_token_id ?? 0);
    const n = labels.length;
    const results = list.map((seq, s) => {
      const logits = outs.slice(s * n, (s + 1) * n).map(([l]) => l);
      let scores: number[];
      if (multi || n === 1) {
        // per label: softmax over [contradiction, entailment], numpy's exp without a max shift
        scores = logits.map((l) => {
          const c = Math.exp(l[contra]);
          const e = Math.exp(l[entail]);
          return e / (c + e);
        });
      } else {
        const ex = logits.map((l) => Math.exp(l[entail]));
        const sum = ex.reduce((a, b) => a + b, 0);
        scores = ex.map((x) => x / sum);
      }
      // reversed(argsort): ascending (stable for these sizes), then reversed
      const asc = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
      const order = asc.reverse();
      return {
        sequence: seq,
        labels: order.map((i) => labels[i]),
        scores: order.map((i) => scores[i]),
      };
    });
    return typeof sequences === "string" ? results[0] : results;
  };
  return disposable("zero-shot-classification", run, model, {
    task: "zero-shot-classification" as const,
    model,
    tokenizer,
    entailment_id: entailmentId,
  });
}

/** HF's _parse_labels: a comma-separated string, or a list. */
function parseLabels(v: unknown): string[] {
  if (v === undefined || v === null)
    throw new PipelineError(
      "zero-shot-classification needs candidate_labels (a list, or a comma-separated string)",
      "TypeError",
    );
  if (typeof v === "string")
    return v
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
    throw new PipelineError("candidate_labels must be a string or a list of strings", "TypeError");
  return v as string[];
}
