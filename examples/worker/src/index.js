// A Cloudflare-style worker serving text-embeddings-inference's and OpenAI's embedding API with
// simdbert's fetch handler (the same core as `simdbert serve`: dynamic batching, TEI's errors,
// /health, /info, /metrics):
//
//   POST /embed          {"inputs": ["a sentence", ...], "normalize": true}  -> [[...], ...]
//   POST /v1/embeddings  {"input": ["a sentence", ...] | [[101, 7592, 102]]} -> OpenAI's shape
//   POST /tokenize, /decode, /embed_all;  GET /health, /info, /metrics
//
// The kernels are imported as a WebAssembly.Module (`simdbert/wasm`): Workers refuse to compile
// wasm from bytes at run time, so the module must come in as an import, which wrangler (and
// workerd) compile at deploy time. The model folder (config.json, model.safetensors, vocab.txt or
// tokenizer.json, optionally 1_Pooling/config.json and sentence_bert_config.json) is loaded once
// per isolate, then kept:
//   - from the MODEL static-assets binding (the ./model folder, see wrangler.jsonc): read into
//     memory and passed as a file map; fine for small models (an asset is at most 25 MiB),
//   - else from MODEL_URL, a base URL fetched by the library (an R2 public bucket, any host).
// Optional vars: POOLING ("mean" | "cls"; default: the model's 1_Pooling/config.json, else mean),
// API_KEY (then every route but /health and /metrics wants "Authorization: Bearer API_KEY").
import wasm from "simdbert/wasm";
import { createHandler } from "simdbert/serve";

const FILES = [
  "config.json",
  "model.safetensors",
  "vocab.txt",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "sentence_bert_config.json",
  "1_Pooling/config.json",
];
const REQUIRED = ["config.json", "model.safetensors"];

async function modelSource(env) {
  if (env.MODEL) {
    const files = {};
    for (const name of FILES) {
      const res = await env.MODEL.fetch(new Request(`https://model/${name}`));
      if (res.ok) files[name] = new Uint8Array(await res.arrayBuffer());
      else if (REQUIRED.includes(name)) throw new Error(`model asset ${name}: HTTP ${res.status}`);
    }
    return files;
  }
  if (env.MODEL_URL) return env.MODEL_URL.replace(/\/+$/, "");
  throw new Error("no model: bind the ./model folder as MODEL (assets) or set MODEL_URL");
}

let handler; // one per isolate: loading reads the weights

/** POOLING, else the model's 1_Pooling/config.json (undefined: the handler reads it), else mean. */
function pooling(env, source) {
  if (env.POOLING) return env.POOLING;
  if (typeof source === "string") return undefined;
  return source["1_Pooling/config.json"] ? undefined : "mean";
}

export default {
  async fetch(request, env) {
    if (!handler) {
      const source = await modelSource(env);
      handler = createHandler(source, {
        load: { wasm },
        pooling: pooling(env, source),
        apiKey: env.API_KEY || undefined,
        modelId: env.MODEL_ID || "simdbert",
      });
      // a failed load is retried by the next request
      handler.ready.catch(() => (handler = undefined));
    }
    // the first requests wait for the model instead of getting 503 while it loads
    const h = handler;
    if (new URL(request.url).pathname !== "/health") await h.ready.catch(() => undefined);
    return h(request);
  },
};
