#!/usr/bin/env node
// Prettier for the AssemblyScript kernels. AssemblyScript puts decorators on functions
// (`@inline function`), which is not TypeScript syntax, so Prettier cannot parse assembly/ as is:
// each decorator is masked as a comment, the file formatted with the project's settings, and the
// decorator restored. `node scripts/format-assembly.mjs --check` (in npm run lint) or `--write`.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as prettier from "prettier";

const DIR = new URL("../assembly/", import.meta.url).pathname;
const MASK = /^(\s*)@(inline|global|lazy|unsafe|final|unmanaged)\b /gm;
const UNMASK = /\/\*@(inline|global|lazy|unsafe|final|unmanaged)\*\/ /g;

const write = process.argv.includes("--write");
const options = { ...(await prettier.resolveConfig(join(DIR, "index.ts"))), parser: "typescript" };
const unformatted = [];
for (const name of readdirSync(DIR)
  .filter((f) => f.endsWith(".ts"))
  .sort()) {
  const path = join(DIR, name);
  const text = readFileSync(path, "utf8");
  const masked = text.replace(MASK, "$1/*@$2*/ ");
  const formatted = (await prettier.format(masked, { ...options, filepath: path })).replace(
    UNMASK,
    "@$1 ",
  );
  if (formatted === text) continue;
  if (write) writeFileSync(path, formatted);
  else unformatted.push(`assembly/${name}`);
}
if (unformatted.length) {
  console.error(
    `not formatted (run: node scripts/format-assembly.mjs --write):\n  ${unformatted.join("\n  ")}`,
  );
  process.exit(1);
}
