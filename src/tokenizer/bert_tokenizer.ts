// HF's BertTokenizer (the Python one, transformers 4.30.2), with the PreTrainedTokenizer machinery
// it inherits: special / added tokens, tokenize(), encode_plus / batch_encode_plus / __call__,
// decode. Option names and values are HF's; null stands for Python's None.
import { type ModelSource } from "../loading/source.js";
import { Tensor } from "../tensor.js";
import { Callable } from "../callable.js";
import { HUB_OPTIONS, checkOptionNames } from "../options.js";
import type { HubOptions } from "../loading/hub.js";
import { BasicTokenizer } from "./basic.js";
import {
  finish,
  idList,
  pairAndOptions,
  requireString,
  resolveCallOptions,
  returnTensors,
  type BatchEncodeOptions,
  type DecodeOptions,
  type EncodeOptions,
  type TextInput,
} from "./call_options.js";
import { cleanUpTokenization, joinWordPieces } from "./decode.js";
import { BatchEncoding, type ReturnTensors, type TensorEncoding } from "./encoding.js";
import { TokenizerError } from "./errors.js";
import { pad, prepareForModel, type EncodedDict, type PrepareHost, type Side } from "./prepare.js";
import { intOption, pyRepr, truthy } from "./py.js";
import {
  AddedToken,
  compareCodePoints,
  NoSplitTokens,
  tokenSpec,
  tokenText,
  type TokenSpec,
} from "./special_tokens.js";
import { VERY_LARGE_INTEGER, type PaddingOption } from "./strategies.js";
import { pySplit } from "./unicode.js";
import { tokenizeWithOffsets } from "./offsets.js";
import { Vocab } from "./vocab.js";
import { UNK_PIECE, WordpieceTokenizer } from "./wordpiece.js";

export type {
  BatchEncodeOptions,
  DecodeOptions,
  EncodeOptions,
  TextInput,
} from "./call_options.js";

export interface BertTokenizerOptions {
  do_lower_case?: boolean;
  do_basic_tokenize?: boolean;
  never_split?: string[] | null;
  unk_token?: TokenSpec | null;
  sep_token?: TokenSpec | null;
  pad_token?: TokenSpec | null;
  cls_token?: TokenSpec | null;
  mask_token?: TokenSpec | null;
  bos_token?: TokenSpec | null;
  eos_token?: TokenSpec | null;
  additional_special_tokens?: TokenSpec[] | null;
  tokenize_chinese_chars?: boolean;
  strip_accents?: boolean | null;
  model_max_length?: number | null;
  padding_side?: Side;
  truncation_side?: Side;
  clean_up_tokenization_spaces?: boolean;
  model_input_names?: string[];
  /**
   * A special token missing from the vocabulary is an error when its id is needed (default). With
   * true, do what HF does: give it a new id past the end of the vocabulary (which a pretrained
   * model's embeddings do not have).
   */
  add_missing_special_tokens?: boolean;
  /**
   * Words longer than this many code points are one unknown token (default 100, HF's
   * WordpieceTokenizer; tokenizer.json's model.max_input_chars_per_word when loaded from one).
   */
  max_input_chars_per_word?: number;
}

/** DecodeOptions' names. */
const DECODE_OPTIONS: readonly string[] = [
  "skip_special_tokens",
  "clean_up_tokenization_spaces",
  "spaces_between_special_tokens",
];

/** BertTokenizerOptions' names (and HF's legacy max_len), the options fromPretrained checks. */
export const TOKENIZER_OPTIONS: readonly string[] = [
  "do_lower_case",
  "do_basic_tokenize",
  "never_split",
  "unk_token",
  "sep_token",
  "pad_token",
  "cls_token",
  "mask_token",
  "bos_token",
  "eos_token",
  "additional_special_tokens",
  "tokenize_chinese_chars",
  "strip_accents",
  "model_max_length",
  "max_len",
  "padding_side",
  "truncation_side",
  "clean_up_tokenization_spaces",
  "model_input_names",
  "add_missing_special_tokens",
  "max_input_chars_per_word",
];

const SPECIAL_ATTRIBUTES = [
  "bos_token",
  "eos_token",
  "unk_token",
  "sep_token",
  "pad_token",
  "cls_token",
  "mask_token",
] as const;
type SpecialName = (typeof SPECIAL_ATTRIBUTES)[number];

const DEFAULT_SPECIALS: Record<SpecialName, string | null> = {
  bos_token: null,
  eos_token: null,
  unk_token: "[UNK]",
  sep_token: "[SEP]",
  pad_token: "[PAD]",
  cls_token: "[CLS]",
  mask_token: "[MASK]",
};

/** Words cached per tokenizer: at most this many, of at most WORD_CACHE_CHARS units each. */
const WORD_CACHE_SIZE = 1 << 16;
const WORD_CACHE_CHARS = 48;

interface CachedWord {
  tokens: string[];
  /** vocab ids; UNK_PIECE where the id is resolved at use (unknown token, never_split word) */
  ids: number[];
}

/**
 * HF's (Python, "slow") BertTokenizer: the same tokens, ids, type ids, masks and decodings as
 * transformers 4.30.2, in any JS runtime.
 *
 * ```js
 * const tok = await BertTokenizer.fromPretrained("path/to/bert-base-uncased"); // vocab.txt or tokenizer.json
 * tok.tokenize("Hello, world!");                     // ["hello", ",", "world", "!"]
 * const enc = tok.call(["a question", "another one"], { text_pair: ["its context", "more"], padding: true, truncation: true, max_length: 128, return_tensors: "pt" });
 * const out = await model.forward(enc);              // input_ids, token_type_ids, attention_mask: int64 [batch, seq]
 * tok.decode(enc.input_ids.tolist()[0], { skip_special_tokens: true });
 * tok("Hello, world!");                              // the instance is callable: tok.call("Hello, world!")
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the call signatures of a Callable
export interface BertTokenizer {
  /** The tokenizer is callable, as in transformers.js and HF Python: `tokenizer(text, options)` is `tokenizer.call(text, options)`. */
  (
    text: TextInput | readonly TextInput[],
    options: BatchEncodeOptions & ({ return_tensors: ReturnTensors } | { return_tensor: true }),
  ): TensorEncoding;
  (
    text: TextInput | readonly TextInput[],
    options?: BatchEncodeOptions,
  ): BatchEncoding<number[]> | BatchEncoding<number[][]>;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see the interface
export class BertTokenizer extends Callable implements PrepareHost {
  readonly vocab: Vocab;
  readonly do_basic_tokenize: boolean;
  readonly basic_tokenizer: BasicTokenizer | null;
  readonly wordpiece_tokenizer: WordpieceTokenizer;
  model_max_length: number;
  readonly padding_side: Side;
  readonly truncation_side: Side;
  clean_up_tokenization_spaces: boolean;
  readonly model_input_names: readonly string[];
  readonly pad_token_type_id = 0;
  /** HF's added_tokens_encoder / decoder: tokens outside the vocabulary, with ids after it. */
  readonly added_tokens_encoder = new Map<string, number>();
  readonly added_tokens_decoder = new Map<number, string>();

  private readonly specials: Record<SpecialName, string | AddedToken | null>;
  private additional: (string | AddedToken)[];
  private readonly addMissingSpecials: boolean;
  private uniqueNoSplit: string[] = [];
  private noSplit!: NoSplitTokens;
  /** BasicTokenizer's never_split for a call from _tokenize: init never_split + special tokens */
  private basicNeverSplit!: Set<string>;
  private readonly lowerPrepass: boolean;
  private readonly cache = new Map<string, CachedWord>();

  constructor(
    vocab: Vocab | readonly string[] | Record<string, number> | Map<string, number>,
    options: BertTokenizerOptions = {},
  ) {
    super("call");
    checkOptionNames("BertTokenizer", options, TOKENIZER_OPTIONS);
    const o = options ?? {};
    this.vocab =
      vocab instanceof Vocab
        ? vocab
        : Array.isArray(vocab)
          ? Vocab.fromList(vocab)
          : Vocab.fromObject(vocab as Record<string, number>);
    this.specials = { ...DEFAULT_SPECIALS };
    for (const name of SPECIAL_ATTRIBUTES)
      if (name in o) this.specials[name] = tokenSpec(name, o[name]);
    const extra = o.additional_special_tokens;
    if (extra !== undefined && extra !== null && !Array.isArray(extra)) {
      throw new TokenizerError("additional_special_tokens must be a list of tokens", "TypeError");
    }
    this.additional = (extra ?? [])
      .map((t, i) => tokenSpec(`additional_special_tokens[${i}]`, t)!)
      .filter((t) => t !== null);
    this.addMissingSpecials = !!o.add_missing_special_tokens;

    const mml = o.model_max_length ?? (o as { max_len?: number | null }).max_len ?? null;
    this.model_max_length = mml === null ? VERY_LARGE_INTEGER : Number(mml);
    this.padding_side = (o.padding_side ?? "right") as Side;
    if (this.padding_side !== "right" && this.padding_side !== "left") {
      throw new TokenizerError(
        `Padding side should be selected between 'right' and 'left', current value: ${String(o.padding_side)}`,
      );
    }
    this.truncation_side = (o.truncation_side ?? "right") as Side;
    if (this.truncation_side !== "right" && this.truncation_side !== "left") {
      throw new TokenizerError(
        `Truncation side should be selected between 'right' and 'left', current value: ${String(o.truncation_side)}`,
      );
    }
    this.clean_up_tokenization_spaces =
      o.clean_up_tokenization_spaces === undefined ? true : truthy(o.clean_up_tokenization_spaces);
    this.model_input_names = o.model_input_names ?? [
      "input_ids",
      "token_type_ids",
      "attention_mask",
    ];

    this.do_basic_tokenize = o.do_basic_tokenize === undefined ? true : truthy(o.do_basic_tokenize);
    this.basic_tokenizer = this.do_basic_tokenize
      ? new BasicTokenizer({
          do_lower_case: o.do_lower_case === undefined ? true : o.do_lower_case,
          never_split: o.never_split ?? null,
          tokenize_chinese_chars:
            o.tokenize_chinese_chars === undefined ? true : o.tokenize_chinese_chars,
          strip_accents: o.strip_accents ?? null,
        })
      : null;
    const maxChars = o.max_input_chars_per_word ?? 100;
    if (typeof maxChars !== "number" || !Number.isSafeInteger(maxChars) || maxChars < 0)
      throw new TokenizerError(
        `max_input_chars_per_word must be a non-negative integer, got ${String(maxChars).slice(0, 40)}`,
        "TypeError",
      );
    this.wordpiece_tokenizer = new WordpieceTokenizer(this.vocab, {
      unk_token: this.unk_token ?? "None",
      max_input_chars_per_word: maxChars,
    });
    // HF lowercases the text first only through the do_lower_case property, which exists only
    // with a basic tokenizer
    this.lowerPrepass = !!this.basic_tokenizer?.do_lower_case;
    this.sanitizeSpecialTokens();
  }

  /**
   * Loads vocab.txt (or, without it, tokenizer.json) plus tokenizer_config.json,
   * special_tokens_map.json and added_tokens.json when present, from a directory, a URL or
   * in-memory files; `options` override the files, as HF's from_pretrained kwargs do.
   */
  static async fromPretrained(
    source: ModelSource,
    options: BertTokenizerOptions & HubOptions = {},
  ): Promise<BertTokenizer> {
    checkOptionNames("BertTokenizer.fromPretrained", options, [
      ...TOKENIZER_OPTIONS,
      ...HUB_OPTIONS,
    ]);
    const hub: Record<string, unknown> = {};
    const init: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options ?? {}))
      ((HUB_OPTIONS as readonly string[]).includes(k) ? hub : init)[k] = v;
    const { loadTokenizerFiles } = await import("./pretrained.js");
    return (await loadTokenizerFiles(source, hub as HubOptions)).create(init);
  }

  /** Alias of fromPretrained, under HF's name. */
  static from_pretrained(
    source: ModelSource,
    options: BertTokenizerOptions & HubOptions = {},
  ): Promise<BertTokenizer> {
    return BertTokenizer.fromPretrained(source, options);
  }

  /** HF's do_lower_case property (false without a basic tokenizer, where HF has none). */
  get do_lower_case(): boolean {
    return this.lowerPrepass;
  }

  // ---- special tokens ---------------------------------------------------------------------

  private special(name: SpecialName): string | null {
    const t = this.specials[name];
    return t === null ? null : tokenText(t);
  }
  get unk_token(): string | null {
    return this.special("unk_token");
  }
  get sep_token(): string | null {
    return this.special("sep_token");
  }
  get pad_token(): string | null {
    return this.special("pad_token");
  }
  get cls_token(): string | null {
    return this.special("cls_token");
  }
  get mask_token(): string | null {
    return this.special("mask_token");
  }
  get bos_token(): string | null {
    return this.special("bos_token");
  }
  get eos_token(): string | null {
    return this.special("eos_token");
  }
  get additional_special_tokens(): string[] {
    return this.additional.map(tokenText);
  }

  private specialId(name: SpecialName): number | null {
    const t = this.special(name);
    return t === null ? null : this.convertOne(t);
  }
  get unk_token_id(): number | null {
    return this.specialId("unk_token");
  }
  get sep_token_id(): number | null {
    return this.specialId("sep_token");
  }
  get pad_token_id(): number | null {
    return this.specialId("pad_token");
  }
  get cls_token_id(): number | null {
    return this.specialId("cls_token");
  }
  get mask_token_id(): number | null {
    return this.specialId("mask_token");
  }

  /** Special tokens as given (AddedToken where they were given so), without duplicates. */
  get all_special_tokens_extended(): (string | AddedToken)[] {
    const all: (string | AddedToken)[] = [];
    const seen = new Set<string>();
    const push = (t: string | AddedToken | null) => {
      if (t === null || seen.has(tokenText(t))) return;
      seen.add(tokenText(t));
      all.push(t);
    };
    for (const name of SPECIAL_ATTRIBUTES) push(this.specials[name]);
    for (const t of this.additional) push(t);
    return all;
  }

  get all_special_tokens(): string[] {
    return this.all_special_tokens_extended.map(tokenText);
  }

  /** Ids of the special tokens (those the vocabulary lacks are left out). */
  get all_special_ids(): number[] {
    const ids: number[] = [];
    for (const t of this.all_special_tokens) {
      const id = this.lookup(t);
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  /** HF's unique_no_split_tokens. */
  get unique_no_split_tokens(): string[] {
    return [...this.uniqueNoSplit];
  }

  /** len(vocab): the vocabulary without added tokens. */
  get vocab_size(): number {
    return this.vocab.size;
  }

  /** len(tokenizer): vocabulary plus added tokens. */
  get length(): number {
    return this.vocab.size + this.added_tokens_encoder.size;
  }

  get_vocab(): Record<string, number> {
    const out: Record<string, number> = Object.create(null);
    for (const [t, id] of this.vocab.ids) out[t] = id;
    for (const [t, id] of this.added_tokens_encoder) out[t] = id;
    return out;
  }

  /**
   * HF's sanitize_special_tokens (run by from_pretrained): special tokens become no-split tokens;
   * those missing from the vocabulary are added only with add_missing_special_tokens.
   */
  private sanitizeSpecialTokens(): void {
    const specials = this.all_special_tokens;
    if (this.addMissingSpecials) this.addTokensInternal(specials, true);
    else this.setNoSplit([...this.uniqueNoSplit, ...specials]);
  }

  private setNoSplit(tokens: Iterable<string>): void {
    this.uniqueNoSplit = [...new Set(tokens)].sort(compareCodePoints);
    const extended = new Map<string, AddedToken>();
    for (const t of this.all_special_tokens_extended)
      if (t instanceof AddedToken) extended.set(t.content, t);
    const specials = this.all_special_tokens;
    this.noSplit = new NoSplitTokens(
      this.uniqueNoSplit,
      [...this.uniqueNoSplit, ...specials],
      extended,
    );
    this.basicNeverSplit = new Set([...(this.basic_tokenizer?.never_split ?? []), ...specials]);
    this.cache.clear();
  }

  /** HF's _add_tokens. */
  private addTokensInternal(
    tokens: readonly (string | AddedToken | AddedTokenLike)[],
    special: boolean,
  ): number {
    const names = tokens.map((t) =>
      typeof t === "string" ? t : tokenText(tokenSpec("token", t)!),
    );
    const toAdd: string[] = [];
    for (let tok of names) {
      if (!special && this.lowerPrepass) tok = tok.toLowerCase();
      if (tok !== this.unk_token && this.lookup(tok) === undefined && !toAdd.includes(tok))
        toAdd.push(tok);
    }
    const base = this.length;
    toAdd.forEach((tok, i) => {
      this.added_tokens_encoder.set(tok, base + i);
      this.added_tokens_decoder.set(base + i, tok);
    });
    this.setNoSplit([...this.uniqueNoSplit, ...(special ? names : toAdd)]);
    return toAdd.length;
  }

  /** HF's add_tokens: new tokens get ids after the vocabulary and are never split. */
  add_tokens(
    tokens: string | AddedToken | readonly (string | AddedToken)[],
    special_tokens = false,
  ): number {
    const list = Array.isArray(tokens) ? tokens : [tokens as string | AddedToken];
    return this.addTokensInternal(list, special_tokens);
  }

  /** HF's add_special_tokens({cls_token: ..., additional_special_tokens: [...]}). */
  add_special_tokens(
    map: Partial<Record<SpecialName | "additional_special_tokens", unknown>>,
  ): number {
    const added: (string | AddedToken)[] = [];
    for (const [key, value] of Object.entries(map)) {
      if (key === "additional_special_tokens") {
        if (!Array.isArray(value))
          throw new TokenizerError("additional_special_tokens must be a list", "TypeError");
        this.additional = value.map((t) => tokenSpec(key, t)!).filter((t) => t !== null);
        added.push(...this.additional);
      } else if ((SPECIAL_ATTRIBUTES as readonly string[]).includes(key)) {
        const t = tokenSpec(key, value);
        this.specials[key as SpecialName] = t;
        if (t !== null) added.push(t);
      } else {
        throw new TokenizerError(`Key ${key} is not a special token`, "AssertionError");
      }
    }
    return this.addTokensInternal(added, true);
  }

  // ---- tokens <-> ids -----------------------------------------------------------------------

  /** The id of a token if it has one (added tokens first, as HF looks them up). */
  private lookup(token: string): number | undefined {
    return this.added_tokens_encoder.get(token) ?? this.vocab.get(token);
  }

  private missingSpecial(token: string): TokenizerError {
    const names = SPECIAL_ATTRIBUTES.filter((n) => this.special(n) === token);
    const what = names.length ? names.join(" / ") : "additional special token";
    return new TokenizerError(
      `the special token ${JSON.stringify(token)} (${what}) is not in the vocabulary (${this.vocab.size} tokens), ` +
        `so it has no id; add it to vocab.txt, or pass ${names[0] ?? "the special token"} naming a token that is in the vocabulary`,
      "KeyError",
    );
  }

  /** HF's _convert_token_to_id_with_added_voc, with an error where HF would make up an id. */
  private convertOne(token: string): number {
    const id = this.lookup(token);
    if (id !== undefined) return id;
    if (this.all_special_tokens.includes(token)) throw this.missingSpecial(token);
    const unk = this.unk_token;
    if (unk === null)
      throw new TokenizerError(
        `token ${JSON.stringify(token)} is not in the vocabulary and there is no unk_token`,
        "KeyError",
      );
    const u = this.lookup(unk);
    if (u === undefined) throw this.missingSpecial(unk);
    return u;
  }

  convert_tokens_to_ids(tokens: string): number;
  convert_tokens_to_ids(tokens: readonly string[]): number[];
  convert_tokens_to_ids(tokens: null): null;
  convert_tokens_to_ids(tokens: string | readonly string[] | null): number | number[] | null {
    if (tokens === null || tokens === undefined) return null;
    if (typeof tokens === "string") return this.convertOne(tokens);
    return tokens.map((t) => this.convertOne(t));
  }

  private idToToken(id: number): string {
    return this.added_tokens_decoder.get(id) ?? this.vocab.token(id) ?? this.unk_token ?? "None";
  }

  convert_ids_to_tokens(ids: number, skip_special_tokens?: boolean): string;
  convert_ids_to_tokens(ids: readonly number[] | Tensor, skip_special_tokens?: boolean): string[];
  convert_ids_to_tokens(
    ids: number | readonly number[] | Tensor,
    skip_special_tokens = false,
  ): string | string[] {
    if (typeof ids === "number" || typeof ids === "bigint") return this.idToToken(Number(ids));
    const list = idList(ids);
    const skip = skip_special_tokens ? new Set(this.all_special_ids) : null;
    const out: string[] = [];
    for (const id of list) {
      if (skip && skip.has(id)) continue;
      out.push(this.idToToken(id));
    }
    return out;
  }

  /** HF's BertTokenizer.convert_tokens_to_string: join with spaces, glue "##" pieces, strip. */
  convert_tokens_to_string(tokens: readonly string[]): string {
    return joinWordPieces(tokens);
  }

  // ---- tokenize -----------------------------------------------------------------------------

  /**
   * HF's tokenize(): special tokens kept whole, the rest through BasicTokenizer (unless
   * do_basic_tokenize is off) and WordPiece. Never throws on a string.
   */
  tokenize(text: string, _options: { is_split_into_words?: boolean } = {}): string[] {
    const tokens: string[] = [];
    this.run(requireString(text), tokens, null);
    return tokens;
  }

  /** tokenize() then convert_tokens_to_ids(), without building the token strings. */
  private textToIds(text: string): number[] {
    const ids: number[] = [];
    this.run(String(text), null, ids);
    return ids;
  }

  private run(text: string, tokens: string[] | null, ids: number[] | null): void {
    if (this.lowerPrepass) text = this.noSplit.lowerOutside(text);
    for (const seg of this.noSplit.split(text)) {
      if (seg.special) {
        tokens?.push(seg.text);
        ids?.push(this.convertOne(seg.text));
      } else if (this.basic_tokenizer) {
        this.basic_tokenizer.words(seg.text, (w) => this.emitWord(w, tokens, ids));
      } else {
        for (const w of pySplit(seg.text)) this.emitWord(w, tokens, ids);
      }
    }
  }

  private emitWord(w: string, tokens: string[] | null, ids: number[] | null): void {
    let e = this.cache.get(w);
    if (e === undefined) {
      e = this.tokenizeWord(w);
      if (w.length <= WORD_CACHE_CHARS) {
        if (this.cache.size >= WORD_CACHE_SIZE) this.cache.clear();
        this.cache.set(w, e);
      }
    }
    if (tokens) for (const t of e.tokens) tokens.push(t);
    if (ids) {
      const src = e.ids;
      for (let j = 0; j < src.length; j++)
        ids.push(src[j] >= 0 ? src[j] : this.convertOne(e.tokens[j]));
    }
  }

  /** HF's _tokenize for one whitespace-separated word. */
  private tokenizeWord(w: string): CachedWord {
    const tokens: string[] = [];
    const ids: number[] = [];
    const bt = this.basic_tokenizer;
    if (!bt) {
      this.wordpiece_tokenizer.word(w, tokens, ids);
      return { tokens, ids };
    }
    const initNeverSplit = bt.never_split;
    bt.splitWord(w, this.basicNeverSplit, this.lowerPrepass, (piece) => {
      if (initNeverSplit.size > 0 && initNeverSplit.has(piece)) {
        tokens.push(piece);
        ids.push(UNK_PIECE); // resolved at use: vocab, added tokens or the unknown token
      } else {
        this.wordpiece_tokenizer.word(piece, tokens, ids);
      }
    });
    return { tokens, ids };
  }

  // ---- character offsets ---------------------------------------------------------------------

  /**
   * The tokens of `text` (as tokenize() gives them) with the span of the original text each came
   * from: [start, end) in UTF-16 units, so text.slice(start, end) is the token's source (lowercase,
   * accents and "##" aside). What HF's fast tokenizers return as offset_mapping, computed from the
   * slow tokenizer's own normalization.
   */
  tokenizeWithOffsets(text: string): { tokens: string[]; offsets: [number, number][] } {
    return tokenizeWithOffsets(
      {
        noSplit: this.noSplit,
        lowerPrepass: this.lowerPrepass,
        basicNeverSplit: this.basicNeverSplit,
        basic: this.basic_tokenizer,
        wordpiece: this.wordpiece_tokenizer,
      },
      requireString(text),
    );
  }

  /**
   * offset_mapping of an encoding: prepare_for_model run again on stand-ins for the tokens
   * (negative ids, which no special token or padding has), so that truncation, special tokens and
   * padding place the offsets exactly as they placed the ids; specials and padding get (0, 0).
   */
  private offsetMapping(
    texts: [unknown, unknown],
    ids: [number[], number[] | null],
    c: ReturnType<typeof resolveCallOptions>,
    splitWords: boolean,
  ): [number, number][] {
    const spans: [number, number][] = [];
    texts.forEach((t, i) => {
      if (t === null || t === undefined) return;
      if (typeof t !== "string" || splitWords)
        throw new TokenizerError(
          "return_offsets_mapping needs the text as a string (not pre-split words, tokens or ids)",
          "NotImplementedError",
        );
      const { offsets } = this.tokenizeWithOffsets(t);
      if (offsets.length !== ids[i]!.length)
        throw new TokenizerError(
          `offsets: ${offsets.length} spans for ${ids[i]!.length} tokens of ${JSON.stringify(t.slice(0, 40))} (please report this text)`,
          "RuntimeError",
        );
      spans.push(...offsets);
    });
    const a = ids[0].map((_, i) => -1 - i);
    const b = ids[1] ? ids[1].map((_, i) => -1 - ids[0].length - i) : null;
    const stand = prepareForModel(this, a, b, { ...c, return_overflowing_tokens: false });
    return (stand.input_ids as number[]).map((x) => (x < 0 ? spans[-1 - x] : [0, 0]));
  }

  // ---- special tokens around sequences ------------------------------------------------------

  build_inputs_with_special_tokens(ids: number[], pair: number[] | null = null): number[] {
    const cls = this.requiredId("cls_token");
    const sep = this.requiredId("sep_token");
    // preallocated and filled in place: sequences can have millions of ids (spreads are slow)
    const n = ids.length;
    const out: number[] = new Array(pair === null ? n + 2 : n + pair.length + 3);
    out[0] = cls;
    for (let i = 0; i < n; i++) out[i + 1] = ids[i];
    out[n + 1] = sep;
    if (pair !== null) {
      for (let i = 0; i < pair.length; i++) out[n + 2 + i] = pair[i];
      out[out.length - 1] = sep;
    }
    return out;
  }

  create_token_type_ids_from_sequences(ids: number[], pair: number[] | null = null): number[] {
    const out: number[] = new Array(ids.length + 2 + (pair === null ? 0 : pair.length + 1)).fill(1);
    return out.fill(0, 0, ids.length + 2);
  }

  get_special_tokens_mask(
    ids: number[],
    pair: number[] | null = null,
    already_has_special_tokens = false,
  ): number[] {
    if (already_has_special_tokens) {
      if (pair !== null) {
        throw new TokenizerError(
          "You should not supply a second sequence if the provided sequence of ids is already formatted with special tokens for the model.",
        );
      }
      const specials = new Set(this.all_special_ids);
      return ids.map((id) => (specials.has(id) ? 1 : 0));
    }
    const out: number[] = new Array(ids.length + 2 + (pair === null ? 0 : pair.length + 1)).fill(0);
    out[0] = 1;
    out[ids.length + 1] = 1;
    if (pair !== null) out[out.length - 1] = 1;
    return out;
  }

  num_special_tokens_to_add(pair = false): number {
    return pair ? 3 : 2;
  }

  private requiredId(name: SpecialName): number {
    const t = this.special(name);
    if (t === null)
      throw new TokenizerError(
        `this tokenizer has no ${name}, which adding special tokens needs`,
        "TypeError",
      );
    return this.convertOne(t);
  }

  /** For prepare.ts (PrepareHost): the pad token's id. */
  padTokenId(): number {
    return this.requiredId("pad_token");
  }

  /** For prepare.ts (PrepareHost): HF's "Asking to pad but the tokenizer does not have a padding token". */
  checkCanPad(): void {
    if (!truthy(this.pad_token)) {
      throw new TokenizerError(
        "Asking to pad but the tokenizer does not have a padding token. Please select a token to use as `pad_token` " +
          "`(tokenizer.pad_token = tokenizer.eos_token e.g.)` or add a new pad token via `tokenizer.add_special_tokens({'pad_token': '[PAD]'})`.",
      );
    }
    this.padTokenId();
  }

  // ---- encoding -----------------------------------------------------------------------------

  /** HF's get_input_ids: a text, pre-split words, tokens or ids -> ids. */
  private inputIds(text: unknown, splitWords: boolean): number[] {
    if (typeof text === "string") return this.textToIds(text);
    if (Array.isArray(text) && text.length > 0 && typeof text[0] === "string") {
      if (splitWords) return text.flatMap((t) => this.textToIds(String(t)));
      return this.convert_tokens_to_ids(text as string[]);
    }
    if (Array.isArray(text) && text.length > 0 && typeof text[0] === "number")
      return [...(text as number[])];
    throw new TokenizerError(
      splitWords
        ? `Input ${pyRepr(text)} is not valid. Should be a string or a list/tuple of strings when \`is_split_into_words=True\`.`
        : `Input ${pyRepr(text)} is not valid. Should be a string, a list/tuple of strings or a list/tuple of integers.`,
    );
  }

  /** HF's encode: the input_ids of encode_plus. */
  encode(
    text: TextInput,
    pairOrOptions?: TextInput | EncodeOptions | null,
    options?: EncodeOptions,
  ): number[] {
    const [pair, o] = pairAndOptions(pairOrOptions, options);
    const { return_tensor: _t, ...rest } = o;
    const enc = this.encode_plus(text, pair, { ...rest, return_tensors: null });
    return enc.input_ids;
  }

  /**
   * HF's encode_plus for one text (or a pair: encode_plus(text, pair, options) or
   * encode_plus(text, { text_pair, ... })).
   */
  encode_plus(
    text: TextInput,
    pairOrOptions: TextInput | EncodeOptions | null | undefined,
    options: EncodeOptions & { return_tensors: ReturnTensors },
  ): TensorEncoding;
  encode_plus(
    text: TextInput,
    options: EncodeOptions & { return_tensors: ReturnTensors },
  ): TensorEncoding;
  encode_plus(
    text: TextInput,
    pairOrOptions?: TextInput | EncodeOptions | null,
    options?: EncodeOptions,
  ): BatchEncoding<number[]>;
  encode_plus(
    text: TextInput,
    pairOrOptions?: TextInput | EncodeOptions | null,
    options?: EncodeOptions,
  ): BatchEncoding<number[]> | TensorEncoding {
    const [pair, o] = pairAndOptions(pairOrOptions, options);
    const c = resolveCallOptions(this, o);
    const splitWords = truthy(o.is_split_into_words);
    const first = this.inputIds(text, splitWords);
    const second = pair !== null && pair !== undefined ? this.inputIds(pair, splitWords) : null;
    const enc = prepareForModel(this, first, second, c);
    if (truthy(o.return_offsets_mapping))
      enc.offset_mapping = this.offsetMapping([text, pair ?? null], [first, second], c, splitWords);
    return finish(enc, returnTensors(o));
  }

  /** HF's batch_encode_plus: each item a text or a [text, text_pair] pair. */
  batch_encode_plus(
    batch: readonly (TextInput | readonly [TextInput, TextInput])[],
    options: BatchEncodeOptions & { return_tensors: ReturnTensors },
  ): TensorEncoding;
  batch_encode_plus(
    batch: readonly (TextInput | readonly [TextInput, TextInput])[],
    options?: BatchEncodeOptions,
  ): BatchEncoding<number[][]>;
  batch_encode_plus(
    batch: readonly (TextInput | readonly [TextInput, TextInput])[],
    options: BatchEncodeOptions = {},
  ): BatchEncoding<number[][]> | TensorEncoding {
    if (!Array.isArray(batch))
      throw new TokenizerError(
        "batch_encode_plus expects a list of texts or text pairs",
        "TypeError",
      );
    const c = resolveCallOptions(this, options);
    const splitWords = truthy(options.is_split_into_words);
    const items: [number[], number[] | null][] = [];
    for (const item of batch) {
      let a: unknown;
      let b: unknown = null;
      if (!Array.isArray(item)) a = item;
      else if (splitWords && !Array.isArray(item[0])) a = item;
      else {
        if (item.length !== 2) {
          throw new TokenizerError(
            item.length > 2
              ? "too many values to unpack (expected 2)"
              : `not enough values to unpack (expected 2, got ${item.length})`,
          );
        }
        [a, b] = item;
      }
      items.push([
        this.inputIds(a, splitWords),
        b !== null && b !== undefined ? this.inputIds(b, splitWords) : null,
      ]);
    }
    const out: EncodedDict = {};
    const offsets: [number, number][][] = [];
    const unpadded = { ...c, padding: "do_not_pad" as const, pad_to_multiple_of: null };
    items.forEach(([a, b], i) => {
      const enc = prepareForModel(this, a, b, {
        ...unpadded, // the batch is padded afterwards
        return_attention_mask: false,
      });
      for (const [k, v] of Object.entries(enc)) ((out[k] ??= []) as unknown[]).push(v);
      if (truthy(options.return_offsets_mapping)) {
        const item = batch[i];
        const [ta, tb] =
          Array.isArray(item) && !(splitWords && !Array.isArray(item[0])) ? item : [item, null];
        offsets.push(this.offsetMapping([ta, tb], [a, b], unpadded, splitWords));
      }
    });
    const padded = pad(
      this,
      out,
      c.padding,
      c.max_length,
      c.pad_to_multiple_of,
      c.return_attention_mask,
    );
    if (truthy(options.return_offsets_mapping)) {
      // padding positions get (0, 0), on the padding side
      padded.offset_mapping = offsets.map((row, i) => {
        const n = (padded.input_ids as number[][])[i].length - row.length;
        const fill = Array.from({ length: n }, () => [0, 0] as [number, number]);
        return this.padding_side === "left" ? [...fill, ...row] : [...row, ...fill];
      });
    }
    return finish(padded, returnTensors(options)) as BatchEncoding<number[][]> | TensorEncoding;
  }

  /**
   * HF's __call__: one text (or pair) -> encode_plus, a list of texts -> batch_encode_plus
   * (text_pair then a list of the same length).
   */
  call(
    text: TextInput | readonly TextInput[],
    options: BatchEncodeOptions & ({ return_tensors: ReturnTensors } | { return_tensor: true }),
  ): TensorEncoding;
  call(
    text: TextInput | readonly TextInput[],
    options?: BatchEncodeOptions,
  ): BatchEncoding<number[]> | BatchEncoding<number[][]>;
  call(
    text: TextInput | readonly TextInput[],
    options: BatchEncodeOptions = {},
  ): BatchEncoding<number[]> | BatchEncoding<number[][]> | TensorEncoding {
    const splitWords = truthy(options.is_split_into_words);
    const valid = (t: unknown): boolean => {
      if (typeof t === "string") return true;
      if (!Array.isArray(t)) return false;
      if (t.length === 0) return true;
      if (typeof t[0] === "string") return true;
      if (Array.isArray(t[0])) return t[0].length === 0 || typeof t[0][0] === "string";
      return false;
    };
    if (!valid(text)) {
      throw new TokenizerError(
        "text input must of type `str` (single example), `List[str]` (batch or single pretokenized example) or `List[List[str]]` (batch of pretokenized examples).",
      );
    }
    const pair = options.text_pair;
    if (pair !== null && pair !== undefined && !valid(pair)) {
      throw new TokenizerError(
        "text input must of type `str` (single example), `List[str]` (batch or single pretokenized example) or `List[List[str]]` (batch of pretokenized examples).",
      );
    }
    const batched = splitWords
      ? Array.isArray(text) && Array.isArray((text as unknown[])[0])
      : Array.isArray(text);
    const { text_pair: _omit, ...rest } = options;
    if (batched) {
      if (typeof pair === "string") {
        throw new TokenizerError(
          "when tokenizing batches of text, `text_pair` must be a list or tuple with the same length as `text`.",
          "TypeError",
        );
      }
      const texts = text as readonly TextInput[];
      if (pair !== null && pair !== undefined && (pair as unknown[]).length !== texts.length) {
        throw new TokenizerError(
          `batch length of \`text\`: ${texts.length} does not match batch length of \`text_pair\`: ${(pair as unknown[]).length}.`,
        );
      }
      const items = truthy(pair)
        ? texts.map((t, i) => [t, (pair as readonly TextInput[])[i]] as const)
        : texts;
      return this.batch_encode_plus(
        items as readonly (TextInput | readonly [TextInput, TextInput])[],
        rest,
      );
    }
    return this.encode_plus(
      text as TextInput,
      (pair ?? null) as TextInput | null,
      rest as EncodeOptions,
    );
  }

  /** HF's pad() on encodings made without padding (one, a batch, or a list of encodings). */
  pad(
    encoded:
      | BatchEncoding<number[]>
      | BatchEncoding<number[][]>
      | Record<string, unknown>
      | readonly Record<string, unknown>[],
    options: {
      padding?: PaddingOption;
      max_length?: number | null;
      pad_to_multiple_of?: number | null;
      return_attention_mask?: boolean | null;
      return_tensors?: ReturnTensors | null;
    } = {},
  ): BatchEncoding<number[]> | BatchEncoding<number[][]> | TensorEncoding {
    let enc: EncodedDict;
    if (Array.isArray(encoded)) {
      enc = {};
      for (const e of encoded as Record<string, unknown>[])
        for (const [k, v] of Object.entries(e)) ((enc[k] ??= []) as unknown[]).push(v);
    } else {
      enc = {};
      for (const [k, v] of Object.entries(encoded))
        enc[k] = Array.isArray(v) ? v.map((x) => (Array.isArray(x) ? [...x] : x)) : v;
    }
    const padding = options.padding === undefined ? true : options.padding;
    const strategy =
      padding === true ? "longest" : padding === false || padding === null ? "do_not_pad" : padding;
    const out = pad(
      this,
      enc,
      strategy,
      intOption("max_length", options.max_length),
      intOption("pad_to_multiple_of", options.pad_to_multiple_of),
      options.return_attention_mask ?? null,
    );
    return finish(out, options.return_tensors) as BatchEncoding<number[]>;
  }

  // ---- decoding -----------------------------------------------------------------------------

  /** HF's decode (slow tokenizer). */
  decode(ids: readonly number[] | Tensor | number, options: DecodeOptions = {}): string {
    checkOptionNames("decode", options, DECODE_OPTIONS);
    options ??= {};
    const list = typeof ids === "number" ? [ids] : idList(ids);
    const skip = truthy(options.skip_special_tokens);
    const tokens = this.convert_ids_to_tokens(list, skip);
    const parts: string[] = [];
    let current: string[] = [];
    for (const t of tokens) {
      if (this.added_tokens_encoder.has(t)) {
        if (current.length) parts.push(this.convert_tokens_to_string(current));
        current = [];
        parts.push(t);
      } else current.push(t);
    }
    if (current.length) parts.push(this.convert_tokens_to_string(current));
    const text = parts.join(options.spaces_between_special_tokens === false ? "" : " ");
    const cleanUp = options.clean_up_tokenization_spaces ?? this.clean_up_tokenization_spaces;
    return truthy(cleanUp) ? cleanUpTokenization(text) : text;
  }

  batch_decode(
    sequences: readonly (readonly number[])[] | Tensor,
    options: DecodeOptions = {},
  ): string[] {
    if (sequences instanceof Tensor) {
      const rows = sequences.tolist() as number[][];
      return rows.map((r) => this.decode(r, options));
    }
    return sequences.map((s) => this.decode(s, options));
  }

  /** HF's clean_up_tokenization: no space before . ? ! , and English contractions. */
  static clean_up_tokenization(s: string): string {
    return cleanUpTokenization(s);
  }
}

type AddedTokenLike = { content: string };
