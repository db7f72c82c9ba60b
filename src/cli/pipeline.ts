// simdbert pipeline TASK MODEL [--offsets] [--batch-size N]
// Reads JSON lines {"inputs": ..., "options": {...}} on stdin (HF's first argument and keyword
// arguments) and writes one JSON line per request: the pipeline's answer, or {"error": <Python
// exception type>, "message": ...} for a request HF refuses; then carries on with the next one.
import { createInterface } from "node:readline";
import { pipeline, TASK_ALIASES } from "../pipeline/index.js";
import { PipelineError } from "../pipeline/common.js";
import { TokenizerError } from "../tokenizer/errors.js";
import { Tensor } from "../tensor.js";
import { checkModelSource } from "./checks.js";
import { batchSizeOption, defineCommand, UsageError } from "./options.js";

export const command = defineCommand({
  name: "pipeline",
  summary: "run a task pipeline (HF's pipeline tasks) on JSON lines of inputs",
  positionals: [
    { name: "TASK", help: `the task: ${Object.keys(TASK_ALIASES).join(", ")}` },
    { name: "MODEL", help: "a model directory or URL" },
  ],
  options: {
    offsets: {
      type: "flag",
      help: "token classification as HF with a fast tokenizer: character offsets (start, end), the aggregations first, average, max",
    },
    "batch-size": batchSizeOption,
  },
  details: `Reads JSON lines {"inputs": ..., "options": {...}} on stdin (HF's first argument and keyword
arguments) and writes one JSON line per request: the pipeline's answer, or {"error": <Python
exception type>, "message": ...} for a request HF refuses; then carries on with the next one.`,
  async run({ TASK, MODEL }, o) {
    if (!Object.prototype.hasOwnProperty.call(TASK_ALIASES, TASK))
      throw new UsageError(
        `unknown task ${JSON.stringify(TASK)} (tasks: ${Object.keys(TASK_ALIASES).join(", ")})`,
        "pipeline",
      );
    await checkModelSource("MODEL", MODEL, "pipeline");
    if (process.stdin.isTTY)
      process.stderr.write(
        'simdbert pipeline: reading JSON requests from stdin, one per line ({"inputs": ..., "options": {...}}); end with Ctrl-D\n',
      );
    await runPipeline(TASK, MODEL, o.offsets, o["batch-size"]);
  },
});

async function runPipeline(
  task: string,
  dir: string,
  offsets: boolean,
  batchSize: number | undefined,
): Promise<void> {
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
