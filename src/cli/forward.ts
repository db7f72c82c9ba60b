// simdbert forward MODEL REQUEST.json OUT.safetensors
// Runs one request (docs/requests.md: a model class, its constructor kwargs, HF forward kwargs
// whose {"$tensor": name} entries point into a safetensors file, the outputs to keep) and writes
// every output, flattened by HF's field names ("last_hidden_state", "hidden_states.0",
// "past_key_values.1.3", or "tuple.i" with return_dict: false), as F32 safetensors.
import { writeFile } from "node:fs/promises";
import { writeSafetensors } from "../safetensors.js";
import { checkInputFile, checkModelSource, checkOutputFile } from "./checks.js";
import { defineCommand } from "./options.js";
import { readRequest, runRequest } from "./request.js";

export const command = defineCommand({
  name: "forward",
  summary: "run one forward request (any model class, HF's arguments) and save every output",
  positionals: [
    { name: "MODEL", help: "a model directory or URL" },
    {
      name: "REQUEST.json",
      help: "the request: model_class, model_init_kwargs, forward_kwargs, tensor_file, outputs",
    },
    { name: "OUT.safetensors", help: "where to write the outputs (F32 safetensors)" },
  ],
  options: {},
  details: `The request format is in docs/requests.md (in the package's repository). Outputs are
named by HF's output container flattened: last_hidden_state, hidden_states.0,
past_key_values.1.3, or tuple.2.0.1 with return_dict: false.`,
  async run(p) {
    const [model, requestPath, outPath] = [p.MODEL, p["REQUEST.json"], p["OUT.safetensors"]];
    await checkModelSource("MODEL", model, "forward");
    await checkInputFile("REQUEST.json", requestPath, "forward");
    await checkOutputFile("OUT.safetensors", outPath, "forward");
    const outputs = await runRequest(model, await readRequest(requestPath));
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, t] of outputs) {
      const data =
        t.data instanceof Float32Array
          ? t.data
          : Float32Array.from(t.data as ArrayLike<number>, Number);
      tensors.set(name, { shape: t.shape, data });
    }
    await writeFile(outPath, writeSafetensors(tensors));
  },
});
