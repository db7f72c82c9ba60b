// The command line's option framework. Each command declares once its positional arguments and
// options (name, type, default, help); from that one declaration come its usage line, its
// `--help` text and the checking of every value, which happens before any model is loaded, so a
// bad value is refused at once with the option's name in the message.
//
//   export const command = defineCommand({
//     name: "embed",
//     summary: "sentence embeddings of texts, one per line",
//     positionals: [{ name: "MODEL", help: "a model directory or URL" }],
//     options: {
//       "batch-size": { type: "int", min: 1, default: 8, help: "sequences per forward" },
//       normalize: { type: "flag", help: "L2-normalise each embedding" },
//     },
//     async run({ MODEL }, o) { o["batch-size"]; o.normalize; ... },
//   });
//
// Values arrive typed: "flag" -> boolean, "int" / "number" -> number, "choice" / "string" /
// "path" -> string (optional ones without a default: undefined when absent).

/** An error in how a command was called: printed with the command's usage line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    /** the command whose usage to print ("" for simdbert itself) */
    readonly command = "",
  ) {
    super(message);
  }
}

interface OptionBase {
  help: string;
  /** the value's placeholder in usage texts (default: from the type) */
  metavar?: string;
  /** a one-letter alias ("o" for -o) */
  short?: string;
}

export interface FlagOption extends OptionBase {
  type: "flag";
}

export interface IntOption extends OptionBase {
  type: "int";
  default?: number;
  /** smallest accepted value (inclusive) */
  min?: number;
  /** largest accepted value (inclusive) */
  max?: number;
  /** other accepted words (e.g. "auto" for --threads) */
  words?: readonly string[];
}

export interface NumberOption extends OptionBase {
  type: "number";
  default?: number;
  min?: number;
  max?: number;
}

export interface StringOption extends OptionBase {
  type: "string" | "path";
  default?: string;
  /** a further check: returns what is wrong with the value, or nothing */
  check?: (value: string) => string | undefined;
}

export interface ChoiceOption<C extends string = string> extends OptionBase {
  type: "choice";
  choices: readonly C[];
  default?: C;
}

export type OptionSpec = FlagOption | IntOption | NumberOption | StringOption | ChoiceOption;

export interface PositionalSpec {
  name: string;
  help: string;
  /** may be left out (only the last positionals) */
  optional?: boolean;
}

/** The parsed value of one option. */
export type OptionValue<O> = O extends FlagOption
  ? boolean
  : O extends IntOption
    ? O extends { words: readonly (infer W extends string)[] }
      ? number | W | (O extends { default: number } ? never : undefined)
      : number | (O extends { default: number } ? never : undefined)
    : O extends NumberOption
      ? number | (O extends { default: number } ? never : undefined)
      : O extends ChoiceOption<infer C>
        ? C | (O extends { default: string } ? never : undefined)
        : string | (O extends { default: string } ? never : undefined);

export type OptionValues<O extends Record<string, OptionSpec>> = {
  -readonly [K in keyof O]: OptionValue<O[K]>;
};

export type PositionalValues<P extends readonly PositionalSpec[]> = {
  [K in P[number] as K["name"]]: K extends { optional: true } ? string | undefined : string;
};

export interface Command<
  O extends Record<string, OptionSpec> = Record<string, OptionSpec>,
  P extends readonly PositionalSpec[] = readonly PositionalSpec[],
> {
  /** the word after `simdbert` */
  name: string;
  /** one line for `simdbert --help` */
  summary: string;
  positionals: P;
  options: O;
  /** paragraphs printed after the options by `--help` (input formats, examples) */
  details?: string;
  /** runs the command; every value has been checked */
  run(positionals: PositionalValues<P>, options: OptionValues<O>): Promise<void>;
}

/** Declares a command; the identity function, there for the types. */
export function defineCommand<
  const O extends Record<string, OptionSpec>,
  const P extends readonly PositionalSpec[],
>(command: Command<O, P>): Command<O, P> {
  for (const name of Object.keys(command.options)) {
    if (!/^[a-z][a-z0-9-]*$/.test(name) || name === "help")
      throw new Error(`internal: option name "${name}" of ${command.name}`);
  }
  return command;
}

// ---- shared options ---------------------------------------------------------------------------

/** --threads: WebAssembly threads for the model (results are the same bits as one thread). */
export const threadsOption = {
  type: "int",
  min: 1,
  max: 256,
  words: ["auto"],
  metavar: "N|auto",
  help: 'WebAssembly threads for the forward passes ("auto": one per core; results are the same bits as 1)',
} as const satisfies IntOption;

/** --max-length: truncation length in tokens (checked against the model before loading it). */
export const maxLengthOption = {
  type: "int",
  min: 2,
  max: 1 << 20,
  help: "truncate each text to N tokens (default: the model's maximum; at most max_position_embeddings)",
} as const satisfies IntOption;

/** --batch-size: sequences per forward pass. */
export const batchSizeOption = {
  type: "int",
  min: 1,
  max: 65536,
  default: 8,
  help: "sequences per forward pass (more: faster on long inputs, more memory)",
} as const satisfies IntOption;

// ---- parsing ----------------------------------------------------------------------------------

const quote = (s: string) => JSON.stringify(s.length > 80 ? s.slice(0, 77) + "..." : s);

function metavar(o: OptionSpec): string {
  if (o.type === "flag") return "";
  if (o.metavar) return o.metavar;
  if (o.type === "choice") return o.choices.join("|");
  if (o.type === "int" || o.type === "number") return "N";
  if (o.type === "path") return "FILE";
  return "VALUE";
}

function convert(name: string, spec: OptionSpec, raw: string): unknown {
  const flag = `--${name}`;
  switch (spec.type) {
    case "flag":
      throw new Error("unreachable");
    case "int":
    case "number": {
      if (spec.type === "int" && spec.words?.includes(raw)) return raw;
      const isNum = spec.type === "int" ? /^[+-]?\d+$/.test(raw.trim()) : raw.trim() !== "";
      const v = Number(raw);
      const what = spec.type === "int" ? "an integer" : "a number";
      const words = spec.type === "int" && spec.words?.length ? ` or ${spec.words.join(", ")}` : "";
      if (!isNum || !Number.isFinite(v))
        throw new UsageError(`${flag} must be ${what}${words}, got ${quote(raw)}`);
      if (spec.min !== undefined && v < spec.min)
        throw new UsageError(`${flag} must be at least ${spec.min}${words}, got ${raw}`);
      if (spec.max !== undefined && v > spec.max)
        throw new UsageError(`${flag} must be at most ${spec.max}, got ${raw}`);
      return v;
    }
    case "choice":
      if (!spec.choices.includes(raw))
        throw new UsageError(
          `${flag} must be one of ${spec.choices.join(", ")}, got ${quote(raw)}`,
        );
      return raw;
    default: {
      if (raw === "") throw new UsageError(`${flag} must not be empty`);
      const wrong = spec.check?.(raw);
      if (wrong) throw new UsageError(`${flag} ${wrong}`);
      return raw;
    }
  }
}

/** The result of parsing: the values, or a request for help. */
export type Parsed<O extends Record<string, OptionSpec>, P extends readonly PositionalSpec[]> =
  { help: true } | { help: false; positionals: PositionalValues<P>; options: OptionValues<O> };

/** Parses a command's arguments (after its name); throws a UsageError naming what is wrong. */
export function parseArgs<
  O extends Record<string, OptionSpec>,
  P extends readonly PositionalSpec[],
>(command: Command<O, P>, args: readonly string[]): Parsed<O, P> {
  const specs = command.options as Record<string, OptionSpec>;
  // -h / --help anywhere (before a "--") asks for help, whatever else is wrong
  const end = args.indexOf("--");
  if (args.slice(0, end < 0 ? args.length : end).some((a) => a === "--help" || a === "-h"))
    return { help: true };
  const shorts = new Map<string, string>();
  for (const [name, s] of Object.entries(specs)) if (s.short) shorts.set(s.short, name);
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  const rest: string[] = [];
  let onlyPositionals = false;
  const fail = (msg: string) => new UsageError(msg, command.name);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (onlyPositionals || a === "-" || !a.startsWith("-")) {
      rest.push(a);
      continue;
    }
    if (a === "--") {
      onlyPositionals = true;
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
    } else {
      const long = a.length === 2 ? shorts.get(a[1]) : undefined;
      if (!long)
        throw fail(`unknown option ${quote(a)} (simdbert ${command.name} --help lists them)`);
      name = long;
    }
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec)
      throw fail(
        `unknown option ${quote("--" + name)} (simdbert ${command.name} --help lists them)`,
      );
    if (given.has(name)) throw fail(`--${name} is given twice`);
    given.add(name);
    if (spec.type === "flag") {
      if (inline !== undefined) throw fail(`--${name} takes no value, got ${quote(inline)}`);
      values[name] = true;
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      if (i + 1 >= args.length) throw fail(`--${name} needs a value (${metavar(spec)})`);
      raw = args[++i];
    }
    try {
      values[name] = convert(name, spec, raw);
    } catch (e) {
      if (e instanceof UsageError) throw fail(e.message);
      throw e;
    }
  }
  for (const [name, s] of Object.entries(specs)) {
    if (name in values) continue;
    values[name] = s.type === "flag" ? false : "default" in s ? s.default : undefined;
  }
  const positionals: Record<string, string | undefined> = {};
  const ps = command.positionals;
  const required = ps.filter((p) => !p.optional).length;
  if (rest.length < required)
    throw fail(
      `missing ${ps
        .slice(rest.length, required)
        .map((p) => p.name)
        .join(", ")}`,
    );
  if (rest.length > ps.length)
    throw fail(`unexpected argument ${quote(rest[ps.length])} (takes ${describeArity(ps)})`);
  ps.forEach((p, i) => (positionals[p.name] = rest[i]));
  return {
    help: false,
    positionals: positionals as PositionalValues<P>,
    options: values as OptionValues<O>,
  };
}

function describeArity(ps: readonly PositionalSpec[]): string {
  if (!ps.length) return "no arguments";
  return ps.map((p) => (p.optional ? `[${p.name}]` : p.name)).join(" ");
}

// ---- usage and help ---------------------------------------------------------------------------

/** `simdbert NAME ARGS [options]`, every option shown, wrapped at 100 columns. */
export function usageLine(command: Command): string {
  const parts: string[] = [];
  for (const p of command.positionals) parts.push(p.optional ? `[${p.name}]` : p.name);
  for (const [name, s] of Object.entries(command.options)) {
    const mv = metavar(s);
    parts.push(`[--${name}${mv ? " " + mv : ""}]`);
  }
  const head = `simdbert ${command.name} `;
  const lines: string[] = [];
  let line = "";
  for (const p of parts) {
    if (line && 7 + head.length + line.length + 1 + p.length > 100) {
      lines.push(line);
      line = p;
    } else line = line ? `${line} ${p}` : p;
  }
  lines.push(line);
  return head + lines.join("\n" + " ".repeat(7 + head.length));
}

function wrap(text: string, indent: number, width = 100): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line && indent + line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? line + " " + w : w;
  }
  if (line) lines.push(line);
  return lines.join("\n" + " ".repeat(indent));
}

/** The text of `simdbert NAME --help`. */
export function helpText(command: Command): string {
  const out = [`usage: ${usageLine(command)}`, "", command.summary];
  if (command.positionals.length) {
    out.push("", "arguments:");
    for (const p of command.positionals)
      out.push(`  ${p.name.padEnd(22)} ${wrap(p.help + (p.optional ? " (optional)" : ""), 25)}`);
  }
  out.push("", "options:");
  const rows: [string, string][] = [];
  for (const [name, s] of Object.entries(command.options)) {
    const mv = metavar(s);
    const left = `${s.short ? `-${s.short}, ` : ""}--${name}${mv ? " " + mv : ""}`;
    const dflt =
      s.type !== "flag" && "default" in s && s.default !== undefined
        ? ` (default: ${s.default})`
        : "";
    rows.push([left, s.help + dflt]);
  }
  rows.push(["-h, --help", "print this help and exit"]);
  for (const [left, help] of rows) {
    if (left.length < 22) out.push(`  ${left.padEnd(22)} ${wrap(help, 25)}`);
    else out.push(`  ${left}`, `  ${" ".repeat(22)} ${wrap(help, 25)}`);
  }
  if (command.details) out.push("", command.details.trim());
  return out.join("\n") + "\n";
}
