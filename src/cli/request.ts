// Forward requests (docs/requests.md): a model class, its constructor kwargs,
// HF forward kwargs whose {"$tensor": name} entries point into a safetensors file, and the output
// names to produce. Used by `simdbert forward` and by the tests.
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { BufferSource, readTensor } from "../safetensors.js";
import { Tensor } from "../tensor.js";
import { flattenOutputs, type ModelOutput, type OutputValue } from "../models/outputs.js";
import { loadModelClass } from "../models/auto.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface Request {
  modelClass: string;
  initKwargs: Record<string, unknown>;
  inputs: Record<string, unknown>;
  /** Output names to write (null: all). */
  outputs: string[] | null;
}

export async function readRequest(path: string): Promise<Request> {
  const request = JSON.parse(await readFile(path, "utf8")) as Record<string, Json>;
  let tensorFile: { bytes: Uint8Array; src: BufferSource } | null = null;
  if (typeof request.tensor_file === "string") {
    const bytes = new Uint8Array(await readFile(resolve(dirname(path), request.tensor_file)));
    tensorFile = { bytes, src: new BufferSource(bytes) };
  }
  const deref = (v: Json): unknown => {
    if (Array.isArray(v)) return v.map(deref);
    if (v && typeof v === "object" && typeof v.$tensor === "string") {
      if (!tensorFile)
        throw new Error(
          `forward_kwargs references tensor "${v.$tensor}" but the request has no tensor_file`,
        );
      const t = readTensor(tensorFile.bytes, tensorFile.src.header, v.$tensor);
      if (t.data instanceof Float32Array) return new Tensor("float32", t.data, t.shape);
      if (t.data instanceof BigInt64Array) return new Tensor("int64", t.data, t.shape);
      return new Tensor("int32", t.data, t.shape);
    }
    return v;
  };
  const inputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((request.forward_kwargs ?? {}) as Record<string, Json>))
    inputs[k] = deref(v);
  const outputs =
    request.outputs && typeof request.outputs === "object" && !Array.isArray(request.outputs)
      ? Object.keys(request.outputs)
      : null;
  return {
    modelClass: typeof request.model_class === "string" ? request.model_class : "BertModel",
    initKwargs: (request.model_init_kwargs ?? {}) as Record<string, unknown>,
    inputs,
    outputs,
  };
}

/** Runs a request on the model in modelDir; returns its outputs flattened by name. */
export async function runRequest(modelDir: string, req: Request): Promise<Map<string, Tensor>> {
  const model = await loadModelClass(req.modelClass, modelDir, req.initKwargs);
  const out = (await model.forward(req.inputs)) as ModelOutput | OutputValue[];
  const flat = flattenOutputs(out);
  if (!req.outputs) return flat;
  // "full_sequence.*" names are cross-checks of the reference, not outputs
  const absent = req.outputs.filter((n) => !flat.has(n) && !n.startsWith("full_sequence."));
  if (absent.length)
    throw new Error(`the model did not produce the requested output(s) ${absent.join(", ")}`);
  const wanted = new Set(req.outputs);
  return new Map([...flat].filter(([n]) => wanted.has(n)));
}
