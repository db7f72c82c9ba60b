// The check context for runtimes with node:fs (Node, Deno, Bun): the model is loaded from its
// directory path, the way a server-side user would.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/** Default fixture root: ../shared/fixtures/bert beside the repository. */
export const DEFAULT_FIXTURES = fileURLToPath(
  new URL("../../../shared/fixtures/bert/", import.meta.url),
);

/** Reads `--fixtures DIR` and `--runs N` from an argument list. */
export function parseArgs(args) {
  const opts = { fixtures: DEFAULT_FIXTURES, runs: undefined };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--fixtures") opts.fixtures = args[++i];
    else if (args[i] === "--runs") opts.runs = Number(args[++i]);
    else throw new Error(`unknown argument ${args[i]}`);
  }
  return opts;
}

export function fsContext(lib, { fixtures, runs }) {
  const dir = (c) => fixtures.replace(/\/+$/, "") + "/" + c;
  return {
    lib,
    runs,
    source: (c) => dir(c),
    files: async (c, name) => {
      try {
        return new Uint8Array(await readFile(dir(c) + "/" + name));
      } catch (e) {
        if (e && e.code === "ENOENT") return null;
        throw e;
      }
    },
  };
}
