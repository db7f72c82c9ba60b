// Reading HF's tokenizer.json (the `tokenizers` library's file) for a BERT checkpoint that ships
// only that: the WordPiece vocab and the settings that map onto BertTokenizer's options
// (BertNormalizer -> do_lower_case / strip_accents / tokenize_chinese_chars, the post-processor's
// [CLS] / [SEP], the model's unknown token). Anything that is not BERT's pipeline is refused with
// a message rather than tokenized differently.
import { TokenizerError } from "./errors.js";
import type { AddedTokenInit } from "./special_tokens.js";
import { Vocab } from "./vocab.js";

export interface TokenizerJsonSettings {
  vocab: Vocab;
  /** BertTokenizer options implied by the file */
  options: Record<string, unknown>;
  /** added_tokens entries (with ids), in file order */
  addedTokens: (AddedTokenInit & { id: number })[];
}

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json {
  if (!v || typeof v !== "object" || Array.isArray(v))
    throw new TokenizerError(`tokenizer.json: ${what} is not an object`);
  return v as Json;
}

function unsupported(what: string): never {
  throw new TokenizerError(
    `tokenizer.json: ${what}; simdbert's BertTokenizer reads BERT's pipeline (BertNormalizer, BertPreTokenizer, WordPiece, [CLS]/[SEP] template)`,
  );
}

/** The BertNormalizer of a normalizer (possibly inside a Sequence), or null for none. */
function bertNormalizer(n: unknown): Json | null {
  if (n === null || n === undefined) return null;
  const o = obj(n, "normalizer");
  if (o.type === "BertNormalizer") return o;
  if (o.type === "Sequence" && Array.isArray(o.normalizers) && o.normalizers.length === 1)
    return bertNormalizer(o.normalizers[0]);
  unsupported(`normalizer ${JSON.stringify(o.type)} is not supported`);
}

function specialsFromPostProcessor(p: unknown): { cls?: string; sep?: string } {
  if (p === null || p === undefined) return {};
  const o = obj(p, "post_processor");
  if (o.type === "BertProcessing") {
    const cls = o.cls as [string, number] | undefined;
    const sep = o.sep as [string, number] | undefined;
    return { cls: cls?.[0], sep: sep?.[0] };
  }
  if (o.type === "TemplateProcessing") {
    const single = (o.single ?? []) as Json[];
    const pair = (o.pair ?? []) as Json[];
    const shape = (items: Json[]) =>
      items.map((it) => {
        if (it.SpecialToken)
          return `S:${(it.SpecialToken as Json).id}:${(it.SpecialToken as Json).type_id}`;
        if (it.Sequence) return `Q:${(it.Sequence as Json).id}:${(it.Sequence as Json).type_id}`;
        return "?";
      });
    const s = shape(single);
    const q = shape(pair);
    const cls = s[0]?.startsWith("S:") ? s[0].split(":")[1] : undefined;
    const sep = s[2]?.startsWith("S:") ? s[2].split(":")[1] : undefined;
    const okSingle =
      s.length === 3 &&
      cls !== undefined &&
      sep !== undefined &&
      s[0] === `S:${cls}:0` &&
      s[1] === "Q:A:0" &&
      s[2] === `S:${sep}:0`;
    const okPair =
      q.length === 0 ||
      (q.length === 5 &&
        q.slice(0, 3).join() === s.join() &&
        q[3] === "Q:B:1" &&
        q[4] === `S:${sep}:1`);
    if (!okSingle || !okPair)
      unsupported(
        `post_processor template ${JSON.stringify(s)} / ${JSON.stringify(q)} is not [CLS] $A [SEP] ($B [SEP])`,
      );
    return { cls, sep };
  }
  unsupported(`post_processor ${JSON.stringify(o.type)} is not supported`);
}

export function parseTokenizerJson(text: string | object): TokenizerJsonSettings {
  let root: Json;
  try {
    root = obj(typeof text === "string" ? JSON.parse(text) : text, "the file");
  } catch (e) {
    if (e instanceof TokenizerError) throw e;
    throw new TokenizerError(`tokenizer.json is not valid JSON: ${(e as Error).message}`);
  }
  const model = obj(root.model, "model");
  if (model.type !== undefined && model.type !== "WordPiece")
    unsupported(`model ${JSON.stringify(model.type)} is not WordPiece`);
  if (model.continuing_subword_prefix !== undefined && model.continuing_subword_prefix !== "##") {
    unsupported(
      `continuing_subword_prefix ${JSON.stringify(model.continuing_subword_prefix)} is not "##"`,
    );
  }
  const vocab = Vocab.fromObject(obj(model.vocab, "model.vocab") as Record<string, number>);

  const pre = root.pre_tokenizer as Json | null | undefined;
  if (pre && pre.type !== "BertPreTokenizer")
    unsupported(`pre_tokenizer ${JSON.stringify(pre.type)} is not supported`);

  const options: Record<string, unknown> = {};
  const norm = bertNormalizer(root.normalizer);
  if (norm) {
    options.do_lower_case = norm.lowercase ?? true;
    options.strip_accents = norm.strip_accents ?? null;
    options.tokenize_chinese_chars = norm.handle_chinese_chars ?? true;
  } else {
    options.do_lower_case = false;
  }
  if (typeof model.unk_token === "string") options.unk_token = model.unk_token;
  // the tokenizers library's WordPiece reads it (a usize; its default 100 is the slow tokenizer's)
  const maxChars = model.max_input_chars_per_word;
  if (maxChars !== undefined && maxChars !== null) {
    if (typeof maxChars !== "number" || !Number.isSafeInteger(maxChars) || maxChars < 0)
      throw new TokenizerError(
        `tokenizer.json: model.max_input_chars_per_word must be a non-negative integer, got ${JSON.stringify(maxChars)?.slice(0, 40)}`,
      );
    options.max_input_chars_per_word = maxChars;
  }
  const { cls, sep } = specialsFromPostProcessor(root.post_processor);
  if (cls !== undefined) options.cls_token = cls;
  if (sep !== undefined) options.sep_token = sep;
  const padding = root.padding as Json | null | undefined;
  if (padding && typeof padding.pad_token === "string") options.pad_token = padding.pad_token;

  const addedTokens: (AddedTokenInit & { id: number })[] = [];
  for (const t of (root.added_tokens ?? []) as Json[]) {
    if (typeof t?.content !== "string" || typeof t.id !== "number") continue;
    addedTokens.push({
      id: t.id,
      content: t.content,
      special: !!t.special,
      lstrip: !!t.lstrip,
      rstrip: !!t.rstrip,
      single_word: !!t.single_word,
      normalized: t.normalized === undefined ? true : !!t.normalized,
    });
  }
  return { vocab, options, addedTokens };
}
