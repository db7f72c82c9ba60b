// Runtime matrix: Node. `node test/runtimes/node.mjs [--fixtures DIR] [--runs N]`
import * as lib from "../../dist/index.js";
import { describe, RESULT_TAG, runChecks } from "./common.mjs";
import { fsContext, parseArgs } from "./fs-context.mjs";

const result = await runChecks(fsContext(lib, parseArgs(process.argv.slice(2))));
result.runtime = "node";
result.version = process.version.replace(/^v/, "");
console.log(describe(result));
console.log(RESULT_TAG + JSON.stringify(result));
process.exitCode = result.pass ? 0 : 1;
