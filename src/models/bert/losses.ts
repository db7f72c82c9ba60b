// HF's training losses, computed from the float32 logits in float64 (torch.nn defaults: mean
// reduction; CrossEntropyLoss ignores target -100 unless told otherwise).
import { Tensor } from "../../tensor.js";
import { InputError } from "../inputs.js";

/** A 0-d float32 tensor, like torch's scalar loss. */
export function scalar(x: number): Tensor {
  return new Tensor("float32", Float32Array.of(x), []);
}

/** The targets crossEntropy takes: n of them, each in [0, c) or ignoreIndex. Task models check
 * their labels with it before the encoder runs (a rejected call costs nothing). */
export function checkTargets(
  labels: { data: Float64Array | number[]; shape: number[] },
  n: number,
  c: number,
  ignoreIndex = -100,
  name = "labels",
): void {
  if (labels.data.length !== n) {
    throw new InputError(
      `${name}: ${labels.data.length} targets (shape [${labels.shape}]) for ${n} rows of ${c} logits`,
    );
  }
  for (let r = 0; r < n; r++) {
    const y = labels.data[r];
    if (y !== ignoreIndex && !(y >= 0 && y < c))
      throw new InputError(
        `${name}: target ${y} is out of range for ${c} classes (use ${ignoreIndex} to ignore a position)`,
      );
  }
}

/**
 * mean over non-ignored rows of -log softmax(logits[row])[label]; logits [n, c], labels [n] as
 * checkTargets accepts them (checked before the model ran).
 */
export function crossEntropy(
  logits: Float32Array,
  c: number,
  labels: { data: Float64Array | number[]; shape: number[] },
  ignoreIndex = -100,
): number {
  const n = logits.length / c;
  let sum = 0;
  let count = 0;
  for (let r = 0; r < n; r++) {
    const y = labels.data[r];
    if (y === ignoreIndex) continue;
    let max = -Infinity;
    for (let j = 0; j < c; j++) max = Math.max(max, logits[r * c + j]);
    let z = 0;
    for (let j = 0; j < c; j++) z += Math.exp(logits[r * c + j] - max);
    sum += Math.log(z) + max - logits[r * c + y];
    count++;
  }
  return sum / count; // all ignored: 0/0 = NaN, as torch
}

export function meanSquaredError(pred: Float32Array, target: Float64Array): number {
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += (pred[i] - target[i]) ** 2;
  return s / pred.length;
}

/** mean of max(x, 0) - x·y + log(1 + e^{-|x|}) (the stable form torch uses). */
export function binaryCrossEntropyWithLogits(x: Float32Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++)
    s += Math.max(x[i], 0) - x[i] * y[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
  return s / x.length;
}
