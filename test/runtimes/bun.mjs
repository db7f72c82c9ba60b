/* global Bun */
// Runtime matrix: Bun. `bun test/runtimes/bun.mjs [--fixtures DIR] [--runs N]`
import * as lib from "../../dist/index.js";
import { describe, EXIT_WARNING, RESULT_TAG, runChecks } from "./common.mjs";
import { fsContext, parseArgs } from "./fs-context.mjs";

const result = await runChecks(fsContext(lib, parseArgs(Bun.argv.slice(2))));
result.runtime = "bun";
result.version = Bun.version;
console.log(describe(result));
console.log(RESULT_TAG + JSON.stringify(result));
if (!result.pass) process.exit(1);

// The script should end by itself now. If something still holds the process (e.g. a Worker busy
// in a synchronous loop, which Deno's terminate() does not stop), say so after 5 s and leave.
// A failure: the pool's threads are told to return through the shared memory (threads.ts).
const t = setTimeout(() => {
  console.log(EXIT_WARNING);
  process.exit(1);
}, 5000);
t.unref();
