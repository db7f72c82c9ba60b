#!/usr/bin/env node
// simdbert's command line: forward (reference requests), tokenize, embed.
import { forwardCommand } from "./forward.js";

const USAGE = `usage:
  simdbert forward MODEL_DIR REQUEST.json OUT.safetensors
  simdbert tokenize TOKENIZER_DIR            (JSON lines on stdin -> JSON lines on stdout)
  simdbert embed MODEL [--pooling cls|max|mean|mean_sqrt_len] [--normalize] [--input FILE] [--out FILE.npy]
  simdbert pipeline TASK MODEL_DIR [--offsets] [--batch-size N]   (JSON lines {inputs, options} -> answers)
  simdbert serve MODEL [--host 127.0.0.1] [--port 3000] [--max-batch-tokens 16384] ...  (an HTTP server: TEI's and OpenAI's API)`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "forward":
      return forwardCommand(rest);
    case "tokenize": {
      const m = await import("./tokenize.js");
      return m.tokenizeCommand(rest);
    }
    case "embed": {
      const m = await import("./embed.js");
      return m.embedCommand(rest);
    }
    case "pipeline": {
      const m = await import("./pipeline.js");
      return m.pipelineCommand(rest);
    }
    case "serve": {
      const m = await import("./serve.js");
      return m.serveCommand(rest);
    }
    case undefined:
    case "-h":
    case "--help":
      console.log(USAGE);
      return;
    default:
      throw new Error(`unknown command "${cmd}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const err = e as Error;
  process.stderr.write(
    `simdbert: ${err.name && err.name !== "Error" ? err.name + ": " : ""}${err.message}\n`,
  );
  process.exit(1);
});
