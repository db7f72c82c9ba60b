// simdbert download ID [--revision R] [--cache-dir DIR] [--endpoint URL] [--token T]
// Fetches a model's files (config, tokenizer, sentence-transformers files, the weights
// transformers would load) into the Hugging Face cache shared with Python, and prints the
// snapshot folder. A progress bar goes to stderr on a terminal.
import { downloadModel, isModelId, type HubOptions, type ProgressInfo } from "../loading/hub.js";

export const DOWNLOAD_USAGE =
  "usage: simdbert download ID [--revision R] [--cache-dir DIR] [--endpoint URL] [--token T]";

export async function downloadCommand(args: string[]): Promise<void> {
  const o: HubOptions = {};
  let id = "";
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith("--"))
        throw new Error(`${a} needs a value\n${DOWNLOAD_USAGE}`);
      return v;
    };
    if (a === "--help" || a === "-h") {
      console.log(DOWNLOAD_USAGE);
      return;
    } else if (a === "--revision") o.revision = val();
    else if (a === "--cache-dir") o.cache_dir = val();
    else if (a === "--endpoint") o.endpoint = val();
    else if (a === "--token") o.token = val();
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}\n${DOWNLOAD_USAGE}`);
    else if (!id) id = a;
    else throw new Error(`unexpected argument ${a}\n${DOWNLOAD_USAGE}`);
  }
  if (!id) throw new Error(DOWNLOAD_USAGE);
  if (!isModelId(id)) throw new Error(`"${id}" is not a hub model id (org/name or name)`);
  if (process.stderr.isTTY) o.progress_callback = bar();
  const folder = await downloadModel(id, o);
  process.stdout.write(folder + "\n");
}

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
