// The source tree's architecture: modules import one way only, down a fixed order of layers, and
// no import cycle exists (type-only imports included: they are part of how a reader follows the
// code). A module may import from its own layer or any layer below it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Layers, lowest first: a path prefix (relative to src/) per entry; the first match wins. */
const LAYERS = [
  ["errors.ts", "messages.ts", "tensor.ts", "callable.ts", "options.ts", "env.ts"],
  ["runtime/"],
  ["safetensors.ts", "config.ts"],
  ["quant/"],
  ["loading/"],
  ["tokenizer/"],
  ["models/"],
  ["pipeline/", "auto.ts"],
  ["serve/", "cli/"],
  ["index.ts"],
];

function layerOf(file) {
  const i = LAYERS.findIndex((prefixes) => prefixes.some((p) => file.startsWith(p)));
  return i < 0 ? null : i;
}

function sources(dir = SRC) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") ? [relative(SRC, path).replaceAll("\\", "/")] : [];
  });
}

/** The project files a module imports (static imports and re-exports, type-only included). */
function importsOf(file) {
  const text = readFileSync(join(SRC, file), "utf8");
  const out = new Set();
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)) {
    const target = relative(SRC, resolve(dirname(join(SRC, file)), m[1])).replaceAll("\\", "/");
    out.add(target.replace(/\.js$/, ".ts"));
  }
  return [...out];
}

const files = sources();
const graph = new Map(files.map((f) => [f, importsOf(f)]));

test("every source file belongs to a layer", () => {
  const stray = files.filter((f) => layerOf(f) === null);
  assert.equal(stray, [], `files outside every layer: ${stray.join(", ")}`);
  assert.ok(files.length > 20, `found ${files.length} files`);
});

test("imports go down the layers only", () => {
  const bad = [];
  for (const [f, deps] of graph) {
    for (const d of deps) {
      if (!graph.has(d)) bad.push(`${f} imports ${d}, which does not exist`);
      else if (layerOf(d) > layerOf(f))
        bad.push(`${f} (${LAYERS[layerOf(f)]}) imports ${d} (${LAYERS[layerOf(d)]})`);
    }
  }
  assert.equal(bad, [], bad.join("\n"));
});

/** Cycles that exist and are to be removed by their owners (none now; listed so none slips in). */
const KNOWN_CYCLES = new Set([]);

test("no import cycles (besides the known ones, listed above: none today)", () => {
  const state = new Map(); // 1: on the stack, 2: done
  const cycles = [];
  const visit = (f, stack) => {
    state.set(f, 1);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 1) cycles.push([...stack.slice(stack.indexOf(d)), d].join(" -> "));
      else if (!state.has(d)) visit(d, [...stack, d]);
    }
    state.set(f, 2);
  };
  for (const f of files) if (!state.has(f)) visit(f, [f]);
  const fresh = cycles.filter((c) => !KNOWN_CYCLES.has(c));
  assert.equal(fresh, [], fresh.join("\n"));
});

test.run();
