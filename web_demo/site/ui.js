// The page's DOM: the drawing pad, the probability bars, the variant picker and the status line. No TF.js here.

const PEN_WIDTH = 22; // in canvas pixels of the 280x280 pad: about MNIST's stroke once the digit is fitted to 20 px
const PEN_COLOR = '#1f2233';

const $ = (id) => document.getElementById(id);

function formatBytes(bytes) {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  return `${Math.round(bytes / 1e3)} kB`;
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

/** Draw the model's grey input ([0, 1], image.height x image.width) into the preview, white ink on black. */
export function showModelInput(input, { height, width }) {
  const canvas = $('preview');
  if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
  const picture = new ImageData(width, height);
  for (let i = 0; i < input.length; i++) {
    const v = Math.round(input[i] * 0xff);
    picture.data.set([v, v, v, 0xff], i * 4);
  }
  canvas.getContext('2d').putImageData(picture, 0, 0);
}

/** Create one bar per label; returns nothing, later calls of showPrediction fill them. */
export function buildBars(labels) {
  const list = $('bars');
  list.replaceChildren();
  for (const label of labels) {
    const item = document.createElement('li');
    item.className = 'bar';
    item.innerHTML = '<span class="bar-label"></span><span class="bar-track"><span class="bar-fill"></span></span>'
      + '<span class="bar-value">–</span>';
    item.querySelector('.bar-label').textContent = label;
    list.append(item);
  }
}

/** Show class probabilities: the top class large, a bar per class, the inference time. */
export function showPrediction(probabilities, labels, milliseconds) {
  let top = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[top]) top = i;
  $('top-digit').textContent = labels[top];
  $('top-confidence').textContent = `${(probabilities[top] * 100).toFixed(1)} % confident`;
  $('timing').textContent = `${milliseconds.toFixed(1)} ms`;
  $('bars').querySelectorAll('.bar').forEach((bar, i) => {
    const p = probabilities[i];
    bar.classList.toggle('top', i === top);
    bar.querySelector('.bar-fill').style.width = `${(p * 100).toFixed(1)}%`;
    bar.querySelector('.bar-value').textContent = `${(p * 100).toFixed(1)}%`;
  });
}

/** Back to the empty state after Clear (or before the first stroke). */
export function showNoPrediction(image) {
  $('top-digit').textContent = '–';
  $('top-confidence').textContent = 'Draw a digit to start';
  $('timing').textContent = '–';
  $('bars').querySelectorAll('.bar').forEach((bar) => {
    bar.classList.remove('top');
    bar.querySelector('.bar-fill').style.width = '0';
    bar.querySelector('.bar-value').textContent = '–';
  });
  showModelInput(new Float32Array(image.height * image.width), image);
}

export function showBackend(name, preferred) {
  const badge = $('backend');
  badge.textContent = name;
  badge.classList.toggle('fallback', name !== preferred);
  badge.title = name === preferred ? 'the fastest backend on CPUs' : `${preferred} could not start here`;
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

export function drawingPad() {
  return new DrawingPad($('pad'), $('hint'));
}
