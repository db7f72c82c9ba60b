// BertTokenizer.from_pretrained: the files of a tokenizer directory (or URL, or in-memory map),
// merged the way transformers 4.30.2 merges them: tokenizer_config.json, overridden by the
// caller's options; special_tokens_map.json wins over the config for the keys the caller did not
// set; added_tokens.json entries are added in id order.
import {
  decodeUtf8,
  modelFiles,
  readJson,
  type FileFormatError,
  type ModelSource,
} from "../loading/source.js";
import type { HubOptions } from "../loading/hub.js";
import { BertTokenizer, TOKENIZER_OPTIONS, type BertTokenizerOptions } from "./bert_tokenizer.js";
import { TokenizerError } from "./errors.js";
import { truthy } from "./py.js";
import { parseTokenizerJson } from "./tokenizer_json.js";
import { Vocab } from "./vocab.js";

const SPECIAL_KEYS = [
  "bos_token",
  "eos_token",
  "unk_token",
  "sep_token",
  "pad_token",
  "cls_token",
  "mask_token",
  "additional_special_tokens",
];

/** Parsed tokenizer files, from which tokenizers with different options are made cheaply. */
export class TokenizerFiles {
  constructor(
    readonly where: string,
    readonly vocab: Vocab,
    /** options implied by the files (tokenizer.json settings, then tokenizer_config.json) */
    readonly config: Record<string, unknown>,
    readonly specialTokensMap: Record<string, unknown> | null,
    /** tokens outside the vocabulary, with their saved ids */
    readonly addedTokens: { content: string; id: number; special: boolean }[],
    readonly hasTokenizerJson: boolean,
  ) {}

  create(options: BertTokenizerOptions = {}): BertTokenizer {
    const merged: Record<string, unknown> = { ...this.config, ...options };
    if (this.specialTokensMap) {
      for (const [k, v] of Object.entries(this.specialTokensMap)) {
        if (k in options && truthy((options as Record<string, unknown>)[k])) continue;
        merged[k] = v;
      }
    }
    // special tokens of tokenizer.json's added_tokens that are none of the named ones
    const named = new Set(
      SPECIAL_KEYS.slice(0, -1)
        .map((k) => merged[k] ?? defaultSpecial(k))
        .map(contentOf),
    );
    const extraSpecial = this.addedTokens
      .filter((t) => t.special && !named.has(t.content) && this.hasTokenizerJson)
      .map((t) => t.content);
    if (extraSpecial.length && merged.additional_special_tokens === undefined)
      merged.additional_special_tokens = extraSpecial;

    // the constructor's options only: tokenizer_config.json also holds keys for other libraries
    // (tokenizer_class, name_or_path, ...), which HF keeps as unused init kwargs
    const init: Record<string, unknown> = {};
    for (const k of TOKENIZER_OPTIONS) if (k in merged) init[k] = merged[k];
    const tok = new BertTokenizer(this.vocab, init as BertTokenizerOptions);
    this.addSaved(tok);
    return tok;
  }

  /** HF's handling of added_tokens.json: consecutive ids after the vocabulary, grouped by kind. */
  private addSaved(tok: BertTokenizer): void {
    const specials = new Set(tok.all_special_tokens);
    const sorted = [...this.addedTokens].sort((a, b) => a.id - b.id);
    let group: string[] = [];
    let groupSpecial: boolean | null = null;
    for (const { content, id } of sorted) {
      const current = tok.length + group.length;
      if (this.hasTokenizerJson) {
        if (this.vocab.get(content) === id) continue; // part of the vocabulary already
        if (id !== current) {
          throw new TokenizerError(
            `${this.where}: added token ${JSON.stringify(content)} has id ${id}, expected ${current} (right after the vocabulary)`,
          );
        }
      } else if (id !== current) {
        throw new TokenizerError(
          `Non-consecutive added token '${content}' found. Should have index ${current} but has index ${id} in saved vocabulary.`,
        );
      }
      const special = specials.has(content);
      if (groupSpecial === null || groupSpecial === special) group.push(content);
      else {
        tok.add_tokens(group, groupSpecial);
        group = [content];
      }
      groupSpecial = special;
    }
    if (group.length) tok.add_tokens(group, !!groupSpecial);
  }
}

function defaultSpecial(k: string): string | null {
  return (
    (
      {
        unk_token: "[UNK]",
        sep_token: "[SEP]",
        pad_token: "[PAD]",
        cls_token: "[CLS]",
        mask_token: "[MASK]",
      } as Record<string, string>
    )[k] ?? null
  );
}

function contentOf(v: unknown): string {
  return typeof v === "string"
    ? v
    : v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string"
      ? (v as { content: string }).content
      : "";
}

/**
 * Tokenizer files are decoded as HF opens them (UTF-8, errors raised: a damaged byte is an error,
 * not U+FFFD in a token), with TokenizerError and Python's exception type.
 */
const tokenizerFileError: FileFormatError = (message, failure) =>
  new TokenizerError(message, failure === "utf8" ? "UnicodeDecodeError" : "ValueError");

/** Reads and parses a tokenizer's files once. */
export async function loadTokenizerFiles(
  source: ModelSource,
  hub: HubOptions = {},
): Promise<TokenizerFiles> {
  // HF also accepts the path of the vocabulary file itself
  let vocabName = "vocab.txt";
  if (typeof source === "string" && /[^\\/]\.txt$/i.test(source)) {
    const cut = Math.max(source.lastIndexOf("/"), source.lastIndexOf("\\"));
    vocabName = source.slice(cut + 1);
    source = cut >= 0 ? source.slice(0, cut) || "/" : ".";
  }
  const files = modelFiles(source, hub);
  const config: Record<string, unknown> = {};
  let vocab: Vocab;
  let added: { content: string; id: number; special: boolean }[] = [];
  let hasTokenizerJson = false;

  const vocabBytes = await files.bytes(vocabName);
  if (vocabBytes) {
    vocab = Vocab.fromBytes(vocabBytes, `${files.where}/${vocabName}`);
  } else {
    const tj = await files.bytes("tokenizer.json");
    if (!tj)
      throw new TokenizerError(
        `${files.where}: neither vocab.txt nor tokenizer.json found`,
        "OSError",
      );
    const parsed = parseTokenizerJson(
      decodeUtf8(tj, files.where, "tokenizer.json", tokenizerFileError),
    );
    vocab = parsed.vocab;
    Object.assign(config, parsed.options);
    hasTokenizerJson = true;
    added = parsed.addedTokens.map((t) => ({ content: t.content, id: t.id, special: !!t.special }));
  }

  const tc = await readJson(files, "tokenizer_config.json", tokenizerFileError);
  // (special tokens saved as {"__type": "AddedToken", "content": ...} are read as AddedTokens)
  if (tc) Object.assign(config, tc);
  const stm = await readJson(files, "special_tokens_map.json", tokenizerFileError);
  const at = await readJson(files, "added_tokens.json", tokenizerFileError);
  if (at) {
    for (const [content, id] of Object.entries(at)) {
      if (typeof id !== "number")
        throw new TokenizerError(
          `${files.where}: added_tokens.json: id of ${JSON.stringify(content)} is not a number`,
        );
      if (!added.some((t) => t.content === content)) added.push({ content, id, special: false });
    }
  }
  return new TokenizerFiles(files.where, vocab, config, stm, added, hasTokenizerJson);
}
