// The task pipelines (fill-mask, text-classification, token-classification, question-answering,
// zero-shot-classification) through the JS API on the shared reference cases
// (../shared/fixtures/pipelines: transformers 4.30.2's own answers), by the rules of
// check-pipeline.mjs (integers equal, scores within 1e-4, HF's order); batched runs against
// batch_size 1 bit for bit; bad input as typed errors, after which the pipeline still answers.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { pipeline, PipelineError, SimdbertError } from "../dist/index.js";
import { sharedPath } from "./support/shared.mjs";
import { rng } from "./support/random_model.mjs";

const ROOT = sharedPath("fixtures", "pipelines");
const META = new Set(["task.txt", "requests.jsonl", "expected.jsonl", "vocab.json", "case.md"]);
const lines = (p) =>
  readFileSync(p, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

function loadCase(name) {
  const dir = join(ROOT, name);
  const files = {};
  for (const f of readdirSync(dir)) {
    if (META.has(f) || !statSync(join(dir, f)).isFile()) continue;
    files[f] = f.endsWith(".json")
      ? JSON.parse(readFileSync(join(dir, f), "utf8"))
      : new Uint8Array(readFileSync(join(dir, f)));
  }
  const { vocab } = JSON.parse(readFileSync(join(dir, "vocab.json"), "utf8"));
  files["vocab.txt"] = readFileSync(sharedPath("fixtures", "vocab", vocab, "vocab.txt"), "utf8");
  return {
    task: readFileSync(join(dir, "task.txt"), "utf8").trim(),
    files,
    requests: lines(join(dir, "requests.jsonl")),
    expected: lines(join(dir, "expected.jsonl")),
  };
}

const isObj = (x) => x !== null && typeof x === "object" && !Array.isArray(x);

/** check-pipeline.mjs's comparison; returns the problems found. */
function compare(exp, got, path = "$", problems = []) {
  if (isObj(exp) && Object.keys(exp).length === 1 && "error" in exp) {
    if (!isObj(got) || !("error" in got)) problems.push(`${path}: expected an error`);
  } else if (isObj(exp)) {
    const ek = Object.keys(exp).sort().join();
    if (!isObj(got) || Object.keys(got).sort().join() !== ek) problems.push(`${path}: keys differ`);
    else for (const k of Object.keys(exp)) compare(exp[k], got[k], `${path}.${k}`, problems);
  } else if (Array.isArray(exp)) {
    if (!Array.isArray(got) || got.length !== exp.length) problems.push(`${path}: length differs`);
    else exp.forEach((e, i) => compare(e, got[i], `${path}[${i}]`, problems));
  } else if (typeof exp === "number" && !Number.isInteger(exp)) {
    if (!(Math.abs(got - exp) <= 1e-4)) problems.push(`${path}: ${got} vs ${exp}`);
  } else if (exp !== got)
    problems.push(`${path}: ${JSON.stringify(got)} vs ${JSON.stringify(exp)}`);
  return problems;
}

/** Every number of a against b within tol, everything else equal. */
function close(a, b, tol, path = "$") {
  if (typeof a === "number") {
    assert.ok(Math.abs(a - b) <= tol, `${path}: ${a} vs ${b}`);
  } else if (Array.isArray(a)) {
    assert.is(a.length, b.length, `${path}: length`);
    a.forEach((x, i) => close(x, b[i], tol, `${path}[${i}]`));
  } else if (isObj(a)) {
    assert.equal(Object.keys(a).sort(), Object.keys(b).sort(), `${path}: keys`);
    for (const k of Object.keys(a)) close(a[k], b[k], tol, `${path}.${k}`);
  } else assert.is(a, b, path);
}

async function answer(pipe, req) {
  try {
    return await pipe(req.inputs, req.options ?? {});
  } catch (e) {
    if (!(e instanceof PipelineError)) throw e;
    return { error: e.pyType };
  }
}

const CASES = readdirSync(ROOT)
  .filter((d) => statSync(join(ROOT, d)).isDirectory())
  .sort();

for (const name of CASES) {
  test(`${name}: HF's answers through the JS API, batched = batch_size 1 bit for bit`, async () => {
    const c = loadCase(name);
    const one = await pipeline(c.task, c.files, { batch_size: 1 });
    const many = await pipeline(c.task, c.files, { batch_size: 8 });
    for (let i = 0; i < c.requests.length; i++) {
      const got = await answer(one, c.requests[i]);
      const problems = compare(c.expected[i], got);
      assert.equal(problems, [], `${name} request ${i}: ${problems.slice(0, 3).join("; ")}`);
      const batched = await answer(many, c.requests[i]);
      close(batched, got, 0, `${name} request ${i} batched`);
    }
  });
}

test("text-classification scores(): every label in id order, pairs, for servers", async () => {
  const c = loadCase("text_classification");
  const tc = await pipeline("text-classification", c.files);
  assert.equal(tc.labels, ["bad", "okay", "good"]);
  const pair = { text: "Was the room quiet?", text_pair: "We heard traffic all night." };
  const [a, b] = await tc.scores(["It was fine.", [pair.text, pair.text_pair]]);
  const all = await tc("It was fine.", { top_k: null });
  for (const { label, score } of all)
    assert.ok(Math.abs(a[tc.labels.indexOf(label)] - score) < 1e-12);
  const best = await tc(pair);
  assert.ok(Math.abs(b[tc.labels.indexOf(best.label)] - best.score) < 1e-12);
  const raw = await tc.scores(["It was fine."], { function_to_apply: "none" });
  const logits = await tc("It was fine.", { top_k: null, function_to_apply: "none" });
  for (const { label, score } of logits)
    assert.ok(Math.abs(raw[0][tc.labels.indexOf(label)] - score) < 1e-12);
  await rejects(tc.scores(["x"], { top_k: 1 }), /unknown option "top_k"/);
});

test("aliases, unknown task, a head that does not fit the task", async () => {
  const tc = loadCase("text_classification");
  const sa = await pipeline("sentiment-analysis", tc.files);
  assert.is(sa.task, "text-classification");
  const ner = await pipeline("ner", loadCase("token_classification").files);
  assert.is(ner.task, "token-classification");
  for (const [task, files, re] of [
    ["translation", tc.files, /unknown pipeline task "translation"/],
    ["fill-mask", tc.files, /BertForSequenceClassification.*no head for "fill-mask"/],
    ["question-answering", tc.files, /no head for "question-answering"/],
  ]) {
    try {
      await pipeline(task, files);
      assert.unreachable(`${task} accepted`);
    } catch (e) {
      assert.instance(e, PipelineError);
      assert.instance(e, SimdbertError);
      assert.match(e.message, re);
    }
  }
});

async function rejects(promise, re, pyType) {
  try {
    await promise;
  } catch (e) {
    assert.instance(e, PipelineError, `${e}`);
    assert.match(e.message, re);
    if (pyType) assert.is(e.pyType, pyType);
    return;
  }
  assert.unreachable(`accepted; expected ${re}`);
}

test("bad input: typed errors naming the problem, and the next call still answers", async () => {
  const fm = loadCase("fill_mask_cased");
  const unmask = await pipeline("fill-mask", fm.files);
  const good = await unmask(fm.requests[0].inputs);
  await rejects(unmask("No mask at all."), /No mask_token \(\[MASK\]\)/, "PipelineException");
  await rejects(unmask("a [MASK]", { top_k: 0 }), /top_k must be >= 1/);
  await rejects(unmask("a [MASK]", { targets: [] }), /At least one target/);
  await rejects(unmask("a [MASK]", { topk: 2 }), /unknown option "topk"/, "TypeError");
  await rejects(unmask(Array(80).fill("word").join(" ") + " [MASK]"), /positions/, "RuntimeError");
  close(await unmask(fm.requests[0].inputs), good, 0);

  const zs = loadCase("zero_shot");
  const classify = await pipeline("zero-shot-classification", zs.files);
  await rejects(classify("text", { candidate_labels: [] }), /at least one label/);
  await rejects(classify("text", { candidate_labels: " , ," }), /at least one label/);
  await rejects(
    classify("text", ["a"], { hypothesis_template: "no slot" }),
    /not able to be formatted/,
  );
  await rejects(classify("text", ["a"], { hypothesis_template: "{x}" }), /'x'/, "KeyError");
  await rejects(classify("text", {}), /candidate_labels/);
  const z = await classify("text", "a, b");
  assert.equal(z.labels.slice().sort(), ["a", "b"]);

  const qaCase = loadCase("question_answering");
  const qa = await pipeline("question-answering", qaCase.files);
  const q = { question: "Who?", context: "Ada wrote it." };
  await rejects(qa(q, { top_k: 0 }), /top_k parameter should be >= 1/);
  await rejects(qa(q, { max_answer_len: 0 }), /max_answer_len parameter should be >= 1/);
  await rejects(qa(q, { doc_stride: 50, max_seq_len: 40 }), /doc_stride.*larger than.*max_seq_len/);
  await rejects(qa({ question: "", context: "x" }), /question` cannot be empty/);
  await rejects(qa({ question: "q" }), /context is missing/, "KeyError");
  const a = await qa("Who wrote it?", "Ada wrote it.", { top_k: 2 });
  assert.is(a.length, 2);
  close(await qa({ question: "Who wrote it?", context: "Ada wrote it." }, { top_k: 2 }), a, 0);

  const tcCase = loadCase("text_classification");
  const tc = await pipeline("text-classification", tcCase.files);
  await rejects(tc("x", { function_to_apply: "default" }), /function_to_apply/, "KeyError");
  await rejects(tc("x", { top_k: -1 }), /top_k must be >= 1/);
  await rejects(tc("x", { foo: 1 }), /unknown option "foo"/);
  await rejects(tc(["x", ["a", "b", "c"]]), /invalid inputs/);

  const tok = loadCase("token_classification");
  const ner = await pipeline("ner", tok.files);
  await rejects(ner([]), /At least one input/);
  await rejects(
    ner("x", { aggregation_strategy: "first" }),
    /Slow tokenizers cannot handle subwords/,
  );
  await rejects(ner("x", { aggregation_strategy: "bogus" }), /bogus/, "KeyError");
  await rejects(ner("x", { stride: 4 }), /stride/);
  const r = await ner("Marie Curie", { grouped_entities: true });
  assert.ok(r.every((g) => "entity_group" in g && g.start === null));
});

test("token-classification with offsets: start / end, the text's [UNK], first / average / max", async () => {
  const c = loadCase("token_classification");
  const slow = await pipeline("ner", c.files);
  const fast = await pipeline("ner", c.files, { offsets: true });
  assert.is(fast.offsets, true);
  const text = "Renée visited Köln. 東京 is far away! 😀 Tim Cook runs Apple.";
  const all = { ignore_labels: [] };
  const none = await fast(text, all);
  const noneSlow = await slow(text, all);
  assert.is(none.length, noneSlow.length);
  none.forEach((e, i) => {
    const piece = text.slice(e.start, e.end);
    if (noneSlow[i].word === "[UNK]")
      assert.is(e.word, piece); // the text's own characters
    else assert.is(e.word.replace(/^##/, ""), piece);
    assert.is(e.entity, noneSlow[i].entity);
    assert.ok(Math.abs(e.score - noneSlow[i].score) < 1e-12);
  });
  // the slow path's answers are unchanged by the option, [UNK] and offsets aside
  const simple = await fast(text, { aggregation_strategy: "simple" });
  const simpleSlow = await slow(text, { aggregation_strategy: "simple" });
  assert.equal(
    simple.map((g) => [g.entity_group, g.score]),
    simpleSlow.map((g) => [g.entity_group, g.score]),
  );
  for (const strategy of ["first", "average", "max"]) {
    const words = await fast(text, { aggregation_strategy: strategy, ignore_labels: [] });
    // whole words: every group starts and ends at a word boundary of the text
    for (const g of words) {
      assert.ok(
        g.start === 0 || /[\s.!]/.test(text[g.start - 1]) || /[.!]/.test(text[g.start]),
        `${strategy}: ${g.word} starts inside a word`,
      );
      assert.ok(
        g.end === text.length || /[\s.!]/.test(text[g.end]) || /[.!]/.test(text[g.end - 1]),
        `${strategy}: ${g.word} ends inside a word`,
      );
    }
    const renee = words.find((g) => g.word.startsWith("Ren"));
    assert.equal([renee.start, renee.end, renee.word], [0, 5, "Renée"]);
    const tokens = none.filter((e) => e.start >= 0 && e.end <= 5);
    const want =
      strategy === "first"
        ? tokens[0].score
        : strategy === "max"
          ? Math.max(...tokens.map((t) => t.score))
          : null;
    if (want !== null) assert.ok(Math.abs(renee.score - want) < 1e-12, `${strategy} score`);
  }
});

test("token-classification, slow path with the caller's offset_mapping (HF's argument)", async () => {
  const c = loadCase("token_classification");
  const ner = await pipeline("ner", c.files);
  const text = "I like \u2603 and K\u00f6ln.";
  const { offset_mapping } = ner.tokenizer.encode_plus(text, { return_offsets_mapping: true });
  const plain = await ner(text, { ignore_labels: [] });
  const withOffsets = await ner(text, { ignore_labels: [], offset_mapping });
  assert.is(withOffsets.length, plain.length);
  withOffsets.forEach((e, i) => {
    assert.equal([e.start, e.end], offset_mapping[e.index]);
    assert.is(e.word, plain[i].word === "[UNK]" ? text.slice(e.start, e.end) : plain[i].word);
  });
  assert.ok(withOffsets.some((e) => e.word === "\u2603"));
  await rejects(ner([text, text], { offset_mapping: [offset_mapping] }), /same batch size/);
  await rejects(ner(text, { offset_mapping: [offset_mapping.slice(0, 2)] }), /spans/);
});

test("simdbert pipeline: error lines in place, then the next request, exit 0", () => {
  const c = loadCase("zero_shot");
  // the CLI reads a model folder: write the case's files to a temporary one
  const dir = mkdtempSync(join(tmpdir(), "simdbert-pipeline-"));
  for (const [f, v] of Object.entries(c.files))
    writeFileSync(
      join(dir, f),
      v instanceof Uint8Array || typeof v === "string" ? v : JSON.stringify(v),
    );
  const input = [
    JSON.stringify(c.requests[0]),
    "not json",
    JSON.stringify({ inputs: "x", options: { candidate_labels: [] } }),
    JSON.stringify({ inputs: "x", options: { candidate_labels: ["a"], bogus: 1 } }),
    JSON.stringify(c.requests[1]),
  ].join("\n");
  const r = spawnSync(process.execPath, ["dist/cli/main.js", "pipeline", c.task, dir], {
    input,
    encoding: "utf8",
  });
  rmSync(dir, { recursive: true, force: true });
  assert.is(r.status, 0, r.stderr);
  const out = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.is(out.length, 5);
  assert.equal(compare(c.expected[0], out[0]), []);
  assert.is(out[1].error, "JSONDecodeError");
  assert.is(out[2].error, "ValueError");
  assert.is(out[3].error, "TypeError");
  assert.equal(compare(c.expected[1], out[4]), []);
});

test("seeded random requests: an answer of the right shape or a PipelineError, never a crash", async () => {
  const r = rng(16);
  const pieces = [
    "Paris",
    "[MASK]",
    "[SEP]",
    "[UNK]",
    " ",
    "\t",
    "\n",
    "\u202f",
    "\u00a0",
    "é",
    "e\u0301",
    "東京",
    "😀",
    "\u0000",
    "\ud800",
    ",",
    ".",
    "!",
    "?",
    "'s",
    "n't",
    "##ing",
    "{}",
    "{",
    "}",
    "İ",
    "ΣΑΣ",
    "한국",
  ];
  const text = (n) =>
    Array.from({ length: n }, () => pieces[Math.floor(r() * pieces.length)]).join(
      r() < 0.5 ? " " : "",
    );
  const pipes = {};
  for (const name of CASES) {
    const c = loadCase(name);
    pipes[c.task] = await pipeline(c.task, c.files);
  }
  const calls = [
    [
      "fill-mask",
      () => [text(1 + Math.floor(r() * 12)) + " [MASK]", { top_k: 1 + Math.floor(r() * 4) }],
    ],
    [
      "text-classification",
      () => [
        r() < 0.5 ? text(1 + Math.floor(r() * 20)) : { text: text(5), text_pair: text(5) },
        r() < 0.5 ? {} : { top_k: null },
      ],
    ],
    [
      "token-classification",
      () => [
        text(1 + Math.floor(r() * 20)),
        { aggregation_strategy: r() < 0.5 ? "none" : "simple" },
      ],
    ],
    [
      "question-answering",
      () => [
        { question: text(1 + Math.floor(r() * 5)), context: text(1 + Math.floor(r() * 60)) },
        {
          top_k: 1 + Math.floor(r() * 3),
          max_seq_len: 48,
          doc_stride: 8 + Math.floor(r() * 20),
          handle_impossible_answer: r() < 0.5,
        },
      ],
    ],
    [
      "zero-shot-classification",
      () => [
        text(1 + Math.floor(r() * 10)),
        {
          candidate_labels: text(1 + Math.floor(r() * 4)),
          hypothesis_template: r() < 0.8 ? "This is {}." : text(3),
        },
      ],
    ],
  ];
  let answered = 0;
  for (let i = 0; i < (Number(process.env.PIPELINE_FUZZ) || 150); i++) {
    const [task, make] = calls[i % calls.length];
    const [inputs, options] = make();
    try {
      const out = await pipes[task](inputs, options);
      assert.ok(out !== undefined && out !== null, `${task}: no answer`);
      JSON.stringify(out); // plain JSON values
      answered++;
    } catch (e) {
      assert.instance(
        e,
        PipelineError,
        `${task} ${JSON.stringify(inputs)} ${JSON.stringify(options)}: ${e.stack}`,
      );
    }
  }
  assert.ok(answered > 100, `only ${answered} of 150 answered`);
  // and the pipelines still give HF's answers
  const c = loadCase("question_answering");
  assert.equal(
    compare(
      c.expected[5],
      await pipes["question-answering"](c.requests[5].inputs, c.requests[5].options),
    ),
    [],
  );
});

test.run();
