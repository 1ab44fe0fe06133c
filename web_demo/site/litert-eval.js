// LiteRT.js evaluation page: a fixed-batch .tflite in @litertjs/core (wasm), model inputs in, raw outputs out; and
// its benchmark (`edgekit benchmark -r litertjs-chromium-wasm`).
import { clockStep, percentile } from './bench.js';
import { loadAndCompile, loadLiteRt, Tensor } from './litertjs/index.js';

const TYPED = { float32: Float32Array, uint8: Uint8Array, int32: Int32Array };
let runtime = null;

function toBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Load the LiteRT wasm runtime once. */
function init() {
  runtime ??= loadLiteRt(new URL('litertjs-wasm/', location.href).href);
  return runtime;
}

/**
 * Run the .tflite at `modelUrl` on the first `count` inputs of the float32 file `imagesUrl` (already normalized,
 * quantized and shaped by the caller as the contract says; converted here to the input's element type), in groups
 * of the model's fixed batch. Returns the outputs as base64 little-endian float32, and the seconds spent.
 */
async function evaluate(modelUrl, imagesUrl, count) {
  await init();
  const model = await loadAndCompile(modelUrl, { accelerator: 'wasm' });
  try {
    const input = model.getInputDetails()[0];
    const shape = Array.from(input.shape);
    const batch = shape[0];
    if (!(batch > 0)) throw new Error(`input shape ${JSON.stringify(shape)}: LiteRT.js needs a fixed batch`);
    const Typed = TYPED[input.dtype];
    if (!Typed) throw new Error(`input element type ${input.dtype} is not handled`);
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    const response = await fetch(imagesUrl);
    if (!response.ok) throw new Error(`${imagesUrl}: HTTP ${response.status}`);
    const floats = new Float32Array(await response.arrayBuffer());
    let outputs = null;
    let perOut = 0;
    const started = performance.now();
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i);
      const values = new Typed(batch * per);
      values.set(floats.subarray(i * per, (i + n) * per));
      const x = new Tensor(values, shape);
      const results = await model.run(x);
      x.delete();
      const y = await results[0].moveTo('wasm');
      const data = y.toTypedArray();
      if (outputs === null) {
        perOut = data.length / batch;
        outputs = new Float32Array(count * perOut);
      }
      outputs.set(Float32Array.from(data.subarray(0, n * perOut)), i * perOut);
      y.delete();
      for (const r of results.slice(1)) r.delete();
    }
    const seconds = (performance.now() - started) / 1000;
    return { backend: 'litertjs-wasm', seconds, outputs: toBase64(new Uint8Array(outputs.buffer)) };
  } finally {
    model.delete();
  }
}

/** One inference of `values` (the input's whole fixed batch), its output read back to JS as the page would. */
async function runOnce(model, values, shape) {
  const x = new Tensor(values, shape);
  const results = await model.run(x);
  x.delete();
  const y = await results[0].moveTo('wasm');
  y.toTypedArray();
  y.delete();
  for (const r of results.slice(1)) r.delete();
}

/**
 * Time loading the .tflite at `modelUrl` (the LiteRT wasm runtime included on the first call), the first
 * inference, `runs` warm inferences after `warmup` (each sample a run of consecutive inferences lasting 50 clock
 * steps, as bench.js does for TF.js), and throughput over batchRepeats * batch single-image inferences (the
 * files have a fixed batch of 1). Input: a mid-grey picture. Adds the JS heap, page_kb and model_kb as eval.js.
 */
async function benchmark(modelUrl, { runs = 1000, warmup = 100, batch = 100, batchRepeats = 20 } = {}) {
  let started = performance.now();
  await init();
  const model = await loadAndCompile(modelUrl, { accelerator: 'wasm' });
  const loadMs = performance.now() - started;
  try {
    const input = model.getInputDetails()[0];
    const shape = Array.from(input.shape);
    const Typed = TYPED[input.dtype];
    if (!Typed) throw new Error(`input element type ${input.dtype} is not handled`);
    const values = new Typed(shape.reduce((a, b) => a * b, 1)).fill(128);
    started = performance.now();
    await runOnce(model, values, shape);
    const firstMs = performance.now() - started;
    for (let i = 0; i < warmup; i += 1) await runOnce(model, values, shape);
    const step = clockStep();
    let perSample = 1;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      let count = 0;
      const start = performance.now();
      do {
        await runOnce(model, values, shape);
        count += 1;
      } while (performance.now() - start < 50 * step && count < runs);
      perSample = Math.max(perSample, count);
    }
    const times = new Float64Array(Math.max(Math.ceil(runs / perSample), Math.min(runs, 100)));
    for (let i = 0; i < times.length; i += 1) {
      const t = performance.now();
      for (let k = 0; k < perSample; k += 1) await runOnce(model, values, shape);
      times[i] = ((performance.now() - t) * 1000) / perSample;
    }
    times.sort();
    started = performance.now();
    for (let i = 0; i < batch * batchRepeats; i += 1) await runOnce(model, values, shape);
    const throughput = (batch * batchRepeats) / ((performance.now() - started) / 1000);
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    const kb = (list) => list.reduce((sum, entry) => sum + (entry.encodedBodySize || 0), 0) / 1024;
    const modelEntries = entries.filter((entry) => new URL(entry.name).pathname.startsWith('/models/'));
    return {
      backend: 'litertjs-wasm', load_ms: loadMs, first_ms: firstMs, p50_us: percentile(times, 50),
      p90_us: percentile(times, 90), p99_us: percentile(times, 99), throughput_ips: throughput,
      runs_per_sample: perSample, clock_step_us: step * 1000,
      js_heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 2 ** 20 : null,
      page_kb: kb(entries), model_kb: kb(modelEntries),
    };
  } finally {
    model.delete();
  }
}

window.edgekitLiteRt = { evaluate, benchmark };
document.getElementById('status').textContent = 'loaded';
