// Engine: the state one engine keeps across calls, attacked from outside a single call.
//
//   shared   models loaded into an engine that is serving forwards of another model on it, one or
//            two loads at once (in-memory files and directories, whose reads really await I/O),
//            forwards fired before, between and after, a synchronous run() slipped in
//   kept     a decoder's returned cache of which only some tensors are kept (`[[k]] = past`), the
//            container dropped and collected, then more calls that reuse the cache's memory
//   edited   a returned cache edited before it is passed back: a value changed in place, a tensor
//            or a layer replaced, or left alone
//
// Oracles: every answer bit-identical to the same call on a model with an engine of its own (a
// load gives the bits it gives alone, a forward during a load too); a synchronous run() during a
// load is an EngineError; a kept cache tensor reads the values the call produced; a cache passed
// back answers as the same values passed as plain tensors (PyTorch uses what it is given).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import {
  BertModel,
  BertForSequenceClassification,
  Engine,
  EngineError,
  Tensor,
} from "../../dist/index.js";
import { attempt, isTyped, sameBits } from "./lib.mjs";
import { fixture, quiet } from "./models.mjs";

export const name = "engine";

const CLASSES = { BertModel, BertForSequenceClassification };
const MODELS = [
  ["a", "BertModel", {}],
  ["b", "BertForSequenceClassification", { hidden_size: 24, num_attention_heads: 3 }],
  ["c", "BertModel", { num_hidden_layers: 3, intermediate_size: 40 }],
];

function idsOf(r, vocab, maxB = 3, maxS = 9) {
  const B = r.int(1, maxB + 1),
    S = r.int(1, maxS + 1);
  return Array.from({ length: B }, () => Array.from({ length: S }, () => r.int(0, vocab)));
}

const mainOutput = (out) => (out.logits ?? out.last_hidden_state).data;

export async function setup() {
  console.warn = () => {};
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  const dir = mkdtempSync(join(tmpdir(), "simdbert-fuzz-engine-"));
  const models = {};
  let seed = 70;
  for (const [key, cls, config] of MODELS) {
    const fx = fixture(cls, config, seed++);
    const path = join(dir, key);
    mkdirSync(path);
    for (const [n, v] of Object.entries(fx.files)) writeFileSync(join(path, n), v);
    models[key] = {
      cls: CLASSES[cls],
      fx,
      path,
      solo: await CLASSES[cls].fromPretrained(fx.files, quiet),
    };
  }
  const dec = fixture("BertModel", { is_decoder: true, add_cross_attention: true }, 77);
  const dec2 = fixture("BertModel", { is_decoder: true }, 78);
  return {
    dir,
    gc,
    models,
    dec,
    dec2,
    soloDec: await BertModel.fromPretrained(dec.files, quiet),
  };
}

export async function teardown(state) {
  rmSync(state.dir, { recursive: true, force: true });
}

/** Compares a settled answer with the solo model's answer to the same input. */
async function check(ctx, label, settled, solo, input) {
  const { stats, i } = ctx;
  stats.add("checks");
  const [want, werr, wok] = await attempt(() => solo.forward(input));
  if (settled.status === "rejected") {
    if (!isTyped(settled.reason))
      return stats.fail(
        "crashes",
        i,
        `${label}: ${settled.reason?.name}: ${settled.reason?.message}`,
      );
    if (wok || werr?.message !== settled.reason.message)
      return stats.fail(
        "wrong",
        i,
        `${label}: rejected (${settled.reason.message}) where alone it ${wok ? "answers" : `fails with ${werr?.message}`}`,
      );
    return stats.add("rejected");
  }
  if (!wok)
    return stats.fail("wrong", i, `${label}: answered where alone it fails: ${werr?.message}`);
  if (!sameBits(mainOutput(settled.value), mainOutput(want)))
    return stats.fail(
      "wrong",
      i,
      `${label}: the answer differs from the same call on a model of its own`,
    );
  stats.add("ok");
}

async function runShared(state, r, ctx) {
  const { stats } = ctx;
  const e = await Engine.create();
  const a = state.models.a;
  const host = await a.cls.fromPretrained(r.chance(0.5) ? a.path : a.fx.files, {
    ...quiet,
    engine: e,
  });
  const loads = r.chance(0.4) ? ["b", "c"] : [r.pick(["b", "c"])];
  const pending = [];
  const inputs = [];
  const fire = (model, key) => {
    const input = { input_ids: idsOf(r, state.models[key].fx.config.vocab_size) };
    inputs.push([key, input]);
    pending.push(model.forward(input));
  };
  for (let k = r.int(0, 3); k > 0; k--) fire(host, "a");
  const loading = loads.map((key) => {
    const m = state.models[key];
    return m.cls.fromPretrained(r.chance(0.6) ? m.path : m.fx.files, { ...quiet, engine: e });
  });
  let syncTried = false;
  for (let k = r.int(1, 6); k > 0; k--) {
    if (r.chance(0.5)) await new Promise((res) => setImmediate(res));
    if (r.chance(0.2) && !syncTried) {
      syncTried = true;
      const [, err, ok] = await attempt(() =>
        host.run({ input_ids: idsOf(r, state.models.a.fx.config.vocab_size) }),
      );
      // during a load: refused; otherwise it answers (checked below through forward)
      if (!ok && !(err instanceof EngineError && /being loaded/.test(err.message)))
        stats.fail(
          "crashes",
          ctx.i,
          `a synchronous run() on a shared engine: ${err?.name}: ${err?.message}`,
        );
      if (!ok && !e.loading)
        stats.fail(
          "wrong",
          ctx.i,
          `a synchronous run() was refused with no load under way: ${err?.message}`,
        );
    }
    fire(host, "a");
  }
  const loaded = await Promise.allSettled(loading);
  const models = [];
  for (const [k, s] of loaded.entries()) {
    if (s.status === "rejected")
      return stats.fail(
        "wrong",
        ctx.i,
        `loading ${loads[k]} into a shared engine failed: ${s.reason?.message}`,
      );
    models.push([loads[k], s.value]);
  }
  // every model on the engine, after the loads, in random order
  for (let k = r.int(1, 5); k > 0; k--) {
    const [key, m] = r.pick([["a", host], ...models]);
    fire(m, key);
  }
  const settled = await Promise.allSettled(pending);
  for (const [k, s] of settled.entries()) {
    const [key, input] = inputs[k];
    await check(ctx, `shared engine: ${key} call ${k}`, s, state.models[key].solo, input);
  }
  e.dispose();
}

function encoderStates(r, B, Se, H) {
  const data = new Float32Array(B * Se * H);
  for (let k = 0; k < data.length; k++) data[k] = r.normal();
  return new Tensor("float32", data, [B, Se, H]);
}

/** A decoder step's inputs. */
function decInput(r, cfg, B, S, enc, past) {
  return {
    input_ids: Array.from({ length: B }, () =>
      Array.from({ length: S }, () => r.int(0, cfg.vocab_size)),
    ),
    encoder_hidden_states: enc,
    past_key_values: past ?? null,
    use_cache: true,
  };
}

const copyOf = (t) => new Tensor("float32", Float32Array.from(t.data), t.shape);

async function runKept(state, r, ctx) {
  const { stats, i } = ctx;
  const cfg = state.dec.config;
  const shareEngine = r.chance(0.4);
  const e = shareEngine ? await Engine.create() : undefined;
  const m = await BertModel.fromPretrained(state.dec.files, { ...quiet, engine: e });
  const other = shareEngine
    ? await BertModel.fromPretrained(state.dec2.files, { ...quiet, engine: e })
    : null;
  const B = r.int(1, 3),
    Se = r.int(1, 5);
  const enc = encoderStates(r, B, Se, cfg.hidden_size);
  const first = decInput(r, cfg, B, r.int(1, 5), enc, null);
  // the kept tensors, taken from a container that then goes out of scope
  const kept = await (async () => {
    const out = await m.forward(first);
    const picks = [];
    for (let l = 0; l < cfg.num_hidden_layers; l++)
      for (let k = 0; k < 4; k++) if (r.chance(0.3)) picks.push([l, k, out.past_key_values[l][k]]);
    if (!picks.length) picks.push([0, 0, out.past_key_values[0][0]]);
    return picks;
  })();
  // a call that leaves the cache's memory alone (no cache), then a collection: nothing but the
  // kept tensors refers to the cache's data when the next calls reuse its memory
  await m.forward({ ...decInput(r, cfg, B, r.int(1, 3), enc, null), use_cache: false });
  state.gc();
  await new Promise((res) => setImmediate(res));
  state.gc();
  // calls that reuse the slab: new epochs (no past, or plain tensors), another model's cache
  for (let k = r.int(1, 4); k > 0; k--) {
    // collected at any time, as in a long-running process
    state.gc();
    const which = r.int(0, 3);
    if (which === 0) await m.forward(decInput(r, cfg, B, r.int(1, 4), enc, null));
    else if (which === 1 && other) await other.forward({ input_ids: [[1, 2, 3]], use_cache: true });
    else {
      // a new epoch from plain tensors
      const o = await m.forward(decInput(r, cfg, B, r.int(1, 3), enc, null));
      const plain = o.past_key_values.map((layer) => layer.map(copyOf));
      await m.forward(decInput(r, cfg, B, 1, enc, plain));
    }
  }
  const want = (await state.soloDec.forward(first)).past_key_values;
  stats.add("checks");
  for (const [l, k, t] of kept) {
    const [data, err, ok] = await attempt(() => t.data);
    if (!ok)
      return stats.fail(
        isTyped(err) ? "wrong" : "crashes",
        i,
        `a kept cache tensor [${l}][${k}] could not be read after its container was collected: ${err?.name}: ${err?.message}`,
      );
    if (!sameBits(data, want[l][k].data))
      return stats.fail(
        "wrong",
        i,
        `a kept cache tensor [${l}][${k}] changed after its container was collected`,
      );
  }
  stats.add("ok");
  e?.dispose();
}

async function runEdited(state, r, ctx) {
  const { stats, i } = ctx;
  const cfg = state.dec.config;
  const m = await BertModel.fromPretrained(state.dec.files, quiet);
  const B = r.int(1, 3),
    Se = r.int(1, 5);
  const enc = encoderStates(r, B, Se, cfg.hidden_size);
  const out = await m.forward(decInput(r, cfg, B, r.int(1, 5), enc, null));
  const cache = out.past_key_values;
  const L = cache.sequenceLength;
  const heads = cfg.num_attention_heads,
    d = cfg.hidden_size / heads;
  const rand = (shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    for (let k = 0; k < n; k++) x[k] = r.normal();
    return new Tensor("float32", x, shape);
  };
  const edit = r.pick(["none", "read", "inplace", "tensor", "layer"]);
  const l = r.int(0, cfg.num_hidden_layers),
    k = r.int(0, 4);
  const shapeOf = (kind) => [B, heads, kind < 2 ? L : Se, d];
  if (edit === "read") void cache[l][k].data;
  else if (edit === "inplace") {
    const data = cache[l][k].data;
    data[r.int(0, data.length)] += 1 + r.normal();
  } else if (edit === "tensor") cache[l][k] = rand(shapeOf(k));
  else if (edit === "layer") cache[l] = [0, 1, 2, 3].map((kind) => rand(shapeOf(kind)));
  // the same values as plain tensors (copies: reading them does not change the cache's state)
  const plain = cache.map((layer) => layer.map(copyOf));
  const next = decInput(r, cfg, B, r.int(1, 4), enc, cache);
  const got = await m.forward(next);
  const want = await state.soloDec.forward({ ...next, past_key_values: plain });
  stats.add("checks");
  if (!sameBits(got.last_hidden_state.data, want.last_hidden_state.data))
    return stats.fail(
      "wrong",
      i,
      `a returned cache ${edit === "none" ? "passed back" : `edited (${edit}, layer ${l} tensor ${k})`} answers differently from its values passed as plain tensors`,
    );
  stats.add("ok");
}

export async function run(state, r, ctx) {
  ctx.stats.add("tried");
  const kind = r.weighted([
    [4, runShared],
    [3, runKept],
    [3, runEdited],
  ]);
  await kind(state, r, ctx);
}

export const surface = { name, setup, teardown, run };
