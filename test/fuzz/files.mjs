// Files: a model directory whose files are not what they claim. One to three of config.json,
// model.safetensors, vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json,
// sentence_bert_config.json, a request and its tensor_file are replaced by a FIFO (no writer: an
// open for reading blocks), a device (/dev/zero, /dev/urandom, /dev/null), a directory, a sparse
// regular file larger than the cap of files read whole, or a dangling symbolic link; then a model,
// a tokenizer, a feature-extraction pipeline or a request is loaded from the directory.
//
// Oracle: a load that reads a broken file fails at once with a FileError naming it (what it is, or
// the size limit); a dangling link is a missing file (optional files: the load succeeds); a load
// that reads none of the broken files succeeds with the bits of the same files in memory. Never a
// hang (the driver's watchdog), never memory growth (the process's RSS stays within 256 MiB of
// its start), and after any case a valid directory still loads (the runtime's file-I/O threads
// are free).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as lib from "../../dist/index.js";
import { readRequest } from "../../dist/cli/request.js";
import { attempt, isTyped, sameBits } from "./lib.mjs";
import { fixture, quiet } from "./models.mjs";

// through the namespace: on a build without one of these, the entries fail one by one
const { BertModel, BertTokenizer, FileError, pipeline, writeSafetensors } = lib;

export const name = "files";

const VOCAB_EXTRA = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"];
const JSON_CAP = 64 * 2 ** 20;
const FILE_CAP = 2 ** 30;

/** What each target reads: required files, and optional ones (absence is fine). */
const TARGETS = {
  model: { reads: ["config.json", "model.safetensors"], optional: [] },
  tokenizer: {
    reads: ["vocab.txt"],
    optional: ["tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"],
  },
  pipeline: {
    reads: ["config.json", "model.safetensors", "vocab.txt"],
    optional: ["tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"],
  },
  request: { reads: ["request.json", "inputs.safetensors"], optional: [] },
};
// sentence_bert_config.json is read by the pipeline, its errors ignored (sentence-transformers' default)
const ALL = [
  "config.json",
  "model.safetensors",
  "vocab.txt",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "sentence_bert_config.json",
  "request.json",
  "inputs.safetensors",
];
const JSONS = new Set([
  "config.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "sentence_bert_config.json",
  "request.json",
]);
const KINDS = ["fifo", "zero", "urandom", "null", "dir", "big", "dangling"];

export async function setup({ log }) {
  console.warn = () => {};
  const fx = fixture("BertModel", {}, 31);
  const vocab = [...VOCAB_EXTRA];
  while (vocab.length < fx.config.vocab_size) vocab.push(`w${vocab.length}`);
  const inputs = writeSafetensors(
    new Map([["ids", { shape: [1, 3], data: new Float32Array([5, 6, 2]) }]]),
  );
  const files = {
    ...fx.files,
    "vocab.txt": vocab.join("\n") + "\n",
    "tokenizer_config.json": JSON.stringify({ do_lower_case: true }),
    "special_tokens_map.json": JSON.stringify({ unk_token: "[UNK]" }),
    "sentence_bert_config.json": JSON.stringify({ max_seq_length: 16 }),
    "request.json": JSON.stringify({
      model_class: "BertModel",
      tensor_file: "inputs.safetensors",
      forward_kwargs: { input_ids: [[5, 6, 2]] },
    }),
    "inputs.safetensors": inputs,
  };
  let mkfifo = true;
  try {
    const d = mkdtempSync(join(tmpdir(), "simdbert-fuzz-files-"));
    execFileSync("mkfifo", [join(d, "p")]);
    rmSync(d, { recursive: true, force: true });
  } catch {
    mkfifo = false;
    log("  files: no mkfifo here: FIFOs are not tried");
  }
  // the answers of the intact files
  const model = await BertModel.fromPretrained(files, quiet);
  const want = {
    model: (await model.forward({ input_ids: [[5, 6, 2]] })).last_hidden_state.data,
    tokenizer: (await BertTokenizer.fromPretrained(files)).tokenize("hello world").join(" "),
    pipeline: (await (await pipeline("feature-extraction", files, quiet))(["hello world"])).data,
  };
  return { files, want, mkfifo, rss0: process.memoryUsage().rss };
}

function makeDir(files) {
  const dir = mkdtempSync(join(tmpdir(), "simdbert-fuzz-files-"));
  for (const [n, v] of Object.entries(files)) writeFileSync(join(dir, n), v);
  return dir;
}

/** Replaces `file` in dir by something of `kind`. */
function breakFile(dir, file, kind) {
  const p = join(dir, file);
  rmSync(p, { force: true });
  switch (kind) {
    case "fifo":
      execFileSync("mkfifo", [p]);
      break;
    case "zero":
    case "urandom":
    case "null":
      symlinkSync(`/dev/${kind}`, p);
      break;
    case "dir":
      mkdirSync(p);
      break;
    case "big":
      // sparse: no disk used; one byte past the cap of files read whole
      writeFileSync(p, "");
      truncateSync(p, (JSONS.has(file) ? JSON_CAP : FILE_CAP) + 1);
      break;
    case "dangling":
      symlinkSync(join(dir, "nowhere", file), p);
      break;
  }
}

async function load(target, dir) {
  switch (target) {
    case "model":
      return (
        await (await BertModel.fromPretrained(dir, quiet)).forward({ input_ids: [[5, 6, 2]] })
      ).last_hidden_state.data;
    case "tokenizer":
      return (await BertTokenizer.fromPretrained(dir)).tokenize("hello world").join(" ");
    case "pipeline":
      return (await (await pipeline("feature-extraction", dir, quiet))(["hello world"])).data;
    case "request":
      return readRequest(join(dir, "request.json"));
  }
}

export async function run(state, r, ctx) {
  const { stats, i } = ctx;
  const target = r.pick(Object.keys(TARGETS));
  const broken = new Map();
  const n = r.int(1, 4);
  for (let k = 0; k < n; k++) {
    const file = r.chance(0.7)
      ? r.pick(
          [...TARGETS[target].reads, ...TARGETS[target].optional].filter((f) => ALL.includes(f)),
        )
      : r.pick(ALL);
    let kind = r.pick(KINDS);
    if (kind === "fifo" && !state.mkfifo) kind = "zero";
    // a sparse safetensors file is a regular file with a zero header length: another surface's case
    if (kind === "big" && file.endsWith(".safetensors")) kind = "dir";
    broken.set(file, kind);
  }
  const dir = makeDir(state.files);
  try {
    for (const [file, kind] of broken) breakFile(dir, file, kind);
    stats.add("tried");
    const spec = TARGETS[target];
    const label = `${target} with ${[...broken].map(([f, k]) => `${f}=${k}`).join(", ")}`;
    // files the load must refuse: read (required or optional) and not a dangling link
    const refused = [...broken].filter(
      ([f, k]) =>
        k !== "dangling" &&
        (spec.reads.includes(f) || spec.optional.includes(f)) &&
        // the tokenizer reads tokenizer.json only without vocab.txt (present here)
        !(f === "tokenizer.json"),
    );
    const missingRequired = [...broken].some(
      ([f, k]) => k === "dangling" && spec.reads.includes(f),
    );
    const [value, err, ok] = await attempt(() => load(target, dir));
    if (refused.length && missingRequired && !ok && isTyped(err)) {
      // a broken file and a missing one, read concurrently (the pipeline): either error may come first
      stats.add("rejected");
    } else if (refused.length) {
      if (ok) return stats.fail("wrong", i, `${label}: loaded instead of refusing a broken file`);
      if (!(err instanceof FileError))
        return stats.fail(
          isTyped(err) ? "wrong" : "crashes",
          i,
          `${label}: expected a FileError, got ${err?.name}: ${String(err?.message).slice(0, 300)}`,
        );
      const named = refused.some(
        ([f]) =>
          err.message.includes(f) && /must be a regular file|limit for a file/.test(err.message),
      );
      if (!named || err.message.length > 500)
        return stats.fail(
          "unclear",
          i,
          `${label}: the message does not name the file and what it is: ${err.message.slice(0, 300)}`,
        );
      stats.add("rejected");
    } else if (missingRequired) {
      if (ok) return stats.fail("wrong", i, `${label}: loaded without a required file`);
      if (!isTyped(err) && !(err instanceof Error && /no such|ENOENT/.test(err.message)))
        return stats.fail("crashes", i, `${label}: ${err?.name}: ${err?.message}`);
      stats.add("rejected");
    } else {
      if (!ok)
        return stats.fail(
          isTyped(err) ? "wrong" : "crashes",
          i,
          `${label}: a load reading none of the broken files failed: ${err?.name}: ${err?.message}`,
        );
      stats.add("checks");
      const want = state.want[target];
      const same =
        target === "request"
          ? value.modelClass === "BertModel"
          : typeof want === "string"
            ? value === want
            : sameBits(value, want);
      if (!same)
        return stats.fail("wrong", i, `${label}: answered differently from the intact files`);
      stats.add("ok");
    }
    const grown = process.memoryUsage().rss - state.rss0;
    if (grown > 256 * 2 ** 20) {
      stats.add("memGrowth");
      stats.add("memGrowthBytes", grown);
      stats.fail(
        "memGrowth",
        i,
        `${label}: the process grew by ${(grown / 2 ** 20).toFixed(0)} MiB`,
      );
      state.rss0 = process.memoryUsage().rss;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // the file-I/O threads are free: a valid directory loads
  if (i % 8 === 0) {
    const ok = makeDir(state.files);
    try {
      const [, err, fine] = await attempt(() => load("model", ok));
      if (!fine) stats.fail("wrong", i, `a valid directory no longer loads: ${err?.message}`);
    } finally {
      rmSync(ok, { recursive: true, force: true });
    }
  }
}

export const surface = { name, setup, run };
