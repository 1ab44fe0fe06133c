// The demo's wiring: pick a backend, load the chosen model variant, classify the drawing as it changes.
import { BACKENDS, ImageClassifier, initBackend } from './model.js';
import { alphaChannel, preprocessDigit } from './preprocess.js';
import * as ui from './ui.js';

const tf = window.tf;
const boot = window.edgekitBoot; // boot.js: downloads started before TF.js was parsed
// ?backend=cpu (or webgl) forces a backend, to see the fallbacks at work.
const requested = new URLSearchParams(location.search).get('backend');
const preferred = requested ? [requested] : BACKENDS;

// TF.js parts the page loads only when needed (index.html loads core, the converter that reads the graph models
// edgekit exports, and the wasm backend).
const SCRIPTS = {
  webgl: 'tfjs-backend-webgl/tf-backend-webgl.es2017.min.js',
  cpu: 'tfjs-backend-cpu/tf-backend-cpu.es2017.min.js',
  'layers-model': 'tfjs-layers/tf-layers.es2017.min.js',
};
const loading = {};

/** Load one of SCRIPTS once (a same-origin script element, as the page's Content-Security-Policy allows). */
function loadScript(key) {
  loading[key] ??= new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement('script'), { src: SCRIPTS[key] });
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${SCRIPTS[key]}`));
    document.head.append(script);
  });
  return loading[key];
}

const state = { model: null, models: [], backend: null, predictions: 0, last: null, loadedAt: null };
const pad = ui.drawingPad();

/** Preprocess the pad's ink and classify it; the result is also kept in `state.last` for tests and tinkering. */
function classifyDrawing() {
  if (!state.model) return null;
  if (pad.empty) {
    ui.showNoPrediction(state.model.image);
    state.last = null;
    return null;
  }
  const { rgba, height, width } = pad.pixels();
  const input = preprocessDigit(alphaChannel(rgba), height, width, state.model.image);
  const { probabilities, milliseconds } = state.model.classify(input);
  ui.showModelInput(input, state.model.image);
  ui.showPrediction(probabilities, state.model.labels, milliseconds);
  state.predictions += 1;
  state.last = { input: Array.from(input), probabilities: Array.from(probabilities), milliseconds,
    model: state.model.contract.name };
  return state.last;
}

/** Load a variant (from the downloads boot.js started, for the first one) and make it the page's model. */
async function selectModel(name, downloaded = null) {
  ui.enableVariantPicker(false);
  ui.showStatus(`Loading ${name}…`);
  try {
    const entry = state.models.find((m) => m.name === name);
    if (!entry) throw new Error(`no model ${name}`);
    const download = await (downloaded ?? boot.download(entry));
    const modelType = download.contract.model_type ?? 'layers-model'; // contract v1: a layers model
    if (modelType === 'layers-model' && !tf.loadLayersModel) await loadScript('layers-model');
    const next = await ImageClassifier.fromDownload(tf, download);
    performance.mark('edgekit:model-loaded');
    // The first call sets up the kernels: pay for it now rather than on the user's first stroke.
    next.classify(new Float32Array(next.image.height * next.image.width));
    performance.mark('edgekit:warmed-up');
    state.model?.dispose();
    state.model = next;
    ui.buildBars(next.labels);
    ui.showModelInfo(next.spec);
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
  // The backend compiles its wasm while the model downloads: neither waits for the other.
  const prepare = async (name) => name in SCRIPTS && !tf.findBackend(name) && loadScript(name);
  const [backend, catalog] = await Promise.all([initBackend(tf, preferred, prepare), boot.models]);
  performance.mark('edgekit:backend-ready');
  state.backend = backend;
  ui.showBackend(backend, preferred[0]);
  state.models = catalog.models;
  ui.buildVariantPicker(catalog.models, catalog.selected, (name) => selectModel(name));
  ui.showReportLink(catalog.report);
  await selectModel(catalog.selected, boot.first);
  state.loadedAt = performance.now();
  pad.onChange(classifyDrawing);
  ui.onClear(() => pad.clear());
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
