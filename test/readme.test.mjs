// The README's code: every ```js / ```ts snippet compiles as TypeScript under --strict against the
// package's published types (dist/*.d.ts through package.json "exports"), so the documented
// calls exist and their results have the documented fields (out.last_hidden_state, ...).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

test("README snippets compile with tsc --strict against the published types", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const snippets = [...readme.matchAll(/```(?:js|ts)\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(snippets.length >= 2, `found ${snippets.length} snippets`);
  const dir = mkdtempSync(join(tmpdir(), "simdbert-readme-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(root, join(dir, "node_modules", "simdbert"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    const files = snippets.map((code, i) => {
      const name = `snippet${i}.ts`;
      // each snippet is a module of its own (top-level await, no shared names)
      writeFileSync(join(dir, name), `${code}\nexport {};\n`);
      return name;
    });
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["es2022", "dom"],
          // the published .d.ts name node:fs types (dist/loading/files.d.ts): a consumer needs @types/node
          types: ["node"],
          typeRoots: [join(root, "node_modules", "@types")],
        },
        files,
      }),
    );
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const args = ["-p", "tsconfig.json"];
    try {
      execFileSync(process.execPath, [tsc, ...args], { cwd: dir, encoding: "utf8" });
    } catch (e) {
      assert.unreachable(`tsc --strict on the README's snippets:\n${e.stdout}${e.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
