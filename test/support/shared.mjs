// Access to ../shared (reference cases, vocab files). Tests that need it fail with a clear message
// when it is missing: it is never copied into the project.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BufferSource, readTensor } from "../../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
export const SHARED = resolve(here, "..", "..", "..", "shared");

export function sharedPath(...parts) {
  const p = join(SHARED, ...parts);
  if (!existsSync(p)) {
    throw new Error(
      `missing ${p}: these tests read the shared reference material from ../shared beside the project ` +
        `(fixtures/bert, fixtures/tokenizer, fixtures/vocab); it is not part of the repository`,
    );
  }
  return p;
}

/** Every reference case directory under ../shared/fixtures/bert. */
export function bertCases() {
  const root = sharedPath("fixtures", "bert");
  return readdirSync(root)
    .filter((d) => statSync(join(root, d)).isDirectory())
    .sort()
    .map((name) => ({
      name,
      dir: join(root, name),
      meta: JSON.parse(readFileSync(join(root, name, "inputs.json"), "utf8")),
    }));
}

/** name -> { shape, data } of an F32 safetensors file. */
export function readSafetensorsFile(path) {
  const bytes = new Uint8Array(readFileSync(path));
  const src = new BufferSource(bytes);
  const out = new Map();
  for (const name of src.header.tensors.keys()) out.set(name, readTensor(bytes, src.header, name));
  return out;
}

export function maxAbsDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i] - b[i]);
    if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x;
  }
  return d;
}
