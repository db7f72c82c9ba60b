// simdbert quantize MODEL OUT_DIR --dtype q8|fp16
// Writes a q8 or fp16 copy of a float checkpoint (docs/quantization.md): its weights
// (model.safetensors, pytorch_model.bin, or sharded) as one model.safetensors converted tensor by tensor (memory: one tensor), config.json with the entry that says so, and
// the tokenizer and sentence-transformers files copied as they are.
import { mkdir, open, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { openWeights } from "../loading/checkpoint.js";
import { modelFiles, readJson, weightFiles } from "../loading/source.js";
import { convertCheckpoint, convertedConfig, declaredDtype } from "../quant/checkpoint.js";
import { checkDtype } from "../quant/quantize.js";

const USAGE = "usage: simdbert quantize MODEL_DIR OUT_DIR --dtype q8|fp16";

/** Files copied beside the weights when present (tokenizers, sentence-transformers modules). */
export const COPIED_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "vocab.txt",
  "special_tokens_map.json",
  "added_tokens.json",
  "modules.json",
  "sentence_bert_config.json",
  "config_sentence_transformers.json",
  "1_Pooling/config.json",
  "2_Normalize/config.json",
  "README.md",
];

function parse(args: string[]) {
  let dtype: string | undefined;
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--dtype") {
      dtype = args[++i];
      if (dtype === undefined) throw new Error(`--dtype needs a value\n${USAGE}`);
    } else if (a.startsWith("--dtype=")) dtype = a.slice(8);
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}\n${USAGE}`);
    else pos.push(a);
  }
  if (pos.length !== 2) throw new Error(USAGE);
  if (dtype === undefined) throw new Error(`--dtype is required\n${USAGE}`);
  const d = checkDtype(dtype, "--dtype");
  if (d === "fp32")
    throw new Error(`--dtype fp32 is the source's own precision: choose q8 or fp16`);
  return { model: pos[0], out: pos[1], dtype: d };
}

export async function quantizeCommand(args: string[]): Promise<void> {
  const o = parse(args);
  const files = modelFiles(o.model);
  const config = await readJson(files, "config.json");
  if (!config) throw new Error(`${files.where}: no config.json`);
  if (declaredDtype(config, `${files.where}/config.json`))
    throw new Error(`${files.where} is already quantized (q8): convert the float checkpoint`);
  // model.safetensors, pytorch_model.bin or their sharded indexes, as from_pretrained picks them
  const source = await openWeights(weightFiles(files));
  await mkdir(o.out, { recursive: true });
  const outPath = join(o.out, "model.safetensors");
  const handle = await open(outPath, "w");
  let summary;
  try {
    summary = await convertCheckpoint(source, o.dtype, async (b) => {
      let done = 0;
      while (done < b.length) done += (await handle.write(b, done, b.length - done)).bytesWritten;
    });
  } finally {
    await handle.close();
    await source.close?.();
  }
  await writeFile(
    join(o.out, "config.json"),
    JSON.stringify(convertedConfig(config, o.dtype), null, 2) + "\n",
  );
  const copied: string[] = [];
  for (const name of COPIED_FILES) {
    const b = await files.bytes(name);
    if (!b) continue;
    await mkdir(dirname(join(o.out, name)), { recursive: true });
    await writeFile(join(o.out, name), b);
    copied.push(name);
  }
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  process.stderr.write(
    `${outPath}: ${summary.lowPrecision} of ${summary.tensors} tensors in ${o.dtype}, ${mb(summary.bytesIn)} MiB -> ${mb(summary.bytesOut)} MiB; copied ${copied.length ? copied.join(", ") : "no tokenizer files"}\n`,
  );
}
