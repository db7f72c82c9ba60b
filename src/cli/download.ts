// simdbert download ID [--revision R] [--cache-dir DIR] [--endpoint URL] [--token T]
// Fetches a model's files (config, tokenizer, sentence-transformers files, the weights
// transformers would load) into the Hugging Face cache shared with Python, and prints the
// snapshot folder. A progress bar goes to stderr on a terminal.
import { downloadModel, isModelId, type HubOptions, type ProgressInfo } from "../loading/hub.js";
import { defineCommand, UsageError } from "./options.js";

export const command = defineCommand({
  name: "download",
  summary: "fetch a hub model into the Hugging Face cache (shared with Python); print its folder",
  positionals: [
    { name: "ID", help: "a hub model id: org/name, or a legacy name (bert-base-uncased)" },
  ],
  options: {
    revision: { type: "string", metavar: "R", help: "branch, tag or commit (default main)" },
    "cache-dir": {
      type: "path",
      metavar: "DIR",
      help: "the cache (default HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)",
    },
    endpoint: {
      type: "string",
      metavar: "URL",
      help: "the hub (default HF_ENDPOINT, else https://huggingface.co)",
    },
    token: {
      type: "string",
      metavar: "T",
      help: "access token (default HF_TOKEN, HUGGING_FACE_HUB_TOKEN, $HF_HOME/token)",
    },
  },
  details: `Downloads config.json, the tokenizer files, the sentence-transformers files and the
weights transformers would load (the first of model.safetensors, its index and shards,
pytorch_model.bin, its index and shards) into the cache, as huggingface_hub lays it out, and
prints the snapshot folder. With HF_HUB_OFFLINE=1 nothing is fetched.

  simdbert download sentence-transformers/all-MiniLM-L6-v2`,
  async run({ ID }, o) {
    if (!isModelId(ID))
      throw new UsageError(
        `ID: ${JSON.stringify(ID)} is not a hub model id (org/name or name)`,
        "download",
      );
    const hub: HubOptions = {
      ...(o.revision ? { revision: o.revision } : {}),
      ...(o["cache-dir"] ? { cache_dir: o["cache-dir"] } : {}),
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      ...(o.token ? { token: o.token } : {}),
    };
    if (process.stderr.isTTY) hub.progress_callback = bar();
    process.stdout.write((await downloadModel(ID, hub)) + "\n");
  },
});

/** A one-line progress bar per file on stderr. */
export function bar(): (p: ProgressInfo) => void {
  return (p) => {
    if (p.status === "progress" && p.total) {
      const w = 30;
      const f = Math.round(((p.loaded ?? 0) / p.total) * w);
      const mb = (n: number) => (n / 1048576).toFixed(1);
      process.stderr.write(
        `\r${p.file} [${"#".repeat(f)}${" ".repeat(w - f)}] ${mb(p.loaded ?? 0)}/${mb(p.total)} MB`,
      );
    } else if (p.status === "done") process.stderr.write(`\r${p.file}: done${" ".repeat(40)}\n`);
  };
}
