// Runtime matrix: Node. `node test/runtimes/node.mjs [--fixtures DIR] [--runs N]`
import * as lib from "../../dist/index.js";
import { describe, EXIT_WARNING, RESULT_TAG, runChecks } from "./common.mjs";
import { fsContext, parseArgs } from "./fs-context.mjs";

const result = await runChecks(fsContext(lib, parseArgs(process.argv.slice(2))));
result.runtime = "node";
result.version = process.version.replace(/^v/, "");
console.log(describe(result));
console.log(RESULT_TAG + JSON.stringify(result));
process.exitCode = result.pass ? 0 : 1;

// The script should end by itself now. If something still holds the process (e.g. a Worker busy
// in a synchronous loop, which Deno's terminate() does not stop), say so after 5 s and leave.
// A failure: the pool's threads are told to return through the shared memory (threads.ts).
const t = setTimeout(() => {
  console.log(EXIT_WARNING);
  process.exit(1);
}, 5000);
t.unref();
