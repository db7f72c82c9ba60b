// Runs one surface's cases in a child process of the driver (run.mjs), so that a case that hangs
// (a synchronous infinite loop included) can be killed and one that aborts the process (a fatal
// out-of-memory, a crash in native code) only ends this process. Before each case it writes, with
// a synchronous positioned write, [phase, case index, counters...] to the heartbeat file; failures
// and log lines are appended to the events file as they happen. Both survive a kill.
//
//   node test/fuzz/worker.mjs '{"surface":..., "seed":..., "budgetMs":..., "start":..., "only":..., "hbFile":..., "eventsFile":..., "verbose":..., "slowMs":...}'
import { appendFileSync, openSync, writeSync } from "node:fs";
import { COUNTERS, Rand, Stats, caseSeed } from "./lib.mjs";

const { surface, seed, budgetMs, start, only, hbFile, eventsFile, verbose, slowMs, skipKnown } =
  JSON.parse(process.argv[2]);
const event = (e) => appendFileSync(eventsFile, JSON.stringify(e) + "\n");
const stats = new Stats(undefined, (failure) => event({ type: "failure", failure }));
const log = (text) => event({ type: "log", text });

const fd = openSync(hbFile, "r+");
const hb = new Float64Array(2 + COUNTERS.length);
const hbBytes = new Uint8Array(hb.buffer);
/** phase: 0 set-up, 1 cases, 2 finish, 3 done */
function beat(phase, i) {
  hb[0] = phase;
  hb[1] = i;
  hb.set(stats.c, 2);
  writeSync(fd, hbBytes, 0, hbBytes.length, 0);
}

beat(0, start);
const mod = (await import(`./${surface}.mjs`)).surface;
const skip = mod.skip ? await mod.skip() : null;
if (skip) {
  event({ type: "skipped", reason: skip });
  beat(3, start);
} else {
  const state = await mod.setup({ log, stats, seed, verbose });
  const deadline = Date.now() + budgetMs;
  let i = start;
  for (; only != null ? i === only : Date.now() < deadline; i++) {
    beat(1, i);
    const ctx = { stats, i, verbose, log, seed, skipKnown };
    const r = new Rand(caseSeed(seed, i));
    const t0 = performance.now(),
      cpu0 = process.cpuUsage();
    try {
      await mod.run(state, r, ctx);
    } catch (e) {
      stats.fail("crashes", i, `escaped the case: ${e?.stack ?? e}`);
    }
    const dt = performance.now() - t0;
    // slow by the CPU time the case used (this process's threads): a loaded machine stretches the
    // wall time, not the work; a case that waits instead of working is caught at 10x the limit
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (cpuMs > slowMs || dt > 10 * slowMs)
      stats.fail(
        "slow",
        i,
        `case took ${cpuMs.toFixed(0)} ms of CPU, ${dt.toFixed(0)} ms of wall time (limits ${slowMs} ms of CPU, ${10 * slowMs} ms of wall time)`,
      );
  }
  beat(2, -1);
  if (mod.finish && only == null)
    await mod.finish(state, { stats, i: -1, verbose, log, seed, beat: (n) => beat(2, -2 - n) });
  await mod.teardown?.(state);
  event({ type: "done", next: i });
  beat(3, i);
}
process.exit(0);
