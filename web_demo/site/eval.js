// Batch evaluation inside the page for the tfjs-browser-wasm runtime: raw float32 images in, raw outputs out.
import { DigitModel, initBackend } from './model.js';

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

/**
 * Evaluate `count` model inputs fetched from `imagesUrl` (float32, 784 per image) with the model at `modelUrl`.
 * @returns {Promise<{backend: string, seconds: number, outputs: string}>} outputs: base64 of float32 rows
 */
async function evaluate(modelUrl, imagesUrl, count, batchSize = 500) {
  const backend = await ready;
  const model = await DigitModel.fromUrl(tf, modelUrl);
  try {
    const response = await fetch(imagesUrl);
    if (!response.ok) throw new Error(`${imagesUrl}: HTTP ${response.status}`);
    const pixels = new Float32Array(await response.arrayBuffer());
    if (pixels.length !== count * 784) throw new Error(`got ${pixels.length / 784} images, expected ${count}`);
    const started = performance.now();
    const outputs = model.predictBatches(pixels, count, batchSize);
    const seconds = (performance.now() - started) / 1000;
    return { backend, seconds, outputs: toBase64(new Uint8Array(outputs.buffer)) };
  } finally {
    model.dispose();
  }
}

window.edgekitEval = { ready, evaluate };
