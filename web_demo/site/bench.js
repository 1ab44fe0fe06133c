// Latency of one TF.js model, shared by the Node benchmark (web_demo/node/benchmark.mjs) and the browser's (eval.js).

/** p-th percentile (0..100) of sorted numbers, by linear interpolation as numpy does. */
export function percentile(sorted, p) {
  const position = ((sorted.length - 1) * p) / 100;
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/** The smallest step performance.now() takes here, in ms: a page that is not cross-origin isolated gets 0.1. */
export function clockStep() {
  let step = Infinity;
  for (let i = 0; i < 5; i += 1) {
    const start = performance.now();
    let next = performance.now();
    while (next === start) next = performance.now();
    step = Math.min(step, next - start);
  }
  return step;
}

/**
 * How many consecutive inferences last 50 clock steps: timed together, their sum is read to within 2 %. The most of
 * five tries, since a try during which the machine took the core away counts too few.
 */
function runsPerSample(model, image, step, most) {
  let best = 1;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    let count = 0;
    const start = performance.now();
    do {
      model.predictRaw(image, 1);
      count += 1;
    } while (performance.now() - start < 50 * step && count < most);
    best = Math.max(best, count);
  }
  return best;
}

/**
 * Time `load()`, the first inference, `runs` warm single-image inferences after `warmup`, and batched throughput.
 * Where the clock is coarse (a browser's ticks in 100 us) each latency sample is a run of consecutive inferences
 * timed together and divided by their number, so that a 100 us inference is not read as 0 or 200 us.
 * @returns {Promise<object>} load_ms, first_ms, p50_us, p90_us, p99_us, throughput_ips, runs_per_sample,
 *   clock_step_us
 */
export async function benchmarkModel(tf, load, { runs = 1000, warmup = 100, batch = 100, batchRepeats = 20 } = {}) {
  let started = performance.now();
  const model = await load();
  const loadMs = performance.now() - started;
  const { size, scale } = model.spec.input;
  // A mid-grey input in the tensor's type: float values, or the integers of an int8/uint8 input.
  const inputs = (n) => (scale === null ? new Float32Array(size * n).fill(0.5) : new Int32Array(size * n));
  const image = inputs(1);
  try {
    started = performance.now();
    model.predictRaw(image, 1);
    const firstMs = performance.now() - started;
    for (let i = 0; i < warmup; i += 1) model.predictRaw(image, 1);
    const step = clockStep();
    const perSample = runsPerSample(model, image, step, runs);
    // At least 100 samples (or `runs`) whatever their length, so that p90 and p99 still have something to rank.
    const times = new Float64Array(Math.max(Math.ceil(runs / perSample), Math.min(runs, 100)));
    for (let i = 0; i < times.length; i += 1) {
      const t = performance.now();
      for (let k = 0; k < perSample; k += 1) model.predictRaw(image, 1);
      times[i] = ((performance.now() - t) * 1000) / perSample;
    }
    times.sort();
    const pixels = inputs(batch);
    model.predictRaw(pixels, batch);
    started = performance.now();
    for (let i = 0; i < batchRepeats; i += 1) model.predictRaw(pixels, batch);
    const batchSeconds = (performance.now() - started) / 1000;
    return {
      backend: tf.getBackend(),
      load_ms: loadMs,
      first_ms: firstMs,
      p50_us: percentile(times, 50),
      p90_us: percentile(times, 90),
      p99_us: percentile(times, 99),
      throughput_ips: (batch * batchRepeats) / batchSeconds,
      runs_per_sample: perSample,
      clock_step_us: step * 1000,
    };
  } finally {
    model.dispose();
  }
}
