// Runtime matrix: Bun. `bun test/runtimes/bun.mjs [--fixtures DIR] [--runs N]`
import * as lib from "../../dist/index.js";
import { describe, RESULT_TAG, runChecks } from "./common.mjs";
import { fsContext, parseArgs } from "./fs-context.mjs";

const result = await runChecks(fsContext(lib, parseArgs(Bun.argv.slice(2))));
result.runtime = "bun";
result.version = Bun.version;
console.log(describe(result));
console.log(RESULT_TAG + JSON.stringify(result));
if (!result.pass) process.exit(1);
