// The runtime matrix's bert-base q8 worker (bert_base_q8.mjs lays it out and drives it):
//   GET /run?model=URL&seq=N  loads the model folder at URL (the library's Range-request loader),
//                             runs one b1 forward of N tokens, answers JSON: the engine's wasm
//                             memory after load and after the forward, its weights' bytes, the
//                             output's digest (common.mjs bitsDigest) and whether it is finite.
import wasm from "./simdbert.wasm";
import * as lib from "./dist/index.js";
import { bertBaseInputs, bitsDigest } from "./common.mjs";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/run") return new Response("not found", { status: 404 });
    try {
      const seq = Number(url.searchParams.get("seq") ?? 128);
      let t0 = Date.now();
      const model = await lib.BertModel.fromPretrained(url.searchParams.get("model"), { wasm });
      const loadMs = Date.now() - t0;
      const afterLoad = model.engine.memoryBytes;
      t0 = Date.now();
      const out = await model.forward(bertBaseInputs(seq, model.config.vocab_size));
      const forwardMs = Date.now() - t0;
      const data = out.last_hidden_state.data;
      const result = {
        afterLoad,
        afterForward: model.engine.memoryBytes,
        weightBytes: model.engine.weightBytes,
        shape: Array.from(out.last_hidden_state.shape),
        digest: bitsDigest(data),
        finite: data.every(Number.isFinite),
        loadMs,
        forwardMs,
      };
      model.dispose?.();
      return Response.json(result);
    } catch (e) {
      return new Response(String((e && e.stack) || e), { status: 500 });
    }
  },
};
