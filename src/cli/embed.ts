// simdbert embed MODEL [--pooling cls|max|mean|mean_sqrt_len] [--normalize] [--input FILE]
//   [--out FILE.npy] [--batch-size N] [--max-length N]
// Without --pooling / --normalize the model folder decides, as sentence-transformers does
// (modules.json, 1_Pooling/config.json, Normalize, sentence_bert_config.json); mean pooling
// without normalization for a folder that has no modules.json.
// One text per line (stdin, or --input); one JSON array per line on stdout, or a float32 .npy
// [n, hidden]. A progress bar goes to stderr when it is a terminal and the input is long.
import { createReadStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { pipeline, type Pooling } from "../pipeline/feature_extraction.js";

function parse(args: string[]) {
  const o = {
    model: "",
    pooling: undefined as Pooling | undefined,
    normalize: undefined as boolean | undefined,
    input: "",
    out: "",
    batchSize: 8,
    maxLength: 0,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--pooling") {
      const p = val();
      if (!["cls", "max", "mean", "mean_sqrt_len"].includes(p))
        throw new Error(`--pooling must be cls, max, mean or mean_sqrt_len, got ${p}`);
      o.pooling = p as Pooling;
    } else if (a === "--normalize") o.normalize = true;
    else if (a === "--input") o.input = val();
    else if (a === "--out") o.out = val();
    else if (a === "--batch-size") o.batchSize = Number(val());
    else if (a === "--max-length") o.maxLength = Number(val());
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else if (!o.model) o.model = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!o.model)
    throw new Error(
      "usage: simdbert embed MODEL [--pooling cls|max|mean|mean_sqrt_len] [--normalize] [--input FILE] [--out FILE.npy]",
    );
  return o;
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

export async function embedCommand(args: string[]): Promise<void> {
  const o = parse(args);
  const texts = await readLines(o.input);
  const extractor = await pipeline("feature-extraction", o.model, {
    sentenceTransformers: true,
    batchSize: o.batchSize,
    ...(o.maxLength ? { maxLength: o.maxLength } : {}),
  });
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
    if (!o.out.endsWith(".npy")) throw new Error("--out writes a .npy file (name it FILE.npy)");
    await writeFile(o.out, npy(data, [n, H]));
    return;
  }
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    lines.push(JSON.stringify(Array.from(data.subarray(i * H, (i + 1) * H))));
  process.stdout.write(lines.join("\n") + (n ? "\n" : ""));
}
