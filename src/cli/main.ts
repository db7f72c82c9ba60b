#!/usr/bin/env node
// simdbert's command line: the commands are in commands.ts, each declared with its options through
// options.ts. Here: dispatch, --help / --version, error printing (one "simdbert:" prefix, usage
// errors with the command's usage line, exit 2) and a quiet exit when the reader of stdout goes
// away (`simdbert embed ... | head`), as Unix tools do.
import { readFileSync } from "node:fs";
import { COMMANDS } from "./commands.js";
import { UsageError, helpText, parseArgs, usageLine } from "./options.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "usage: simdbert COMMAND [ARGS] [OPTIONS]",
    "",
    "BERT inference in WebAssembly SIMD with Hugging Face's numbers.",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "  simdbert COMMAND --help   the command's arguments and options",
    "  simdbert --version        the version",
    "",
  ].join("\n");
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    const about = name === "help" && rest[0] ? COMMANDS.find((c) => c.name === rest[0]) : null;
    process.stdout.write(about ? helpText(about) : overview());
    return;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    process.stdout.write(version() + "\n");
    return;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command)
    throw new UsageError(
      `unknown command ${JSON.stringify(name)} (commands: ${COMMANDS.map((c) => c.name).join(", ")})`,
    );
  const parsed = parseArgs(command, rest);
  if (parsed.help) {
    process.stdout.write(helpText(command));
    return;
  }
  await command.run(parsed.positionals, parsed.options);
}

/** The message of an error, once prefixed; system errors name their path. */
export function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const sys = e as NodeJS.ErrnoException;
  let msg = e.message.replace(/^(simdbert: )+/, "");
  if (
    typeof sys.code === "string" &&
    /^E[A-Z]+$/.test(sys.code) &&
    sys.path &&
    !msg.includes(sys.path)
  )
    msg = `${sys.path}: ${msg}`;
  else if (sys.code === "EISDIR" && !sys.path)
    msg = `a directory was given where a file is read (${msg})`;
  const name =
    e.name && e.name !== "Error" && e.name !== "UsageError" && !sys.code ? e.name + ": " : "";
  return `simdbert: ${name}${msg}`;
}

// a closed pipe is the reader saying it has enough: leave quietly, as head's writers do
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if ((e as NodeJS.ErrnoException)?.code === "EPIPE") process.exit(0);
  let text = describe(e) + "\n";
  if (e instanceof UsageError) {
    const command = COMMANDS.find((c) => c.name === e.command);
    text += command
      ? `usage: ${usageLine(command)}\n(simdbert ${command.name} --help for details)\n`
      : "(simdbert --help lists the commands)\n";
  }
  process.stderr.write(text);
  // exit now: a model's worker threads would otherwise keep the process alive
  process.exit(e instanceof UsageError ? 2 : 1);
});
