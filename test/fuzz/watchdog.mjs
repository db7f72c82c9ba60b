// A surface for testing the driver itself (not in SURFACES): its cases misbehave on purpose, so that
// test/fuzz.test.mjs can check that the hang watchdog and the slow check still fire now that both
// allow for a loaded machine (a check that cannot fail is a defect).
//   case 0  a synchronous infinite loop: a hang
//   case 1  CPU work for 1.5 s: slow under a 500 ms limit
//   case 2  waiting 1.5 s without working: not slow under a 500 ms limit (10x for waits)
//   other   nothing
export const name = "watchdog";

function burn(ms) {
  const cpu0 = process.cpuUsage();
  let x = 1;
  for (;;) {
    for (let i = 0; i < 1e5; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0;
    const c = process.cpuUsage(cpu0);
    if ((c.user + c.system) / 1000 >= ms) return x;
  }
}

export const surface = {
  name,
  async setup() {
    return {};
  },
  async run(state, r, { stats, i }) {
    stats.add("tried");
    if (i === 0) for (;;) burn(1000);
    if (i === 1) burn(1500);
    if (i === 2) await new Promise((res) => setTimeout(res, 1500));
  },
};
