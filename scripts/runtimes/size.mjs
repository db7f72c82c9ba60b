// Published-size report: what `npm pack` would ship (tarball size, unpacked size, files) and the
// kernels' .wasm (raw and gzipped). Goal: the packed tarball under 150 KB.
//   node scripts/runtimes/size.mjs [--json] [--check]   (--check: exit 1 over the goal)
// Uses `npm pack --dry-run --ignore-scripts`, so it measures the current build/ and dist/
// without rebuilding (run `npm run build` first).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const GOAL = 150 * 1024;
const args = process.argv.slice(2);

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const raw = execFileSync(npm, ["pack", "--dry-run", "--json", "--ignore-scripts"], {
  cwd: REPO,
  encoding: "utf8",
  stdio: ["ignore", "pipe", "pipe"],
});
const pack = JSON.parse(raw.slice(raw.indexOf("[")))[0];

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const wasm = pack.files
  .filter((f) => f.path.endsWith(".wasm"))
  .map((f) => ({
    path: f.path,
    size: f.size,
    gzip: gzipSync(readFileSync(REPO + f.path), { level: 9 }).length,
  }));
const groups = {};
for (const f of pack.files) {
  const g = f.path.endsWith(".d.ts")
    ? "dist/**/*.d.ts"
    : f.path.startsWith("dist/")
      ? "dist/**/*.js"
      : f.path;
  groups[g] = (groups[g] ?? 0) + f.size;
}
const report = {
  name: pack.name,
  version: pack.version,
  tarball: pack.filename,
  packed: pack.size,
  unpacked: pack.unpackedSize,
  files: pack.entryCount,
  wasm,
  goal: GOAL,
  withinGoal: pack.size <= GOAL,
};

if (args.includes("--json")) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(
    `${pack.name}@${pack.version}: npm pack tarball ${kb(pack.size)} (${pack.size} B), unpacked ${kb(pack.unpackedSize)}, ${pack.entryCount} files`,
  );
  const w0 = Math.max(...Object.keys(groups).map((g) => g.length));
  for (const w of wasm)
    console.log(`  ${w.path.padEnd(w0)} ${kb(w.size).padStart(9)}  (${kb(w.gzip)} gzipped)`);
  for (const [g, n] of Object.entries(groups).sort((a, b) => b[1] - a[1])) {
    if (!g.endsWith(".wasm")) console.log(`  ${g.padEnd(w0)} ${kb(n).padStart(9)}`);
  }
  console.log(`goal < ${kb(GOAL)} packed: ${report.withinGoal ? "met" : "NOT MET"}`);
}
if (args.includes("--check") && !report.withinGoal) process.exitCode = 1;
