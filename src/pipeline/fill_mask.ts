// fill-mask, as transformers 4.30.2's FillMaskPipeline answers it: softmax over the whole
// vocabulary at each [MASK], the top_k best (or the targets' probabilities, not renormalised), and
// each candidate's sequence decoded from the ids with that one mask filled.
//
//   const unmasker = await pipeline("fill-mask", dir);
//   await unmasker("Paris is the [MASK] of France.", { top_k: 3 });
//   // [{ score, token, token_str, sequence }, ...]
import type { ModelSource } from "../loading/source.js";
import {
  asPipelineError,
  batchOpt,
  checkOptions,
  forwardEach,
  intOpt,
  loadTask,
  PipelineError,
  softmax,
  type Encoded,
  type ForwardModel,
  type TaskPipelineOptions,
  disposable,
  type DisposablePipeline,
} from "./common.js";
import type { BertTokenizer } from "../tokenizer/bert_tokenizer.js";

export interface FillMaskOptions {
  /** candidates per mask (default 5) */
  top_k?: number | null;
  /** score only these words (a word not in the vocabulary counts as its first wordpiece) */
  targets?: string | string[] | null;
  batch_size?: number;
}

export interface FillMaskCandidate {
  score: number;
  token: number;
  token_str: string;
  sequence: string;
}

/** One input with one mask: its candidates; several masks: one list per mask. */
export type FillMaskResult = FillMaskCandidate[] | FillMaskCandidate[][];

export interface FillMaskPipeline extends DisposablePipeline {
  (
    inputs: string | string[],
    options?: FillMaskOptions,
  ): Promise<FillMaskResult | FillMaskResult[]>;
  readonly task: "fill-mask";
  readonly model: ForwardModel;
  readonly tokenizer: BertTokenizer;
}

const OPTIONS = ["top_k", "targets", "batch_size"];

export async function fillMaskPipeline(
  source: ModelSource,
  options: TaskPipelineOptions = {},
): Promise<FillMaskPipeline> {
  const { model, tokenizer, batchSize } = await loadTask("fill-mask", source, options);
  const V = model.config.vocab_size;

  const run = async (
    inputs: string | string[],
    options?: FillMaskOptions,
  ): Promise<FillMaskResult | FillMaskResult[]> => {
    const o = checkOptions("fill-mask", options, OPTIONS);
    const bs = batchOpt(o, batchSize);
    let topK = intOpt("top_k", o.top_k) ?? 5;
    if (topK < 1) throw new PipelineError(`top_k must be >= 1, got ${topK}`);
    const maskId = tokenizer.mask_token_id;
    if (maskId === null)
      throw new PipelineError("The tokenizer does not define a `mask_token`.", "PipelineException");
    let targetIds: number[] | null = null;
    if (o.targets !== undefined && o.targets !== null) {
      targetIds = targetIdsOf(tokenizer, o.targets);
      if (targetIds.length < topK) topK = targetIds.length;
    }
    const list = typeof inputs === "string" ? [inputs] : inputs;
    if (!Array.isArray(list) || list.some((t) => typeof t !== "string"))
      throw new PipelineError("fill-mask takes a string or a list of strings", "TypeError");

    const encs: Encoded[] = [];
    const masks: number[][] = [];
    for (const text of list) {
      let ids: number[];
      try {
        ids = tokenizer.encode(text);
      } catch (e) {
        throw asPipelineError(e);
      }
      const at = ids.flatMap((id, i) => (id === maskId ? [i] : []));
      if (!at.length)
        throw new PipelineError(
          `No mask_token (${tokenizer.mask_token}) found on the input`,
          "PipelineException",
        );
      encs.push({ input_ids: ids, token_type_ids: new Array<number>(ids.length).fill(0) });
      masks.push(at);
    }
    const outs = await forwardEach(model, encs, ["logits"], bs, tokenizer.pad_token_id ?? 0);
    const pad = tokenizer.pad_token_id;
    const results = encs.map((enc, n) => {
      const logits = outs[n][0];
      const at = masks[n];
      const single = at.length === 1;
      const rows = at.map((pos) => {
        const probs = softmax(logits, pos * V, V);
        const cand = targetIds ?? Array.from({ length: V }, (_, i) => i);
        const best = topIndices(cand, probs, topK);
        return best.map((id) => {
          const ids = enc.input_ids.slice();
          ids[pos] = id;
          const kept = ids.filter((x) => x !== pad);
          return {
            score: probs[id],
            token: id,
            token_str: tokenizer.decode([id]),
            sequence: tokenizer.decode(kept, { skip_special_tokens: single }),
          };
        });
      });
      return single ? rows[0] : rows;
    });
    // HF: a string, or a list of exactly one, gives the lone result
    return typeof inputs === "string" || results.length === 1 ? results[0] : results;
  };
  return disposable("fill-mask", run, model, { task: "fill-mask" as const, model, tokenizer });
}

/** The k candidates of highest probability, best first (torch.topk's order). */
function topIndices(cand: readonly number[], probs: Float64Array, k: number): number[] {
  if (k >= cand.length) return [...cand].sort((a, b) => probs[b] - probs[a] || a - b);
  // a bounded insertion into the k best: the vocabulary is large, k small
  const best: number[] = [];
  for (const id of cand) {
    const p = probs[id];
    if (best.length === k && p <= probs[best[k - 1]]) continue;
    let i = best.length < k ? best.length : k - 1;
    while (i > 0 && probs[best[i - 1]] < p) i--;
    best.splice(i, 0, id);
    if (best.length > k) best.pop();
  }
  return best;
}

/** HF's get_target_ids: vocabulary lookup, else the first wordpiece; duplicates and empties dropped. */
function targetIdsOf(tokenizer: BertTokenizer, targets: unknown): number[] {
  const list = typeof targets === "string" ? [targets] : targets;
  if (!Array.isArray(list) || list.some((t) => typeof t !== "string"))
    throw new PipelineError("targets must be a string or a list of strings", "TypeError");
  const ids: number[] = [];
  for (const t of list as string[]) {
    // get_vocab(): the vocabulary and the added tokens
    let id = tokenizer.added_tokens_encoder.get(t) ?? tokenizer.vocab.get(t);
    if (id === undefined) {
      let pieces: number[];
      try {
        pieces = tokenizer.encode(t, { add_special_tokens: false });
      } catch (e) {
        throw asPipelineError(e);
      }
      if (!pieces.length) continue; // HF warns and drops it
      id = pieces[0];
    }
    if (!ids.includes(id)) ids.push(id);
  }
  if (!ids.length) throw new PipelineError("At least one target must be provided when passed.");
  return ids;
}
