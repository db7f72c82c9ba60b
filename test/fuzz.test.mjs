// The fuzz suite's short run (test/fuzz/): every surface for a few seconds from a fixed seed, each
// in a child process watched for hangs, then the inputs that found bugs, replayed exactly.
// Every case must end in success or a typed error naming the problem: no crashes, hangs, silent
// wrong answers, unclear messages, memory growth on rejected calls, or allocations beyond the file.
//
//   FUZZ_SECONDS=3 FUZZ_SEED=7 npx uvu test fuzz     (defaults: 2.5 s per surface, seed 20240917)
//   npm run fuzz -- --seconds 60 --seed 7            (the long run; prints the replay command of each failure)
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SURFACES, failureCount, formatResult, fuzzSurface } from "./fuzz/run.mjs";
import { REGRESSIONS } from "./fuzz/regressions.mjs";
import { ATTACK_REGRESSIONS } from "./fuzz/attack_regressions.mjs";

const seconds = Number(process.env.FUZZ_SECONDS ?? 2.5);
const seed = Number(process.env.FUZZ_SEED ?? 20240917) >>> 0;

for (const surface of SURFACES) {
  test(`fuzz ${surface}: ${seconds} s from seed ${seed}`, async () => {
    // known tokenizer bugs (reported; see test/fuzz/tokenizer.mjs) are counted, not tried, here
    const r = await fuzzSurface(surface, { seconds, seed, skipKnown: true, log: () => {} });
    console.log(`  ${formatResult(r)}`);
    const bad = r.failures.filter((f) => f.kind !== "log");
    const lines = bad
      .slice(0, 5)
      .map(
        (f) =>
          `${f.kind} in case ${f.case}: ${f.detail.split("\n")[0].slice(0, 400)}\n    replay: node test/fuzz/run.mjs --surface ${surface} --seed ${seed} --case ${f.case} --verbose`,
      );
    assert.is(
      failureCount(r),
      0,
      `${surface}: ${failureCount(r)} failure(s)\n  ${lines.join("\n  ")}`,
    );
    if (!r.skipped) assert.ok(r.counts.tried > 0, `${surface}: no case ran`);
  });
}

// the driver's own checks, on a surface that misbehaves on purpose (test/fuzz/watchdog.mjs): the
// allowances for a loaded machine (CPU time for "slow", a load factor for hangs) leave them able to fail
test("fuzz driver: a hang is caught, a slow case (CPU) is caught, a case that only waits is not slow", async () => {
  const run = (only, o) =>
    fuzzSurface("watchdog", { seconds: 30, seed: 1, only, log: () => {}, ...o });
  const hang = await run(0, { hangMs: 1500 });
  assert.is(hang.counts.hangs, 1, JSON.stringify(hang.counts));
  const slow = await run(1, { slowMs: 500 });
  assert.is(slow.counts.slow, 1, JSON.stringify(slow.counts));
  const waits = await run(2, { slowMs: 500 });
  assert.is(failureCount(waits), 0, JSON.stringify(waits.counts));
});

for (const r of [...REGRESSIONS, ...ATTACK_REGRESSIONS]) test(`regression: ${r.name}`, r.run);

test.run();
