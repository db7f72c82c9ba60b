// simdbert forward MODEL_DIR REQUEST.json OUT.safetensors
// Runs one request in the format of HF reference cases (see README: model_class,
// model_init_kwargs, forward_kwargs with {"$tensor": name} references into tensor_file) and writes
// every output, flattened by HF's field names ("last_hidden_state", "hidden_states.0",
// "past_key_values.1.3", or "tuple.i" with return_dict: false), as F32 safetensors.
import { readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { BufferSource, readTensor, writeSafetensors } from "../safetensors.js";
import { Tensor } from "../tensor.js";
import { flattenOutputs, ModelOutput, type OutputValue } from "../models/outputs.js";
import { loadModelClass } from "../models/auto.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export async function forwardCommand(args: string[]): Promise<void> {
  if (args.length !== 3) throw new Error("usage: simdbert forward MODEL_DIR REQUEST.json OUT.safetensors");
  const [modelDir, requestPath, outPath] = args;
  const request = JSON.parse(await readFile(requestPath, "utf8")) as Record<string, Json>;
  const modelClass = (request.model_class as string) ?? "BertModel";
  const init = (request.model_init_kwargs ?? {}) as Record<string, Json>;
  const kwargs = (request.forward_kwargs ?? {}) as Record<string, Json>;

  let tensorFile: { bytes: Uint8Array; src: BufferSource } | null = null;
  if (typeof request.tensor_file === "string") {
    const bytes = new Uint8Array(await readFile(resolve(dirname(requestPath), request.tensor_file)));
    tensorFile = { bytes, src: new BufferSource(bytes) };
  }
  const deref = (v: Json): unknown => {
    if (Array.isArray(v)) return v.map(deref);
    if (v && typeof v === "object" && typeof v.$tensor === "string") {
      if (!tensorFile) throw new Error(`forward_kwargs references tensor "${v.$tensor}" but the request has no tensor_file`);
      const t = readTensor(tensorFile.bytes, tensorFile.src.header, v.$tensor);
      if (t.data instanceof Float32Array) return new Tensor("float32", t.data, t.shape);
      if (t.data instanceof BigInt64Array) return new Tensor("int64", t.data, t.shape);
      return new Tensor("int32", t.data, t.shape);
    }
    return v;
  };
  const inputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) inputs[k] = deref(v);

  const model = await loadModelClass(modelClass, modelDir, init);
  const out = (await model.forward(inputs as never)) as ModelOutput | OutputValue[];
  const flat = flattenOutputs(out);
  // the request's "outputs" (name -> shape) selects what to write; without it, everything
  const wanted = request.outputs && typeof request.outputs === "object" ? new Set(Object.keys(request.outputs as object)) : null;
  if (wanted) {
    // "full_sequence.*" names are cross-checks of the reference, not outputs
    const absent = [...wanted].filter((n) => !flat.has(n) && !n.startsWith("full_sequence."));
    if (absent.length) throw new Error(`the model did not produce the requested output(s) ${absent.join(", ")}`);
  }
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of flat) {
    if (wanted && !wanted.has(name)) continue;
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>, Number);
    tensors.set(name, { shape: t.shape, data });
  }
  await writeFile(outPath, writeSafetensors(tensors));
}
