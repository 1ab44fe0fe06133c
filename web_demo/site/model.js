// Loading an edgekit TF.js artifact and running it: shared by the demo page, the evaluation page and the Node runner.
// `tf` is passed in rather than imported, so the same file works with the browser's UMD global and Node's package.
import { encodeInput, pixelsToModelValues, readContract, toModelValues, toProbabilities } from './contract.js';

/** Backends in order of preference: wasm is the fastest on CPUs, webgl the fallback, plain JS the last resort. */
export const BACKENDS = ['wasm', 'webgl', 'cpu'];

/**
 * Switch TF.js to the first backend of `preferred` that initialises here; `prepare(name)` may first load the
 * backend's code (the page loads the fallbacks only when wasm fails).
 * @returns {Promise<string>} the backend in use
 */
export async function initBackend(tf, preferred = BACKENDS, prepare = async () => {}) {
  for (const name of preferred) {
    try {
      await prepare(name);
      if (await tf.setBackend(name)) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch (error) {
      console.warn(`TF.js backend ${name} unavailable: ${error.message}`);
    }
  }
  throw new Error(`none of the TF.js backends ${preferred.join(', ')} could start`);
}

/** Fetch a JSON document, failing with the URL and status rather than a parse error. */
export async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/**
 * A TF.js IO handler for a model.json already read and its weight shards, given by `readShard(path)` as bytes
 * (a Uint8Array or a Node Buffer): the page hands it prefetched downloads, the Node runner files.
 */
export function modelHandler(tf, modelJson, readShard) {
  return {
    load: () => tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
      const specs = manifest.flatMap((group) => group.weights);
      const shards = await Promise.all(manifest.flatMap((group) => group.paths).map((path) => readShard(path)));
      const joined = new Uint8Array(shards.reduce((n, shard) => n + shard.byteLength, 0));
      let offset = 0;
      for (const shard of shards) {
        joined.set(shard, offset);
        offset += shard.byteLength;
      }
      return [specs, joined.buffer];
    }),
  };
}

/**
 * Load the model a contract describes from `source` (a URL or a TF.js IO handler), as the layers or graph model
 * that its `model_type` says it is.
 */
export function loadTfjsModel(tf, spec, source) {
  if (spec.format !== 'tfjs') throw new Error(`${spec.name} is a ${spec.format} artifact, not tfjs`);
  return spec.modelType === 'graph-model' ? tf.loadGraphModel(source) : tf.loadLayersModel(source);
}

/** An image classifier: a TF.js model (layers or graph) with its edgekit contract (contract.json). */
export class ImageClassifier {
  constructor(tf, model, contract) {
    this.tf = tf;
    this.model = model;
    this.contract = contract;
    this.spec = readContract(contract);
    this.labels = this.spec.labels;
    this.image = this.spec.image;
  }

  /** Load `<baseUrl>/contract.json` and the model file it names, over HTTP. */
  static async fromUrl(tf, baseUrl, contract = null) {
    const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
    const raw = contract ?? (await fetchJson(`${base}contract.json`));
    const spec = readContract(raw);
    return new ImageClassifier(tf, await loadTfjsModel(tf, spec, `${base}${spec.mainFile}`), raw);
  }

  /** A classifier from what the page's boot.js downloaded: {contract, modelJson, shards: {path: bytes}}. */
  static async fromDownload(tf, { contract, modelJson, shards }) {
    const spec = readContract(contract);
    const handler = modelHandler(tf, modelJson, (path) => shards[path]);
    return new ImageClassifier(tf, await loadTfjsModel(tf, spec, handler), contract);
  }

  /**
   * Raw model outputs for `count` inputs, exactly what the model returned (logits stay logits, integers stay
   * integers): the one path every prediction takes.
   * @param {Float32Array|Int32Array} inputs count * input.size values in the input tensor's type (see encodeInput)
   */
  predictRaw(inputs, count) {
    const output = this.outputTensor(inputs, count);
    try {
      return output.dataSync();
    } finally {
      output.dispose();
    }
  }

  /**
   * predictRaw, read back asynchronously: on GPU backends (WebGL, WebGPU) a synchronous read stalls the page, and
   * WebGPU's is a slow fallback.
   * @returns {Promise<Float32Array|Int32Array>}
   */
  async predictRawAsync(inputs, count) {
    const output = this.outputTensor(inputs, count);
    try {
      return await output.data();
    } finally {
      output.dispose();
    }
  }

  /** The output tensor of one batch (the caller disposes of it). */
  outputTensor(inputs, count) {
    const tf = this.tf;
    const { input } = this.spec;
    const dtype = input.scale === null ? 'float32' : 'int32'; // TF.js holds int8/uint8 values in int32 tensors
    return tf.tidy(() => {
      // A layers model otherwise cuts the batch into slices of 32 and joins them again: 15-25 % slower in wasm,
      // same outputs (a graph model ignores the option).
      const result = this.model.predict(tf.tensor(inputs, [count, ...input.shape], dtype), { batchSize: count });
      return Array.isArray(result) ? result[0] : result;
    });
  }

  /** Raw outputs of many inputs, `batchSize` at a time so that memory stays flat. */
  predictBatches(inputs, count, batchSize = 500) {
    const perInput = this.spec.input.size;
    const perOutput = this.spec.output.size;
    const outputs = new Float32Array(count * perOutput);
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      outputs.set(this.predictRaw(inputs.subarray(start * perInput, (start + n) * perInput), n), start * perOutput);
    }
    return outputs;
  }

  /** predictBatches with asynchronous read-back (see predictRawAsync). */
  async predictBatchesAsync(inputs, count, batchSize = 500) {
    const perInput = this.spec.input.size;
    const perOutput = this.spec.output.size;
    const outputs = new Float32Array(count * perOutput);
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const slice = inputs.subarray(start * perInput, (start + n) * perInput);
      outputs.set(await this.predictRawAsync(slice, n), start * perOutput);
    }
    return outputs;
  }

  /**
   * Class probabilities of one preprocessed picture, and how long normalization, the model and softmax took.
   * @param {Float32Array} grey image.height * image.width values in [0, 1] (see preprocessDigit)
   * @returns {{probabilities: Float32Array, milliseconds: number}}
   */
  classify(grey) {
    const started = performance.now();
    const inputs = encodeInput(toModelValues(grey, this.spec), this.spec);
    const probabilities = toProbabilities(this.predictRaw(inputs, 1), this.spec);
    return { probabilities, milliseconds: performance.now() - started };
  }

  /**
   * Class probabilities of one picture in pixels, as uploads, the camera and test images give them.
   * @param {Float32Array} pixels image.height * image.width * image.channels values 0..255 (see fitPicture)
   * @returns {{probabilities: Float32Array, milliseconds: number}}
   */
  classifyPixels(pixels) {
    const started = performance.now();
    const inputs = encodeInput(pixelsToModelValues(pixels, this.spec), this.spec);
    const probabilities = toProbabilities(this.predictRaw(inputs, 1), this.spec);
    return { probabilities, milliseconds: performance.now() - started };
  }

  dispose() {
    this.model.dispose();
  }
}
