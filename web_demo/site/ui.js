// The page's DOM: the words that describe the model, the input sources (drawing pad, image, camera, test images),
// the ranked predictions, the variant picker and the status line. No TF.js here.

const PEN_WIDTH = 22; // in canvas pixels of the 280x280 pad: about MNIST's stroke once the digit is fitted to 20 px
const PEN_COLOR = '#1f2233';
// The ranked list: the five most probable classes, every class when there are at most five.
export const RANKED = 5;
// A top label this short is shown large (a digit, a letter); longer ones as text that wraps.
const SHORT_LABEL = 3;

const $ = (id) => document.getElementById(id);

function formatBytes(bytes) {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  return `${Math.round(bytes / 1e3)} kB`;
}

const percent = (p) => `${(p * 100).toFixed(1)} %`;

/** The first few labels, for a sentence: "cat, dog, bird" or "Speed limit (20km/h), Stop, Yield and 40 more". */
function someLabels(labels, count = 3) {
  const shown = labels.slice(0, count).join(', ');
  return labels.length > count ? `${shown} and ${labels.length - count} more` : shown;
}

/** What the page calls the model and its inputs, by the kind picture.js's inputKind gives. */
function words(kind, spec) {
  const n = spec.labels.length;
  const { channels } = spec.image;
  if (kind === 'digit') {
    return { model: 'Digit classifier', tagline: 'Handwritten digits, classified in your browser by the exported TF.js model.',
      draw: 'Draw a digit', hint: 'Draw a digit here with a mouse, a finger or a pen', prompt: 'Draw a digit to start' };
  }
  const model = `${n}-class ${channels === 3 ? 'colour' : 'grey'} ${kind === 'sketch' ? 'drawing' : 'image'} classifier`;
  const what = kind === 'sketch' ? 'Drawings' : 'Pictures';
  return { model, tagline: `${what} sorted into ${n} classes (${someLabels(spec.labels)}) in your browser by the exported TF.js model.`,
    draw: 'Draw', hint: 'Draw here with a mouse, a finger or a pen',
    prompt: kind === 'sketch' ? 'Draw or choose a picture to start' : 'Choose a picture to start' };
}

/**
 * The title (the run's name, else what the model is), the tagline and the drawing words, from the model; `by`
 * names what classifies when it is not the exported TF.js model.
 */
export function describeModel(kind, spec, runName, by = null) {
  const said = words(kind, spec);
  if (by) said.tagline = said.tagline.replace('the exported TF.js model', by);
  const title = runName || said.model;
  $('title').textContent = title;
  $('tagline').textContent = said.tagline;
  document.title = `${title} · edgekit`;
  $('hint').textContent = said.hint;
  $('sources').querySelector('[data-source="draw"]').textContent = kind === 'digit' ? 'Draw a digit' : 'Draw';
  return said;
}

const SOURCE_TITLES = { image: 'Your picture', camera: 'Camera' };

/** What the model sees of a picture from `source`, for the caption under the preview. */
function seenCaption(kind, source, image) {
  const size = `${image.height}×${image.width}`;
  if (source !== 'draw') {
    const colour = image.channels === 3 ? 'in colour' : 'in grey';
    return `What the model sees: the centre of the picture, cropped to the model's aspect and resized to ${size}, ${colour}.`;
  }
  if (kind === 'digit') {
    return 'What the model sees: the ink cropped, fitted into 20/28 of the model\'s picture and centred by mass, as '
      + 'MNIST digits were made.';
  }
  return `What the model sees: the pad cropped to the model's aspect and scaled to ${size} as drawn, bright ink on black.`;
}

/** Show the source buttons of `available`, press `active`, show its panel, and say what the model sees from it. */
export function showSource(kind, available, active, said, image) {
  for (const button of $('sources').querySelectorAll('.source')) {
    button.hidden = !available.includes(button.dataset.source);
    button.setAttribute('aria-pressed', String(button.dataset.source === active));
  }
  $('sources').hidden = available.length < 2;
  $('draw-panel').hidden = active !== 'draw';
  $('image-panel').hidden = active !== 'image';
  $('camera-panel').hidden = active !== 'camera';
  $('clear').classList.toggle('invisible', active === 'camera'); // kept in the layout: the head does not jump
  $('input-title').textContent = active === 'draw' ? said.draw : SOURCE_TITLES[active];
  $('preview-caption').textContent = seenCaption(kind, active, image);
}

export function onSourceSelect(handler) {
  $('sources').addEventListener('click', (event) => {
    const button = event.target.closest('.source');
    if (button) handler(button.dataset.source);
  });
}

/** The drawing pad: strokes of a round pen on a transparent canvas, whose alpha channel is the ink. */
export class DrawingPad {
  constructor(canvas, hint) {
    this.canvas = canvas;
    this.hint = hint;
    this.context = canvas.getContext('2d', { willReadFrequently: true });
    this.listeners = [];
    this.last = null;
    this.empty = true;
    canvas.addEventListener('pointerdown', (event) => this.start(event));
    canvas.addEventListener('pointermove', (event) => this.move(event));
    for (const type of ['pointerup', 'pointercancel', 'pointerleave']) {
      canvas.addEventListener(type, () => { this.last = null; });
    }
  }

  /** Call `listener()` whenever the drawing changes (at most once per animation frame). */
  onChange(listener) {
    this.listeners.push(listener);
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * this.canvas.width) / box.width,
      ((event.clientY - box.top) * this.canvas.height) / box.height,
    ];
  }

  start(event) {
    event.preventDefault();
    this.canvas.setPointerCapture?.(event.pointerId);
    this.last = this.point(event);
    this.line(this.last, this.last);
  }

  move(event) {
    if (!this.last) return;
    event.preventDefault();
    const events = event.getCoalescedEvents?.() ?? [event];
    for (const e of events.length ? events : [event]) {
      const next = this.point(e);
      this.line(this.last, next);
      this.last = next;
    }
  }

  line(from, to) {
    const c = this.context;
    c.strokeStyle = PEN_COLOR;
    c.lineWidth = PEN_WIDTH;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(from[0], from[1]);
    c.lineTo(to[0], to[1]);
    c.stroke();
    this.setEmpty(false);
    this.changed();
  }

  changed() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      for (const listener of this.listeners) listener();
    });
  }

  setEmpty(empty) {
    this.empty = empty;
    this.hint.classList.toggle('hidden', !empty);
  }

  clear() {
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.setEmpty(true);
    this.changed();
  }

  /** Replace the drawing by a grey-level image (bright ink on dark, 0..255), scaled to the pad. */
  drawImage(pixels, height, width) {
    const small = new ImageData(width, height);
    for (let i = 0; i < pixels.length; i++) small.data.set([0x1f, 0x22, 0x33, pixels[i]], i * 4);
    const scratch = document.createElement('canvas');
    scratch.width = width;
    scratch.height = height;
    scratch.getContext('2d').putImageData(small, 0, 0);
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.context.imageSmoothingEnabled = true;
    this.context.drawImage(scratch, 0, 0, this.canvas.width, this.canvas.height);
    this.setEmpty(false);
    this.changed();
  }

  /** The RGBA pixels of the pad, row-major. */
  pixels() {
    const { width, height } = this.canvas;
    return { rgba: this.context.getImageData(0, 0, width, height).data, height, width };
  }
}

export function drawingPad() {
  return new DrawingPad($('pad'), $('hint'));
}

// Pictures larger than this (either side) are scaled down by the browser before the exact box resampling of
// picture.js: a phone photo would otherwise mean tens of millions of pixels in JavaScript.
const MAX_SIDE = 1024;
const SMALL_PICTURE = 160; // pictures narrower than this are enlarged without smoothing

/**
 * The RGBA pixels of an image, bitmap, canvas or playing video, composited over white (how a transparent picture is
 * usually seen), at its own size up to MAX_SIDE.
 */
export function readPixels(source, sourceWidth, sourceHeight) {
  const scale = Math.min(1, MAX_SIDE / Math.max(sourceWidth, sourceHeight));
  const width = Math.max(1, Math.round(sourceWidth * scale));
  const height = Math.max(1, Math.round(sourceHeight * scale));
  const canvas = Object.assign(document.createElement('canvas'), { width, height });
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.fillStyle = '#fff';
  context.fillRect(0, 0, width, height);
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, 0, 0, width, height);
  return { rgba: context.getImageData(0, 0, width, height).data, height, width };
}

/** Show the chosen picture (an image or bitmap) in the image panel, whole, or the empty drop zone for null. */
export function showPicture(source, width, height) {
  const canvas = $('picture');
  canvas.hidden = !source;
  $('drop-hint').hidden = !!source;
  if (!source) return;
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  Object.assign(canvas, { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) });
  canvas.classList.toggle('pixelated', canvas.width < SMALL_PICTURE); // small test images stay crisp when enlarged
  canvas.getContext('2d').drawImage(source, 0, 0, canvas.width, canvas.height);
}

/** Files chosen with the picker or dropped anywhere on the page: `handler(file)` with the first one. */
export function onFiles(handler) {
  const input = $('file');
  input.addEventListener('change', () => {
    if (input.files.length) handler(input.files[0]);
    input.value = ''; // choosing the same file again is a change too
  });
  const card = $('input-card');
  let depth = 0; // dragenter/dragleave fire for every child crossed
  document.addEventListener('dragenter', (event) => {
    event.preventDefault();
    depth += 1;
    card.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) card.classList.remove('dragging');
  });
  // Without these the browser would open a dropped file in place of the page.
  document.addEventListener('dragover', (event) => event.preventDefault());
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    card.classList.remove('dragging');
    const file = event.dataTransfer?.files?.[0];
    if (file) handler(file);
  });
}

/** A message under the input (a picture that could not be read, the camera refused), or none for null. */
export function showInputMessage(text, isError = true) {
  const message = $('input-message');
  message.hidden = !text;
  message.textContent = text ?? '';
  message.classList.toggle('error', isError);
}

/** The camera, through getUserMedia, into the camera panel's video element. */
export class Camera {
  constructor() {
    this.video = $('camera');
    this.stream = null;
  }

  /** A frame to read: the stream is on and the video has its size. */
  get live() {
    return this.stream !== null && this.video.readyState >= 2 && this.video.videoWidth > 0;
  }

  async start() {
    const hint = $('camera-hint');
    hint.hidden = false;
    hint.textContent = 'Starting the camera…';
    try {
      if (!navigator.mediaDevices?.getUserMedia) {
        throw Object.assign(new Error('no getUserMedia'), { name: window.isSecureContext ? 'NoMediaDevices' : 'Insecure' });
      }
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
      this.stop();
      this.stream = stream;
      this.video.srcObject = stream;
      await this.video.play();
    } catch (error) {
      hint.textContent = 'No camera';
      throw error;
    }
    hint.hidden = true;
  }

  stop() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }
}

/** Why the camera cannot be used, in words a user can act on. */
export function cameraProblem(error) {
  switch (error.name) {
    case 'Insecure':
      return `The browser offers the camera only to https:// pages and to localhost; this page is ${location.origin}. `
        + 'Choose a picture instead, or open the demo on this machine.';
    case 'NoMediaDevices':
      return 'This browser offers no camera to web pages. Choose a picture instead.';
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera access was denied. Allow the camera for this site in the browser\'s settings, or choose a picture.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. Connect one, or choose a picture instead.';
    case 'NotReadableError':
      return 'The camera is in use by another application, or could not be started.';
    default:
      return `The camera could not start (${error.message || error.name}).`;
  }
}

/** The strip of the run's test images; `onPick(sample, img)` when one is clicked. Hidden when there are none. */
export function buildSamples(samples, onPick) {
  const strip = $('sample-strip');
  strip.replaceChildren();
  $('samples').hidden = !samples.length;
  for (const sample of samples) {
    const button = Object.assign(document.createElement('button'), { type: 'button', className: 'sample' });
    button.title = `${sample.label} (test image ${sample.test_index})`;
    const img = Object.assign(document.createElement('img'), { src: sample.url, alt: sample.label, decoding: 'async',
      loading: 'lazy' }); // the strip scrolls: pictures out of sight load when they come near
    const label = Object.assign(document.createElement('span'), { className: 'sample-label', textContent: sample.label });
    label.title = sample.label;
    button.append(img, label);
    button.addEventListener('click', () => onPick(sample, img));
    strip.append(button);
  }
}

/** Mark the test image in use (null: none). */
export function markSample(sample) {
  for (const button of $('sample-strip').querySelectorAll('.sample')) {
    button.classList.toggle('chosen', button.querySelector('img').getAttribute('src') === sample?.url);
  }
}

/**
 * Draw the model's picture into the preview: `values` are image.height * image.width * channels values in
 * 0..maxValue (grey [0, 1] from the pad, pixels 0..255 from pictures), shown as they are.
 */
export function showModelInput(values, { height, width }, channels, maxValue) {
  const canvas = $('preview');
  if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
  const picture = new ImageData(width, height);
  const factor = 0xff / maxValue;
  for (let i = 0; i < height * width; i++) {
    const rgb = channels === 3 ? [values[i * 3], values[i * 3 + 1], values[i * 3 + 2]] : Array(3).fill(values[i]);
    picture.data.set([...rgb.map((v) => Math.round(v * factor)), 0xff], i * 4);
  }
  canvas.getContext('2d').putImageData(picture, 0, 0);
}

/** One row per ranked class (RANKED of them, or every class when there are fewer); showPrediction fills them. */
export function buildRanking(labels) {
  const list = $('ranking');
  list.replaceChildren();
  const count = Math.min(RANKED, labels.length);
  $('ranking-title').textContent = count === labels.length
    ? `All ${labels.length} classes` : `Top ${count} of ${labels.length} classes`;
  for (let k = 0; k < count; k++) {
    const item = Object.assign(document.createElement('li'), { className: 'prediction' });
    for (const part of ['label', 'value', 'track']) {
      item.append(Object.assign(document.createElement('span'), { className: `prediction-${part}` }));
    }
    item.querySelector('.prediction-track').append(Object.assign(document.createElement('span'), { className: 'prediction-fill' }));
    list.append(item);
  }
  showNoPrediction();
}

function showTopLabel(text) {
  const top = $('top-label');
  top.querySelector('.top-text').textContent = text;
  top.title = text;
  top.classList.toggle('long', text.length > SHORT_LABEL);
}

/**
 * Show the ranked classes: the most probable one large, then each with its probability; `truth` ({label, index}) is
 * a test image's true class, or null.
 * @param {{index: number, label: string, probability: number}[]} best as contract.js's ranked gives them
 */
export function showPrediction(best, milliseconds, truth = null) {
  showTopLabel(best[0].label);
  $('top-confidence').textContent = `${percent(best[0].probability)} confident`;
  $('timing').textContent = `${milliseconds.toFixed(1)} ms`;
  const truthLine = $('truth');
  truthLine.hidden = truth === null;
  if (truth !== null) {
    const right = truth.index === best[0].index;
    truthLine.textContent = `true label: ${truth.label} ${right ? '✓' : '✗'}`;
    truthLine.title = truthLine.textContent;
    truthLine.classList.toggle('wrong', !right);
  }
  $('ranking').querySelectorAll('.prediction').forEach((item, k) => {
    const { label, probability } = best[k];
    item.classList.toggle('top', k === 0);
    const labelElement = item.querySelector('.prediction-label');
    labelElement.textContent = label;
    labelElement.title = label;
    item.querySelector('.prediction-fill').style.width = `${(probability * 100).toFixed(1)}%`;
    item.querySelector('.prediction-value').textContent = percent(probability);
  });
}

/** Back to the empty state (before the first stroke or picture, after Clear); `prompt` says what to do. */
export function showNoPrediction(prompt = '') {
  showTopLabel('–');
  $('top-confidence').textContent = prompt;
  $('timing').textContent = '–';
  $('truth').hidden = true;
  $('ranking').querySelectorAll('.prediction').forEach((item) => {
    item.classList.remove('top');
    const label = item.querySelector('.prediction-label');
    label.textContent = '\u00a0'; // an empty row keeps its height
    label.title = '';
    item.querySelector('.prediction-fill').style.width = '0';
    item.querySelector('.prediction-value').textContent = '';
  });
}

export function clearModelInput(image) {
  showModelInput(new Float32Array(image.height * image.width), image, 1, 1);
}

export function showBackend(name, preferred) {
  const badge = $('backend');
  badge.textContent = name;
  badge.classList.toggle('fallback', name !== preferred);
  badge.title = name === preferred ? 'the fastest backend on CPUs' : `${preferred} could not start here`;
}

/**
 * The gate's word on the shown model's files on the engine and backend the page runs (`runtime`, a report's name
 * such as tfjs-chromium-webgl): "verified" only when that very runtime passed them.
 */
export function showBackendVerdict(verdicts, runtime) {
  const badge = $('backend-verdict');
  const verdict = verdicts?.[runtime] ?? null;
  badge.hidden = false;
  badge.dataset.verdict = verdict ?? 'none';
  badge.textContent = verdict === 'passed' ? 'verified' : verdict === 'failed' ? 'failed the gate' : 'not verified';
  badge.title = verdict == null
    ? `the gate did not evaluate this model on ${runtime} (edgekit validate RUN --targets all does)`
    : `${runtime}: ${verdict} in this run's gate`;
}

/** The backend picker shows `current`; `onPick(name)` runs when the user picks another. */
export function buildBackendPicker(current, onPick) {
  const picker = $('backend-picker');
  picker.value = current;
  picker.addEventListener('change', () => onPick(picker.value));
}

export function showStatus(text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', isError);
}

/** What the gate said of a variant, in a few words: its accuracy and verdict, or that there is no record. */
export function describeGate(gate) {
  if (!gate || gate.passed == null) return 'not gated';
  const accuracy = Number.isFinite(gate.accuracy) ? `${gate.accuracy.toFixed(2)} %` : '';
  return `${accuracy}${accuracy ? ' ' : ''}${gate.passed ? 'passed' : 'FAILED'}`;
}

/**
 * One radio button per model variant, labelled with its size and gate result, smallest first;
 * `onSelect(name)` runs when the choice changes.
 * @param {{name: string, variant: string, size_bytes: number, gate?: {passed: ?boolean, accuracy: ?number,
 *   runtime: ?string}}[]} models
 */
export function buildVariantPicker(models, selected, onSelect) {
  const list = $('variant-list');
  list.replaceChildren();
  for (const model of [...models].sort((a, b) => a.size_bytes - b.size_bytes || a.name.localeCompare(b.name))) {
    const label = document.createElement('label');
    label.className = 'variant';
    label.innerHTML = '<input type="radio" name="variant"><span class="variant-box"><span class="variant-name"></span>'
      + '<small class="variant-size"></small><small class="variant-gate"></small></span>';
    const input = label.querySelector('input');
    input.value = model.name;
    input.checked = model.name === selected;
    input.addEventListener('change', () => input.checked && onSelect(model.name));
    label.querySelector('.variant-name').textContent = model.name;
    label.querySelector('.variant-size').textContent = formatBytes(model.size_bytes);
    const gate = label.querySelector('.variant-gate');
    gate.textContent = `gate: ${describeGate(model.gate)}`;
    gate.title = model.gate?.runtime ? `accuracy on the test set in ${model.gate.runtime}` : '';
    label.classList.toggle('failed', model.gate?.passed === false);
    label.dataset.sizeBytes = String(model.size_bytes);
    list.append(label);
  }
}

export function enableVariantPicker(enabled) {
  $('variant-list').querySelectorAll('input').forEach((input) => { input.disabled = !enabled; });
}

/** One line about the loaded model, all from its contract. */
export function showModelInfo(spec) {
  const { height, width, channels } = spec.image;
  $('model-info').textContent = `${spec.name}: ${spec.variant} weights, ${spec.modelType}, `
    + `${height}×${width}×${channels} input (${spec.input.dtype}, ${spec.normalization.kind} normalization), `
    + `${spec.labels.length} classes as ${spec.outputKind}, from the ${spec.source} model · `
    + `sha256 ${String(spec.sha256).slice(0, 12)}…`;
}

/** Link the run's gate report when the server has one. */
export function showReportLink(url) {
  const link = $('report');
  link.hidden = !url;
  if (url) link.href = url;
}

export function onClear(handler) {
  $('clear').addEventListener('click', handler);
  document.addEventListener('keydown', (event) => { if (event.key === 'Escape') handler(); });
}
