// Incremental decoding cost (issue 4): one-token step with a 127-token cache vs a full 128-token
// forward, on a MiniLM-shaped decoder (vocab 30522, hidden 384, 6 layers, 12 heads, intermediate
// 1536) with random weights. Medians of many runs, both measured in this process, interleaved.
//   node bench/decoder_step.mjs [--runs N] [--json]
import { BertModel, writeSafetensors } from "../dist/index.js";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1]) || 40;
const asJson = args.includes("--json");

const config = {
  vocab_size: 30522,
  hidden_size: 384,
  num_hidden_layers: 6,
  num_attention_heads: 12,
  intermediate_size: 1536,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  hidden_act: "gelu",
  is_decoder: true,
};

function randomCheckpoint(c) {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.1;
  const t = new Map();
  const add = (name, shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rnd();
    if (name.endsWith("LayerNorm.weight")) data.fill(1);
    t.set(name, { shape, data });
  };
  const H = c.hidden_size,
    I = c.intermediate_size;
  add("embeddings.word_embeddings.weight", [c.vocab_size, H]);
  add("embeddings.position_embeddings.weight", [c.max_position_embeddings, H]);
  add("embeddings.token_type_embeddings.weight", [c.type_vocab_size, H]);
  add("embeddings.LayerNorm.weight", [H]);
  add("embeddings.LayerNorm.bias", [H]);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    for (const m of ["query", "key", "value"]) {
      add(`${p}.attention.self.${m}.weight`, [H, H]);
      add(`${p}.attention.self.${m}.bias`, [H]);
    }
    add(`${p}.attention.output.dense.weight`, [H, H]);
    add(`${p}.attention.output.dense.bias`, [H]);
    add(`${p}.attention.output.LayerNorm.weight`, [H]);
    add(`${p}.attention.output.LayerNorm.bias`, [H]);
    add(`${p}.intermediate.dense.weight`, [I, H]);
    add(`${p}.intermediate.dense.bias`, [I]);
    add(`${p}.output.dense.weight`, [H, I]);
    add(`${p}.output.dense.bias`, [H]);
    add(`${p}.output.LayerNorm.weight`, [H]);
    add(`${p}.output.LayerNorm.bias`, [H]);
  }
  add("pooler.dense.weight", [H, H]);
  add("pooler.dense.bias", [H]);
  return { "config.json": config, "model.safetensors": writeSafetensors(t) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const model = await BertModel.fromPretrained(randomCheckpoint(config), { warn: () => {} });
const ids = Array.from({ length: 128 }, (_, i) => (i * 7919) % config.vocab_size);
const prefix = { input_ids: [ids.slice(0, 127)] };
const full = { input_ids: [ids], use_cache: false };

// warm up until V8 has tiered up the wasm
for (let i = 0; i < 5; i++) {
  await model.forward(full);
  const p = await model.forward(prefix);
  await model.forward({ input_ids: [[ids[127]]], past_key_values: p.past_key_values });
}
const step = [],
  whole = [];
for (let i = 0; i < runs; i++) {
  const p = (await model.forward(prefix)).past_key_values; // not timed: builds the 127-token cache
  let t = performance.now();
  await model.forward({ input_ids: [[ids[127]]], past_key_values: p });
  step.push(performance.now() - t);
  t = performance.now();
  await model.forward(full);
  whole.push(performance.now() - t);
}
const res = {
  model: "MiniLM-L6-shaped decoder",
  step127_ms: median(step),
  full128_ms: median(whole),
  ratio: median(whole) / median(step),
  runs,
};
if (asJson) console.log(JSON.stringify(res));
else {
  console.log(
    `decoder step with a 127-token cache: ${res.step127_ms.toFixed(3)} ms (median of ${runs})`,
  );
  console.log(`full 128-token forward:              ${res.full128_ms.toFixed(3)} ms`);
  console.log(`full / step:                         ${res.ratio.toFixed(1)}x`);
}
