// Loading the kernels' WebAssembly module, the same way in every runtime:
// - a precompiled WebAssembly.Module (Cloudflare/workerd, where compiling from bytes at run time
//   is refused: `import wasm from "simdbert/wasm"` and pass it in),
// - bytes (ArrayBuffer / typed array), a Response, or a URL / path string,
// - nothing: the .wasm shipped beside this file (file: URL read with node:fs in Node, Deno and
//   Bun; fetched elsewhere).
// Compiled modules are cached per source, so many models share one compilation.

import { EngineError } from "../errors.js";

export type WasmSource =
  WebAssembly.Module | ArrayBuffer | ArrayBufferView | Response | URL | string;

export interface WasmOptions {
  /** The kernels' module, or where to get it. Default: the build shipped with the package. */
  wasm?: WasmSource;
  /**
   * The relaxed-SIMD build (f32x4.relaxed_madd: a fused multiply-add where the CPU has one; for q8
   * weights an int8 kernel on the relaxed dot product where the engine's dot is exact on 8-bit
   * activations). Default "auto": the relaxed build where the runtime validates relaxed SIMD
   * (Chrome/V8 11.4+, Node 22+, Deno) and it runs the model's dtype faster: q8 weights where the
   * relaxed dot kernel runs (x86 with AVX-VNNI, ARM); fp32 and fp16 stay on the plain build (see
   * autoRelaxed and the README). true: the relaxed build; false: the plain build, whose results are
   * the same bits on every machine (relaxed_madd may or may not fuse, so the relaxed build's last
   * bits depend on the CPU; its q8 integer sums are exact either way).
   */
  relaxedSimd?: boolean | "auto";
  /** @internal the shared-memory (threads) build; set by Engine.create when it starts threads */
  sharedMemory?: boolean;
}

// The published .d.ts name WebAssembly.Module / .Memory and Response. A project compiled without
// the DOM library (`--lib es2022`, Node only) has no WebAssembly namespace: these empty
// declarations merge with the DOM's or @types/node's where those exist, and stand in (opaque)
// where they do not, so the package's types compile in every project.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace WebAssembly {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Module {}
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Memory {}
  }
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Response {}
}

const cache = new Map<string, Promise<WebAssembly.Module>>();

// (module (func (result v128) v128.const 0 v128.const 0 v128.const 0 f32x4.relaxed_madd))
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0, 253, 12, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 133, 2, 11,
]);

// (module (func (result v128) v128.const 0))
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

/** Whether this runtime validates WebAssembly SIMD (128-bit). */
export function hasSimd(): boolean {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** Whether this runtime validates relaxed SIMD (f32x4.relaxed_madd). */
export function hasRelaxedSimd(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

const IMPORT_HINT =
  'import the kernels as a module (`import wasm from "simdbert/wasm"`, which wrangler and workerd compile ahead of time) and pass { wasm } to fromPretrained / Engine.create';

function defaultUrl(relaxed: boolean, threads = false): URL {
  const base = import.meta.url as string | undefined;
  // workerd (Cloudflare) leaves import.meta.url undefined: new URL would only say "Invalid URL"
  if (typeof base !== "string" || !base) {
    throw new EngineError(
      `simdbert: cannot locate the kernels' .wasm in this runtime (no import.meta.url, as in Cloudflare workers): ${IMPORT_HINT}`,
    );
  }
  // literal `new URL("...", import.meta.url)` expressions, one per build: the form Vite, webpack
  // and Parcel follow to copy the .wasm beside a bundle (esbuild keeps them as written, so the
  // .wasm stays where this pattern says: ../../build/ from the bundle, or pass { wasm })
  if (threads)
    return relaxed
      ? new URL("../../build/simdbert-relaxed-threads.wasm", import.meta.url)
      : new URL("../../build/simdbert-threads.wasm", import.meta.url);
  return relaxed
    ? new URL("../../build/simdbert-relaxed.wasm", import.meta.url)
    : new URL("../../build/simdbert.wasm", import.meta.url);
}

async function readUrl(url: URL): Promise<ArrayBuffer | Response> {
  if (url.protocol === "file:") {
    // Node, Deno and Bun all provide node:fs; the specifier is built at run time so bundlers
    // for the browser do not try to resolve it.
    const fsName = "node:fs/promises";
    const fs = (await import(/* @vite-ignore */ fsName)) as {
      readFile(u: URL): Promise<Uint8Array>;
    };
    const bytes = await fs.readFile(url);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  const res = await fetch(url);
  if (!res.ok) {
    throw new EngineError(
      `simdbert: cannot fetch the kernels at ${url}: HTTP ${res.status} (a bundler may have moved the .wasm: pass its URL or module as { wasm })`,
    );
  }
  return res;
}

async function compileFrom(
  data: ArrayBuffer | ArrayBufferView | Response,
): Promise<WebAssembly.Module> {
  try {
    if (typeof Response !== "undefined" && data instanceof Response) {
      if (
        typeof WebAssembly.compileStreaming === "function" &&
        data.headers.get("content-type")?.startsWith("application/wasm")
      ) {
        return await WebAssembly.compileStreaming(data);
      }
      return await WebAssembly.compile(await data.arrayBuffer());
    }
    return await WebAssembly.compile(data as BufferSource);
  } catch (e) {
    // workerd / Cloudflare: "Wasm code generation disallowed by embedder"
    if (/disallowed|code generation/i.test(String((e as Error)?.message))) {
      throw new EngineError(
        `simdbert: this runtime does not compile WebAssembly from bytes (${(e as Error).message}): ${IMPORT_HINT}`,
        { cause: e },
      );
    }
    throw e;
  }
}

/** The weights' precision an engine is made for (fromPretrained's dtype option). */
export type ModelDtype = "fp32" | "fp16" | "q8";

/**
 * relaxedSimd "auto" per dtype: whether the relaxed build runs it faster, as measured with
 * `npm run bench:q8-models` (README, "Relaxed SIMD"):
 * - fp32, fp16: the plain build. The relaxed build's only change there is f32x4.relaxed_madd (a
 *   fused multiply-add); V8 12-13 (Node 22 / 24) on x86 ran it no faster (0.95-1.05x), so the plain
 *   build, whose bits are the same on every machine, is kept.
 * - q8: the relaxed build where its int8 kernel is the relaxed dot (assembly/gemm_q8.ts: the engine
 *   reads the dot's second operand as unsigned without saturation, x86 AVX-VNNI, or as signed, ARM
 *   sdot), about twice the plain kernel's speed; elsewhere it runs the plain build's kernel and
 *   gains nothing, so the plain build.
 * Without relaxed SIMD (or an unknown dtype) the plain build.
 */
export async function autoRelaxed(dtype: ModelDtype | undefined): Promise<boolean> {
  if (dtype !== "q8" || !hasRelaxedSimd()) return false;
  return (relaxedDot ??= probeRelaxedDot());
}

let relaxedDot: Promise<boolean> | undefined;

/** Whether the relaxed build's q8 kernel is a relaxed-dot one here (its own probe, q8_kernel). */
async function probeRelaxedDot(): Promise<boolean> {
  try {
    const mod = await kernelsModule({ relaxedSimd: true });
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    const instance = await WebAssembly.instantiate(mod, { env: { memory } });
    return (instance.exports as unknown as { q8_kernel(): number }).q8_kernel() !== 0;
  } catch {
    return false;
  }
}

/** Compiles (once) and returns the kernels' module for the given options. */
export function kernelsModule(options: WasmOptions = {}): Promise<WebAssembly.Module> {
  const src = options.wasm;
  if (src instanceof WebAssembly.Module) return Promise.resolve(src);
  if (!hasSimd()) {
    return Promise.reject(
      new EngineError(
        "simdbert: this runtime does not support WebAssembly SIMD (needed by the kernels)",
      ),
    );
  }
  if (src !== undefined && typeof src !== "string" && !(src instanceof URL))
    return compileFrom(src);
  let url: URL;
  if (src === undefined) {
    const mode = options.relaxedSimd ?? "auto";
    const want = mode === true || (mode === "auto" && hasRelaxedSimd());
    if (options.relaxedSimd === true && !hasRelaxedSimd()) {
      return Promise.reject(
        new EngineError(
          "simdbert: relaxedSimd was requested but this runtime does not support relaxed SIMD",
        ),
      );
    }
    try {
      url = defaultUrl(want, options.sharedMemory);
    } catch (e) {
      return Promise.reject(e);
    }
  } else {
    url = src instanceof URL ? src : toUrl(src);
  }
  const key = url.href;
  let p = cache.get(key);
  if (!p) {
    p = readUrl(url).then(compileFrom);
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

function toUrl(s: string): URL {
  try {
    return new URL(s);
  } catch {
    // a plain path: relative to the working directory where there is one
    const g = globalThis as { process?: { cwd(): string } };
    const base = g.process?.cwd ? "file://" + g.process.cwd().replace(/\\/g, "/") + "/" : undefined;
    if (!base) throw new EngineError(`simdbert: cannot resolve the wasm location "${s}"`);
    return new URL(s, base);
  }
}
