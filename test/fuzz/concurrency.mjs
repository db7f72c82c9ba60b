// Concurrency: overlapping async calls on one model, and one model per worker_thread, must give
// exactly (bit for bit) the numbers of sequential calls on a model of its own.
//
//   overlap   a batch of calls (valid and invalid, random shapes, heads too) fired at once on one
//             model, sometimes with a synchronous run() slipped in between, against the same calls
//             made one after another on another instance; also on an engine with kernel threads
//   cache     a tree of decoder steps (continuations and branches of returned caches) fired as soon
//             as their parent answers, against the same tree walked in order
//   shared    two decoder models in one engine (one kept region for caches), their cache trees
//             interleaved, against models with engines of their own
//   workers   (at the end of each run) one model per worker_thread, each answering a list of
//             calls, against the main thread's sequential answers
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import {
  BertModel,
  BertForSequenceClassification,
  BertLMHeadModel,
  Engine,
} from "../../dist/index.js";
import { attempt, isTyped, sameBits, show, Rand } from "./lib.mjs";
import { fixture, quiet } from "./models.mjs";
import { validInputs, breakInputs, buildCall } from "./forward.mjs";

export const name = "concurrency";

const CLASSES = { BertModel, BertForSequenceClassification, BertLMHeadModel };
const TARGETS = [
  ["enc", "BertModel", {}, {}],
  ["seq", "BertForSequenceClassification", { id2label: { 0: "a", 1: "b", 2: "c" } }, {}],
  ["dec", "BertModel", { is_decoder: true, add_cross_attention: true }, {}],
  ["lm", "BertLMHeadModel", { is_decoder: true }, {}],
  [
    "thr",
    "BertModel",
    { position_embedding_type: "relative_key_query", max_position_embeddings: 24 },
    { threads: 2 },
  ],
];

/** Every tensor of an output (ModelOutput or tuple), flattened in a fixed order, for bitwise comparison. */
function tensorsOf(out, acc = []) {
  if (out == null) return acc;
  if (Array.isArray(out)) {
    out.forEach((o) => tensorsOf(o, acc));
    return acc;
  }
  if (out.data !== undefined && out.shape) {
    acc.push(out);
    return acc;
  }
  if (typeof out.keys === "function") for (const k of out.keys()) tensorsOf(out.get(k), acc);
  return acc;
}

function sameOutputs(a, b) {
  const ta = tensorsOf(a),
    tb = tensorsOf(b);
  if (ta.length !== tb.length) return `${ta.length} tensors vs ${tb.length}`;
  for (let i = 0; i < ta.length; i++) {
    if (ta[i].shape.join() !== tb[i].shape.join())
      return `tensor ${i}: shape [${ta[i].shape}] vs [${tb[i].shape}]`;
    if (!sameBits(ta[i].data, tb[i].data)) return `tensor ${i} (shape [${ta[i].shape}]) differs`;
  }
  return null;
}

/** Settled results of a sequential run and an overlapping one must agree. */
function agree(ctx, label, seq, par) {
  const { stats, i } = ctx;
  stats.add("checks");
  for (let k = 0; k < seq.length; k++) {
    const s = seq[k],
      p = par[k];
    for (const r of [s, p])
      if (r.status === "rejected" && !isTyped(r.reason))
        return stats.fail(
          "crashes",
          i,
          `${label} call ${k}: ${r.reason?.name}: ${r.reason?.message}`,
        );
    if (s.status !== p.status) {
      return stats.fail(
        "wrong",
        i,
        `${label} call ${k}: sequentially ${s.status === "fulfilled" ? "answered" : `rejected (${s.reason.message})`}, overlapping ${p.status === "fulfilled" ? "answered" : `rejected (${p.reason.message})`}`,
      );
    }
    if (s.status === "rejected") {
      if (s.reason.message !== p.reason.message)
        return stats.fail(
          "wrong",
          i,
          `${label} call ${k}: different errors: ${s.reason.message} / ${p.reason.message}`,
        );
      stats.add("rejected");
      continue;
    }
    const d = sameOutputs(s.value, p.value);
    if (d)
      return stats.fail(
        "wrong",
        i,
        `${label} call ${k}: overlapping answer differs from the sequential one: ${d}`,
      );
    stats.add("ok");
  }
}

export async function setup() {
  console.warn = () => {};
  const targets = {};
  let seed = 90;
  for (const [key, cls, config, opts] of TARGETS) {
    const fx = fixture(cls, config, seed++);
    const Cls = CLASSES[cls];
    const [a, b] = [
      await Cls.fromPretrained(fx.files, { ...quiet }),
      await Cls.fromPretrained(fx.files, { ...quiet, ...opts }),
    ];
    targets[key] = { key, cls, config: fx.config, fx, sequential: a, overlapping: b, opts };
  }
  // two decoders of different shapes placed in one engine
  const engine = await Engine.create();
  const shared = [];
  for (const key of ["dec", "lm"]) {
    const t = targets[key];
    shared.push({
      t,
      model: await CLASSES[t.cls].fromPretrained(t.fx.files, { ...quiet, engine }),
    });
  }
  return { targets, shared };
}

export async function teardown(state) {
  for (const t of Object.values(state.targets)) t.overlapping.engine.dispose?.();
}

async function overlap(state, r, ctx) {
  const key = r.pick(["enc", "enc", "seq", "dec", "lm", "thr"]);
  const t = state.targets[key];
  const tt = { key: key === "thr" ? "rel" : key, config: t.config };
  const n = r.int(2, 10);
  const calls = [];
  for (let k = 0; k < n; k++) {
    const x = validInputs(r, tt);
    if (r.chance(0.25)) breakInputs(r, tt, x);
    calls.push(buildCall(r, x).inputs);
  }
  ctx.stats.add("tried", n);
  if (ctx.verbose)
    ctx.log(
      `case ${ctx.i}: ${n} overlapping calls on ${t.cls}(${key}): ${calls.map((c) => show(c, 200)).join("\n  ")}`,
    );
  const seq = [];
  for (const c of calls)
    seq.push(await Promise.allSettled([t.sequential.forward(c)]).then((s) => s[0]));
  // all at once; sometimes a synchronous run() slipped in while they wait
  const sync = r.chance(0.3) ? r.int(0, n) : -1;
  const promises = [];
  let syncResult = null;
  for (let k = 0; k < n; k++) {
    promises.push(t.overlapping.forward(calls[k]));
    if (k === sync) {
      const [v, e, ok] = await attempt(() => t.overlapping.run(calls[k]));
      syncResult = ok ? { status: "fulfilled", value: v } : { status: "rejected", reason: e };
    }
  }
  const par = await Promise.allSettled(promises);
  agree(ctx, `${t.cls}(${key}) overlapping`, seq, par);
  if (syncResult)
    agree(
      ctx,
      `${t.cls}(${key}) synchronous run() between queued calls`,
      [seq[sync]],
      [syncResult],
    );
}

/** A tree of decoder steps for model t: each continues (or branches from) an earlier step's cache. */
function makeTree(r, t) {
  const c = t.config;
  const B = r.int(1, 3);
  const n = r.int(2, 8);
  const steps = [];
  const lengths = [];
  for (let k = 0; k < n; k++) {
    const parent = k === 0 || r.chance(0.15) ? -1 : r.int(0, k);
    const P = parent < 0 ? 0 : lengths[parent];
    const S = Math.min(parent < 0 ? r.int(1, 6) : r.int(1, 3), c.max_position_embeddings - P);
    if (S < 1) {
      steps.push({ parent: -1, input_ids: Array.from({ length: B }, () => [1]) });
      lengths.push(1);
      continue;
    }
    const step = {
      parent,
      input_ids: Array.from({ length: B }, () =>
        Array.from({ length: S }, () => r.int(0, c.vocab_size)),
      ),
    };
    if (c.add_cross_attention && r.chance(0.3) && parent < 0)
      step.encoder_hidden_states = Array.from({ length: B }, () =>
        Array.from({ length: 3 }, () => Array.from({ length: c.hidden_size }, () => r.normal())),
      );
    if (r.chance(0.3)) step.output_attentions = true;
    steps.push(step);
    lengths.push(P + S);
  }
  const inputs = (s, past) => {
    const x = { input_ids: s.input_ids, use_cache: true };
    if (past) x.past_key_values = past;
    if (s.output_attentions) x.output_attentions = true;
    // cross-attention states go with the root of a chain (the cache keeps their keys/values)
    let root = s;
    while (root.parent >= 0) root = steps[root.parent];
    if (root.encoder_hidden_states) x.encoder_hidden_states = root.encoder_hidden_states;
    return x;
  };
  return { steps, inputs, label: steps.map((s) => s.parent).join(",") };
}

/** The tree walked in order, one call after another. */
async function walkInOrder(model, tree) {
  const out = [];
  for (const s of tree.steps) {
    const past = s.parent >= 0 ? out[s.parent].value?.past_key_values : null;
    out.push((await Promise.allSettled([model.forward(tree.inputs(s, past))]))[0]);
  }
  return out;
}

/** Each step fired as soon as its parent answers. */
function fireAll(model, tree) {
  const out = [];
  for (const s of tree.steps) {
    const before = s.parent >= 0 ? out[s.parent] : Promise.resolve(null);
    out.push(before.then((o) => model.forward(tree.inputs(s, o?.past_key_values ?? null))));
  }
  return out;
}

async function cacheTree(state, r, ctx) {
  const t = state.targets[r.pick(["dec", "lm"])];
  const tree = makeTree(r, t);
  ctx.stats.add("tried", tree.steps.length);
  const seqOut = await walkInOrder(t.sequential, tree);
  const par = await Promise.allSettled(fireAll(t.overlapping, tree));
  agree(ctx, `${t.cls}(${t.key}) cache tree ${tree.label}`, seqOut, par);
}

/** Two decoder models on one engine (one kept region): their cache trees interleaved, against models with engines of their own. */
async function sharedEngine(state, r, ctx) {
  const trees = state.shared.map((s) => makeTree(r, s.t));
  ctx.stats.add("tried", trees[0].steps.length + trees[1].steps.length);
  const want = [];
  for (let k = 0; k < 2; k++) want.push(await walkInOrder(state.shared[k].t.sequential, trees[k]));
  let got;
  if (r.chance(0.5)) {
    const p = trees.map((tree, k) => fireAll(state.shared[k].model, tree));
    got = [await Promise.allSettled(p[0]), await Promise.allSettled(p[1])];
  } else {
    // one step at a time, alternating between the models at random
    got = [[], []];
    const next = [0, 0];
    while (next[0] < trees[0].steps.length || next[1] < trees[1].steps.length) {
      const k =
        next[0] >= trees[0].steps.length ? 1 : next[1] >= trees[1].steps.length ? 0 : r.int(0, 2);
      const s = trees[k].steps[next[k]++];
      const past = s.parent >= 0 ? got[k][s.parent].value?.past_key_values : null;
      got[k].push(
        (await Promise.allSettled([state.shared[k].model.forward(trees[k].inputs(s, past))]))[0],
      );
    }
  }
  for (let k = 0; k < 2; k++)
    agree(
      ctx,
      `shared engine: ${state.shared[k].t.cls}(${state.shared[k].t.key}) tree ${trees[k].label}`,
      want[k],
      got[k],
    );
}

export async function run(state, r, ctx) {
  if (r.chance(0.1)) return sharedEngine(state, r, ctx);
  if (r.chance(0.3)) return cacheTree(state, r, ctx);
  return overlap(state, r, ctx);
}

/** One model per worker_thread: the same calls answered in each worker and on the main thread. */
export async function finish(state, ctx) {
  const { stats } = ctx;
  const r = new Rand(ctx.seed ^ 0xc0ffee);
  for (const key of ["enc", "seq"]) {
    const t = state.targets[key];
    const calls = [];
    while (calls.length < 6) {
      const x = validInputs(r, { key, config: t.config });
      // plain values only: they cross to the workers by structured clone
      calls.push(buildCall(r, x).inputs);
    }
    const want = [];
    for (const c of calls)
      want.push(
        tensorsOf(await t.sequential.forward(c)).map((z) => ({ shape: z.shape, data: z.data })),
      );
    const workers = 2;
    const results = await Promise.all(
      Array.from({ length: workers }, () => {
        const w = new Worker(fileURLToPath(new URL("./concurrency_worker.mjs", import.meta.url)), {
          workerData: { cls: t.cls, files: t.fx.files, calls: calls.map(cloneable) },
        });
        return new Promise((resolve) => {
          w.once("message", (m) => resolve(m));
          w.once("error", (e) => resolve({ error: `${e?.name}: ${e?.message}` }));
        }).finally(() => w.terminate());
      }),
    );
    stats.add("tried", workers * calls.length);
    stats.add("checks");
    results.forEach((res, wi) => {
      if (res.error) return stats.fail("crashes", -1, `worker ${wi} (${t.cls}): ${res.error}`);
      res.outputs.forEach((got, k) => {
        const exp = want[k];
        const bad =
          got.length !== exp.length ||
          got.some(
            (g, j) => g.shape.join() !== exp[j].shape.join() || !sameBits(g.data, exp[j].data),
          );
        if (bad)
          stats.fail(
            "wrong",
            -1,
            `worker ${wi} (${t.cls}) call ${k}: differs from the main thread's sequential answer`,
          );
        else stats.add("ok");
      });
    });
    ctx.log(
      `workers: ${workers} × ${calls.length} calls on ${t.cls} compared with the main thread`,
    );
  }
}

/** Tensors -> {dtype, data, shape} (the worker rebuilds them), everything else as is. */
function cloneable(v) {
  if (v && typeof v === "object" && v.constructor?.name === "Tensor")
    return { __tensor: true, dtype: v.dtype, data: v.data, shape: v.shape };
  if (Array.isArray(v)) return v.map(cloneable);
  if (v && typeof v === "object" && !ArrayBuffer.isView(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cloneable(x)]));
  return v;
}

export const surface = { name, setup, teardown, run, finish };
