// A Cloudflare-style worker that embeds text with simdbert.
//
// The kernels are imported as a WebAssembly.Module (`simdbert/wasm`): Workers refuse to
// compile wasm from bytes at run time, so the module must come in as an import, which wrangler (and
// workerd) compile at deploy time. The model folder (config.json + model.safetensors, and for text
// vocab.txt or tokenizer.json) is loaded once per isolate, then kept:
//   - from the MODEL static-assets binding (the ./model folder, see wrangler.jsonc): read into
//     memory and passed as a file map; fine for small models (an asset is at most 25 MiB),
//   - else from MODEL_URL, a base URL fetched by the library (an R2 public bucket, any host).
//
//   POST /embed  {"texts": ["a sentence", ...]}            (needs the pipeline and a tokenizer)
//            or  {"input_ids": [[101, 7592, 102], ...], "attention_mask"?: [[1, 1, 1], ...]}
//             -> {"embeddings": [[...], ...]}  mean-pooled over the attention mask, L2-normalised
import wasm from "simdbert/wasm";
import * as simdbert from "simdbert";

const MODEL_FILES = ["config.json", "model.safetensors"];
const OPTIONAL_FILES = [
  "vocab.txt",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "sentence_bert_config.json",
];

let loaded; // one per isolate: loading reads the weights

async function modelSource(env) {
  if (env.MODEL) {
    const files = {};
    for (const name of [...MODEL_FILES, ...OPTIONAL_FILES]) {
      const res = await env.MODEL.fetch(new Request(`https://model/${name}`));
      if (res.ok) files[name] = new Uint8Array(await res.arrayBuffer());
      else if (MODEL_FILES.includes(name))
        throw new Error(`model asset ${name}: HTTP ${res.status}`);
    }
    return { source: files, hasTokenizer: "vocab.txt" in files || "tokenizer.json" in files };
  }
  if (env.MODEL_URL) {
    const base = env.MODEL_URL.replace(/\/+$/, "");
    const heads = await Promise.all(
      ["vocab.txt", "tokenizer.json"].map((f) =>
        fetch(`${base}/${f}`, { method: "HEAD" }).then(
          (r) => r.ok,
          () => false,
        ),
      ),
    );
    return { source: base, hasTokenizer: heads.some(Boolean) };
  }
  throw new Error("no model: bind the ./model folder as MODEL (assets) or set MODEL_URL");
}

async function load(env) {
  const { source, hasTokenizer } = await modelSource(env);
  if (typeof simdbert.pipeline === "function" && hasTokenizer) {
    const extractor = await simdbert.pipeline("feature-extraction", source, { wasm });
    return { model: extractor.model, extractor };
  }
  return { model: await simdbert.BertModel.fromPretrained(source, { wasm }), extractor: null };
}

function getModel(env) {
  loaded ??= load(env).catch((e) => {
    loaded = undefined;
    throw e;
  });
  return loaded;
}

/** Texts through the pipeline: [n, hidden] rows. */
async function embedTexts(extractor, texts) {
  const t = await extractor(texts, { pooling: "mean", normalize: true });
  const [n, hidden] = t.shape;
  return Array.from({ length: n }, (_, i) =>
    Array.from(t.data.subarray(i * hidden, (i + 1) * hidden)),
  );
}

/** Token ids: mean pooling over the attention mask, then L2 normalisation (sentence-transformers' recipe). */
async function embedIds(model, input_ids, attention_mask) {
  attention_mask ??= input_ids.map((row) => row.map(() => 1));
  const out = await model.forward({ input_ids, attention_mask });
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
        const { model, extractor } = await getModel(env);
        if (Array.isArray(body.texts)) {
          if (!extractor)
            return Response.json(
              { error: "this model (or simdbert build) has no tokenizer: send input_ids" },
              { status: 400 },
            );
          return Response.json({ embeddings: await embedTexts(extractor, body.texts) });
        }
        if (Array.isArray(body.input_ids))
          return Response.json({
            embeddings: await embedIds(model, body.input_ids, body.attention_mask),
          });
        return Response.json(
          { error: 'expected {"texts": [...]} or {"input_ids": [[...]]}' },
          { status: 400 },
        );
      }
      if (url.pathname === "/") {
        const { model, extractor } = await getModel(env);
        return Response.json({
          ok: true,
          text: !!extractor,
          hidden_size: model.config.hidden_size,
          layers: model.config.num_hidden_layers,
        });
      }
      return new Response("not found", { status: 404 });
    } catch (e) {
      return Response.json({ error: String(e?.message ?? e) }, { status: 500 });
    }
  },
};
