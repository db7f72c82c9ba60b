// One model in a worker_thread: answers a list of calls and posts every output tensor back.
import { parentPort, workerData } from "node:worker_threads";
import {
  BertModel,
  BertForSequenceClassification,
  BertLMHeadModel,
  Tensor,
} from "../../dist/index.js";

const CLASSES = { BertModel, BertForSequenceClassification, BertLMHeadModel };

function revive(v) {
  if (v && typeof v === "object" && v.__tensor) return new Tensor(v.dtype, v.data, v.shape);
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object" && !ArrayBuffer.isView(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  return v;
}

function tensorsOf(out, acc = []) {
  if (out == null) return acc;
  if (Array.isArray(out)) {
    out.forEach((o) => tensorsOf(o, acc));
    return acc;
  }
  if (out.data !== undefined && out.shape) {
    acc.push({ shape: out.shape, data: out.data });
    return acc;
  }
  if (typeof out.keys === "function") for (const k of out.keys()) tensorsOf(out.get(k), acc);
  return acc;
}

try {
  const { cls, files, calls } = workerData;
  const model = await CLASSES[cls].fromPretrained(files, { warn: () => {} });
  const outputs = [];
  for (const c of calls) outputs.push(tensorsOf(await model.forward(revive(c))));
  parentPort.postMessage({ outputs });
} catch (e) {
  parentPort.postMessage({ error: `${e?.name}: ${e?.message}` });
}
