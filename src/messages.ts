// Untrusted values in messages: a tensor name, a key or a label can be megabytes long, so every
// quoted value is cut to a readable length (its full length said), never copied whole.

/** Longest quoted value shown in a message, in UTF-16 code units. */
export const QUOTE_MAX = 80;

/** JSON-quoted `s`, cut to `max` characters with its length noted when longer. */
export function quote(s: unknown, max = QUOTE_MAX): string {
  const str = typeof s === "string" ? s : String(s);
  if (str.length <= max) return JSON.stringify(str);
  // do not cut a surrogate pair in half
  let cut = max;
  const c = str.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return `${JSON.stringify(str.slice(0, cut))}... (${str.length} characters)`;
}
