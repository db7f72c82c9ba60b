// Every command of `simdbert`, in the order `simdbert --help` lists them. To add a command: write
// src/cli/<name>.ts exporting `command = defineCommand({ name, summary, positionals, options,
// details?, run })` (see options.ts), import it here and add it to COMMANDS; its usage line,
// `--help`, option checking and error printing then come from the framework.
import type { Command } from "./options.js";
import { command as forward } from "./forward.js";
import { command as tokenize } from "./tokenize.js";
import { command as embed } from "./embed.js";
import { command as serve } from "./serve.js";
import { command as pipeline } from "./pipeline.js";
import { command as download } from "./download.js";

export const COMMANDS: readonly Command[] = [embed, pipeline, serve, tokenize, forward, download];
