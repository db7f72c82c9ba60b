// The CLI's download progress bar, for real under a pseudo-terminal (util-linux's `script`, which
// gives the command a pty for stdin, stdout and stderr) against a hub of our own on 127.0.0.1:
// on a terminal each file's bar is redrawn in place and ended; with stderr piped or redirected to
// a file there is no bar at all, and stdout is only the snapshot folder.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { writeSafetensors } from "../dist/index.js";
import { TINY, encoderShapes, randomTensors } from "./support/random_model.mjs";
import { startHub } from "./support/hub_server.mjs";

const MAIN = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const c = { ...TINY, vocab_size: 12, hidden_size: 64, intermediate_size: 96 };
const weights = writeSafetensors(randomTensors(encoderShapes(c), 5));
const FILES = {
  "config.json": JSON.stringify(c),
  "vocab.txt": "[PAD] [UNK] [CLS] [SEP] [MASK] a b c d e f g".split(" ").join("\n"),
  "model.safetensors": weights,
};
const COMMIT = "00112233445566778899aabbccddeeff00112233";
const hasScript = spawnSync("script", ["--version"]).status === 0;
const sh = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

const run = (cmd, args, env = {}) =>
  new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, TERM: "xterm", ...env } });
    let stdout = "",
      stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => resolve({ code, stdout, stderr }));
  });

test(`simdbert download: a bar on a terminal (script from util-linux${hasScript ? "" : ": NOT INSTALLED, fails"}), none when stderr is not one`, async () => {
  assert.ok(hasScript, "util-linux's script is needed (apt-get install util-linux)");
  const hub = await startHub({ "org/tiny": { files: FILES, commit: COMMIT } });
  // the weights arrive in 8 slices 120 ms apart: several frames of one bar
  hub.faults.set(createHash("sha256").update(weights).digest("hex"), { slowMs: 120 });
  const dirs = [];
  const cache = () => (dirs.push(mkdtempSync(join(tmpdir(), "simdbert-tty-"))), dirs.at(-1));
  const cmd = (dir) =>
    [process.execPath, MAIN, "download", "org/tiny", "--endpoint", hub.url, "--cache-dir", dir]
      .map(sh)
      .join(" ");
  try {
    // four runs at once (each CLI process spends most of its time starting and exiting):
    // a terminal; stderr redirected to a file under a terminal; pipes only; TERM=dumb
    const [d1, d2, d3, d4] = [cache(), cache(), cache(), cache()];
    const errFile = join(d2, "stderr.txt");
    const [tty, redirected, piped, dumb] = await Promise.all([
      run("script", ["-qfec", cmd(d1), "/dev/null"]),
      run("script", ["-qfec", `${cmd(d2)} 2>${sh(errFile)}`, "/dev/null"]),
      run(process.execPath, [
        MAIN,
        "download",
        "org/tiny",
        "--endpoint",
        hub.url,
        "--cache-dir",
        d3,
      ]),
      run("script", ["-qfec", cmd(d4), "/dev/null"], { TERM: "dumb" }),
    ]);
    const snapshot = (d) => join(d, "models--org--tiny", "snapshots", COMMIT);

    // the terminal: everything the command writes comes through the pty
    assert.is(tty.code, 0, tty.stdout + tty.stderr);
    const ERASE = "\x1b[K"; // erase to the end of the line
    const raw = tty.stdout.split("\r").filter((f) => f.startsWith("model.safetensors "));
    assert.ok(raw.every((f) => f.endsWith(ERASE)));
    const frames = raw.map((f) => f.slice(0, -ERASE.length));
    assert.ok(
      frames.length >= 3,
      `several frames of the weights' bar: ${JSON.stringify(tty.stdout)}`,
    );
    const pct = frames.map((f) => Number(/^model\.safetensors +(\d+)%/.exec(f)?.[1]));
    assert.ok(
      pct.every((p, i) => i === 0 || p >= pct[i - 1]),
      `growing: ${pct}`,
    );
    assert.is(pct.at(-1), 100);
    assert.match(frames.at(-1), /\[#{30}\] [\d.]+\/[\d.]+ kB$/);
    assert.ok(tty.stdout.includes(`\rmodel.safetensors: done${ERASE}`));
    assert.match(tty.stdout, /\rconfig\.json: done/);
    assert.ok(tty.stdout.trimEnd().endsWith(snapshot(d1)), "then the folder");

    // stderr to a file, stdout still the terminal: no bar in the file nor on the terminal
    assert.is(redirected.code, 0, redirected.stdout);
    assert.is(readFileSync(errFile, "utf8"), "");
    assert.is(redirected.stdout.trim(), snapshot(d2));

    // pipes (no terminal at all): stdout is exactly the folder, stderr empty
    assert.is(piped.code, 0, piped.stderr);
    assert.is(piped.stdout, snapshot(d3) + "\n");
    assert.is(piped.stderr, "");

    // TERM=dumb on a terminal: no bar either
    assert.is(dumb.code, 0, dumb.stdout);
    assert.is(dumb.stdout.trim(), snapshot(d4));
  } finally {
    await hub.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test.run();
