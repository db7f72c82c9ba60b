// simdbert quantize MODEL OUT_DIR --dtype q8|fp16
// Writes a q8 or fp16 copy of a float checkpoint (docs/quantization.md): its weights
// (model.safetensors, pytorch_model.bin, or sharded) as one model.safetensors converted tensor by
// tensor (memory: one tensor), config.json with the entry that says so, and the tokenizer and
// sentence-transformers files copied as they are.
import { mkdir, open, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { openWeights } from "../loading/checkpoint.js";
import { modelFiles, readJson, weightFiles } from "../loading/source.js";
import { convertCheckpoint, convertedConfig, declaredDtype } from "../quant/checkpoint.js";
import { checkModelSource } from "./checks.js";
import { defineCommand, UsageError } from "./options.js";

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

export const command = defineCommand({
  name: "quantize",
  summary: "write a q8 (int8) or fp16 copy of a float checkpoint, tokenizer files included",
  positionals: [
    { name: "MODEL", help: "a model directory (config.json and its float weights) or URL" },
    { name: "OUT_DIR", help: "the directory to write (created if needed)" },
  ],
  options: {
    dtype: {
      type: "choice",
      choices: ["q8", "fp16"],
      help: "q8: int8 weights, one scale per row; fp16: binary16 weights (required)",
    },
  },
  details: `The format is in docs/quantization.md: for q8, every Linear weight and the word
embedding table as I8 "<name>" + F32 "<name>_scale" (one per row), config.json's
quantization_config {"quant_method": "simdbert", "dtype": "q8"}; the copy loads as q8 by itself.

  simdbert quantize ./all-MiniLM-L6-v2 ./all-MiniLM-L6-v2-q8 --dtype q8`,
  async run({ MODEL, OUT_DIR }, o) {
    if (!o.dtype) throw new UsageError("--dtype is required: q8 or fp16", "quantize");
    await checkModelSource("MODEL", MODEL, "quantize");
    await quantize(MODEL, OUT_DIR, o.dtype);
  },
});

export async function quantize(model: string, out: string, dtype: "q8" | "fp16"): Promise<void> {
  const files = modelFiles(model);
  const config = await readJson(files, "config.json");
  if (!config) throw new Error(`${files.where}: no config.json`);
  if (declaredDtype(config, `${files.where}/config.json`))
    throw new Error(`${files.where} is already quantized (q8): convert the float checkpoint`);
  // model.safetensors, pytorch_model.bin or their sharded indexes, as from_pretrained picks them
  const source = await openWeights(weightFiles(files));
  await mkdir(out, { recursive: true });
  const outPath = join(out, "model.safetensors");
  const handle = await open(outPath, "w");
  let summary;
  try {
    summary = await convertCheckpoint(source, dtype, async (b) => {
      let done = 0;
      while (done < b.length) done += (await handle.write(b, done, b.length - done)).bytesWritten;
    });
  } finally {
    await handle.close();
    await source.close?.();
  }
  await writeFile(
    join(out, "config.json"),
    JSON.stringify(convertedConfig(config, dtype), null, 2) + "\n",
  );
  const copied: string[] = [];
  for (const name of COPIED_FILES) {
    const b = await files.bytes(name);
    if (!b) continue;
    await mkdir(dirname(join(out, name)), { recursive: true });
    await writeFile(join(out, name), b);
    copied.push(name);
  }
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  process.stderr.write(
    `${outPath}: ${summary.lowPrecision} of ${summary.tensors} tensors in ${dtype}, ${mb(summary.bytesIn)} MiB -> ${mb(summary.bytesOut)} MiB; copied ${copied.length ? copied.join(", ") : "no tokenizer files"}\n`,
  );
}
