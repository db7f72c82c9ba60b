// simdbert pipeline TASK MODEL_DIR [--offsets] [--batch-size N]
// Reads JSON lines {"inputs": ..., "options": {...}} on stdin (HF's first argument and keyword
// arguments) and writes one JSON line per request: the pipeline's answer, or {"error": <Python
// exception type>, "message": ...} for a request HF refuses; then carries on with the next one.
import { createInterface } from "node:readline";
import { pipeline, TASK_ALIASES } from "../pipeline/index.js";
import { PipelineError } from "../pipeline/common.js";
import { TokenizerError } from "../tokenizer/errors.js";
import { Tensor } from "../tensor.js";

const USAGE =
  "usage: simdbert pipeline TASK MODEL_DIR [--offsets] [--batch-size N]   (JSON lines {inputs, options} on stdin, one JSON line per request on stdout)\n" +
  `  TASK: ${Object.keys(TASK_ALIASES).join(", ")}`;

export async function pipelineCommand(args: string[]): Promise<void> {
  const positional: string[] = [];
  let offsets = false;
  let batchSize: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--offsets") offsets = true;
    else if (a === "--batch-size") {
      batchSize = Number(args[++i]);
      if (!Number.isSafeInteger(batchSize) || batchSize < 1)
        throw new Error(`--batch-size takes a positive integer\n${USAGE}`);
    } else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      return;
    } else if (a.startsWith("-")) throw new Error(`unknown option ${a}\n${USAGE}`);
    else positional.push(a);
  }
  if (positional.length !== 2) throw new Error(USAGE);
  const [task, dir] = positional;
  if (!Object.prototype.hasOwnProperty.call(TASK_ALIASES, task))
    throw new Error(`unknown task "${task}"\n${USAGE}`);
  const pipe = (await pipeline(task, dir, { offsets, batch_size: batchSize })) as unknown as (
    ...args: unknown[]
  ) => Promise<unknown>;
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const out = JSON.stringify(await answer(pipe, line)) + "\n";
    if (!process.stdout.write(out))
      await new Promise<void>((r) => process.stdout.once("drain", () => r()));
  }
}

async function answer(pipe: (...args: unknown[]) => Promise<unknown>, line: string) {
  let req: Record<string, unknown>;
  try {
    req = JSON.parse(line);
    if (!req || typeof req !== "object" || Array.isArray(req) || !("inputs" in req))
      throw new Error('a request is a JSON object {"inputs": ..., "options": {...}}');
  } catch (e) {
    return { error: "JSONDecodeError", message: (e as Error).message };
  }
  try {
    const result = await pipe(req.inputs, req.options ?? {});
    return result instanceof Tensor ? result.tolist() : result;
  } catch (e) {
    const err = e as Error;
    const type =
      e instanceof PipelineError || e instanceof TokenizerError
        ? e.pyType
        : err.name === "InputError"
          ? "RuntimeError"
          : err.name || "Error";
    return { error: type, message: err.message };
  }
}
