// question-answering, as transformers 4.30.2's QuestionAnsweringPipeline answers it with a slow
// tokenizer, i.e. through data/processors/squad.py: the context split into words at " \t\r\n" and
// U+202F, each word tokenized alone, windows [CLS] question [SEP] context-piece [SEP] padded to
// max_seq_len and doc_stride tokens apart, start / end softmaxed per window with the question,
// [SEP] and padding masked (-10000) and [CLS] kept in the normalisation, spans scored
// p_start * p_end, answers made of whole context words.
//
//   const qa = await pipeline("question-answering", dir);
//   await qa({ question: "Who wrote it?", context: "It was written by a monk." });
//   await qa("Who wrote it?", "It was written by a monk.", { top_k: 3 });
//   // { score, start, end, answer } (start / end: character indices, counted as Python does)
import type { ModelSource } from "../loading/source.js";
import type { BertTokenizer } from "../tokenizer/bert_tokenizer.js";
import {
  asPipelineError,
  batchOpt,
  checkOptions,
  forwardEach,
  intOpt,
  loadTask,
  PipelineError,
  pyTruthy,
  type Encoded,
  type ForwardModel,
  type TaskPipelineOptions,
  disposable,
  type DisposablePipeline,
} from "./common.js";

export interface QAInput {
  question: string;
  context: string;
}

export interface QuestionAnsweringOptions {
  /** answers per question (default 1); `topk` is its old name */
  top_k?: number | null;
  topk?: number | null;
  /** step between window starts, in context tokens (default min(max_seq_len / 2, 128)) */
  doc_stride?: number | null;
  /** longest answer, in tokens (default 15) */
  max_answer_len?: number | null;
  /** window length (default min(model_max_length, 384)) */
  max_seq_len?: number | null;
  /** question tokens kept (default 64) */
  max_question_len?: number | null;
  /** add the empty answer, scored by the [CLS] position */
  handle_impossible_answer?: boolean | null;
  /** accepted, as HF (its slow path always pads windows to max_seq_len) */
  padding?: unknown;
  /** fast tokenizers only in HF: accepted and ignored, as HF's slow path does */
  align_to_words?: boolean | null;
  batch_size?: number;
}

export interface QAAnswer {
  score: number;
  start: number;
  end: number;
  answer: string;
}

export interface QuestionAnsweringPipeline extends DisposablePipeline {
  (
    questionOrInputs: string | QAInput | QAInput[],
    contextOrOptions?: string | QuestionAnsweringOptions,
    options?: QuestionAnsweringOptions,
  ): Promise<QAAnswer | QAAnswer[] | (QAAnswer | QAAnswer[])[]>;
  readonly task: "question-answering";
  readonly model: ForwardModel;
  readonly tokenizer: BertTokenizer;
}

const OPTIONS = [
  "top_k",
  "topk",
  "doc_stride",
  "max_answer_len",
  "max_seq_len",
  "max_question_len",
  "handle_impossible_answer",
  "padding",
  "align_to_words",
  "batch_size",
];

/** One window of a SQuAD example (squad.py's SquadFeatures, the parts the pipeline uses). */
interface Feature extends Encoded {
  /** 1 where a token cannot be part of an answer (question, [SEP], padding, special tokens) */
  p_mask: number[];
  /** window position -> index of the context word */
  token_to_orig_map: Map<number, number>;
}

interface Example {
  question: string;
  context: string;
  /** the context's words (split at squad.py's whitespace only) */
  doc_tokens: string[];
  /** per code point of the context: the index of its word (-1 before the first) */
  char_to_word: number[];
}

/** squad.py's _is_whitespace */
const isSquadSpace = (c: string) =>
  c === " " || c === "\t" || c === "\r" || c === "\n" || c.codePointAt(0) === 0x202f;

function squadExample(question: string, context: string): Example {
  const doc_tokens: string[] = [];
  const char_to_word: number[] = [];
  let prevSpace = true;
  for (const c of context) {
    if (isSquadSpace(c)) prevSpace = true;
    else {
      if (prevSpace) doc_tokens.push(c);
      else doc_tokens[doc_tokens.length - 1] += c;
      prevSpace = false;
    }
    char_to_word.push(doc_tokens.length - 1);
  }
  return { question, context, doc_tokens, char_to_word };
}

export async function questionAnsweringPipeline(
  source: ModelSource,
  options: TaskPipelineOptions = {},
): Promise<QuestionAnsweringPipeline> {
  const { model, tokenizer, batchSize } = await loadTask("question-answering", source, options);

  /** squad_convert_example_to_features (is_training false, padding to max_length, right side). */
  function features(
    ex: Example,
    maxSeqLen: number,
    docStride: number,
    maxQueryLen: number,
  ): Feature[] {
    const tokToOrig: number[] = [];
    const allDocTokens: string[] = [];
    ex.doc_tokens.forEach((word, i) => {
      for (const sub of tokenizer.tokenize(word)) {
        tokToOrig.push(i);
        allDocTokens.push(sub);
      }
    });
    const query = tokenizer.encode(ex.question, {
      add_special_tokens: false,
      truncation: true,
      max_length: maxQueryLen,
    });
    const added = 2; // model_max_length - max_len_single_sentence: [CLS] ... [SEP]
    const pairAdded = 3; // [CLS] a [SEP] b [SEP]
    const specials = new Set(tokenizer.all_special_ids);
    const pad = tokenizer.pad_token_id;
    const cls = tokenizer.cls_token_id;
    const out: Feature[] = [];
    let span: string[] | number[] = allDocTokens;
    while (out.length * docStride < allDocTokens.length) {
      const enc = tokenizer.encode_plus(query, span, {
        truncation: "only_second",
        padding: "max_length",
        max_length: maxSeqLen,
        return_overflowing_tokens: true,
        stride: maxSeqLen - docStride - query.length - pairAdded,
        return_token_type_ids: true,
      }) as unknown as Encoded & { overflowing_tokens: number[] };
      const paragraphLen = Math.min(
        allDocTokens.length - out.length * docStride,
        maxSeqLen - query.length - pairAdded,
      );
      const map = new Map<number, number>();
      for (let i = 0; i < paragraphLen; i++)
        map.set(query.length + added + i, tokToOrig[out.length * docStride + i]);
      const ids = enc.input_ids;
      const p_mask = ids.map((id, i) =>
        i >= query.length + added && id !== pad && !specials.has(id) ? 0 : 1,
      );
      const clsIndex = ids.indexOf(cls ?? -1);
      if (clsIndex >= 0) p_mask[clsIndex] = 0;
      out.push({ ...enc, p_mask, token_to_orig_map: map });
      const over = enc.overflowing_tokens ?? [];
      if (over.length === 0) break;
      if (docStride < 1)
        throw new PipelineError(
          `doc_stride ${docStride} never moves the window over a context longer than one window (HF loops forever here); use doc_stride >= 1`,
        );
      span = over;
    }
    return out;
  }

  const run = async (
    questionOrInputs: string | QAInput | QAInput[],
    contextOrOptions?: string | QuestionAnsweringOptions,
    options?: QuestionAnsweringOptions,
  ): Promise<QAAnswer | QAAnswer[] | (QAAnswer | QAAnswer[])[]> => {
    let raw: unknown;
    let o: Record<string, unknown>;
    if (typeof questionOrInputs === "string" && typeof contextOrOptions === "string") {
      raw = [{ question: questionOrInputs, context: contextOrOptions }];
      o = checkOptions("question-answering", options, OPTIONS);
    } else {
      raw = questionOrInputs;
      o = checkOptions("question-answering", contextOrOptions, OPTIONS);
    }
    const bs = batchOpt(o, batchSize);
    let topK = intOpt("top_k", o.top_k);
    const old = intOpt("topk", o.topk);
    if (old !== null && topK === null) topK = old;
    if (topK !== null && topK < 1)
      throw new PipelineError(`top_k parameter should be >= 1 (got ${topK})`);
    const maxAnswerLen = intOpt("max_answer_len", o.max_answer_len) ?? 15;
    if (maxAnswerLen < 1)
      throw new PipelineError(`max_answer_len parameter should be >= 1 (got ${maxAnswerLen})`);
    const maxSeqLen =
      intOpt("max_seq_len", o.max_seq_len) ?? Math.min(tokenizer.model_max_length, 384);
    const docStride =
      intOpt("doc_stride", o.doc_stride) ?? Math.min(Math.floor(maxSeqLen / 2), 128);
    const maxQueryLen = intOpt("max_question_len", o.max_question_len) ?? 64;
    const impossible = pyTruthy(o.handle_impossible_answer);
    const k = topK ?? 1;

    const examples = normalize(raw);
    const feats: Feature[][] = [];
    for (const ex of examples) {
      if (docStride > maxSeqLen)
        throw new PipelineError(
          `\`doc_stride\` (${docStride}) is larger than \`max_seq_len\` (${maxSeqLen})`,
        );
      try {
        feats.push(features(ex, maxSeqLen, docStride, maxQueryLen));
      } catch (e) {
        throw asPipelineError(e);
      }
    }
    // every window of every example, without its padding (masked out of the answer anyway)
    const flat = feats.flat().map((f) => {
      const len = f.attention_mask
        ? f.attention_mask.reduce((a, b) => a + b, 0)
        : f.input_ids.length;
      return {
        input_ids: f.input_ids.slice(0, len),
        token_type_ids: f.token_type_ids?.slice(0, len),
      };
    });
    const outs = await forwardEach(
      model,
      flat,
      ["start_logits", "end_logits"],
      bs,
      tokenizer.pad_token_id ?? 0,
    );
    let w = 0;
    const results = examples.map((ex, n) => {
      let minNull = 1000000;
      const answers: QAAnswer[] = [];
      for (const f of feats[n]) {
        const [startLogits, endLogits] = outs[w++];
        const len = startLogits.length;
        const allowed = (i: number) => i < len && f.p_mask[i] === 0;
        const pS = windowSoftmax(startLogits, allowed);
        const pE = windowSoftmax(endLogits, allowed);
        if (impossible) minNull = Math.min(minNull, pS[0] * pE[0]);
        pS[0] = pE[0] = 0;
        const spans: [number, number, number][] = [];
        for (let s = 1; s < len; s++) {
          if (!allowed(s) || pS[s] === 0) continue;
          for (let e = s; e < Math.min(len, s + maxAnswerLen); e++) {
            if (!allowed(e) || pE[e] === 0) continue;
            spans.push([pS[s] * pE[e], s, e]);
          }
        }
        spans.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
        for (const [score, s, e] of spans.slice(0, k)) {
          const ws = f.token_to_orig_map.get(s);
          const we = f.token_to_orig_map.get(e);
          if (ws === undefined || we === undefined) continue;
          answers.push({
            score,
            start: ex.char_to_word.indexOf(ws),
            end: ex.char_to_word.lastIndexOf(we),
            answer: ex.doc_tokens.slice(ws, we + 1).join(" "),
          });
        }
      }
      if (impossible) answers.push({ score: minNull, start: 0, end: 0, answer: "" });
      // Python's sorted(reverse=True) is stable: equal scores keep their order
      const ranked = answers
        .map((a, i) => [a, i] as const)
        .sort((x, y) => y[0].score - x[0].score || x[1] - y[1])
        .map(([a]) => a)
        .slice(0, k);
      return ranked.length === 1 ? ranked[0] : ranked;
    });
    return results.length === 1 ? results[0] : results;
  };

  return disposable("question-answering", run, model, {
    task: "question-answering" as const,
    model,
    tokenizer,
  });
}

/** softmax over one window with the disallowed positions at -10000 (HF's select_starts_ends). */
function windowSoftmax(logits: Float32Array, allowed: (i: number) => boolean): Float64Array {
  const n = logits.length;
  const x = new Float64Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) {
    x[i] = allowed(i) ? logits[i] : -10000;
    if (x[i] > m) m = x[i];
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] = Math.exp(x[i] - m);
  for (let i = 0; i < n; i++) x[i] /= s;
  return x;
}

/** QuestionAnsweringArgumentHandler: a {question, context} object or a list of them. */
function normalize(raw: unknown): Example[] {
  const items = Array.isArray(raw) ? raw : [raw];
  return items.map((item) => {
    if (!item || typeof item !== "object" || Array.isArray(item))
      throw new PipelineError(
        `${JSON.stringify(item)} argument needs to be of type (SquadExample, dict)`,
      );
    const d = item as Record<string, unknown>;
    for (const key of ["question", "context"]) {
      if (!(key in d)) throw new PipelineError(`${key} is missing`, "KeyError");
      if (d[key] === null || d[key] === undefined)
        throw new PipelineError(`\`${key}\` cannot be None`);
      if (typeof d[key] !== "string")
        throw new PipelineError(`\`${key}\` must be a string`, "TypeError");
      if ((d[key] as string).length === 0) throw new PipelineError(`\`${key}\` cannot be empty`);
    }
    const extra = Object.keys(d).filter((k) => k !== "question" && k !== "context");
    if (extra.length)
      throw new PipelineError(
        `create_sample() got an unexpected keyword argument '${extra[0]}'`,
        "TypeError",
      );
    return squadExample(d.question as string, d.context as string);
  });
}
