// Opening a model's local files safely (Node, Deno, Bun). A path may name a FIFO (opening it for
// reading blocks until a writer comes, holding one of the runtime's few file-I/O threads for
// ever), a device (/dev/zero, /dev/urandom: endless bytes), a socket or a directory. Only regular
// files are read: the path is checked with stat before opening (a FIFO is never opened), opened
// non-blocking where the platform has O_NONBLOCK, and checked again on the open handle (the path
// may have been swapped in between). Files read whole (JSON, vocabularies) have a size cap far
// above any real file, so a mistaken path cannot fill the memory.
//
// Every reader of local files (model files, tokenizer files, hub caches, request files) goes
// through openRegularFile / readRegularFile.

import { SourceError } from "../errors.js";

/** A local file could not be used: not a regular file, or too large to read whole. */
export class FileError extends SourceError {
  override name = "FileError";
}

/** Cap of JSON files read whole (config.json, tokenizer_config.json, requests): 64 MiB. */
export const MAX_JSON_BYTES = 64 * 2 ** 20;
/** Cap of other files read whole (vocab.txt, tokenizer.json, tensor files of requests): 1 GiB. */
export const MAX_FILE_BYTES = 2 ** 30;

type NodeFs = typeof import("node:fs/promises");
export type FileHandle = Awaited<ReturnType<NodeFs["open"]>>;

// Variable specifiers: bundlers for browsers and workers leave these imports alone.
const NODE_FS_PROMISES = "node:fs/promises";
const NODE_FS = "node:fs";
const fsPromises = () => import(/* @vite-ignore */ NODE_FS_PROMISES) as Promise<NodeFs>;
let openFlags: Promise<number | string> | null = null;
/** O_RDONLY | O_NONBLOCK where the platform has O_NONBLOCK (not Windows, where FIFOs are not files). */
function readFlags(): Promise<number | string> {
  openFlags ??= (import(/* @vite-ignore */ NODE_FS) as Promise<typeof import("node:fs")>)
    .then(({ constants: c }) =>
      typeof c?.O_NONBLOCK === "number" && typeof c.O_RDONLY === "number"
        ? c.O_RDONLY | c.O_NONBLOCK
        : "r",
    )
    .catch(() => "r");
  return openFlags;
}

interface StatLike {
  isFile(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  size: number | bigint;
}

function kindOf(s: StatLike): string {
  if (s.isDirectory()) return "a directory";
  if (s.isFIFO()) return "a FIFO (named pipe)";
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  if (s.isSocket()) return "a socket";
  return "not a regular file";
}

function checkRegular(s: StatLike, path: string, what: string): void {
  if (!s.isFile())
    throw new FileError(`${path}: ${what} must be a regular file, but it is ${kindOf(s)}`);
}

/**
 * Opens a regular file for reading; null when it does not exist. Throws FileError for a FIFO, a
 * device, a socket or a directory, without blocking. `what` names the file in messages.
 */
export async function openRegularFile(
  path: string,
  what = "the file",
): Promise<{ handle: FileHandle; size: number } | null> {
  const fs = await fsPromises();
  const absent = (e: unknown) => {
    const code = (e as { code?: string }).code;
    return code === "ENOENT" || code === "ENOTDIR";
  };
  try {
    checkRegular(await fs.stat(path), path, what);
  } catch (e) {
    if (absent(e)) return null;
    throw e;
  }
  let handle: FileHandle;
  try {
    handle = await fs.open(path, await readFlags());
  } catch (e) {
    if (absent(e)) return null;
    throw e;
  }
  try {
    const s = await handle.stat();
    checkRegular(s, path, what);
    return { handle, size: Number(s.size) };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * Reads a whole regular file (at most maxBytes); null when it does not exist. Throws FileError for
 * anything but a regular file, or a file larger than maxBytes.
 */
export async function readRegularFile(
  path: string,
  { maxBytes = MAX_FILE_BYTES, what = "the file" }: { maxBytes?: number; what?: string } = {},
): Promise<Uint8Array | null> {
  const opened = await openRegularFile(path, what);
  if (!opened) return null;
  const { handle, size } = opened;
  try {
    if (size > maxBytes)
      throw new FileError(
        `${path}: ${what} is ${size} bytes, more than the ${maxBytes}-byte limit for a file read whole`,
      );
    const out = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(out, done, size - done, done);
      if (bytesRead === 0) break; // shrank while being read
      done += bytesRead;
    }
    // grew while being read: read up to the cap, never past it
    if (done === size) {
      const probe = new Uint8Array(1);
      const { bytesRead } = await handle.read(probe, 0, 1, size);
      if (bytesRead)
        throw new FileError(`${path}: ${what} changed size while being read (${size} bytes)`);
    }
    return done === size ? out : out.subarray(0, done);
  } finally {
    await handle.close();
  }
}
