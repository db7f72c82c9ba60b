// token-classification (alias ner), as transformers 4.30.2's TokenClassificationPipeline answers
// it. By default with HF's slow BertTokenizer: no character offsets (start / end null), words
// made of wordpieces, aggregation "none" or "simple" (which groups over the whole sequence, "O"
// included, before filtering). With the pipeline option `offsets: true` it behaves as HF with a
// fast tokenizer: start / end from BertTokenizer's return_offsets_mapping (UTF-16 indices into the
// text), [UNK] tokens shown as the text they cover, and the word aggregations "first", "average"
// and "max".
//
//   const ner = await pipeline("ner", dir);
//   await ner("Marie Curie was born in Warsaw.", { aggregation_strategy: "simple" });
//   // [{ entity_group, score, word, start, end }, ...]
import type { ModelSource } from "../loading/source.js";
import type { BertTokenizer } from "../tokenizer/bert_tokenizer.js";
import {
  argmax,
  asPipelineError,
  batchOpt,
  checkOptions,
  forwardEach,
  loadTask,
  PipelineError,
  pyTruthy,
  softmax,
  type Encoded,
  type ForwardModel,
  type TaskPipelineOptions,
  disposable,
  type DisposablePipeline,
} from "./common.js";

export type AggregationStrategy = "none" | "simple" | "first" | "average" | "max";

export interface TokenClassificationOptions {
  /** default "none" (each token); "simple" groups tokens; first / average / max need `offsets` */
  aggregation_strategy?: AggregationStrategy | Uppercase<AggregationStrategy> | null;
  /** labels (none) or groups (simple...) left out; default ["O"] */
  ignore_labels?: string[] | null;
  /** deprecated: true means "simple" (with ignore_subwords: "first") */
  grouped_entities?: boolean | null;
  ignore_subwords?: boolean | null;
  /** needs a fast tokenizer in HF: refused */
  stride?: number | null;
  /** HF's slow-path offsets from the caller: per input, [start, end] per input id ([CLS] too) */
  offset_mapping?: [number, number][] | [number, number][][] | null;
  batch_size?: number;
}

export interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number | null;
  end: number | null;
}

export interface EntityGroup {
  entity_group: string;
  score: number;
  word: string;
  start: number | null;
  end: number | null;
}

export interface TokenClassificationPipeline extends DisposablePipeline {
  (
    inputs: string | string[],
    options?: TokenClassificationOptions,
  ): Promise<(TokenEntity | EntityGroup)[] | (TokenEntity | EntityGroup)[][]>;
  readonly task: "token-classification";
  readonly model: ForwardModel;
  readonly tokenizer: BertTokenizer;
  /** whether start / end and the word aggregations are available (the `offsets` option) */
  readonly offsets: boolean;
}

const OPTIONS = [
  "aggregation_strategy",
  "ignore_labels",
  "grouped_entities",
  "ignore_subwords",
  "stride",
  "offset_mapping",
  "batch_size",
];
const STRATEGIES = ["none", "simple", "first", "average", "max"];

interface PreEntity {
  word: string;
  scores: Float64Array;
  start: number | null;
  end: number | null;
  index: number;
  isSubword: boolean;
}

interface WordEntity {
  entity: string;
  score: number;
  word: string;
  start: number | null;
  end: number | null;
  index?: number;
}

export async function tokenClassificationPipeline(
  source: ModelSource,
  options: TaskPipelineOptions = {},
): Promise<TokenClassificationPipeline> {
  const { model, tokenizer, batchSize } = await loadTask("token-classification", source, options);
  const fast = !!options.offsets;
  const config = model.config;
  const L = config.num_labels;
  const label = (i: number) => config.id2label[String(i)] ?? `LABEL_${i}`;

  const strategyOf = (o: Record<string, unknown>): AggregationStrategy => {
    let s: unknown = o.aggregation_strategy ?? null;
    const g = o.grouped_entities ?? null;
    const sub = o.ignore_subwords ?? null;
    if (g !== null || sub !== null) {
      if (pyTruthy(g) && pyTruthy(sub)) s = "first";
      else if (pyTruthy(g) && !pyTruthy(sub)) s = "simple";
      else s = "none";
    }
    // HF: aggregation_strategy, when given, wins over the deprecated flags
    if (o.aggregation_strategy !== undefined && o.aggregation_strategy !== null)
      s = o.aggregation_strategy;
    if (s === null) return "none";
    if (typeof s !== "string" || !STRATEGIES.includes(s.toLowerCase()))
      throw new PipelineError(
        `aggregation_strategy ${JSON.stringify(s)} is not one of ${STRATEGIES.join(", ")}`,
        "KeyError",
      );
    const name = s.toLowerCase() as AggregationStrategy;
    if (!fast && (name === "first" || name === "average" || name === "max"))
      throw new PipelineError(
        'Slow tokenizers cannot handle subwords. Please set the `aggregation_strategy` option to `"simple"` or use a fast tokenizer. (simdbert: create the pipeline with { offsets: true })',
      );
    return name;
  };

  const run = async (
    inputs: string | string[],
    options?: TokenClassificationOptions,
  ): Promise<(TokenEntity | EntityGroup)[] | (TokenEntity | EntityGroup)[][]> => {
    const o = checkOptions("token-classification", options, OPTIONS);
    const bs = batchOpt(o, batchSize);
    const strategy = strategyOf(o);
    if (o.stride !== undefined && o.stride !== null)
      throw new PipelineError(
        "`stride` was provided to process all the text but you're using a slow tokenizer. Please use a fast tokenizer.",
      );
    const ignore = o.ignore_labels ?? ["O"];
    if (!Array.isArray(ignore))
      throw new PipelineError("ignore_labels must be a list of labels", "TypeError");
    let list: string[];
    if (typeof inputs === "string") list = [inputs];
    else if (Array.isArray(inputs) && inputs.length > 0) list = inputs;
    else throw new PipelineError("At least one input is required.");
    if (list.some((t) => typeof t !== "string"))
      throw new PipelineError(
        "token-classification takes a string or a list of strings",
        "TypeError",
      );

    // HF: offsets given by the caller (one list of [start, end] per input, aligned with the
    // input ids, [CLS] included) fill start / end and the text of [UNK] on the slow path too; as
    // HF, the first input's list serves every input of a batch
    let given: [number, number][] | null = null;
    if (pyTruthy(o.offset_mapping)) {
      let om = o.offset_mapping as unknown[];
      if (!Array.isArray(om))
        throw new PipelineError("offset_mapping must be a list of [start, end] lists", "TypeError");
      if (Array.isArray(om[0]) && typeof (om[0] as unknown[])[0] === "number") om = [om]; // one input's
      if (om.length !== list.length)
        throw new PipelineError("offset_mapping should have the same batch size as the input");
      given = checkSpans(om[0]);
    }
    const truncation = tokenizer.model_max_length > 0;
    const encs = list.map((text) => {
      try {
        return tokenizer.encode_plus(text, null, {
          truncation,
          return_special_tokens_mask: true,
          return_offsets_mapping: fast,
        }) as unknown as Encoded & {
          special_tokens_mask: number[];
          offset_mapping?: [number, number][];
        };
      } catch (e) {
        throw asPipelineError(e);
      }
    });
    const outs = await forwardEach(model, encs, ["logits"], bs, tokenizer.pad_token_id ?? 0);
    const results = encs.map((enc, n) => {
      const text = list[n];
      const logits = outs[n][0];
      const pre: PreEntity[] = [];
      for (let idx = 0; idx < enc.input_ids.length; idx++) {
        if (enc.special_tokens_mask[idx]) continue;
        const id = enc.input_ids[idx];
        let word = tokenizer.convert_ids_to_tokens(id);
        let start: number | null = null;
        let end: number | null = null;
        let isSubword = false;
        if (given) {
          if (idx >= given.length)
            throw new PipelineError(
              `offset_mapping has ${given.length} spans, the input ${enc.input_ids.length} tokens`,
              "IndexError",
            );
          [start, end] = given[idx];
          // Python slices the text by code points
          const ref = Array.from(text).slice(start, end).join("");
          if (id === tokenizer.unk_token_id) word = ref;
        } else if (enc.offset_mapping) {
          [start, end] = enc.offset_mapping[idx];
          const ref = text.slice(start, end);
          // BERT's fast tokenizer has a continuing-subword prefix: a piece is a subword when its
          // text is not as long as the token ("##ing" vs "ing")
          isSubword = word.length !== ref.length;
          if (id === tokenizer.unk_token_id) {
            word = ref;
            isSubword = false;
          }
        }
        pre.push({ word, scores: softmax(logits, idx * L, L), start, end, index: idx, isSubword });
      }
      const grouped = aggregate(pre, strategy);
      return grouped.filter((e) => {
        const ent = "entity" in e ? e.entity : null;
        const grp = "entity_group" in e ? e.entity_group : null;
        return !ignore.includes(ent) && !ignore.includes(grp);
      });
    });
    return typeof inputs === "string" ? results[0] : results;
  };

  function aggregate(
    pre: PreEntity[],
    strategy: AggregationStrategy,
  ): (TokenEntity | EntityGroup)[] {
    let entities: WordEntity[];
    if (strategy === "none" || strategy === "simple") {
      entities = pre.map((p) => {
        const i = argmax(p.scores);
        return {
          entity: label(i),
          score: p.scores[i],
          index: p.index,
          word: p.word,
          start: p.start,
          end: p.end,
        };
      });
      if (strategy === "none") return entities as TokenEntity[];
    } else {
      entities = aggregateWords(pre, strategy);
    }
    return groupEntities(entities);
  }

  function aggregateWords(pre: PreEntity[], strategy: AggregationStrategy): WordEntity[] {
    const words: WordEntity[] = [];
    let group: PreEntity[] | null = null;
    for (const p of pre) {
      if (group === null) group = [p];
      else if (p.isSubword) group.push(p);
      else {
        words.push(aggregateWord(group, strategy));
        group = [p];
      }
    }
    if (group !== null) words.push(aggregateWord(group, strategy));
    return words;
  }

  function aggregateWord(group: PreEntity[], strategy: AggregationStrategy): WordEntity {
    const word = tokenizer.convert_tokens_to_string(group.map((g) => g.word));
    let scores: Float64Array;
    if (strategy === "first") scores = group[0].scores;
    else if (strategy === "max") {
      // the token whose best score is highest (the first of equals)
      let best = group[0];
      for (const g of group.slice(1))
        if (g.scores[argmax(g.scores)] > best.scores[argmax(best.scores)]) best = g;
      scores = best.scores;
    } else {
      scores = new Float64Array(L);
      for (const g of group) for (let i = 0; i < L; i++) scores[i] += g.scores[i] / group.length;
    }
    const i = argmax(scores);
    return {
      entity: label(i),
      score: scores[i],
      word,
      start: group[0].start,
      end: group[group.length - 1].end,
    };
  }

  function tagOf(name: string): [string, string] {
    if (name.startsWith("B-")) return ["B", name.slice(2)];
    if (name.startsWith("I-")) return ["I", name.slice(2)];
    return ["I", name];
  }

  function groupSub(group: WordEntity[]): EntityGroup {
    const parts = group[0].entity.split("-");
    return {
      entity_group: parts[parts.length - 1],
      score: group.reduce((s, e) => s + e.score, 0) / group.length,
      word: tokenizer.convert_tokens_to_string(group.map((e) => e.word)),
      start: group[0].start,
      end: group[group.length - 1].end,
    };
  }

  function groupEntities(entities: WordEntity[]): EntityGroup[] {
    const groups: EntityGroup[] = [];
    let cur: WordEntity[] = [];
    for (const e of entities) {
      if (!cur.length) {
        cur.push(e);
        continue;
      }
      const [bi, tag] = tagOf(e.entity);
      const [, lastTag] = tagOf(cur[cur.length - 1].entity);
      if (tag === lastTag && bi !== "B") cur.push(e);
      else {
        groups.push(groupSub(cur));
        cur = [e];
      }
    }
    if (cur.length) groups.push(groupSub(cur));
    return groups;
  }

  return disposable("token-classification", run, model, {
    task: "token-classification" as const,
    model,
    tokenizer,
    offsets: fast,
  });
}

function checkSpans(v: unknown): [number, number][] {
  if (
    !Array.isArray(v) ||
    v.some(
      (p) =>
        !Array.isArray(p) ||
        p.length !== 2 ||
        p.some((x) => typeof x !== "number" || !Number.isSafeInteger(x)),
    )
  )
    throw new PipelineError(
      "offset_mapping: each input's offsets are a list of [start, end] integer pairs",
      "TypeError",
    );
  return v as [number, number][];
}
