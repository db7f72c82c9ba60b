// A Cloudflare-style worker that embeds text with simdbert.
//
// The kernels are imported as a WebAssembly.Module (`simdbert/wasm`): Workers refuse to compile
// wasm from bytes at run time, so the module must come in as an import, which wrangler (and
// workerd) compile at deploy time. The model is fetched once per isolate from MODEL_URL (a base
// URL holding config.json and model.safetensors: R2 public bucket, any static host), then kept.
//
//   POST /embed  {"input_ids": [[101, 7592, 102], ...], "attention_mask"?: [[1, 1, 1], ...]}
//             -> {"embeddings": [[...], ...]}  mean-pooled over the attention mask, L2-normalised
//
// TODO(pipeline): once simdbert's feature-extraction pipeline lands, accept {"texts": [...]} and
// replace embedIds() with
//   const extractor = await pipeline("feature-extraction", env.MODEL_URL, { wasm });
//   const t = await extractor(texts, { pooling: "mean", normalize: true });
import wasm from "simdbert/wasm";
import { BertModel } from "simdbert";

let model; // one per isolate: loading fetches the weights

async function modelSource(env) {
  if (env.MODEL) {
    const get = async (name) => {
      const res = await env.MODEL.fetch(new Request(`https://model/${name}`));
      if (!res.ok) throw new Error(`model asset ${name}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    };
    return { "config.json": await get("config.json"), "model.safetensors": await get("model.safetensors") };
  }
  if (env.MODEL_URL) return env.MODEL_URL;
  throw new Error("no model: bind the ./model folder as MODEL (assets) or set MODEL_URL");
}

async function getModel(env) {
  model ??= modelSource(env).then((source) => BertModel.fromPretrained(source, { wasm })).catch((e) => {
    model = undefined;
    throw e;
  });
  return model;
}

/** Mean pooling over the attention mask, then L2 normalisation (sentence-transformers' recipe). */
async function embedIds(m, input_ids, attention_mask) {
  attention_mask ??= input_ids.map((row) => row.map(() => 1));
  const out = await m.forward({ input_ids, attention_mask });
  const [n, seq, hidden] = out.last_hidden_state.shape;
  const h = out.last_hidden_state.data;
  const result = [];
  for (let b = 0; b < n; b++) {
    const v = new Float64Array(hidden);
    let count = 0;
    for (let t = 0; t < seq; t++) {
      if (!attention_mask[b][t]) continue;
      count++;
      for (let k = 0; k < hidden; k++) v[k] += h[(b * seq + t) * hidden + k];
    }
    let norm = 0;
    for (let k = 0; k < hidden; k++) norm += (v[k] /= Math.max(count, 1)) ** 2;
    norm = Math.sqrt(norm) || 1;
    result.push(Array.from(v, (x) => x / norm));
  }
  return result;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      if (request.method === "POST" && url.pathname === "/embed") {
        const body = await request.json();
        if (!Array.isArray(body.input_ids)) return Response.json({ error: "expected {input_ids: [[...]]}" }, { status: 400 });
        const embeddings = await embedIds(await getModel(env), body.input_ids, body.attention_mask);
        return Response.json({ embeddings });
      }
      if (url.pathname === "/") {
        const m = await getModel(env);
        return Response.json({ ok: true, hidden_size: m.config.hidden_size, layers: m.config.num_hidden_layers });
      }
      return new Response("not found", { status: 404 });
    } catch (e) {
      return Response.json({ error: String(e?.message ?? e) }, { status: 500 });
    }
  },
};
