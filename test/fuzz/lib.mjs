// Shared pieces of the fuzz suite: seeded randomness (every case is rebuilt from (seed, case
// index) alone, so any case replays on its own), the outcome rules (success, or a typed error
// whose message names the problem) and the counters each surface reports.
import * as lib from "../../dist/index.js";
import { rng as mulberry32 } from "../support/numeric.mjs";

/** The seed of case i of a run seeded with `seed` (a 32-bit mix, independent per case). */
export function caseSeed(seed, i) {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Rand {
  constructor(seed) {
    this.seed = seed >>> 0;
    this.f = mulberry32(seed);
  }
  /** integer in [lo, hi) */
  int(lo, hi) {
    return lo + Math.floor(this.f() * (hi - lo));
  }
  chance(p) {
    return this.f() < p;
  }
  pick(a) {
    return a[Math.floor(this.f() * a.length)];
  }
  /** picks by weight: [[w, value], ...] */
  weighted(pairs) {
    const total = pairs.reduce((s, [w]) => s + w, 0);
    let x = this.f() * total;
    for (const [w, v] of pairs) {
      if ((x -= w) < 0) return v;
    }
    return pairs[pairs.length - 1][1];
  }
  normal() {
    const u = 1 - this.f(),
      v = this.f();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  bytes(n) {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 256);
    return b;
  }
  shuffle(a) {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

/** The engine's error classes: every rejection must be one of these. */
export const TYPED = [lib.SafetensorsError, lib.ConfigError, lib.WeightsError, lib.InputError];
if (lib.TokenizerError) TYPED.push(lib.TokenizerError);
if (lib.FileError) TYPED.push(lib.FileError);

export const isTyped = (e) => TYPED.some((T) => e instanceof T);

/** Messages that say nothing about the input (they leak an implementation detail instead). */
const OPAQUE =
  /Maximum call stack|is not a function|Cannot read propert|memory access out of bounds|RuntimeError|unreachable|Invalid typed array length|Array buffer allocation failed|Invalid array length|is not iterable|Cannot convert|Do not know how to serialize/;

/** Short printable form of any value, for failure reports. */
export function show(v, max = 300) {
  let s;
  try {
    s = JSON.stringify(v, (_, x) => {
      if (typeof x === "bigint") return `${x}n`;
      if (typeof x === "number" && !Number.isFinite(x)) return String(x);
      if (x === undefined) return "undefined";
      if (typeof x === "symbol") return x.toString();
      if (ArrayBuffer.isView(x) && !(x instanceof DataView))
        return `${x.constructor.name}(${x.length})[${Array.from(x.slice(0, 8), String).join(",")}${x.length > 8 ? ",..." : ""}]`;
      if (x instanceof lib.Tensor)
        return { Tensor: x.dtype, shape: x.shape, data: x.pending ? "lazy" : x.data };
      return x;
    });
  } catch (e) {
    s = `<${e.message}>`;
  }
  if (s === undefined) s = String(v);
  return s.length > max ? s.slice(0, max) + `... (${s.length} chars)` : s;
}

/**
 * Counters of one surface. Kept in a Float64Array (over a SharedArrayBuffer when the driver gives
 * one) so that the counts survive a worker killed by the hang watchdog.
 */
export const COUNTERS = [
  "tried",
  "ok",
  "rejected",
  "crashes",
  "hangs",
  "wrong",
  "unclear",
  "slow",
  "memGrowth",
  "memGrowthBytes",
  "overAlloc",
  "checks",
  "known",
];

export class Stats {
  constructor(buffer = new SharedArrayBuffer(COUNTERS.length * 8), report = null) {
    this.c = new Float64Array(buffer);
    this.report = report;
    this.failures = [];
  }
  add(name, n = 1) {
    this.c[COUNTERS.indexOf(name)] += n;
  }
  get(name) {
    return this.c[COUNTERS.indexOf(name)];
  }
  /** A failure: counted, and described (the first few of each kind) with its case for replay. */
  fail(kind, caseIndex, detail) {
    this.add(kind);
    const f = { kind, case: caseIndex, detail: String(detail).slice(0, 2000) };
    if (this.failures.filter((x) => x.kind === kind).length < 20) {
      this.failures.push(f);
      this.report?.(f);
    }
  }
  toJSON() {
    const o = {};
    COUNTERS.forEach((k, i) => (o[k] = this.c[i]));
    return o;
  }
}

/**
 * Judges how a call ended. `expect`: null when the call must succeed, else { re, what } when it
 * must be rejected with a typed error whose message matches re. Returns the kind of failure or
 * null, and counts ok / rejected. Successful calls must then be checked by the caller.
 */
export function judge(ctx, expect, err, succeeded, label) {
  const { stats, i } = ctx;
  if (succeeded) {
    if (expect) {
      stats.fail(
        "wrong",
        i,
        `${label}: accepted an invalid input (${expect.what}) instead of rejecting it`,
      );
      return "wrong";
    }
    stats.add("ok");
    return null;
  }
  if (!isTyped(err)) {
    stats.fail(
      "crashes",
      i,
      `${label}: ${err?.name ?? typeof err}: ${err?.message ?? String(err)}\n${String(
        err?.stack ?? "",
      )
        .split("\n")
        .slice(1, 6)
        .join("\n")}`,
    );
    return "crashes";
  }
  const msg = String(err.message ?? "");
  if (!expect) {
    stats.fail("wrong", i, `${label}: rejected a valid input: ${err.name}: ${msg}`);
    return "wrong";
  }
  if (msg.length < 8 || OPAQUE.test(msg) || (expect.re && !expect.re.test(msg))) {
    stats.fail(
      "unclear",
      i,
      `${label}: ${expect.what}: message does not name the problem (want ${expect.re}): ${err.name}: ${msg.slice(0, 400)}`,
    );
    return "unclear";
  }
  if (expect.type && !(err instanceof expect.type)) {
    stats.fail(
      "wrong",
      i,
      `${label}: ${expect.what}: expected ${expect.type.name}, got ${err.name}: ${msg.slice(0, 300)}`,
    );
    return "wrong";
  }
  stats.add("rejected");
  return null;
}

/** Runs fn and returns [value, error, succeeded]. */
export async function attempt(fn) {
  try {
    return [await fn(), null, true];
  } catch (e) {
    return [undefined, e, false];
  }
}

/** Bitwise equality of two float arrays (NaN payloads aside: NaN equals NaN). */
export function sameBits(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** max |a - b| / (atol + rtol·|b|) over the arrays; NaN where one is NaN and the other not. */
export function closeness(got, want, atol, rtol) {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i],
      w = want[i];
    if (Number.isNaN(g) || Number.isNaN(w)) {
      if (Number.isNaN(g) !== Number.isNaN(w)) return Infinity;
      continue;
    }
    const r = Math.abs(g - w) / (atol + rtol * Math.abs(w));
    if (!(r <= worst)) worst = r;
  }
  return worst;
}

/** 2^k as a BigInt helper for header lengths. */
export const U64_MAX = (1n << 64n) - 1n;

/**
 * Records the largest typed-array / ArrayBuffer allocation made while `fn` runs (the global
 * constructors are wrapped, so code in dist/ that calls `new Uint8Array(n)` is seen).
 */
const ALLOC = { active: false, worst: 0 };
let wrapped = false;
export function watchAllocations() {
  if (wrapped) return;
  wrapped = true;
  const names = [
    "ArrayBuffer",
    "Uint8Array",
    "Int8Array",
    "Uint16Array",
    "Int16Array",
    "Uint32Array",
    "Int32Array",
    "Float32Array",
    "Float64Array",
    "BigInt64Array",
    "BigUint64Array",
    "Uint8ClampedArray",
  ];
  for (const n of names) {
    const C = globalThis[n];
    const per = C.BYTES_PER_ELEMENT ?? 1;
    const P = new Proxy(C, {
      construct(target, args, newTarget) {
        if (ALLOC.active && typeof args[0] === "number" && args[0] * per > ALLOC.worst)
          ALLOC.worst = args[0] * per;
        return Reflect.construct(target, args, newTarget === P ? target : newTarget);
      },
    });
    globalThis[n] = P;
  }
}
export async function largestAllocation(fn) {
  ALLOC.active = true;
  ALLOC.worst = 0;
  try {
    return { result: await attempt(fn), worst: ALLOC.worst };
  } finally {
    ALLOC.active = false;
  }
}
