// simdbert embed MODEL [options] (its options and help text are declared below)
// Without --pooling / --normalize the model folder decides, as sentence-transformers does
// (modules.json, 1_Pooling/config.json, Normalize, sentence_bert_config.json); mean pooling
// without normalization for a folder that has no modules.json.
// One text per line (stdin, or --input); one JSON array per line on stdout, or a float32 .npy
// [n, hidden]. Streaming: lines are read as they come (at most a few chunks held), each chunk's
// embeddings are written as soon as they are computed (waiting for the output to drain), and the
// .npy is written row by row with its header fixed up at the end, so a corpus of any length runs
// in constant memory. A progress line goes to stderr when it is a terminal.
import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { modelFiles, readJson } from "../loading/source.js";
import {
  pipeline,
  type FeatureExtractionPipeline,
  type Pooling,
} from "../pipeline/feature_extraction.js";
import { checkInputFile, checkModelSource, checkOutputFile } from "./checks.js";
import { DEFAULT_MODELS } from "../loading/hub.js";
import { terminalProgress } from "./download.js";
import {
  batchSizeOption,
  defineCommand,
  dtypeOption,
  maxLengthOption,
  threadsOption,
  UsageError,
} from "./options.js";

export const command = defineCommand({
  name: "embed",
  summary: "sentence embeddings: one text per line in, one vector per line (or a .npy) out",
  positionals: [
    {
      name: "MODEL",
      help: `a model directory, URL or hub id (default ${DEFAULT_MODELS["feature-extraction"]})`,
      optional: true,
    },
  ],
  options: {
    pooling: {
      type: "choice",
      choices: ["cls", "max", "mean", "mean_sqrt_len"],
      help: "how token vectors become one (default: the folder's 1_Pooling/config.json, else mean)",
    },
    normalize: {
      type: "flag",
      help: "L2-normalise each embedding (default: as the folder's modules.json says, else not)",
    },
    input: {
      type: "path",
      metavar: "FILE",
      help: "read the texts from FILE (default: stdin), one per line",
    },
    out: {
      type: "path",
      metavar: "FILE.npy",
      help: "write a float32 .npy [texts, hidden] instead of JSON lines on stdout",
      check: (v) =>
        v.endsWith(".npy")
          ? undefined
          : `writes a .npy file: name it FILE.npy, got ${JSON.stringify(v)}`,
    },
    "batch-size": batchSizeOption,
    "max-length": maxLengthOption,
    threads: threadsOption,
    dtype: dtypeOption,
  },
  details: `Reads UTF-8 text, one text per line (an empty line is an empty text), from stdin or
--input, and writes one JSON array of floats per line on stdout, in the input's order, or a .npy
file with --out, streaming: each chunk of lines is answered as soon as it is computed, in
constant memory whatever the input's length. A progress line goes to stderr when it is a terminal.

  printf 'first text\\nsecond text\\n' | simdbert embed ./all-MiniLM-L6-v2 --normalize`,
  async run({ MODEL: given }, o) {
    const MODEL = given ?? DEFAULT_MODELS["feature-extraction"];
    await checkModelSource("MODEL", MODEL, "embed");
    if (o.input) await checkInputFile("--input", o.input, "embed");
    if (o.out) await checkOutputFile("--out", o.out, "embed");
    if (o["max-length"] !== undefined) await checkMaxLength(MODEL, o["max-length"]);
    if (!o.input && process.stdin.isTTY)
      process.stderr.write(
        "simdbert embed: reading texts from stdin, one per line; end with Ctrl-D (--input FILE reads a file; --help for more)\n",
      );
    await embed(MODEL, {
      pooling: o.pooling,
      normalize: o.normalize,
      input: o.input ?? "",
      out: o.out ?? "",
      batchSize: o["batch-size"],
      maxLength: o["max-length"] ?? 0,
      threads: o.threads,
      dtype: o.dtype,
    });
  },
});

/** --max-length against the model's config.json (max_position_embeddings), before loading it. */
async function checkMaxLength(model: string, maxLength: number): Promise<void> {
  const config = await readJson(modelFiles(model), "config.json").catch(() => null);
  const maxPos = config?.max_position_embeddings;
  if (typeof maxPos === "number" && maxLength > maxPos)
    throw new UsageError(
      `--max-length ${maxLength} is beyond the model's max_position_embeddings (${maxPos})`,
      "embed",
    );
}

interface EmbedOptions {
  pooling: Pooling | undefined;
  normalize: boolean;
  input: string;
  out: string;
  batchSize: number;
  maxLength: number;
  threads: number | "auto" | undefined;
  dtype: "fp32" | "fp16" | "q8" | undefined;
}

/** The header of a float32 .npy file (format 1.0) of `shape`, padded to `size` bytes when given. */
export function npyHeader(shape: number[], size?: number): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const total = size ?? Math.ceil((10 + header.length + 1) / 64) * 64;
  if (10 + header.length + 1 > total) throw new Error(`npy header longer than ${total} bytes`);
  header += " ".repeat(total - 10 - header.length - 1) + "\n";
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  return out;
}

/** A float32 .npy file (format version 1.0). */
export function npy(data: Float32Array, shape: number[]): Uint8Array {
  const head = npyHeader(shape);
  const out = new Uint8Array(head.length + data.byteLength);
  out.set(head, 0);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), head.length);
  return out;
}

/** The .npy header's size while streaming: room for any row count up to 2^53 (then fixed up). */
const STREAM_HEADER = 128;

/**
 * Lines of a byte stream, as they arrive, in chunks of at most `max` (fewer when no more input
 * is ready, so a slow producer still gets its answers). Reads ahead at most a few chunks.
 */
async function* lineChunks(input: NodeJS.ReadableStream, max: number): AsyncGenerator<string[]> {
  const decoder = new TextDecoder("utf-8");
  let pending: string[] = [];
  let rest = "";
  let ended = false;
  let error: unknown = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const highWater = 4 * max;
  input.on("data", (chunk: Buffer | string) => {
    const text =
      rest + (typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }));
    const parts = text.split("\n");
    rest = parts.pop()!;
    for (const p of parts) pending.push(p.endsWith("\r") ? p.slice(0, -1) : p);
    if (pending.length >= highWater) input.pause();
    notify();
  });
  input.on("end", () => {
    rest += decoder.decode();
    if (rest) pending.push(rest.endsWith("\r") ? rest.slice(0, -1) : rest);
    ended = true;
    notify();
  });
  input.on("error", (e) => {
    error = e;
    notify();
  });
  for (;;) {
    if (error) throw error;
    if (pending.length) {
      const chunk = pending.length <= max ? pending : pending.slice(0, max);
      pending = pending.length <= max ? [] : pending.slice(max);
      if (pending.length < highWater && input.isPaused()) input.resume();
      yield chunk;
      continue;
    }
    if (ended) return;
    if (input.isPaused()) input.resume();
    await new Promise<void>((r) => (wake = r));
  }
}

/** Writes and waits for the stream to drain when its buffer is full (constant memory). */
function write(out: NodeJS.WritableStream, s: string): Promise<void> | void {
  if (out.write(s)) return;
  return new Promise((resolve, reject) => {
    const done = (e?: unknown) => {
      out.off("drain", done);
      out.off("error", done);
      if (e) reject(e);
      else resolve();
    };
    out.on("drain", () => done());
    out.on("error", done);
  });
}

async function embed(model: string, o: EmbedOptions): Promise<void> {
  const extractor = await pipeline("feature-extraction", model, {
    sentenceTransformers: true,
    ...terminalProgress(),
    batchSize: o.batchSize,
    ...(o.maxLength ? { maxLength: o.maxLength } : {}),
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    ...(o.dtype !== undefined ? { dtype: o.dtype } : {}),
  });
  try {
    await embedStream(extractor, o);
  } finally {
    extractor.model.engine.dispose(); // stops the worker threads, if any
  }
}

async function embedStream(extractor: FeatureExtractionPipeline, o: EmbedOptions): Promise<void> {
  // the width of a row: the model's hidden size, or what the folder's pooling makes of it
  let H = extractor.model.config.hidden_size;
  let file: FileHandle | null = null;
  let offset = STREAM_HEADER;
  if (o.out) {
    file = await open(o.out, "w");
    await file.write(npyHeader([0, H], STREAM_HEADER), 0, STREAM_HEADER, 0);
  }
  const input = o.input ? createReadStream(o.input) : process.stdin;
  const bar = process.stderr.isTTY;
  const t0 = Date.now();
  let n = 0;
  // texts per pipeline call: enough for the pipeline's length-sorted batches to pad little
  const chunkSize = Math.max(64, o.batchSize * 8);
  try {
    for await (const texts of lineChunks(input, chunkSize)) {
      const emb = await extractor(texts, {
        ...(o.pooling ? { pooling: o.pooling } : {}),
        ...(o.normalize ? { normalize: true } : {}),
      });
      const data = emb.data as Float32Array;
      H = emb.shape[1];
      if (file) {
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        await file.write(bytes, 0, bytes.length, offset);
        offset += bytes.length;
      } else {
        let s = "";
        for (let i = 0; i < texts.length; i++)
          s += JSON.stringify(Array.from(data.subarray(i * H, (i + 1) * H))) + "\n";
        await write(process.stdout, s);
      }
      n += texts.length;
      if (bar) {
        const rate = n / Math.max((Date.now() - t0) / 1000, 1e-3);
        process.stderr.write(`\r${n} texts, ${rate.toFixed(0)} texts/s`);
      }
    }
    if (file) await file.write(npyHeader([n, H], STREAM_HEADER), 0, STREAM_HEADER, 0);
  } finally {
    await file?.close();
    if (bar) process.stderr.write("\n");
  }
}
