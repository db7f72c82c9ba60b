// The tokenizer's one error type. `pyType` names the exception HF's Python code raises in the same
// situation (ValueError, TypeError, ...), so `simdbert tokenize` can report errors as HF does.
export class TokenizerError extends Error {
  override name = "TokenizerError";
  readonly pyType: string;
  constructor(message: string, pyType = "ValueError") {
    super(message);
    this.pyType = pyType;
  }
}
