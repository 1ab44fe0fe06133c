// The demo's wiring: pick a backend, load the chosen model variant, take a picture from a source that suits the model
// (drawing pad, image file, camera, the run's test images), classify it and show the most probable classes.
import { ranked } from './contract.js';
import { BACKENDS, ImageClassifier, initBackend } from './model.js';
import { MAX_PIXEL, SOURCES, fitInk, fitPicture, inputKind } from './picture.js';
import { alphaChannel, preprocessDigit } from './preprocess.js';
import * as ui from './ui.js';

const boot = window.edgekitBoot; // boot.js: downloads started, and TF.js loading, before this module ran
let tf = null; // the `tf` global of the TF.js boot.js loaded (start)
// ?backend=webgl (or webgpu, cpu) asks for another backend first (the backend picker sets it), then the usual order.
const requested = new URLSearchParams(location.search).get('backend');
const preferred = requested ? [requested, ...BACKENDS.filter((name) => name !== requested)] : BACKENDS;
// The camera's frames are classified at most this often: enough to follow a hand, and light on a phone.
const CAMERA_INTERVAL_MS = 100;

// TF.js parts the page loads only when needed on top of the full TF.js (boot.js loads core, the converter that reads
// the graph models edgekit exports, and the wasm backend).
const SCRIPTS = {
  webgl: 'tfjs-backend-webgl/tf-backend-webgl.es2017.min.js',
  webgpu: 'tfjs-backend-webgpu/tf-backend-webgpu.es2017.min.js',
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

const NO_SAMPLES = { run: null, background: null, samples: [] };

/** The server's test images of the run (samples/index.json); none when it has none or is a plain static host. */
async function loadSamples() {
  try {
    const response = await fetch('samples/index.json');
    if (response.ok) return { ...NO_SAMPLES, ...(await response.json()) };
  } catch {
    // the strip is optional: the page works without it
  }
  return NO_SAMPLES;
}

// Asked for at once, awaited only when the first model is ready to be shown: off the way to the first prediction.
const samplesReady = loadSamples();
const state = {
  model: null, models: [], backend: null, predictions: 0, last: null, loadedAt: null,
  kind: null, // picture.js's inputKind of the model: 'digit', 'sketch' or 'photo'
  source: null, // 'draw', 'image' or 'camera'
  picture: null, // the chosen image: {origin: 'upload' | 'sample', source, width, height, truth: {label, index}}
  samples: NO_SAMPLES, // the server's samples/index.json
};
const pad = ui.drawingPad();
const camera = new ui.Camera();
let said = null; // the words for the current model (ui.describeModel)

let shown = 0; // counts predictions asked for: a LiteRT.js result overtaken by a newer picture is not shown

/**
 * Show a prediction (`result`, or a promise of it from LiteRT.js) and keep it in state.last (see record); what it
 * returns, or a promise of that.
 */
function show(origin, input, channels, maxValue, result, truth = null) {
  const turn = ++shown;
  if (!(result instanceof Promise)) return record(origin, input, channels, maxValue, result, truth);
  return result.then((r) => (turn === shown ? record(origin, input, channels, maxValue, r, truth) : state.last),
    (error) => {
      ui.showStatus(`Could not classify: ${error.message}`, true);
      return null;
    });
}

/**
 * Show a prediction of `input` (the picture before normalization, values 0..maxValue) and keep it in state.last;
 * `truth` is a test image's true class ({label, index}) or null.
 */
function record(origin, input, channels, maxValue, { probabilities, milliseconds }, truth = null) {
  const { spec } = state.model;
  const best = ranked(probabilities, spec.labels, Math.min(ui.RANKED, spec.labels.length));
  ui.showModelInput(input, spec.image, channels, maxValue);
  ui.showPrediction(best, milliseconds, truth);
  state.predictions += 1;
  state.last = {
    source: origin, input: Array.from(input), inputMax: maxValue, probabilities: Array.from(probabilities),
    milliseconds, model: spec.name, top: best.map(({ label, probability }) => ({ label, probability })),
    truth: truth?.label ?? null,
  };
  return state.last;
}

function showEmpty(prompt = said.prompt) {
  shown += 1;
  ui.showNoPrediction(prompt);
  ui.clearModelInput(state.model.image);
  state.last = null;
  return null;
}

/** The pad's ink, preprocessed as MNIST digits were for a digit model, scaled as drawn for a sketch model. */
function classifyDrawing() {
  if (pad.empty) return showEmpty();
  const { rgba, height, width } = pad.pixels();
  const ink = alphaChannel(rgba);
  const { image } = state.model;
  const grey = state.kind === 'digit' ? preprocessDigit(ink, height, width, image) : fitInk(ink, height, width, image);
  return show('draw', grey, 1, 1, state.model.classify(grey));
}

/**
 * An image, bitmap or video frame: its centre cropped to the model's aspect, resized, in the model's channels (in
 * RGB for a LiteRT.js pixels model, whose graph converts to its own channels).
 */
function classifyPicture(origin, source, width, height, truth = null) {
  const { rgba, height: h, width: w } = ui.readPixels(source, width, height);
  const image = state.model.pixelImage ?? state.model.image;
  const pixels = fitPicture(rgba, h, w, image);
  return show(origin, pixels, image.channels, MAX_PIXEL, state.model.classifyPixels(pixels), truth);
}

/** Classify what the current source shows; the result is also kept in `state.last` for tests and tinkering. */
function classifyNow() {
  if (!state.model) return null;
  if (state.source === 'draw') return classifyDrawing();
  if (state.source === 'camera') {
    const { video } = camera;
    return camera.live ? classifyPicture('camera', video, video.videoWidth, video.videoHeight) : null;
  }
  const p = state.picture;
  return p ? classifyPicture(p.origin, p.source, p.width, p.height, p.truth) : showEmpty();
}

let cameraTurn = 0; // counts camera starts and stops: a start overtaken by a switch elsewhere stops its stream again
let lastFrame = -Infinity;

function watchCamera(now) {
  if (state.source !== 'camera' || !camera.stream) return;
  if (camera.live && now - lastFrame >= CAMERA_INTERVAL_MS) {
    lastFrame = now;
    classifyNow();
  }
  requestAnimationFrame(watchCamera);
}

async function startCamera() {
  const turn = ++cameraTurn;
  showEmpty('Waiting for the camera…');
  try {
    await camera.start();
  } catch (error) {
    if (turn === cameraTurn) ui.showInputMessage(ui.cameraProblem(error));
    return;
  }
  if (turn !== cameraTurn) camera.stop();
  else requestAnimationFrame(watchCamera);
}

/** Switch the input to `source` ('draw', 'image' or 'camera') if the model offers it, and classify what it shows. */
function useSource(source) {
  if (!state.model || !SOURCES[state.kind].includes(source)) return null;
  if (source !== 'camera') {
    cameraTurn += 1;
    camera.stop();
  }
  state.source = source;
  ui.showSource(state.kind, SOURCES[state.kind], source, said, state.model.image);
  ui.showInputMessage(null);
  if (source === 'camera') return startCamera();
  return classifyNow();
}

function usePicture(picture) {
  if (state.picture?.origin === 'upload') state.picture.source.close(); // the ImageBitmap's memory, at once
  state.picture = picture;
  ui.showPicture(picture?.source, picture?.width, picture?.height);
  ui.markSample(picture?.sample ?? null);
  return picture ? useSource('image') : showEmpty();
}

/** A picture chosen with the file picker or dropped on the page. */
async function openFile(file) {
  if (!state.model) return null;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file); // decodes off the main thread, turned as its EXIF orientation says
  } catch {
    ui.showInputMessage(`${file.name || 'This file'} is not a picture this browser can read.`);
    return null;
  }
  return usePicture({ origin: 'upload', source: bitmap, width: bitmap.width, height: bitmap.height, truth: null });
}

/** A test image of the run from the strip, with its true label. */
async function pickSample(sample, img) {
  try {
    await img.decode();
  } catch {
    ui.showInputMessage(`The test image ${sample.url} could not be loaded.`);
    return null;
  }
  const { naturalWidth: width, naturalHeight: height } = img;
  const truth = { label: sample.label, index: sample.class };
  return usePicture({ origin: 'sample', source: img, width, height, truth, sample });
}

function clear() {
  if (state.source === 'draw') pad.clear();
  else if (state.source === 'image') usePicture(null);
}

/** Make `model` the page's: its words, its ranking, its input sources (keeping the current one when it fits). */
function adopt(model) {
  state.model?.dispose();
  state.model = model;
  state.kind = inputKind(model.spec, state.samples.background);
  said = ui.describeModel(state.kind, model.spec, state.samples.run, litert && 'the exported .tflite in LiteRT.js');
  ui.buildRanking(model.labels);
  ui.showModelInfo(model.spec);
  const sources = SOURCES[state.kind];
  const source = sources.includes(state.source) ? state.source : sources[0];
  if (source === 'camera' && state.source === 'camera') {
    ui.showSource(state.kind, sources, source, said, model.image); // the running camera goes on with the new model
    return;
  }
  useSource(source);
}

/** The browser engine, in the words of edgekit's runtime names (tfjs-chromium-webgl, tfjs-firefox-wasm ...). */
function engine() {
  const agent = navigator.userAgent;
  if (/Firefox\//.test(agent)) return 'firefox';
  if (/AppleWebKit\//.test(agent) && !/Chrom(e|ium)\//.test(agent)) return 'webkit';
  return 'chromium';
}

/**
 * Another backend: the page loads again with ?backend=NAME, so the full TF.js and that backend are fetched only for
 * whoever asks (the default page's first prediction stays with the lite TF.js on wasm).
 */
function pickBackend(name) {
  const url = new URL(location.href);
  if (name === BACKENDS[0]) url.searchParams.delete('backend');
  else url.searchParams.set('backend', name);
  location.assign(url);
}

let litert = null; // litert.js, imported when the page runs LiteRT.js (?backend=litertjs)

/** A TF.js variant as an ImageClassifier, from the downloads boot.js started (the first one) or its own. */
async function loadTfjs(entry, downloaded) {
  const download = await (downloaded ?? boot.download(entry));
  const modelType = download.contract.model_type ?? 'layers-model'; // contract v1: a layers model
  if (modelType === 'layers-model' && !tf.loadLayersModel) await loadScript('layers-model');
  return ImageClassifier.fromDownload(tf, download);
}

/** A .tflite variant in LiteRT.js, with its contract from the index (or the server). */
async function loadLiteRt(entry) {
  const contract = entry.contract ?? (await (await fetch(`${entry.url}contract.json`)).json());
  return litert.LiteRtClassifier.fromUrl(entry.url, contract);
}

/** The report's name of the runtime the page runs: tfjs-ENGINE-BACKEND, or LiteRT.js's. */
function runtimeName() {
  return state.backend === 'litertjs' ? 'litertjs-chromium-wasm' : `tfjs-${engine()}-${state.backend}`;
}

/** Load a variant (from the downloads boot.js started, for the first one) and make it the page's model. */
async function selectModel(name, downloaded = null) {
  ui.enableVariantPicker(false);
  ui.showStatus(`Loading ${name}…`);
  try {
    const entry = state.models.find((m) => m.name === name);
    if (!entry) throw new Error(`no model ${name}`);
    const next = litert ? await loadLiteRt(entry) : await loadTfjs(entry, downloaded);
    // No warm-up call: on wasm the first real one costs little more, and a blank picture would delay the first
    // prediction by a whole call (docs/performance.md, "The demo's first prediction").
    performance.mark('edgekit:model-loaded');
    state.samples = await samplesReady; // the run's name and whether its pictures are sketches or photos
    adopt(next);
    ui.showBackendVerdict(entry.verdicts, runtimeName());
    ui.showStatus(`${name} ready`);
  } catch (error) {
    ui.showStatus(`Could not load ${name}: ${error.message}`, true);
    throw error;
  } finally {
    ui.enableVariantPicker(true);
  }
}

/**
 * Point the wasm backend at its files, and answer its request for the binary with the bytes boot.js already
 * fetched (tf.env().platform.fetch is what it uses with usePlatformFetch): the binary is downloaded once.
 */
async function shareWasm() {
  const folder = new URL('tfjs-backend-wasm/', location.href).href;
  const bytes = await boot.wasmBytes;
  if (!tf.wasm || !bytes) {
    tf.wasm?.setWasmPaths(folder);
    return;
  }
  tf.wasm.setWasmPaths(folder, true);
  const platform = tf.env().platform;
  const fetchNormally = platform.fetch.bind(platform);
  const file = boot.WASM_URL.split('/').pop();
  platform.fetch = (path, init) => (String(path).endsWith(file) ? Promise.resolve(new Response(bytes))
    : fetchNormally(path, init));
}

/** The backend: the first of `preferred` that starts; the lite TF.js has wasm only, else the full TF.js is used. */
async function startBackend() {
  if (!tf.lite) {
    const prepare = async (name) => name in SCRIPTS && !tf.findBackend(name) && loadScript(name);
    return initBackend(tf, preferred, prepare);
  }
  try {
    return await initBackend(tf, ['wasm']);
  } catch (error) {
    const url = new URL(location.href);
    url.searchParams.set('tfjs', 'full'); // wasm cannot start here: the full TF.js has the fallbacks
    location.replace(url);
    throw error;
  }
}

/** LiteRT.js instead of TF.js (?backend=litertjs): its module and wasm, loaded while the index arrives. */
async function startLiteRt() {
  litert = await import('./litert.js');
  await litert.initLiteRt();
  return 'litertjs';
}

async function start() {
  if (!boot.litert) {
    tf = await boot.tf;
    await shareWasm();
  }
  // The backend compiles its wasm while the model downloads: neither waits for the other.
  const [backend, catalog] = await Promise.all([boot.litert ? startLiteRt() : startBackend(), boot.models]);
  performance.mark('edgekit:backend-ready');
  state.backend = backend;
  ui.showBackend(backend, preferred[0]);
  ui.buildBackendPicker(backend, pickBackend);
  state.models = catalog.models;
  ui.buildVariantPicker(catalog.models, catalog.selected, (name) => selectModel(name));
  ui.showReportLink(catalog.report);
  await selectModel(catalog.selected, boot.first);
  state.loadedAt = performance.now();
  // Only now: two dozen pictures downloading and decoding would slow the start of TF.js and the model.
  ui.buildSamples(state.samples.samples, pickSample);
}

// Listening from the start (a file dropped early must not replace the page); nothing is classified before a model.
pad.onChange(() => state.source === 'draw' && classifyNow());
ui.onClear(clear);
ui.onSourceSelect(useSource);
ui.onFiles(openFile);

const ready = start().catch((error) => {
  ui.showStatus(error.message, true);
  console.error(error);
  throw error;
});

// A small handle for scripted use (the end-to-end tests): the state, a way to classify now, to load a digit image
// into the pad, and to switch the input source.
window.edgekitDemo = {
  ready,
  state,
  classify: classifyNow,
  selectModel,
  useSource,
  drawImage: (pixels, height, width) => {
    if (state.source !== 'draw') useSource('draw');
    pad.drawImage(pixels, height, width);
    return classifyNow();
  },
};
