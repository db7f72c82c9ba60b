/* global Deno */
// The Cache API for real in Deno, as on Deno Deploy: run with DENO_DEPLOYMENT_ID set and no write
// permission (`deno run --allow-read --allow-env --allow-net=127.0.0.1,127.0.0.2 deno.mjs HUB`),
// a model id loads through the hub at HUB into Deno's own `caches` (persistent in DENO_DIR); run
// again with HF_HUB_OFFLINE=1, it loads from that cache with no request. Prints
// { out: last_hidden_state values, where } as JSON. test/hub_web.test.mjs drives it.
const [endpoint] = Deno.args;
const lib = await import("../../../dist/index.js");
// the id resolved as fromPretrained resolves it (here: no file system, so fetch + Cache API)
const source = lib.modelFiles("org/tiny", { endpoint });
const m = await lib.BertModel.fromPretrained(source, { warn: () => {} });
const out = await m.forward({ input_ids: [[2, 5, 6, 7, 3]] });
console.log(JSON.stringify({ out: Array.from(out.last_hidden_state.data), where: source.where }));
Deno.exit(0);
