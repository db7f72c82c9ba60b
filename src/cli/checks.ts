// Checks of the paths a command is given, made before any model is loaded, so that a wrong path
// is refused at once, naming the argument or option and the path (Node's own errors for a
// directory read as a file do not name the path).
import { isModelId } from "../loading/hub.js";
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { UsageError } from "./options.js";

const show = (p: string) => JSON.stringify(p.length > 200 ? p.slice(0, 197) + "..." : p);

async function statOrNull(path: string) {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw e;
  }
}

/** A file to read: it exists and is not a directory (pipes and /dev/stdin are welcome). */
export async function checkInputFile(what: string, path: string, command: string): Promise<void> {
  const s = await statOrNull(path);
  if (!s) throw new UsageError(`${what}: no such file ${show(path)}`, command);
  if (s.isDirectory())
    throw new UsageError(`${what}: ${show(path)} is a directory, not a file`, command);
}

/** A file to write: not a directory, and its directory exists. */
export async function checkOutputFile(what: string, path: string, command: string): Promise<void> {
  const s = await statOrNull(path);
  if (s?.isDirectory())
    throw new UsageError(`${what}: ${show(path)} is a directory, not a file`, command);
  const dir = dirname(resolve(path));
  const d = await statOrNull(dir);
  if (!d || !d.isDirectory())
    throw new UsageError(`${what}: the directory of ${show(path)} does not exist`, command);
}

/** A model: an http(s) URL, or a directory that exists. */
export async function checkModelSource(what: string, source: string, command: string) {
  if (/^https?:\/\//i.test(source)) return;
  const s = await statOrNull(source);
  // a hub model id (org/name, bert-base-uncased) when no local path has that name
  if (!s && isModelId(source)) return;
  if (!s) throw new UsageError(`${what}: no such directory ${show(source)}`, command);
  if (!s.isDirectory())
    throw new UsageError(
      `${what}: ${show(source)} is a file; give the directory that holds config.json and the weights`,
      command,
    );
}
