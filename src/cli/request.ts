// Forward requests (docs/requests.md): a model class, its constructor kwargs,
// HF forward kwargs whose {"$tensor": name} entries point into a safetensors file, and the output
// names to produce. Used by `simdbert forward` and by the tests.
import { dirname, resolve } from "node:path";
import { BufferSource, readTensor } from "../safetensors.js";
import { Tensor } from "../tensor.js";
import { flattenOutputs, type ModelOutput, type OutputValue } from "../models/outputs.js";
import { loadModelClass } from "../models/auto.js";
import { InputError } from "../models/inputs.js";
import { FileError, MAX_JSON_BYTES, readRegularFile } from "../loading/files.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface Request {
  modelClass: string;
  initKwargs: Record<string, unknown>;
  inputs: Record<string, unknown>;
  /** Output names to write (null: all). */
  outputs: string[] | null;
}

export async function readRequest(path: string): Promise<Request> {
  // regular files only (a FIFO would block a file-I/O thread for ever), size-capped
  const raw = await readRegularFile(path, { maxBytes: MAX_JSON_BYTES, what: "the request" });
  if (!raw) throw new FileError(`${path}: no such request file`);
  let request: Record<string, Json>;
  try {
    request = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch (e) {
    throw new InputError(`${path}: the request is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (!request || typeof request !== "object" || Array.isArray(request))
    throw new InputError(`${path}: the request must be a JSON object`);
  if (request.model_class !== undefined && typeof request.model_class !== "string")
    throw new InputError(
      `${path}: model_class must be a transformers class name (a string such as "BertModel"), got ${JSON.stringify(request.model_class).slice(0, 40)}`,
    );
  let tensorFile: { bytes: Uint8Array; src: BufferSource } | null = null;
  if (request.tensor_file !== undefined && request.tensor_file !== null) {
    if (typeof request.tensor_file !== "string")
      throw new InputError(`${path}: tensor_file must be a file name`);
    const where = resolve(dirname(path), request.tensor_file);
    const bytes = await readRegularFile(where, { what: "the request's tensor_file" });
    if (!bytes) throw new FileError(`${where}: the request's tensor_file does not exist`);
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
