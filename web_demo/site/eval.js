// Batch evaluation inside the page for the TF.js browser runtimes (one TF.js backend per page): raw float32 images
// in, raw outputs out.
import { benchmarkModel } from './bench.js';
import { ImageClassifier, initBackend } from './model.js';

const tf = window.tf;

function toBase64(bytes) {
  let text = '';
  const chunk = 0x8000; // String.fromCharCode takes its arguments on the stack: convert in slices
  for (let i = 0; i < bytes.length; i += chunk) text += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(text);
}

// The evaluation targets of one engine: which TF.js backend each runs on and the flags it sets first. Forcing
// float16 textures makes WebGL compute as on phones whose GPUs cannot render to float32 textures.
const TARGETS = {
  wasm: { backend: 'wasm', flags: {} },
  webgl: { backend: 'webgl', flags: {} },
  'webgl-f16': { backend: 'webgl', flags: { WEBGL_FORCE_F16_TEXTURES: true } },
  webgpu: { backend: 'webgpu', flags: {}, script: 'tfjs-backend-webgpu/tf-backend-webgpu.es2017.min.js' },
};

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement('script'), { src });
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

/** Why `backend` cannot start here, as far as the page can tell (TF.js itself only says that it did not). */
async function whyNot(backend) {
  if (backend === 'webgpu') {
    if (!navigator.gpu) return 'this browser offers no WebGPU (navigator.gpu is undefined)';
    return (await navigator.gpu.requestAdapter()) ? 'TF.js could not initialise it' : 'no WebGPU adapter';
  }
  if (backend === 'webgl') {
    const canvas = document.createElement('canvas');
    if (!canvas.getContext('webgl2') && !canvas.getContext('webgl')) return 'no WebGL context';
  }
  return 'TF.js could not initialise it';
}

/** What the GPU path of `backend` runs on: the WebGPU adapter or the WebGL renderer, where the browser tells it. */
async function renderer(backend) {
  if (backend === 'wasm') return null;
  if (backend === 'webgpu') {
    const info = (await navigator.gpu.requestAdapter())?.info;
    return info ? `${info.vendor} ${info.architecture} ${info.description}`.trim() : null;
  }
  const gl = document.createElement('canvas').getContext('webgl2');
  const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
  return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : null;
}

/**
 * Start the TF.js backend of evaluation target `name` (wasm, webgl, webgl-f16, webgpu); fails rather than falling
 * back to another backend.
 * @returns {Promise<{target: string, backend: string, userAgent: string, renderer: string|null, flags: object}>}
 */
async function start(name) {
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown evaluation target ${name} (known: ${Object.keys(TARGETS).join(', ')})`);
  tf.wasm.setWasmPaths(new URL('tfjs-backend-wasm/', location.href).href);
  if (target.script && !tf.findBackend(target.backend)) await loadScript(target.script);
  for (const [flag, value] of Object.entries(target.flags)) tf.env().set(flag, value);
  let started;
  try {
    started = await tf.setBackend(target.backend);
  } catch (error) {
    throw new Error(`TF.js backend ${target.backend} did not start: ${error.message}`, { cause: error });
  }
  if (!started) throw new Error(`TF.js backend ${target.backend} did not start: ${await whyNot(target.backend)}`);
  await tf.ready();
  document.getElementById('status').textContent = `ready (${name})`;
  const flags = Object.fromEntries(Object.keys(target.flags).map((flag) => [flag, tf.env().get(flag)]));
  const gpu = await renderer(target.backend);
  return { target: name, backend: tf.getBackend(), userAgent: navigator.userAgent, renderer: gpu, flags };
}

// The target comes from the page's address (eval.html#webgl-f16), wasm without one: a fragment, which the server
// never sees, so the page stays one static file.
const ready = start(location.hash.slice(1) || 'wasm');

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
 * @returns {Promise<{target: string, backend: string, seconds: number, outputs: string}>} outputs: base64 of
 *   float32 rows
 */
async function evaluate(modelUrl, imagesUrl, count, batchSize = 500) {
  const { target, backend } = await ready;
  const model = await ImageClassifier.fromUrl(tf, modelUrl);
  try {
    const floats = await fetchImages(imagesUrl);
    const size = model.spec.input.size;
    if (floats.length !== count * size) throw new Error(`got ${floats.length / size} inputs, expected ${count}`);
    const inputs = model.spec.input.scale === null ? floats : Int32Array.from(floats);
    const started = performance.now();
    const outputs = await model.predictBatchesAsync(inputs, count, batchSize);
    const seconds = (performance.now() - started) / 1000;
    return { target, backend, seconds, outputs: toBase64(new Uint8Array(outputs.buffer)) };
  } finally {
    model.dispose();
  }
}

/**
 * Benchmark the model at `modelUrl` on the page's evaluation target (eval.html#webgl-f16), or on `backend` when
 * given ('wasm' or 'webgl'): see bench.js. Adds what a page can read of its own memory, in MB: the JS heap in use
 * and, on wasm, the WebAssembly heap, whose size is its peak (linear memory only grows); page_memory_mb is their
 * sum; page_kb, the kB this page downloaded as sent (gzipped where served so; a browser's cache hits are not
 * counted), and model_kb, the part of them that is the model.
 */
async function benchmark(modelUrl, backend, options) {
  const started = await ready;
  if (backend && backend !== started.target && (await initBackend(tf, [backend])) !== backend) {
    throw new Error(`backend ${backend} not offered`);
  }
  const result = await benchmarkModel(tf, () => ImageClassifier.fromUrl(tf, modelUrl), options);
  const jsHeap = performance.memory ? performance.memory.usedJSHeapSize / 2 ** 20 : null;
  const heap = tf.backend().wasm?.HEAPU8;
  const wasmHeap = heap ? heap.buffer.byteLength / 2 ** 20 : null;
  const parts = [jsHeap, wasmHeap].filter((mb) => mb !== null);
  const pageMemory = parts.length ? parts.reduce((a, b) => a + b, 0) : null;
  const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  const kb = (list) => list.reduce((sum, entry) => sum + (entry.encodedBodySize || 0), 0) / 1024;
  const model = entries.filter((entry) => new URL(entry.name).pathname.startsWith('/models/'));
  return { ...result, js_heap_mb: jsHeap, wasm_heap_mb: wasmHeap, page_memory_mb: pageMemory, page_kb: kb(entries),
    model_kb: kb(model) };
}

/**
 * Every computed node of a graph model on `count` inputs from `imagesUrl`, in the model's execution order: where a
 * backend's outputs depart from another's (toolkit.runtimes.tfjs_browser.first_departure compares them).
 * @returns {Promise<Array<{name: string, op: string, shape: number[], data: string}>>} data: base64 float32
 */
async function nodeOutputs(modelUrl, imagesUrl, count) {
  await ready;
  const model = await ImageClassifier.fromUrl(tf, modelUrl);
  try {
    const graph = model.model.executor?.graph;
    if (!graph) throw new Error('only a graph model can be compared node by node');
    const nodes = Object.values(graph.nodes).filter((node) => !['Const', 'Placeholder'].includes(node.op));
    const floats = (await fetchImages(imagesUrl)).subarray(0, count * model.spec.input.size);
    const { input } = model.spec;
    const dtype = input.scale === null ? 'float32' : 'int32';
    const x = tf.tensor(input.scale === null ? floats : Int32Array.from(floats), [count, ...input.shape], dtype);
    const outputs = model.model.execute(x, nodes.map((node) => node.name));
    const list = Array.isArray(outputs) ? outputs : [outputs];
    try {
      const result = [];
      for (const [i, node] of nodes.entries()) {
        const data = Float32Array.from(await list[i].data());
        result.push({ name: node.name, op: node.op, shape: list[i].shape, data: toBase64(new Uint8Array(data.buffer)) });
      }
      return result;
    } finally {
      tf.dispose([x, ...list]);
    }
  } finally {
    model.dispose();
  }
}

window.edgekitEval = { ready, evaluate, benchmark, nodeOutputs };
