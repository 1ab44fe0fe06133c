// Batch evaluation inside the page for the tfjs-browser-wasm runtime: raw float32 images in, raw outputs out.
import { fetchJson, initBackend } from './model.js';

const tf = window.tf;

function toBase64(bytes) {
  let text = '';
  const chunk = 0x8000; // String.fromCharCode takes its arguments on the stack: convert in slices
  for (let i = 0; i < bytes.length; i += chunk) text += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(text);
}

const ready = (async () => {
  tf.wasm.setWasmPaths(new URL('tfjs-backend-wasm/', location.href).href);
  const backend = await initBackend(tf, ['wasm']);
  document.getElementById('status').textContent = `ready (${backend})`;
  return backend;
})();

/** Raw outputs of `count` model inputs, `batchSize` at a time (a layers or a graph model). */
function predictBatches(model, shape, values, count, batchSize) {
  const perImage = shape.reduce((a, b) => a * b, 1);
  let outputs = null;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const output = tf.tidy(() =>
      model.predict(tf.tensor(values.subarray(start * perImage, (start + n) * perImage), [n, ...shape], 'float32')),
    );
    const raw = output.dataSync();
    output.dispose();
    outputs ??= new Float32Array(count * (raw.length / n));
    outputs.set(raw, start * (raw.length / n));
  }
  return outputs ?? new Float32Array(0);
}

/**
 * Evaluate `count` model inputs fetched from `imagesUrl` (float32, already normalized and shaped by the contract)
 * with the model at `modelUrl`.
 * @returns {Promise<{backend: string, seconds: number, outputs: string}>} outputs: base64 of float32 rows
 */
async function evaluate(modelUrl, imagesUrl, count, batchSize = 500) {
  const backend = await ready;
  const base = modelUrl.endsWith('/') ? modelUrl : `${modelUrl}/`;
  const contract = await fetchJson(`${base}contract.json`);
  const url = `${base}${contract.main_file}`;
  const model = contract.model_type === 'graph-model' ? await tf.loadGraphModel(url) : await tf.loadLayersModel(url);
  try {
    const response = await fetch(imagesUrl);
    if (!response.ok) throw new Error(`${imagesUrl}: HTTP ${response.status}`);
    const values = new Float32Array(await response.arrayBuffer());
    const perImage = contract.input.shape.reduce((a, b) => a * b, 1);
    if (values.length !== count * perImage) throw new Error(`got ${values.length / perImage} images, expected ${count}`);
    const started = performance.now();
    const outputs = predictBatches(model, contract.input.shape, values, count, batchSize);
    const seconds = (performance.now() - started) / 1000;
    return { backend, seconds, outputs: toBase64(new Uint8Array(outputs.buffer)) };
  } finally {
    model.dispose();
  }
}

window.edgekitEval = { ready, evaluate };
