// simdbert forward MODEL_DIR REQUEST.json OUT.safetensors
// Runs one reference request (see request.ts) and writes every output, flattened by HF's field
// names ("last_hidden_state", "hidden_states.0", "past_key_values.1.3", or "tuple.i" with
// return_dict: false), as F32 safetensors.
import { writeFile } from "node:fs/promises";
import { writeSafetensors } from "../safetensors.js";
import { readRequest, runRequest } from "./request.js";

export async function forwardCommand(args: string[]): Promise<void> {
  if (args.length !== 3)
    throw new Error("usage: simdbert forward MODEL_DIR REQUEST.json OUT.safetensors");
  const [modelDir, requestPath, outPath] = args;
  const outputs = await runRequest(modelDir, await readRequest(requestPath));
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of outputs) {
    const data =
      t.data instanceof Float32Array
        ? t.data
        : Float32Array.from(t.data as ArrayLike<number>, Number);
    tensors.set(name, { shape: t.shape, data });
  }
  await writeFile(outPath, writeSafetensors(tensors));
}
