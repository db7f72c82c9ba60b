// simdbert tokenize TOKENIZER
// Reads JSON lines {"init": {...}, "call": {"method": ..., "text": ..., ...}} on stdin and writes one
// JSON line per request (docs/requests.md): the fields
// (tokens, input_ids, token_type_ids, attention_mask, input_tokens, decoded, ...), or
// {"error": "<Python exception type>", "message": ...} where HF raises. `init` are the keyword
// arguments of BertTokenizer.from_pretrained(TOKENIZER_DIR, **init); `call` a method and its options.
// As in Python, special tokens the vocab lacks get ids after it (init.add_missing_special_tokens:
// false makes that an error, the library's default).
import { createInterface } from "node:readline";
import { BasicTokenizer } from "../tokenizer/basic.js";
import type {
  BertTokenizer,
  BertTokenizerOptions,
  TextInput,
} from "../tokenizer/bert_tokenizer.js";
import { TokenizerError } from "../tokenizer/errors.js";
import { loadTokenizerFiles, type TokenizerFiles } from "../tokenizer/pretrained.js";
import { WordpieceTokenizer } from "../tokenizer/wordpiece.js";
import { checkModelSource } from "./checks.js";
import { defineCommand } from "./options.js";

type Json = Record<string, unknown>;

export const command = defineCommand({
  name: "tokenize",
  summary: "answer tokenizer requests (JSON lines in, JSON lines out), as HF's BertTokenizer",
  positionals: [
    {
      name: "TOKENIZER",
      help: "a directory with vocab.txt or tokenizer.json (and tokenizer_config.json), or a URL",
    },
  ],
  options: {},
  details: `Reads JSON lines {"init": {...}, "call": {"method": ..., "text": ..., ...}} on stdin and
writes one JSON line per request: tokens, input_ids, token_type_ids, attention_mask, ... or
{"error": "<Python exception type>", "message": ...} where HF raises. The format is in
docs/requests.md (in the package's repository).

  echo '{"call": {"text": "Hello world"}}' | simdbert tokenize ./bert-base-uncased`,
  async run({ TOKENIZER }) {
    await checkModelSource("TOKENIZER", TOKENIZER, "tokenize");
    if (process.stdin.isTTY)
      process.stderr.write(
        'simdbert tokenize: reading JSON requests from stdin, one per line (e.g. {"call": {"text": "Hello"}}); end with Ctrl-D\n',
      );
    await tokenizeLines(TOKENIZER);
  },
});

async function tokenizeLines(dir: string): Promise<void> {
  const files = await loadTokenizerFiles(dir);
  const runner = new Runner(files);
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let pending: string[] = [];
  let size = 0;
  const flush = async () => {
    if (!pending.length) return;
    const chunk = pending.join("");
    pending = [];
    size = 0;
    if (!process.stdout.write(chunk))
      await new Promise<void>((r) => process.stdout.once("drain", () => r()));
  };
  for await (const line of rl) {
    if (!line.trim()) continue;
    const out = JSON.stringify(runner.handle(line)) + "\n";
    pending.push(out);
    size += out.length;
    if (size > 1 << 20) await flush();
  }
  await flush();
}

/** Answers requests against one tokenizer directory. */
export class Runner {
  private readonly tokenizers = new Map<string, BertTokenizer>();
  constructor(private readonly files: TokenizerFiles) {}

  handle(line: string): Json {
    let req: Json;
    try {
      req = JSON.parse(line);
      if (!req || typeof req !== "object" || Array.isArray(req))
        throw new Error("a request is a JSON object");
    } catch (e) {
      return { error: "JSONDecodeError", message: (e as Error).message };
    }
    try {
      return this.answer((req.init ?? {}) as Json, (req.call ?? {}) as Json);
    } catch (e) {
      const err = e as Error;
      const type =
        e instanceof TokenizerError
          ? e.pyType
          : err instanceof TypeError
            ? "TypeError"
            : err instanceof RangeError
              ? "MemoryError"
              : err.name || "Error";
      return { error: type, message: err.message };
    }
  }

  private tokenizer(init: Json): BertTokenizer {
    const key = JSON.stringify(init);
    let t = this.tokenizers.get(key);
    if (!t) {
      // Python's from_pretrained gives special tokens missing from the vocab new ids past its end
      // (the library refuses by default); this command reproduces Python
      t = this.files.create({ add_missing_special_tokens: true, ...init } as BertTokenizerOptions);
      if (this.tokenizers.size > 64) this.tokenizers.clear();
      this.tokenizers.set(key, t);
    }
    return t;
  }

  answer(init: Json, call: Json): Json {
    const { method, text, text_pair, return_tensors: _ignored, ...options } = call;
    switch (method) {
      case "basic_tokenize":
        return {
          tokens: new BasicTokenizer({
            do_lower_case: (init.do_lower_case ?? true) as boolean,
            never_split: (init.never_split ?? null) as string[] | null,
            tokenize_chinese_chars: (init.tokenize_chinese_chars ?? true) as boolean,
            strip_accents: (init.strip_accents ?? null) as boolean | null,
          }).tokenize(requireString(text)),
        };
      case "wordpiece_tokenize":
        return {
          tokens: new WordpieceTokenizer(this.files.vocab, {
            unk_token: (init.unk_token ?? "[UNK]") as string,
            max_input_chars_per_word: (init.max_input_chars_per_word ?? 100) as number,
          }).tokenize(requireString(text)),
        };
      case "tokenize": {
        const tok = this.tokenizer(init);
        const tokens = tok.tokenize(requireString(text));
        return { tokens, token_ids: tok.convert_tokens_to_ids(tokens) };
      }
      case "encode": {
        const tok = this.tokenizer(init);
        return {
          input_ids: tok.encode(text as TextInput, {
            ...options,
            text_pair: (text_pair ?? null) as TextInput | null,
          }),
        };
      }
      case "encode_plus":
      case "__call__":
      case undefined: {
        const tok = this.tokenizer(init);
        if (method === "__call__" && Array.isArray(text) && !options.is_split_into_words) {
          return this.batch(
            tok,
            text.map((t, i) => (Array.isArray(text_pair) ? [t, text_pair[i]] : t)),
            options,
          );
        }
        const enc = tok
          .encode_plus(text as TextInput, {
            ...options,
            text_pair: (text_pair ?? null) as TextInput | null,
          })
          .toJSON();
        const out: Json = {};
        if (typeof text === "string") out.tokens = tok.tokenize(text);
        if (typeof text_pair === "string") out.tokens_pair = tok.tokenize(text_pair);
        Object.assign(out, enc);
        const ids = enc.input_ids as number[];
        out.input_tokens = tok.convert_ids_to_tokens(ids);
        out.decoded = tok.decode(ids);
        out.decoded_skip_special = tok.decode(ids, { skip_special_tokens: true });
        return out;
      }
      case "batch_encode_plus":
        if (!Array.isArray(text))
          throw new TokenizerError("batch_encode_plus: text must be a list", "TypeError");
        return this.batch(this.tokenizer(init), text, options);
      case "decode": {
        const tok = this.tokenizer(init);
        const ids = (call.token_ids ?? text) as number[];
        return { decoded: tok.decode(ids, options) };
      }
      default:
        throw new TokenizerError(`unknown method ${JSON.stringify(method)}`, "AttributeError");
    }
  }

  private batch(tok: BertTokenizer, items: unknown[], options: Json): Json {
    const enc = tok.batch_encode_plus(items as TextInput[], options).toJSON();
    const isPair = (it: unknown) =>
      Array.isArray(it) && it.length === 2 && !options.is_split_into_words;
    const out: Json = {
      tokens: items.map((it) => {
        const first = isPair(it) ? (it as unknown[])[0] : it;
        return typeof first === "string" ? tok.tokenize(first) : null;
      }),
      tokens_pair: items.map((it) =>
        isPair(it) && typeof (it as unknown[])[1] === "string"
          ? tok.tokenize((it as string[])[1])
          : null,
      ),
    };
    Object.assign(out, enc);
    const rows = enc.input_ids as number[][];
    out.input_tokens = rows.map((r) => tok.convert_ids_to_tokens(r));
    out.decoded = rows.map((r) => tok.decode(r));
    out.decoded_skip_special = rows.map((r) => tok.decode(r, { skip_special_tokens: true }));
    return out;
  }
}

function requireString(v: unknown): string {
  if (typeof v !== "string")
    throw new TokenizerError(
      `text must be a string, got ${v === null ? "None" : typeof v}`,
      "TypeError",
    );
  return v;
}
