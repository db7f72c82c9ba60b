// The tiny hub repo of the Cache API checks (chromium.mjs; test/hub_web.test.mjs compares).
import { writeSafetensors } from "../../../dist/index.js";
import { TINY, encoderShapes, randomTensors } from "../../support/random_model.mjs";

export function hubCacheFixture() {
  const c = { ...TINY, vocab_size: 12 };
  return {
    files: {
      "config.json": JSON.stringify(c),
      "vocab.txt": "[PAD] [UNK] [CLS] [SEP] [MASK] a b c d e f g".split(" ").join("\n"),
      "model.safetensors": writeSafetensors(randomTensors(encoderShapes(c), 21)),
    },
    commit: "89abcdef0123456789abcdef0123456789abcdef",
    inputs: { input_ids: [[2, 5, 6, 7, 3]] },
  };
}
