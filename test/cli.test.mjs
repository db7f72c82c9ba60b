// The command line as a user meets it: --help (exit 0) and --version, every option in the usage,
// each value checked before the model is loaded (the model here has no weights file, so any
// message about the option proves it came first), one "simdbert:" prefix, paths named, a quiet
// exit when the reader of stdout goes away.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bertCases } from "./support/shared.mjs";
import { COMMANDS } from "../dist/cli/commands.js";
import { helpText, parseArgs } from "../dist/cli/options.js";

const CLI = join(process.cwd(), "dist", "cli", "main.js");
const run = (args, input = "") =>
  spawnSync(process.execPath, [CLI, ...args], { input, encoding: "utf8" });

const tmp = mkdtempSync(join(tmpdir(), "simdbert-cli-"));
// a model directory with a config (max_position_embeddings 64) and a vocab but no weights
const noWeights = join(tmp, "no-weights");
// the shared tiny encoder with a vocab: a model that loads
const model = join(tmp, "model");
{
  const c = bertCases().find((x) => x.name === "a_tiny_encoder");
  const config = JSON.parse(readFileSync(join(c.dir, "config.json"), "utf8"));
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  for (let i = 5; i < config.vocab_size; i++) vocab.push(`w${i}`);
  for (const dir of [noWeights, model]) {
    spawnSync("mkdir", ["-p", dir]);
    writeFileSync(
      join(dir, "config.json"),
      JSON.stringify({ ...config, max_position_embeddings: 64 }),
    );
    writeFileSync(join(dir, "vocab.txt"), vocab.join("\n") + "\n");
  }
  writeFileSync(join(model, "model.safetensors"), readFileSync(join(c.dir, "model.safetensors")));
}

test("--help for simdbert and every command: exit 0, every option listed", () => {
  const top = run(["--help"]);
  assert.is(top.status, 0);
  const names = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
  assert.ok(names.includes("embed") && names.includes("tokenize") && names.includes("forward"));
  assert.is(run([]).status, 0);
  assert.equal(names.sort(), COMMANDS.map((c) => c.name).sort());
  // in this process (each spawn costs a second on a loaded machine): -h anywhere asks for help
  for (const c of COMMANDS) {
    for (const args of [["--help"], ["-h"], ["X", "--help"], ["--bogus", "-h"]])
      assert.ok(parseArgs(c, args).help, `${c.name} ${args.join(" ")}`);
  }
  const r = run(["tokenize", "--help"]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: simdbert tokenize TOKENIZER/);
  assert.is(run(["help", "tokenize"]).stdout, r.stdout);
  const embed = run(["embed", "--help"]).stdout;
  const usage = embed.slice(0, embed.indexOf("\n\n"));
  for (const o of [
    "--pooling",
    "--normalize",
    "--input",
    "--out",
    "--batch-size",
    "--max-length",
    "--threads",
  ])
    assert.ok(usage.includes(o), `${o} missing from embed's usage`);
  assert.match(embed, /stdin/);
});

test("--version prints package.json's version", () => {
  const { version } = JSON.parse(readFileSync("package.json", "utf8"));
  for (const flag of ["--version", "-V"]) {
    const r = run([flag]);
    assert.is(r.status, 0);
    assert.is(r.stdout, version + "\n");
  }
});

test("embed: bad values are refused before loading, naming the option", async () => {
  const cases = [
    [["--max-length", "0"], /--max-length must be at least 2, got 0/],
    [["--max-length", "abc"], /--max-length must be an integer, got "abc"/],
    [["--max-length", "1.5"], /--max-length must be an integer/],
    [
      ["--max-length", "100000"],
      /--max-length 100000 is beyond the model's max_position_embeddings \(64\)/,
    ],
    [["--max-length", "65"], /--max-length 65 is beyond/],
    [["--max-length"], /--max-length needs a value/],
    [["--batch-size", "0"], /--batch-size must be at least 1/],
    [["--batch-size", "-3"], /--batch-size must be at least 1/],
    [["--threads", "0"], /--threads must be at least 1 or auto/],
    [["--threads", "many"], /--threads must be an integer or auto, got "many"/],
    [["--pooling", "avg"], /--pooling must be one of cls, max, mean, mean_sqrt_len, got "avg"/],
    [["--out", join(tmp, "e.txt")], /--out writes a \.npy file/],
    [["--out", join(tmp, "nodir", "e.npy")], /--out: the directory of .* does not exist/],
    [["--input", tmp], new RegExp(`--input: "${tmp}" is a directory`)],
    [["--input", join(tmp, "absent.txt")], /--input: no such file/],
    [["--normalize=yes"], /--normalize takes no value/],
    [["--normalise"], /unknown option "--normalise"/],
    [["--pooling", "cls", "--pooling", "mean"], /--pooling is given twice/],
    [["extra"], /unexpected argument "extra"/],
  ];
  const embed = COMMANDS.find((c) => c.name === "embed");
  const refusal = async (args) => {
    try {
      const p = parseArgs(embed, args);
      await embed.run(p.positionals, p.options);
    } catch (e) {
      assert.is(e.name, "UsageError", `${args.join(" ")}: ${e.stack}`);
      return e.message;
    }
    assert.unreachable(`${args.join(" ")} was accepted`);
  };
  for (const [args, re] of cases)
    assert.match(await refusal([noWeights, ...args]), re, args.join(" "));
  // a file as MODEL, a missing MODEL
  assert.match(await refusal([join(noWeights, "config.json")]), /MODEL: .* is a file/);
  // no MODEL is not an error: embed then uses the default hub model (all-MiniLM-L6-v2)
  assert.match(helpText(embed), /simdbert embed \[MODEL\]/);
  // the process: exit 2, one prefix, the usage line, nothing on stdout
  const r = run(["embed", noWeights, "--max-length", "0"], "w5\n");
  assert.is(r.status, 2, r.stderr);
  assert.match(
    r.stderr,
    /^simdbert: --max-length must be at least 2, got 0\nusage: simdbert embed/,
  );
  assert.is(r.stdout, "");
  assert.match(run(["frob"]).stderr, /unknown command "frob"/);
  // values that pass: --flag=value, "auto"
  const ok = run(
    ["embed", model, "--max-length=8", "--threads", "auto", "--batch-size", "1"],
    "w5 w6\nw7\n",
  );
  assert.is(ok.status, 0, ok.stderr);
  assert.is(ok.stdout.trim().split("\n").length, 2);
});

test("errors: one prefix, paths named (EISDIR)", () => {
  // the weights missing: the loader's error, printed once with one prefix
  const r = run(["embed", noWeights], "w5\n");
  assert.is(r.status, 1);
  assert.match(r.stderr, /^simdbert: /);
  assert.not.match(r.stderr, /simdbert: simdbert:/);
  // forward: a directory as REQUEST.json or OUT.safetensors
  const req = run(["forward", model, tmp, join(tmp, "o.safetensors")]);
  assert.is(req.status, 2);
  assert.match(req.stderr, new RegExp(`REQUEST\\.json: "${tmp}" is a directory`));
  writeFileSync(
    join(tmp, "req.json"),
    JSON.stringify({ forward_kwargs: { input_ids: [[2, 5, 3]] } }),
  );
  const out = run(["forward", model, join(tmp, "req.json"), tmp]);
  assert.is(out.status, 2);
  assert.match(out.stderr, new RegExp(`OUT\\.safetensors: "${tmp}" is a directory`));
  const good = run(["forward", model, join(tmp, "req.json"), join(tmp, "o.safetensors")]);
  assert.is(good.status, 0, good.stderr);
  assert.is(run(["forward", model]).status, 2);
});

/** Runs the CLI with stdout into a pipe whose reader closes after `bytes` bytes. */
function closedPipe(args, input, bytes) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let got = 0;
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    p.stdout.on("data", (d) => {
      got += d.length;
      if (got >= bytes) p.stdout.destroy();
    });
    p.on("close", (code) => resolve({ code, err }));
    p.stdin.on("error", () => {}); // the command may leave before reading all its input
    p.stdin.end(input);
  });
}

test("a closed pipe ends the command quietly (exit 0)", async () => {
  const texts = "w5 w6 w7 w8\n".repeat(600);
  const e = await closedPipe(["embed", model], texts, 100);
  assert.is(e.code, 0, e.err);
  assert.is(e.err, "");
  const requests = (JSON.stringify({ call: { text: "w5 w6" } }) + "\n").repeat(12000);
  const t = await closedPipe(["tokenize", model], requests, 100);
  assert.is(t.code, 0, t.err);
  assert.is(t.err, "");
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
