// Latency of one TF.js model, shared by the Node benchmark (web_demo/node/benchmark.mjs) and the browser's (eval.js).

/** p-th percentile (0..100) of sorted numbers, by linear interpolation as numpy does. */
export function percentile(sorted, p) {
  const position = ((sorted.length - 1) * p) / 100;
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/**
 * Time `load()`, the first inference, `runs` warm single-image inferences after `warmup`, and batched throughput.
 * @returns {Promise<object>} load_ms, first_ms, p50_us, p90_us, p99_us, throughput_ips
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
    const times = new Float64Array(runs);
    for (let i = 0; i < runs; i += 1) {
      const t = performance.now();
      model.predictRaw(image, 1);
      times[i] = (performance.now() - t) * 1000;
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
    };
  } finally {
    model.dispose();
  }
}
