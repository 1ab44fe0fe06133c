// LiteRT.js evaluation page: a fixed-batch .tflite in @litertjs/core (wasm), model inputs in, raw outputs out.
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

window.edgekitLiteRt = { evaluate };
document.getElementById('status').textContent = 'loaded';
