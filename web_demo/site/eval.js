// Batch evaluation inside the page for the tfjs-browser-wasm runtime: raw float32 images in, raw outputs out.
import { benchmarkModel } from './bench.js';
import { ImageClassifier, initBackend } from './model.js';

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

const images = new Map(); // URL -> Float32Array: several models are evaluated on the same images in one page

async function fetchImages(url) {
  if (!images.has(url)) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    images.set(url, new Float32Array(await response.arrayBuffer()));
  }
  return images.get(url);
}

/**
 * Evaluate `count` model inputs fetched from `imagesUrl` with the model at `modelUrl`: float32 values as the
 * contract's input describes them (normalized, or the integers of an integer input), input.shape's product each.
 * @returns {Promise<{backend: string, seconds: number, outputs: string}>} outputs: base64 of float32 rows
 */
async function evaluate(modelUrl, imagesUrl, count, batchSize = 500) {
  const backend = await ready;
  const model = await ImageClassifier.fromUrl(tf, modelUrl);
  try {
    const floats = await fetchImages(imagesUrl);
    const size = model.spec.input.size;
    if (floats.length !== count * size) throw new Error(`got ${floats.length / size} inputs, expected ${count}`);
    const inputs = model.spec.input.scale === null ? floats : Int32Array.from(floats);
    const started = performance.now();
    const outputs = model.predictBatches(inputs, count, batchSize);
    const seconds = (performance.now() - started) / 1000;
    return { backend, seconds, outputs: toBase64(new Uint8Array(outputs.buffer)) };
  } finally {
    model.dispose();
  }
}

/**
 * Benchmark the model at `modelUrl` on `backend` ('wasm' or 'webgl'): see bench.js. Adds what a page can read of
 * its own memory, in MB: the JS heap in use and, on wasm, the WebAssembly heap, whose size is its peak (linear
 * memory only grows); page_memory_mb is their sum.
 */
async function benchmark(modelUrl, backend, options) {
  await ready;
  if ((await initBackend(tf, [backend])) !== backend) throw new Error(`backend ${backend} not offered`);
  const result = await benchmarkModel(tf, () => ImageClassifier.fromUrl(tf, modelUrl), options);
  const jsHeap = performance.memory ? performance.memory.usedJSHeapSize / 2 ** 20 : null;
  const heap = tf.backend().wasm?.HEAPU8;
  const wasmHeap = heap ? heap.buffer.byteLength / 2 ** 20 : null;
  const parts = [jsHeap, wasmHeap].filter((mb) => mb !== null);
  const pageMemory = parts.length ? parts.reduce((a, b) => a + b, 0) : null;
  return { ...result, js_heap_mb: jsHeap, wasm_heap_mb: wasmHeap, page_memory_mb: pageMemory };
}

window.edgekitEval = { ready, evaluate, benchmark };
