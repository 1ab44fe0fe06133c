// The demo's LiteRT.js path (?backend=litertjs): a pixels .tflite in @litertjs/core on wasm, with the same face as
// model.js's ImageClassifier. Imported only when chosen, so the default page never fetches LiteRT.js.
import { loadAndCompile, loadLiteRt, Tensor } from './litertjs/index.js';
import { readContract, toProbabilities } from './contract.js';

const TYPED = { float32: Float32Array, uint8: Uint8Array };
let runtime = null;

/** Load the LiteRT wasm runtime once (its files are served under litertjs-wasm/). */
export function initLiteRt() {
  runtime ??= loadLiteRt(new URL('litertjs-wasm/', location.href).href);
  return runtime;
}

/**
 * A pixels artifact (contract `pixels`: batch 1, RGB pixels 0..255 in, probabilities out, the model's gray
 * conversion, normalization and softmax inside the graph) run by LiteRT.js.
 */
export class LiteRtClassifier {
  constructor(model, contract) {
    this.model = model;
    this.contract = contract;
    const spec = readContract(contract);
    // The model's own picture: one channel when the graph turns RGB to gray, so the page offers the drawing pad.
    const gray = contract.pixels?.gray_weights != null;
    this.image = { ...spec.image, channels: gray ? 1 : spec.image.channels };
    this.spec = { ...spec, image: this.image };
    this.labels = spec.labels;
    this.pixelImage = spec.image; // what the file takes: uploads are fitted to it in RGB
    this.Typed = TYPED[spec.input.dtype];
    if (!this.Typed) throw new Error(`${spec.name}: input element type ${spec.input.dtype} is not handled`);
  }

  /** Load `<baseUrl><main file>` (the contract as served in the index) into LiteRT.js. */
  static async fromUrl(baseUrl, contract) {
    await initLiteRt();
    const spec = readContract(contract);
    if (!contract.pixels) throw new Error(`${spec.name} is not a pixels artifact: LiteRT.js runs those only`);
    const model = await loadAndCompile(new URL(`${baseUrl}${spec.mainFile}`, location.href).href,
      { accelerator: 'wasm' });
    return new LiteRtClassifier(model, contract);
  }

  /**
   * Class probabilities of a drawn digit, preprocessed as for the TF.js model (values in [0, 1]): as RGB pixels,
   * 255 * value in every channel.
   * @returns {Promise<{probabilities: Float32Array, milliseconds: number}>}
   */
  classify(grey) {
    return this.classifyPixels(Float32Array.from(grey, (v) => v * 255));
  }

  /**
   * Class probabilities of a picture in pixels 0..255: pixelImage's channels (RGB), or one value per pixel
   * (replicated to R = G = B).
   * @returns {Promise<{probabilities: Float32Array, milliseconds: number}>}
   */
  async classifyPixels(pixels) {
    const started = performance.now();
    const { input } = this.spec;
    const channels = this.pixelImage.channels;
    const rgb = pixels.length === input.size;
    const values = new this.Typed(input.size);
    for (let i = 0; i < input.size; i++) {
      const v = rgb ? pixels[i] : pixels[Math.floor(i / channels)];
      // uint8: rounded half up and clipped, as the gate quantizes (scale 1, zero point 0)
      values[i] = this.Typed === Uint8Array ? Math.min(255, Math.max(0, Math.floor(v + 0.5))) : v;
    }
    const x = new Tensor(values, [1, ...input.shape]); // batch 1, as the contract's `pixels` says
    const results = await this.model.run(x);
    x.delete();
    const y = await results[0].moveTo('wasm');
    const raw = y.toTypedArray().slice();
    y.delete();
    for (const r of results.slice(1)) r.delete();
    const probabilities = toProbabilities(raw, this.spec);
    return { probabilities, milliseconds: performance.now() - started };
  }

  dispose() {
    this.model.delete();
  }
}
