#!/usr/bin/env node
// The kernels' WebAssembly, compiled from assembly/ by AssemblyScript (targets in asconfig.json):
// build/simdbert.wasm, -relaxed, -threads and -relaxed-threads. These four files are committed,
// with build/wasm.json (the sha256 of the sources they were built from and of each file), so
// `npm install && npm test` needs no compiler: AssemblyScript pulls binaryen, ~100 MB, more than
// all the other dev tools together. The compiler has its own manifest (assembly/package.json and
// its lock, one pinned version), installed into assembly/node_modules on first use. Whenever it
// compiles the library's builds it also type-checks assembly/ with TypeScript against
// AssemblyScript's declarations (assembly/tsconfig.json; `npm run typecheck:assembly` alone), so
// an assembly/ change is type-checked by the npm test that rebuilds it, and CI checks it always.
//
//   node scripts/build-wasm.mjs             compile the four builds, write build/wasm.json
//                                           (npm run build:wasm; npm run build does this too)
//   node scripts/build-wasm.mjs --if-stale  compile only when assembly/*.ts, asconfig.json or the
//                                           compiler's version differ from build/wasm.json, or a
//                                           .wasm is not the one recorded there (npm test)
//   node scripts/build-wasm.mjs --verify    compile in memory and require the committed files to
//                                           be byte-identical to the output (.ci/run)
//   node scripts/build-wasm.mjs --bench     the bench's peak probes (build/bench-peak*.wasm, not
//                                           committed)
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureDeps } from "./deps.mjs";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const STAMP = "build/wasm.json";
/** The library's builds (asconfig.json targets): entry point and the file each writes. */
const LIBRARY = ["release", "relaxed", "threads", "relaxed-threads"];
const BENCH = ["bench-peak", "bench-peak-relaxed"];
const ENTRY = { library: "assembly/index.ts", bench: "assembly/bench_peak.ts" };

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const read = (path) => readFileSync(join(REPO, path));

function compilerVersion() {
  const lock = JSON.parse(read("assembly/package-lock.json"));
  return `assemblyscript@${lock.packages["node_modules/assemblyscript"].version}`;
}

/** sha256 over every input of the build: assembly/*.ts, asconfig.json, the compiler's version. */
function sourcesHash() {
  const h = createHash("sha256");
  const files = readdirSync(join(REPO, "assembly"))
    .filter((f) => f.endsWith(".ts"))
    .sort()
    .map((f) => `assembly/${f}`);
  for (const f of [...files, "asconfig.json"]) {
    const text = read(f).toString("utf8").replace(/\r\n/g, "\n");
    h.update(`${f}\0${text.length}\0${text}\0`);
  }
  h.update(compilerVersion());
  return h.digest("hex");
}

function outFile(target) {
  const config = JSON.parse(read("asconfig.json"));
  const out = config.targets[target]?.outFile;
  if (!out) throw new Error(`asconfig.json has no target ${target} with an outFile`);
  return out;
}

/**
 * Compiles the targets with the pinned compiler; returns Map(outFile -> bytes). inMemory: the
 * files are captured instead of written (nothing under build/ changes).
 */
async function compile(targets, entry, { inMemory = false } = {}) {
  ensureDeps("assembly");
  const asc = await import(
    pathToFileURL(join(REPO, "assembly/node_modules/assemblyscript/dist/asc.js")).href
  );
  const outputs = new Map();
  const cwd = process.cwd();
  process.chdir(REPO); // asc reads asconfig.json and resolves paths from the working directory
  try {
    for (const target of targets) {
      const want = outFile(target);
      const log = [];
      const stream = { write: (s) => (log.push(String(s)), true) };
      const { error } = await asc.main([entry, "--target", target], {
        stdout: stream,
        stderr: stream,
        writeFile: (name, contents, baseDir) => {
          const path = relative(REPO, join(baseDir, name));
          const bytes = typeof contents === "string" ? Buffer.from(contents) : contents;
          if (path === want) outputs.set(path, Buffer.from(bytes));
          if (inMemory) return;
          mkdirSync(dirname(join(REPO, path)), { recursive: true });
          writeFileSync(join(REPO, path), bytes);
        },
      });
      if (error)
        throw new Error(`asc ${entry} --target ${target}: ${error.message}\n${log.join("")}`);
      if (!outputs.has(want)) throw new Error(`asc --target ${target} wrote no ${want}`);
    }
  } finally {
    process.chdir(cwd);
  }
  return outputs;
}

/** tsc on assembly/tsconfig.json (AssemblyScript's declarations from assembly/node_modules). */
function typecheck() {
  ensureDeps("assembly");
  const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", "assembly/tsconfig.json", "--noEmit"], {
    cwd: REPO,
    stdio: "inherit",
  });
  if (r.status !== 0) throw new Error("build-wasm: assembly/ does not type-check (tsc above)");
}

function stampFor(outputs) {
  return {
    comment:
      "written by scripts/build-wasm.mjs: the inputs of the committed .wasm files and their sha256; npm test rebuilds when they differ",
    compiler: compilerVersion(),
    sources: sourcesHash(),
    files: Object.fromEntries([...outputs].map(([f, b]) => [f, sha256(b)])),
  };
}

/** Why the committed builds do not match the sources (null when they do). */
function staleness() {
  if (!existsSync(join(REPO, STAMP))) return `${STAMP} is missing`;
  const stamp = JSON.parse(read(STAMP));
  if (stamp.compiler !== compilerVersion())
    return `the compiler is ${compilerVersion()}, build/ was made by ${stamp.compiler}`;
  if (stamp.sources !== sourcesHash()) return "assembly/ or asconfig.json changed since the build";
  for (const target of LIBRARY) {
    const f = outFile(target);
    if (!existsSync(join(REPO, f))) return `${f} is missing`;
    if (stamp.files?.[f] !== sha256(read(f))) return `${f} is not the build recorded in ${STAMP}`;
  }
  return null;
}

async function build() {
  typecheck();
  const outputs = await compile(LIBRARY, ENTRY.library);
  writeFileSync(join(REPO, STAMP), JSON.stringify(stampFor(outputs), null, 2) + "\n");
  for (const [f, b] of outputs)
    console.log(`build-wasm: ${f} ${b.length} B ${sha256(b).slice(0, 12)}`);
}

async function main(args) {
  if (args.includes("--verify")) {
    const why = staleness();
    if (why)
      throw new Error(`build-wasm --verify: ${why} (run npm run build:wasm and commit build/)`);
    typecheck();
    const outputs = await compile(LIBRARY, ENTRY.library, { inMemory: true });
    const differ = [...outputs].filter(([f, b]) => !b.equals(read(f))).map(([f]) => f);
    if (differ.length)
      throw new Error(
        `build-wasm --verify: the committed ${differ.join(", ")} differ from what ${compilerVersion()} compiles from assembly/`,
      );
    console.log(
      `build-wasm --verify: assembly/ type-checks; ${outputs.size} committed .wasm files are byte-identical to a fresh ${compilerVersion()} build`,
    );
  } else if (args.includes("--if-stale")) {
    const why = staleness();
    if (!why) return;
    console.log(`build-wasm: rebuilding build/*.wasm: ${why}`);
    await build();
    console.log(
      "build-wasm: build/*.wasm and build/wasm.json changed: commit them with the assembly/ change",
    );
  } else if (args.includes("--bench")) {
    const outputs = await compile(BENCH, ENTRY.bench);
    for (const [f, b] of outputs) console.log(`build-wasm: ${f} ${b.length} B`);
  } else if (args.length === 0) {
    await build();
  } else {
    throw new Error(
      `build-wasm: unknown arguments ${args.join(" ")} (--if-stale, --verify, --bench)`,
    );
  }
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
