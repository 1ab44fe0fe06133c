// benchmarkModel (site/bench.js) under a browser's coarse clock: latencies come from runs timed together. The clock
// is virtual (each inference advances it by a fixed time), so what is checked is the arithmetic, not this machine.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { benchmarkModel, clockStep } from '../site/bench.js';

/**
 * A virtual clock read through performance.now(), in steps of `tickUs` microseconds (a page that is not
 * cross-origin isolated sees 100 us), and a model whose every inference takes `inferenceUs` of it.
 */
function virtualTime(t, tickUs, inferenceUs) {
  let now = 0;
  Object.defineProperty(globalThis.performance, 'now', {
    value: () => {
      now += 0.01; // reading the clock takes a little time too
      return (Math.floor(now / tickUs) * tickUs) / 1000;
    },
    configurable: true,
  });
  t.after(() => delete globalThis.performance.now);
  return {
    spec: { input: { size: 4, scale: null } },
    predictRaw: () => {
      now += inferenceUs;
    },
    dispose: () => {},
  };
}

const tf = { getBackend: () => 'fake' };

test('a 30 us inference reads as 30 us on a clock that ticks in 100 us', async (t) => {
  const model = virtualTime(t, 100, 30);
  assert.ok(Math.abs(clockStep() - 0.1) < 1e-9, `clock step ${clockStep()}`);
  const result = await benchmarkModel(tf, async () => model, { runs: 300, warmup: 10, batch: 4 });
  // One run at a time this clock says 0 or 100 us; the runs of 50 steps timed together say 30 us within 2 %.
  assert.ok(result.runs_per_sample > 100, `runs per sample ${result.runs_per_sample}`);
  assert.ok(Math.abs(result.p50_us - 30) < 0.6, `p50 ${result.p50_us} us`);
  assert.ok(Math.abs(result.p99_us - 30) < 0.6, `p99 ${result.p99_us} us`);
  assert.ok(Math.abs(result.clock_step_us - 100) < 1e-6);
});

test('on a fine clock each inference is timed alone', async (t) => {
  const model = virtualTime(t, 0.01, 200);
  const result = await benchmarkModel(tf, async () => model, { runs: 50, warmup: 2, batch: 2 });
  assert.equal(result.runs_per_sample, 1);
  assert.ok(Math.abs(result.p50_us - 200) < 0.1, `p50 ${result.p50_us} us`);
});
