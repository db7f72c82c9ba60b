// The package as a user gets it: `npm pack`, the tarball installed into a scratch project, then
//  1. tsc --strict on consumer.ts (the documented usage) under nodenext, bundler and node10
//     resolution, and with `--lib es2022` (a Node-only project: no DOM types);
//  2. every ```js snippet of README.md run with node in that project (the model paths replaced by
//     a small shared fixture model with a generated vocab);
//  3. require("simdbert") from CommonJS: it works where Node loads ES modules from require
//     (20.19+, 22.12+), else Node's own ERR_REQUIRE_ESM message (not ERR_PACKAGE_PATH_NOT_EXPORTED).
// Run by `npm run test:consumer` and .ci/run, after a build. No network: the tarball has no
// dependencies; TypeScript and @types/node are this repository's.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const HERE = fileURLToPath(new URL(".", import.meta.url));
const TSC = join(REPO, "node_modules", "typescript", "bin", "tsc");
const FIXTURE = join(REPO, "..", "shared", "fixtures", "bert", "a_tiny_encoder");
const keep = process.argv.includes("--keep");

const root = mkdtempSync(join(tmpdir(), "simdbert-consumer-"));
let failed = 0;
const report = (name, ok, detail = "") => {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? `\n${detail}` : ""}`);
  if (!ok) failed++;
};

try {
  // the tarball, as npm publish would make it (the build is the one on disk)
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", root], {
      cwd: REPO,
      encoding: "utf8",
    }),
  )[0];
  const tgz = join(root, packed.filename);
  const published = new Set(packed.files.map((f) => f.path));
  for (const f of ["LICENSE", "README.md", "package.json", "dist/index.d.ts", "types/wasm.d.ts"])
    report(`tarball holds ${f}`, published.has(f));
  const pkg = JSON.parse(
    execFileSync("tar", ["-xOzf", tgz, "package/package.json"], { encoding: "utf8" }),
  );
  report(
    "published package.json has no prepare / install scripts",
    !["prepare", "install", "postinstall", "preinstall"].some((s) => pkg.scripts?.[s]),
  );
  report(
    "published package.json has repository, homepage, keywords",
    !!(pkg.repository && pkg.homepage && pkg.keywords?.length),
  );

  // the scratch project
  const project = join(root, "project");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({
      name: "consumer",
      private: true,
      type: "module",
      dependencies: { simdbert: `file:${tgz}` },
    }),
  );
  // a user's shell: none of this repository's own npm settings (npm run exports them as
  // npm_config_* variables, which name this repository's prefix and settings)
  const userEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)),
  );
  const install = spawnSync("npm", ["install", "--offline", "--no-audit", "--no-fund"], {
    cwd: project,
    encoding: "utf8",
    env: userEnv,
  });
  report("npm install of the tarball", install.status === 0, install.status ? install.stderr : "");
  const warnings = (install.stderr || "").split("\n").filter((l) => /npm warn/i.test(l));
  report("npm install prints no warnings", warnings.length === 0, warnings.join("\n"));
  copyFileSync(join(HERE, "consumer.ts"), join(project, "consumer.ts"));

  // 1. types
  const base = {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    typeRoots: [join(REPO, "node_modules", "@types")],
    types: ["node"],
    target: "es2022",
  };
  const configs = {
    nodenext: { module: "nodenext", moduleResolution: "nodenext", lib: ["es2022", "dom"] },
    bundler: { module: "esnext", moduleResolution: "bundler", lib: ["es2022", "dom"] },
    node10: { module: "es2022", moduleResolution: "node10", lib: ["es2022", "dom"] },
    "nodenext, lib es2022 (no DOM)": {
      module: "nodenext",
      moduleResolution: "nodenext",
      lib: ["es2022"],
    },
  };
  for (const [name, options] of Object.entries(configs)) {
    const file = join(
      project,
      `tsconfig.${name.split(/[ ,]/)[0]}.${Object.keys(configs).indexOf(name)}.json`,
    );
    writeFileSync(
      file,
      JSON.stringify({ compilerOptions: { ...base, ...options }, files: ["consumer.ts"] }),
    );
    const r = spawnSync(process.execPath, [TSC, "-p", file], { cwd: project, encoding: "utf8" });
    report(`tsc --strict, ${name}`, r.status === 0, r.stdout + r.stderr);
  }

  // 2. README snippets
  const model = join(root, "model");
  mkdirSync(model);
  for (const f of ["config.json", "model.safetensors"])
    copyFileSync(join(FIXTURE, f), join(model, f));
  const config = JSON.parse(readFileSync(join(FIXTURE, "config.json"), "utf8"));
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  for (let i = 5; i < config.vocab_size; i++) vocab.push(`w${i}`);
  writeFileSync(join(model, "vocab.txt"), vocab.join("\n") + "\n");
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const snippets = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  report("README has js snippets", snippets.length > 0);
  snippets.forEach((code, i) => {
    const file = join(project, `snippet${i}.mjs`);
    writeFileSync(file, code.replace(/"path\/to\/[^"]*"/g, JSON.stringify(model)));
    const r = spawnSync(process.execPath, [file], {
      cwd: project,
      encoding: "utf8",
      timeout: 120_000,
    });
    const first = code.split("\n").find((l) => l.trim() && !l.startsWith("//")) ?? "";
    report(
      `README snippet ${i + 1} (${first.trim().slice(0, 60)})`,
      r.status === 0,
      r.status ? r.stderr : "",
    );
  });

  // 3. require("simdbert")
  writeFileSync(
    join(project, "req.cjs"),
    'const s = require("simdbert"); console.log(typeof s.BertModel);',
  );
  const r = spawnSync(process.execPath, ["req.cjs"], { cwd: project, encoding: "utf8" });
  const works = r.status === 0 && r.stdout.trim() === "function";
  report(
    `require("simdbert") (Node ${process.versions.node})`,
    works || /ERR_REQUIRE_ESM/.test(r.stderr),
    works ? "" : r.stderr.split("\n").slice(0, 6).join("\n"),
  );
} finally {
  if (keep) console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
console.log(`consumer: ${failed ? `${failed} failed` : "all passed"}`);
process.exit(failed ? 1 : 0);
