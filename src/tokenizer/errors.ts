// The tokenizer's one error type. `pyType` names the exception HF's Python code raises in the same
// situation (ValueError, TypeError, ...), so `simdbert tokenize` can report errors as HF does.
import { SimdbertError } from "../errors.js";

export class TokenizerError extends SimdbertError {
  override name = "TokenizerError";
  readonly pyType: string;
  constructor(message: string, pyType = "ValueError") {
    super(message);
    this.pyType = pyType;
  }
}
