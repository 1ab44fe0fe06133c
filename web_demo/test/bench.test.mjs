// benchmarkModel (site/bench.js) under a browser's coarse clock: latencies come from runs timed together.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { benchmarkModel, clockStep } from '../site/bench.js';

const realNow = performance.now.bind(performance);

/** Node's clock as a page that is not cross-origin isolated sees it: in steps of 100 us. */
function coarseClock() {
  Object.defineProperty(globalThis.performance, 'now', {
    value: () => Math.floor(realNow() / 0.1) * 0.1,
    configurable: true,
  });
}

/** A model whose every inference takes `us` microseconds of real time. */
function busyModel(us) {
  const spin = () => {
    const end = realNow() + us / 1000;
    while (realNow() < end);
  };
  return {
    spec: { input: { size: 4, scale: null } },
    predictRaw: () => spin(),
    dispose: () => {},
  };
}

test('a 30 us inference reads as about 30 us on a clock that ticks in 100 us', async (t) => {
  t.after(() => delete globalThis.performance.now);
  coarseClock();
  assert.ok(Math.abs(clockStep() - 0.1) < 1e-9, `clock step ${clockStep()}`);
  const tf = { getBackend: () => 'fake' };
  const result = await benchmarkModel(tf, async () => busyModel(30), { runs: 300, warmup: 10, batch: 4 });
  // One run at a time this clock says 0 or 100 us; 50 steps' worth of runs timed together say 30 us, give or take
  // what a loaded machine adds to a busy loop.
  assert.ok(result.runs_per_sample >= 50, `runs per sample ${result.runs_per_sample}`);
  assert.ok(result.p50_us > 25 && result.p50_us < 60, `p50 ${result.p50_us} us`);
  assert.ok(result.clock_step_us > 99 && result.clock_step_us < 101);
});

test('on a fine clock each inference is timed alone', async () => {
  const tf = { getBackend: () => 'fake' };
  const result = await benchmarkModel(tf, async () => busyModel(200), { runs: 50, warmup: 2, batch: 2 });
  assert.equal(result.runs_per_sample, 1);
  assert.ok(result.p50_us >= 200 && result.p50_us < 2000, `p50 ${result.p50_us} us`);
});
