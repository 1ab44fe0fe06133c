// Loading an edgekit TF.js artifact and running it: shared by the demo page, the evaluation page and the Node runner.
// `tf` is passed in rather than imported, so the same file works with the browser's UMD global and Node's package.

/** Backends in order of preference: wasm is the fastest on CPUs, webgl the fallback, plain JS the last resort. */
export const BACKENDS = ['wasm', 'webgl', 'cpu'];

/**
 * Switch TF.js to the first backend of `preferred` that initialises here.
 * @returns {Promise<string>} the backend in use
 */
export async function initBackend(tf, preferred = BACKENDS) {
  for (const name of preferred) {
    try {
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

/** Read a contract's numbers that the page must not guess: input shape, output kind, labels, normalisation. */
function checkContract(contract) {
  if (contract.format !== 'tfjs') throw new Error(`${contract.name} is a ${contract.format} artifact, not tfjs`);
  const elements = contract.input.shape.reduce((a, b) => a * b, 1);
  if (elements !== 28 * 28) {
    throw new Error(`${contract.name} takes input ${JSON.stringify(contract.input.shape)}, not a 28x28 image`);
  }
  return contract;
}

/** A TF.js layers model with its edgekit contract (contract.json). */
export class DigitModel {
  constructor(tf, model, contract) {
    this.tf = tf;
    this.model = model;
    this.contract = checkContract(contract);
    this.inputShape = contract.input.shape;
    this.labels = contract.labels;
  }

  /** Load `<baseUrl>/contract.json` and the model file it names, over HTTP. */
  static async fromUrl(tf, baseUrl) {
    const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
    const contract = await fetchJson(`${base}contract.json`);
    const model = await tf.loadLayersModel(`${base}${contract.main_file}`);
    return new DigitModel(tf, model, contract);
  }

  /**
   * Raw model outputs for `count` images of 784 [0, 1] values each, reshaped to the contract's input shape.
   * @param {Float32Array} pixels count * 784 values
   * @returns {Float32Array} count * outputs values, exactly what the model returned (logits stay logits)
   */
  predictRaw(pixels, count) {
    const tf = this.tf;
    const output = tf.tidy(() => this.model.predict(tf.tensor(pixels, [count, ...this.inputShape], 'float32')));
    try {
      return output.dataSync();
    } finally {
      output.dispose();
    }
  }

  /** Raw outputs of many images, `batchSize` at a time so that memory stays flat. */
  predictBatches(pixels, count, batchSize = 500) {
    const perImage = 28 * 28;
    let outputs = null;
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const raw = this.predictRaw(pixels.subarray(start * perImage, (start + n) * perImage), n);
      outputs ??= new Float32Array(count * (raw.length / n));
      outputs.set(raw, start * (raw.length / n));
    }
    return outputs ?? new Float32Array(0);
  }

  /**
   * Class probabilities of one preprocessed digit, and how long the model took.
   * @param {Float32Array} input 784 values in [0, 1]
   * @returns {{probabilities: Float32Array, milliseconds: number}}
   */
  classify(input) {
    const tf = this.tf;
    const started = performance.now();
    const probabilities = tf.tidy(() => {
      const output = this.model.predict(tf.tensor(input, [1, ...this.inputShape], 'float32'));
      return this.contract.output_kind === 'logits' ? tf.softmax(output) : output;
    });
    try {
      return { probabilities: probabilities.dataSync(), milliseconds: performance.now() - started };
    } finally {
      probabilities.dispose();
    }
  }

  dispose() {
    this.model.dispose();
  }
}
