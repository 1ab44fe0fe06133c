// The demo's wiring: pick a backend, load the chosen model variant, classify the drawing as it changes.
import { BACKENDS, DigitModel, fetchJson, initBackend } from './model.js';
import { alphaChannel, preprocessDigit } from './preprocess.js';
import * as ui from './ui.js';

const tf = window.tf;
// ?backend=cpu (or webgl) forces a backend, to see the fallbacks at work.
const requested = new URLSearchParams(location.search).get('backend');
const preferred = requested ? [requested] : BACKENDS;

const VARIANT_ORDER = ['float32', 'float16', 'uint8'];

const state = { model: null, contracts: [], backend: null, predictions: 0, last: null, loadedAt: null };
const pad = ui.drawingPad();

/** Preprocess the pad's ink and classify it; the result is also kept in `state.last` for tests and tinkering. */
function classifyDrawing() {
  if (!state.model) return null;
  if (pad.empty) {
    ui.showNoPrediction();
    state.last = null;
    return null;
  }
  const { rgba, height, width } = pad.pixels();
  const input = preprocessDigit(alphaChannel(rgba), height, width, 255);
  const { probabilities, milliseconds } = state.model.classify(input);
  ui.showModelInput(input);
  ui.showPrediction(probabilities, state.model.labels, milliseconds);
  state.predictions += 1;
  state.last = { input: Array.from(input), probabilities: Array.from(probabilities), milliseconds,
    model: state.model.contract.name };
  return state.last;
}

async function selectModel(name) {
  ui.enableVariantPicker(false);
  ui.showStatus(`Loading ${name}…`);
  try {
    const next = await DigitModel.fromUrl(tf, `models/${name}/`);
    next.classify(new Float32Array(784)); // the first call compiles kernels: pay for it before the user draws
    state.model?.dispose();
    state.model = next;
    ui.buildBars(next.labels);
    ui.showModelInfo(next.contract);
    ui.showStatus(`${name} ready`);
    classifyDrawing();
  } catch (error) {
    ui.showStatus(`Could not load ${name}: ${error.message}`, true);
    throw error;
  } finally {
    ui.enableVariantPicker(true);
  }
}

async function start() {
  tf.wasm?.setWasmPaths(new URL('tfjs-backend-wasm/', location.href).href);
  // The backend compiles its wasm while the contracts download: neither waits for the other.
  const [backend, contracts] = await Promise.all([initBackend(tf, preferred), fetchContracts()]);
  state.backend = backend;
  ui.showBackend(backend, preferred[0]);
  state.contracts = contracts;
  const first = contracts.find((c) => c.name === 'tfjs-float32')
    ?? contracts.find((c) => c.variant === 'float32') ?? contracts[0];
  ui.buildVariantPicker(contracts, first.name, (name) => selectModel(name));
  await selectModel(first.name);
  state.loadedAt = performance.now();
  pad.onChange(classifyDrawing);
  ui.onClear(() => pad.clear());
}

/** Every model's contract, float32 first, then float16, then uint8 (the order of size and fidelity). */
async function fetchContracts() {
  const index = await fetchJson('models/index.json');
  if (!index.models.length) throw new Error('this run has no TF.js model');
  const contracts = await Promise.all(index.models.map((m) => fetchJson(`${m.url}contract.json`)));
  const rank = (c) => { const i = VARIANT_ORDER.indexOf(c.variant); return i < 0 ? VARIANT_ORDER.length : i; };
  return contracts.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

const ready = start().catch((error) => {
  ui.showStatus(error.message, true);
  console.error(error);
  throw error;
});

// A small handle for scripted use (the end-to-end tests): the state, a way to classify now, and to load an image.
window.edgekitDemo = {
  ready,
  state,
  classify: classifyDrawing,
  selectModel,
  drawImage: (pixels, height, width) => { pad.drawImage(pixels, height, width); return classifyDrawing(); },
};
