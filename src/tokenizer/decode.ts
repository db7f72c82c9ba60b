// Tokens back to text, as HF's BertTokenizer.convert_tokens_to_string and clean_up_tokenization.
import { isPySpace, pyRstrip } from "./unicode.js";

/** Tokens joined with spaces, "##" continuations glued back, then Python's strip(). */
export function joinWordPieces(tokens: readonly string[]): string {
  const s = tokens.join(" ").replaceAll(" ##", "");
  let a = 0;
  while (a < s.length && isPySpace(s.charCodeAt(a))) a++;
  return pyRstrip(s.slice(a));
}

/** No space before . ? ! , and English contractions (HF's replacements, in HF's order). */
export function cleanUpTokenization(s: string): string {
  return s
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
