#!/usr/bin/env node
// Task pipelines' latency on a MiniLM-shaped BERT (all-MiniLM-L6-v2's shape: hidden 384, 6 layers,
// 12 heads, intermediate 1536, the bert-base-uncased vocabulary; seeded random weights, so the
// answers mean nothing but the work is the real one): per task, the median wall time of one
// typical call; then zero-shot with 10 labels and question answering over a long context
// (several windows) with the pairs / windows of one length run as one batch (batch_size 16) against one
// at a time (batch_size 1), interleaved in one process, medians and their ratio.
//
//   npm run bench:pipelines            (builds the TypeScript first)
//   node bench/pipelines.mjs [--runs=15] [--threads=N]
//
// Figures taken on a shared, loaded machine are noisy: compare the ratios, re-measure absolute
// times on a quiet one.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pipeline } from "../dist/index.js";
import {
  checkpoint,
  encoderShapes,
  headShapes,
  randomTensors,
} from "../test/support/random_model.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const RUNS = arg("runs", 15);
const THREADS = arg("threads", 0);
const vocabTxt = readFileSync(
  resolve(here, "..", "..", "shared", "fixtures", "vocab", "bert-base-uncased", "vocab.txt"),
  "utf8",
);

const MINILM = {
  vocab_size: 30522,
  hidden_size: 384,
  num_hidden_layers: 6,
  num_attention_heads: 12,
  intermediate_size: 1536,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  hidden_act: "gelu",
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
};

function model(cls, extra = {}, seed = 1) {
  const config = { ...MINILM, ...extra, architectures: [cls] };
  const withPooler = cls === "BertForSequenceClassification";
  const shapes = {
    ...encoderShapes(config, "bert.", { pooler: withPooler }),
    ...headShapes(cls, config),
  };
  return {
    ...checkpoint(config, randomTensors(shapes, seed)),
    "vocab.txt": vocabTxt,
    "tokenizer_config.json": JSON.stringify({ do_lower_case: true, model_max_length: 512 }),
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
async function time(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const SENTENCE = "The committee met on Tuesday in the old town hall to discuss the new library.";
const CONTEXT = Array.from(
  { length: 18 },
  (_, i) =>
    `In year ${1900 + i} the harbour of the northern town froze in January, and the fishermen of the coast repaired their boats while the council debated the budget of the lighthouse.`,
).join(" ");
const LABELS = [
  "music",
  "sports",
  "politics",
  "weather",
  "travel",
  "finance",
  "science",
  "health",
  "food",
  "art",
];

const engine = THREADS ? { threads: THREADS } : {};
const tasks = [
  [
    "fill-mask",
    model("BertForMaskedLM"),
    (p) => p("The committee met on [MASK] in the old town hall."),
  ],
  [
    "text-classification",
    model("BertForSequenceClassification", { id2label: { 0: "neg", 1: "neu", 2: "pos" } }),
    (p) => p(SENTENCE),
  ],
  [
    "token-classification",
    model("BertForTokenClassification", {
      id2label: Object.fromEntries(
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"].map(
          (l, i) => [i, l],
        ),
      ),
    }),
    (p) => p(SENTENCE, { aggregation_strategy: "simple" }),
  ],
  [
    "question-answering",
    model("BertForQuestionAnswering"),
    (p) => p({ question: "When did the harbour freeze?", context: CONTEXT.slice(0, 600) }),
  ],
  [
    "zero-shot-classification",
    model("BertForSequenceClassification", {
      id2label: { 0: "contradiction", 1: "neutral", 2: "entailment" },
    }),
    (p) => p(SENTENCE, LABELS),
  ],
];

console.log(
  `task pipelines on a MiniLM-shaped BERT (384 hidden, 6 layers), median of ${RUNS} runs${THREADS ? `, ${THREADS} threads` : ""}`,
);
const pipes = {};
for (const [task, files, call] of tasks) {
  const p = await pipeline(task, files, { ...engine, batch_size: 16 });
  pipes[task] = p;
  for (let i = 0; i < 2; i++) await call(p); // warm-up
  const ts = [];
  for (let i = 0; i < RUNS; i++) ts.push(await time(() => call(p)));
  console.log(`  ${task.padEnd(26)} ${median(ts).toFixed(2).padStart(8)} ms`);
}

// batched vs one at a time, interleaved: the same pipeline, batch_size per call
async function compare(name, call) {
  for (const b of [16, 1]) await call(b);
  const t16 = [];
  const t1 = [];
  for (let i = 0; i < RUNS; i++) {
    t16.push(await time(() => call(16)));
    t1.push(await time(() => call(1)));
  }
  const [m16, m1] = [median(t16), median(t1)];
  console.log(
    `  ${name.padEnd(44)} batched ${m16.toFixed(2)} ms, one by one ${m1.toFixed(2)} ms: ${(m1 / m16).toFixed(2)}x`,
  );
}
console.log("batched (batch_size 16) vs one by one (batch_size 1):");
await compare("zero-shot, 10 labels (10 pairs)", (b) =>
  pipes["zero-shot-classification"](SENTENCE, LABELS, { batch_size: b }),
);
const qaInput = { question: "When did the harbour freeze?", context: CONTEXT };
const windows = await pipes["question-answering"](qaInput, { top_k: 1 });
void windows;
await compare("question-answering, long context (windows)", (b) =>
  pipes["question-answering"](qaInput, { batch_size: b }),
);
