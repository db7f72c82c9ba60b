/* global Deno */
// Runtime matrix: Deno. `deno run --allow-read test/runtimes/deno.mjs [--fixtures DIR] [--runs N]`
// Only read permission: the library must need no env, net or write access to load from a directory.
import * as lib from "../../dist/index.js";
import { describe, EXIT_WARNING, RESULT_TAG, runChecks } from "./common.mjs";
import { fsContext, parseArgs } from "./fs-context.mjs";

const result = await runChecks(fsContext(lib, parseArgs(Deno.args)));
result.runtime = "deno";
result.version = Deno.version.deno;
console.log(describe(result));
console.log(RESULT_TAG + JSON.stringify(result));
if (!result.pass) Deno.exit(1);

// The script should end by itself now. If something still holds the process (e.g. a Worker busy
// in a synchronous loop, which Deno's terminate() does not stop), say so after 5 s and leave.
// A failure: the pool's threads are told to return through the shared memory (threads.ts).
const t = setTimeout(() => {
  console.log(EXIT_WARNING);
  Deno.exit(1);
}, 5000);
Deno.unrefTimer(t);
