// Runtime matrix: Deno. `deno run --allow-read test/runtimes/deno.mjs [--fixtures DIR] [--runs N]`
// Only read permission: the library must need no env, net or write access to load from a directory.
import * as lib from "../../dist/index.js";
import { describe, RESULT_TAG, runChecks } from "./common.mjs";
import { fsContext, parseArgs } from "./fs-context.mjs";

const result = await runChecks(fsContext(lib, parseArgs(Deno.args)));
result.runtime = "deno";
result.version = Deno.version.deno;
console.log(describe(result));
console.log(RESULT_TAG + JSON.stringify(result));
if (!result.pass) Deno.exit(1);
