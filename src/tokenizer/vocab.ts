// A WordPiece vocabulary: token <-> id, with the quirks of HF's load_vocab kept, because ids must
// match: a repeated token keeps its LAST line as its id (dict assignment), and ids_to_tokens only
// knows those last ids (any other id decodes as the unknown token).
import { TokenizerError } from "./errors.js";

export class Vocab {
  /** token -> id (for a repeated token, its last id) */
  readonly ids: Map<string, number>;
  private readonly byId: (string | undefined)[];
  /** tokens starting with "##", keyed without it: what WordPiece looks up for word continuations */
  readonly continuations: Map<string, number>;
  /** longest token, in code points: no WordPiece match can be longer */
  readonly maxTokenChars: number;
  readonly maxContinuationChars: number;

  constructor(ids: Map<string, number>) {
    this.ids = ids;
    this.byId = [];
    this.continuations = new Map();
    let maxT = 0;
    let maxC = 0;
    for (const [tok, id] of ids) {
      if (!Number.isSafeInteger(id) || id < 0)
        throw new TokenizerError(
          `vocabulary: token ${JSON.stringify(tok)} has an invalid id ${id}`,
        );
      this.byId[id] = tok;
      const n = codePointLength(tok);
      if (n > maxT) maxT = n;
      if (tok.startsWith("##")) {
        this.continuations.set(tok.slice(2), id);
        if (n - 2 > maxC) maxC = n - 2;
      }
    }
    this.maxTokenChars = maxT;
    this.maxContinuationChars = maxC;
  }

  /**
   * vocab.txt: line i is token i. Lines end at \n, \r\n or \r (Python's universal newlines); a
   * final newline does not make an empty token; a byte order mark stays part of the first token
   * (Python reads the file as "utf-8", not "utf-8-sig").
   */
  static fromText(text: string): Vocab {
    const lines = text.split(/\r\n|\r|\n/);
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    return Vocab.fromList(lines);
  }

  static fromBytes(bytes: Uint8Array, where = "vocab.txt"): Vocab {
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new TokenizerError(`${where} is not valid UTF-8`, "UnicodeDecodeError");
    }
    return Vocab.fromText(text);
  }

  /** tokens[i] is token i. */
  static fromList(tokens: readonly string[]): Vocab {
    const ids = new Map<string, number>();
    for (let i = 0; i < tokens.length; i++) {
      if (typeof tokens[i] !== "string")
        throw new TokenizerError(`vocabulary entry ${i} is not a string`, "TypeError");
      ids.set(tokens[i], i);
    }
    return new Vocab(ids);
  }

  /** { token: id } as in tokenizer.json's WordPiece model. */
  static fromObject(obj: Record<string, number> | Map<string, number>): Vocab {
    const ids = new Map<string, number>();
    const entries = obj instanceof Map ? obj.entries() : Object.entries(obj);
    for (const [tok, id] of entries) {
      if (typeof id !== "number")
        throw new TokenizerError(
          `vocabulary: token ${JSON.stringify(tok)} has a non-numeric id`,
          "TypeError",
        );
      ids.set(tok, id);
    }
    return new Vocab(ids);
  }

  /** len(vocab): distinct tokens. */
  get size(): number {
    return this.ids.size;
  }

  /** One past the largest id. */
  get idEnd(): number {
    return this.byId.length;
  }

  get(token: string): number | undefined {
    return this.ids.get(token);
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  /** HF's ids_to_tokens.get(id): undefined for unknown ids. */
  token(id: number): string | undefined {
    return this.byId[id];
  }
}

export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
