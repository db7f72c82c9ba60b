// simdbert download ID [--revision R] [--cache-dir DIR] [--endpoint URL] [--token T]
// Fetches a model's files (config, tokenizer, sentence-transformers files, the weights
// transformers would load) into the Hugging Face cache shared with Python, and prints the
// snapshot folder. A progress bar goes to stderr on a terminal (terminalProgress: also used by the
// other commands that load a model by id).
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
    Object.assign(hub, terminalProgress());
    process.stdout.write((await downloadModel(ID, hub)) + "\n");
  },
});

/**
 * `{ progress_callback }` drawing a download bar on stderr when stderr is a terminal (and TERM is
 * not "dumb"); `{}` otherwise: piped or redirected output never gets bar frames.
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): {
  progress_callback?: (p: ProgressInfo) => void;
} {
  if (!stream.isTTY || process.env.TERM === "dumb") return {};
  return { progress_callback: bar(stream) };
}

/**
 * A progress bar per file, redrawn in place on one line ("\r", then erase to the end of the
 * line), ended with the file's size once it is done.
 */
export function bar(stream: NodeJS.WritableStream = process.stderr): (p: ProgressInfo) => void {
  let open: string | null = null;
  return (p) => {
    if (p.status === "progress" && p.total) {
      const w = 30;
      const loaded = Math.min(p.loaded ?? 0, p.total);
      const f = Math.round((loaded / p.total) * w);
      const pct = String(Math.floor((loaded / p.total) * 100)).padStart(3);
      // the file's size picks the unit: kB below 1 MB
      const [d, unit] = p.total >= 1048576 ? [1048576, "MB"] : [1024, "kB"];
      const size = (n: number) => (n / d).toFixed(1);
      stream.write(
        `\r${p.file} ${pct}% [${"#".repeat(f)}${" ".repeat(w - f)}] ${size(loaded)}/${size(p.total)} ${unit}\x1b[K`,
      );
      open = p.file ?? "";
    } else if (p.status === "done" && open !== null && open === (p.file ?? "")) {
      stream.write(`\r${p.file}: done\x1b[K\n`);
      open = null;
    }
  };
}
