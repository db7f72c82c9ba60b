// Random access to the bytes of one file, wherever it lives: a regular file read in place
// (node:fs), bytes already in memory, or an http(s) URL read with Range requests. Every
// checkpoint reader (safetensors, PyTorch zip and legacy .bin, shards) reads through this, so a
// tensor goes from its source straight into its destination in wasm memory: no reader holds a
// whole weight file in JS memory (except an HTTP server that refuses ranges, see HttpAccess).
import { SourceError, WeightsError } from "../errors.js";
import { openRegularFile } from "./files.js";

export interface RandomAccess {
  /** Total size in bytes. */
  readonly size: number;
  /** Human-readable location for messages. */
  readonly where: string;
  /** Fills dst with bytes [pos, pos + dst.length) (an error past the end). */
  read(pos: number, dst: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Bytes [pos, pos + n) as a new array (n is checked against the file size first). */
export async function readAt(ra: RandomAccess, pos: number, n: number): Promise<Uint8Array> {
  checkRange(ra, pos, n);
  const b = new Uint8Array(n);
  await ra.read(pos, b);
  return b;
}

function checkRange(ra: RandomAccess, pos: number, n: number): void {
  if (
    !Number.isSafeInteger(pos) ||
    !Number.isSafeInteger(n) ||
    pos < 0 ||
    n < 0 ||
    pos + n > ra.size
  )
    throw new WeightsError(
      `${ra.where}: bytes [${pos}, ${pos + n}) lie outside the file (${ra.size} bytes): truncated or damaged`,
    );
}

export class BytesAccess implements RandomAccess {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly where = "in-memory file",
  ) {
    this.size = bytes.length;
  }
  async read(pos: number, dst: Uint8Array): Promise<void> {
    checkRange(this, pos, dst.length);
    dst.set(this.bytes.subarray(pos, pos + dst.length));
  }
  async close(): Promise<void> {}
}

type Handle = Awaited<ReturnType<typeof import("node:fs/promises").open>>;

/** A regular file read in place. */
export class FileAccess implements RandomAccess {
  private constructor(
    private readonly handle: Handle,
    readonly size: number,
    readonly where: string,
  ) {}

  /** Opens a regular file (null when it does not exist; FIFOs, devices and folders are refused). */
  static async open(path: string): Promise<FileAccess | null> {
    // checked before opening (a FIFO would block the open) and on the handle (see files.ts)
    const opened = await openRegularFile(path, path.slice(path.search(/[^\\/]*$/)) || "the file");
    return opened && new FileAccess(opened.handle, opened.size, path);
  }
  async read(pos: number, dst: Uint8Array): Promise<void> {
    checkRange(this, pos, dst.length);
    let done = 0;
    while (done < dst.length) {
      const { bytesRead } = await this.handle.read(dst, done, dst.length - done, pos + done);
      if (bytesRead === 0)
        throw new WeightsError(`${this.where}: file ended early (truncated while reading)`);
      done += bytesRead;
    }
  }
  async close(): Promise<void> {
    await this.handle.close();
  }
}

export interface HttpOptions {
  /** Extra request headers (say Authorization). */
  headers?: Record<string, string>;
  /** Bytes fetched per request beyond what a read asks for (sequential reads share requests). */
  window?: number;
  fetch?: typeof fetch;
}

/**
 * A file behind an http(s) URL. The first request asks for a Range of the file's start: a 206
 * answer (Content-Range gives the size) means every later read is a Range request through a
 * read-ahead window of `window` bytes (readers go forward, so a model takes about size/window
 * requests and JS holds at most one window). A 200 answer means the server ignores ranges: the
 * body is then kept in memory (the only way to read such a file at random).
 */
export class HttpAccess implements RandomAccess {
  private winPos = 0;
  private win: Uint8Array = new Uint8Array(0);
  private whole: Uint8Array | null = null;
  private constructor(
    readonly url: string,
    readonly size: number,
    readonly where: string,
    private readonly options: HttpOptions,
  ) {}

  /** Range requests made so far (for tests and diagnostics). */
  requests = 1;

  /** Opens the URL (null on 404). */
  static async open(url: string, options: HttpOptions = {}): Promise<HttpAccess | null> {
    const f = options.fetch ?? fetch;
    const window = options.window ?? 4 << 20;
    const res = await f(url, {
      headers: { ...(options.headers ?? {}), Range: `bytes=0-${window - 1}` },
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (res.status === 416) {
      // an empty file
      await res.body?.cancel();
      const a = new HttpAccess(url, 0, url, options);
      a.whole = new Uint8Array(0);
      return a;
    }
    if (res.status === 206) {
      const m = /bytes\s+(\d+)-(\d+)\/(\d+)/i.exec(res.headers.get("content-range") ?? "");
      if (!m || Number(m[1]) !== 0)
        throw new SourceError(`GET ${url}: a 206 answer without a usable Content-Range`);
      const a = new HttpAccess(url, Number(m[3]), url, options);
      a.win = new Uint8Array(await res.arrayBuffer());
      a.winPos = 0;
      return a;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new SourceError(`GET ${url}: HTTP ${res.status}`);
    }
    const whole = new Uint8Array(await res.arrayBuffer());
    const a = new HttpAccess(url, whole.length, url, options);
    a.whole = whole;
    return a;
  }

  /** Whether reads go through Range requests (false: the server sent the whole file). */
  get ranged(): boolean {
    return this.whole === null;
  }

  async read(pos: number, dst: Uint8Array): Promise<void> {
    checkRange(this, pos, dst.length);
    if (this.whole) {
      dst.set(this.whole.subarray(pos, pos + dst.length));
      return;
    }
    let done = 0;
    while (done < dst.length) {
      const at = pos + done;
      if (at >= this.winPos && at < this.winPos + this.win.length) {
        const from = at - this.winPos;
        const n = Math.min(this.win.length - from, dst.length - done);
        dst.set(this.win.subarray(from, from + n), done);
        done += n;
        continue;
      }
      const need = dst.length - done;
      const window = this.options.window ?? 4 << 20;
      if (need >= window) {
        // a large read goes straight into its destination
        await this.fetchRange(at, need, dst.subarray(done));
        done += need;
        continue;
      }
      const n = Math.min(window, this.size - at);
      const buf = new Uint8Array(n);
      await this.fetchRange(at, n, buf);
      this.win = buf;
      this.winPos = at;
    }
  }

  private async fetchRange(pos: number, n: number, dst: Uint8Array): Promise<void> {
    const f = this.options.fetch ?? fetch;
    this.requests++;
    const res = await f(this.url, {
      headers: { ...(this.options.headers ?? {}), Range: `bytes=${pos}-${pos + n - 1}` },
    });
    if (res.status !== 206) {
      await res.body?.cancel();
      throw new SourceError(
        `GET ${this.url} (bytes ${pos}-${pos + n - 1}): HTTP ${res.status}, expected 206 (the file changed or the server stopped serving ranges)`,
      );
    }
    const reader = res.body?.getReader();
    let done = 0;
    if (reader) {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        if (done + value.length > n) {
          await reader.cancel();
          throw new SourceError(`GET ${this.url}: the range answer is longer than asked`);
        }
        dst.set(value, done);
        done += value.length;
      }
    }
    if (done !== n)
      throw new SourceError(
        `GET ${this.url} (bytes ${pos}-${pos + n - 1}): got ${done} of ${n} bytes (connection cut?)`,
      );
  }

  async close(): Promise<void> {
    this.win = new Uint8Array(0);
    this.whole = null;
  }
}
