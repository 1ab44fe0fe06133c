// The model contract (contract.json, written by edgekit beside every artifact) and the arithmetic it dictates:
// the picture the model takes, pixel normalization, integer (de)quantization and softmax of logits. No TF.js here,
// so the page, the evaluation page, the Node runner and the unit tests share it as it is.

const DTYPES = { float32: null, int8: [-128, 127], uint8: [0, 255] };
const MODEL_TYPES = ['layers-model', 'graph-model'];

const product = (shape) => shape.reduce((a, b) => a * b, 1);

function fail(contract, message) {
  throw new Error(`${contract?.name ?? 'contract.json'}: ${message}`);
}

function tensorSpec(contract, which) {
  const spec = contract[which];
  if (!spec || !Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d > 0)) {
    fail(contract, `${which}.shape must be a list of positive integers`);
  }
  if (!Object.hasOwn(DTYPES, spec.dtype)) fail(contract, `${which}.dtype ${spec.dtype} is not float32, int8 or uint8`);
  const range = DTYPES[spec.dtype];
  if (range === null) return { shape: spec.shape, size: product(spec.shape), dtype: spec.dtype, scale: null, zeroPoint: null, range };
  if (!(spec.scale > 0) || !Number.isInteger(spec.zero_point) || spec.zero_point < range[0] || spec.zero_point > range[1]) {
    fail(contract, `${which} is ${spec.dtype} without a positive scale and an in-range zero_point`);
  }
  return { shape: spec.shape, size: product(spec.shape), dtype: spec.dtype, scale: spec.scale, zeroPoint: spec.zero_point, range };
}

/** Scale and offset per channel (model value = pixel * scale[c] + offset[c]), as the contract states them. */
function normalization(contract, channels) {
  const n = contract.normalization ?? {};
  if (contract.edgekit_contract === 1) {
    // Version 1: value = range[0] + pixel / divide_by (edgekit always wrote the unit kind: [0, 1]).
    if (!(n.divide_by > 0) || !Array.isArray(n.range)) fail(contract, 'normalization needs divide_by and range');
    return { kind: 'unit', scale: [1 / n.divide_by], offset: [n.range[0]] };
  }
  const perChannel = (values, what) => {
    if (!Array.isArray(values) || !values.every(Number.isFinite) || (values.length !== 1 && values.length !== channels)) {
      fail(contract, `normalization.${what} must hold one number or one per channel (${channels})`);
    }
    return values.length === 1 ? Array(channels).fill(values[0]) : values.slice();
  };
  return { kind: n.kind, scale: perChannel(n.scale, 'scale'), offset: perChannel(n.offset, 'offset') };
}

/**
 * Check a contract.json and return what its consumers need, with version 1 mapped onto version 2
 * (28x28x1 picture, unit normalization, a layers model).
 * @returns {{name: string, format: string, variant: string, source: string, mainFile: string, modelType: string,
 *   image: {height: number, width: number, channels: number}, input: object, output: object,
 *   normalization: {kind: string, scale: number[], offset: number[]}, outputKind: string, labels: string[],
 *   sizeBytes: number, sha256: string}}
 */
export function readContract(contract) {
  if (typeof contract !== 'object' || contract === null) fail(null, 'not a JSON object');
  const version = contract.edgekit_contract;
  if (version !== 1 && version !== 2) fail(contract, `contract version ${version} is not 1 or 2`);
  const input = tensorSpec(contract, 'input');
  const output = tensorSpec(contract, 'output');
  const image = contract.image ?? (version === 1 ? { height: 28, width: 28, channels: 1 } : null);
  if (!image || ![image.height, image.width].every((d) => Number.isInteger(d) && d > 0)) {
    fail(contract, 'image must give height and width');
  }
  if (image.channels !== 1 && image.channels !== 3) fail(contract, `image has ${image.channels} channels, not 1 or 3`);
  if (input.size !== image.height * image.width * image.channels) {
    fail(contract, `input ${JSON.stringify(input.shape)} does not hold a ${image.height}x${image.width}x${image.channels} image`);
  }
  const labels = contract.labels;
  if (!Array.isArray(labels) || labels.length < 2 || output.size !== labels.length) {
    fail(contract, `output ${JSON.stringify(output.shape)} does not match ${labels?.length} labels`);
  }
  if (contract.output_kind !== 'probabilities' && contract.output_kind !== 'logits') {
    fail(contract, `output_kind ${contract.output_kind} is not probabilities or logits`);
  }
  const modelType = contract.model_type ?? 'layers-model';
  if (contract.format === 'tfjs' && !MODEL_TYPES.includes(modelType)) fail(contract, `model_type ${modelType} is unknown`);
  return {
    name: contract.name,
    format: contract.format,
    variant: contract.variant,
    source: contract.source,
    mainFile: contract.main_file,
    modelType,
    image: { height: image.height, width: image.width, channels: image.channels },
    input,
    output,
    normalization: normalization(contract, image.channels),
    outputKind: contract.output_kind,
    labels: labels.map(String),
    sizeBytes: contract.size_bytes,
    sha256: contract.sha256,
  };
}

/**
 * A grey picture in [0, 1] (height * width values, as the preprocessing makes) as the model's float values:
 * replicated into every channel, pixel = 255 * grey, value = pixel * scale[c] + offset[c] (interleaved H x W x C).
 */
export function toModelValues(grey, spec) {
  const { channels } = spec.image;
  // 255 * scale first: exactly 1 for the unit normalization, so [0, 1] pictures pass unchanged (as in Python).
  const factor = spec.normalization.scale.map((s) => 255 * s);
  const offset = spec.normalization.offset;
  const values = new Float32Array(grey.length * channels);
  for (let i = 0; i < grey.length; i++) {
    for (let c = 0; c < channels; c++) values[i * channels + c] = grey[i] * factor[c] + offset[c];
  }
  return values;
}

/**
 * Pixels 0..255 (height * width * channels values, interleaved, as picture.js makes them) as the model's float values:
 * value = pixel * scale[c] + offset[c], each step rounded to float32 as numpy does it (Normalization.apply in
 * exporters/base.py), so a test image reaches the model exactly as the gate fed it.
 */
export function pixelsToModelValues(pixels, spec) {
  const { channels } = spec.image;
  const scale = spec.normalization.scale.map(Math.fround);
  const offset = spec.normalization.offset.map(Math.fround);
  const values = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const c = i % channels;
    values[i] = Math.fround(Math.fround(pixels[i]) * scale[c]) + offset[c];
  }
  return values;
}

/** Real values to the integers of an int8/uint8 tensor: floor(x / scale + 0.5) + zero_point, clipped. */
export function quantize(values, tensor) {
  const out = new Int32Array(values.length);
  const [low, high] = tensor.range;
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.min(high, Math.max(low, Math.floor(values[i] / tensor.scale + 0.5) + tensor.zeroPoint));
  }
  return out;
}

/** Model values as the input tensor's data: float32 unchanged, integer tensors quantized. */
export function encodeInput(values, spec) {
  return spec.input.scale === null ? Float32Array.from(values) : quantize(values, spec.input);
}

/** Row-wise softmax in float64, shifted by the row's maximum so large logits do not overflow. */
export function softmax(values, classes) {
  const out = new Float32Array(values.length);
  for (let start = 0; start < values.length; start += classes) {
    let top = -Infinity;
    for (let k = 0; k < classes; k++) top = Math.max(top, values[start + k]);
    let sum = 0;
    const e = new Float64Array(classes);
    for (let k = 0; k < classes; k++) sum += (e[k] = Math.exp(values[start + k] - top));
    for (let k = 0; k < classes; k++) out[start + k] = e[k] / sum;
  }
  return out;
}

/** Raw model outputs (any number of rows) to probabilities: dequantized if integer, softmax if logits. */
export function toProbabilities(raw, spec) {
  const { output } = spec;
  let values = raw;
  if (output.scale !== null) values = Float32Array.from(raw, (q) => (q - output.zeroPoint) * output.scale);
  return spec.outputKind === 'logits' ? softmax(values, output.size) : Float32Array.from(values);
}

/**
 * The `count` most probable classes, most probable first (the lower class index first on a tie).
 * @returns {{index: number, label: string, probability: number}[]}
 */
export function ranked(probabilities, labels, count) {
  const order = Array.from(probabilities, (_, k) => k);
  order.sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order.slice(0, count).map((k) => ({ index: k, label: labels[k], probability: probabilities[k] }));
}
