// `import wasm from "simdbert/wasm"` (and -relaxed, -threads, -relaxed-threads): the kernels as a
// precompiled WebAssembly.Module, as Cloudflare workers / wrangler, workerd and bundlers with a
// wasm-module loader give it. Pass it as { wasm } to fromPretrained, pipeline or Engine.create.
import type { kernelsModule } from "../dist/index.js";

declare const wasm: Awaited<ReturnType<typeof kernelsModule>>;
export default wasm;
