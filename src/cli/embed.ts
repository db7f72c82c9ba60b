// simdbert embed MODEL [options] (its options and help text are declared below)
// Without --pooling / --normalize the model folder decides, as sentence-transformers does
// (modules.json, 1_Pooling/config.json, Normalize, sentence_bert_config.json); mean pooling
// without normalization for a folder that has no modules.json.
// One text per line (stdin, or --input); one JSON array per line on stdout, or a float32 .npy
// [n, hidden]. A progress bar goes to stderr when it is a terminal and the input is long.
import { createReadStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { modelFiles, readJson } from "../loading/source.js";
import {
  pipeline,
  type FeatureExtractionPipeline,
  type Pooling,
} from "../pipeline/feature_extraction.js";
import { checkInputFile, checkModelSource, checkOutputFile } from "./checks.js";
import { DEFAULT_MODELS } from "../loading/hub.js";
import { bar as progressBar } from "./download.js";
import {
  batchSizeOption,
  defineCommand,
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
  },
  details: `Reads UTF-8 text, one text per line (an empty line is an empty text), from stdin or
--input, and writes one JSON array of floats per line on stdout, in the input's order, or a .npy
file with --out. A progress bar goes to stderr when it is a terminal and the input is long.

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
}

async function readLines(path: string): Promise<string[]> {
  const rl = createInterface({
    input: path ? createReadStream(path, "utf8") : process.stdin,
    crlfDelay: Infinity,
  });
  const lines: string[] = [];
  for await (const line of rl) lines.push(line);
  return lines;
}

/** A float32 .npy file (format version 1.0). */
export function npy(data: Float32Array, shape: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

async function embed(model: string, o: EmbedOptions): Promise<void> {
  const texts = await readLines(o.input);
  const extractor = await pipeline("feature-extraction", model, {
    sentenceTransformers: true,
    ...(process.stderr.isTTY ? { progress_callback: progressBar() } : {}),
    batchSize: o.batchSize,
    ...(o.maxLength ? { maxLength: o.maxLength } : {}),
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
  });
  try {
    await embedTexts(extractor, texts, o);
  } finally {
    extractor.model.engine.dispose(); // stops the worker threads, if any
  }
}

async function embedTexts(
  extractor: FeatureExtractionPipeline,
  texts: string[],
  o: EmbedOptions,
): Promise<void> {
  const bar = process.stderr.isTTY && texts.length > 64;
  const t0 = Date.now();
  const emb = await extractor(texts, {
    ...(o.pooling ? { pooling: o.pooling } : {}),
    ...(o.normalize ? { normalize: true } : {}),
    onProgress: bar
      ? (done, total) => {
          const w = 30;
          const f = Math.round((done / total) * w);
          const rate = done / Math.max((Date.now() - t0) / 1000, 1e-3);
          process.stderr.write(
            `\r[${"#".repeat(f)}${" ".repeat(w - f)}] ${done}/${total} ${rate.toFixed(0)} texts/s`,
          );
        }
      : undefined,
  });
  if (bar) process.stderr.write("\n");
  const [n, H] = emb.shape;
  const data = emb.data as Float32Array;
  if (o.out) {
    await writeFile(o.out, npy(data, [n, H]));
    return;
  }
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    lines.push(JSON.stringify(Array.from(data.subarray(i * H, (i + 1) * H))));
  process.stdout.write(lines.join("\n") + (n ? "\n" : ""));
}
