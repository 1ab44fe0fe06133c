// Pictures for any model, and which inputs suit it: the centre of a picture cropped to the model's aspect, box
// resampled to its height x width in its channels (uploads, the camera, test images, a sketch model's pad); the
// drawing pad's MNIST-style preprocessing stays in preprocess.js. No DOM, no TF.js: Node runs the unit tests.
import { SIZE, areaWeights } from './preprocess.js';

export const MAX_PIXEL = 255; // the largest value of an 8-bit pixel
// ITU-R BT.601 luma, as Pillow's "L" conversion: a colour picture for a one-channel model.
const LUMA = [0.299, 0.587, 0.114];
const DIGITS = [...'0123456789'];
// A one-channel model whose test images have less than this share of pure black or pure white pixels is shown
// photos, not a drawing pad: drawings are mostly background, photos hardly ever one exact value.
export const SKETCH_BACKGROUND = 0.5;

/** A digit model: one channel, MNIST's 28x28 picture, the ten classes "0" to "9" in order. */
export function isDigitModel(spec) {
  const { height, width, channels } = spec.image;
  return channels === 1 && height === SIZE && width === SIZE && spec.labels.length === DIGITS.length
    && spec.labels.every((label, k) => label === DIGITS[k]);
}

/**
 * How the page takes a picture for this model: 'digit' (the drawing pad with MNIST-style centring), 'sketch' (the
 * pad scaled as drawn) or 'photo' (images and the camera, no pad). One channel is a sketch unless the run's test
 * images look like photos (`background`, their share of pure black or white pixels, below SKETCH_BACKGROUND).
 * @param {{image: {channels: number}, labels: string[]}} spec a contract as readContract returns it
 * @param {?number} background from the server's samples/index.json; null when unknown
 */
export function inputKind(spec, background = null) {
  if (spec.image.channels !== 1) return 'photo';
  if (isDigitModel(spec)) return 'digit';
  return background != null && background < SKETCH_BACKGROUND ? 'photo' : 'sketch';
}

/** The inputs the page offers for each kind, the first one chosen by default. */
export const SOURCES = { digit: ['draw', 'image'], sketch: ['draw', 'image'], photo: ['image', 'camera'] };

/**
 * The largest box of the target's aspect ratio centred in a height x width picture (sides rounded half up,
 * offsets rounded down): {top, left, height, width}.
 */
export function centerCrop(height, width, target) {
  if (width * target.height > height * target.width) {
    const w = Math.min(width, Math.max(1, Math.floor((height * target.width) / target.height + 0.5)));
    return { top: 0, left: Math.floor((width - w) / 2), height, width: w };
  }
  const h = Math.min(height, Math.max(1, Math.floor((width * target.height) / target.width + 0.5)));
  return { top: Math.floor((height - h) / 2), left: 0, height: h, width };
}

/**
 * Box resampling of `crop` out of a picture `width` wide with `channels` interleaved values per pixel, to
 * outHeight x outWidth: each output pixel averages the source pixels it covers (rows first, then columns, as
 * preprocess.js and toolkit/pixels/digit.py). A crop of the output's size comes back unchanged.
 */
export function resizeArea(values, width, channels, crop, outHeight, outWidth) {
  const rowWeights = areaWeights(crop.height, outHeight);
  const colWeights = areaWeights(crop.width, outWidth);
  const rowLength = crop.width * channels;
  const byRows = new Float64Array(outHeight * rowLength);
  for (let i = 0; i < outHeight; i++) {
    for (const [j, w] of rowWeights[i]) {
      const source = ((crop.top + j) * width + crop.left) * channels;
      for (let x = 0; x < rowLength; x++) byRows[i * rowLength + x] += w * values[source + x];
    }
  }
  const out = new Float32Array(outHeight * outWidth * channels);
  const sum = new Float64Array(channels);
  for (let i = 0; i < outHeight; i++) {
    for (let k = 0; k < outWidth; k++) {
      sum.fill(0);
      for (const [x, w] of colWeights[k]) {
        for (let c = 0; c < channels; c++) sum[c] += byRows[i * rowLength + x * channels + c] * w;
      }
      out.set(sum, (i * outWidth + k) * channels);
    }
  }
  return out;
}

/** RGBA pixels (alpha already composited) as `channels` values per pixel: RGB, or BT.601 grey for one channel. */
export function toChannels(rgba, channels) {
  const count = rgba.length / 4;
  if (channels === 3) {
    const rgb = new Float64Array(count * 3);
    for (let i = 0; i < count; i++) rgb.set([rgba[i * 4], rgba[i * 4 + 1], rgba[i * 4 + 2]], i * 3);
    return rgb;
  }
  const grey = new Float64Array(count);
  for (let i = 0; i < count; i++) grey[i] = LUMA[0] * rgba[i * 4] + LUMA[1] * rgba[i * 4 + 1] + LUMA[2] * rgba[i * 4 + 2];
  return grey;
}

/**
 * An RGBA picture (height x width) as the model's picture: its centre cropped to the model's aspect, box-resampled
 * to image.height x image.width, in image.channels.
 * @returns {Float32Array} image.height * image.width * image.channels pixel values 0..255, interleaved
 */
export function fitPicture(rgba, height, width, image) {
  if (rgba.length !== height * width * 4) throw new Error(`expected ${height}x${width} RGBA pixels, got ${rgba.length / 4}`);
  const crop = centerCrop(height, width, image);
  return resizeArea(toChannels(rgba, image.channels), width, image.channels, crop, image.height, image.width);
}

/**
 * A sketch model's drawing: the pad's ink (0..255, bright on dark) cropped to the model's aspect and scaled to its
 * picture as it was drawn, with no centring.
 * @returns {Float32Array} image.height * image.width grey values in [0, 1]
 */
export function fitInk(ink, height, width, image) {
  const grey = resizeArea(ink, width, 1, centerCrop(height, width, image), image.height, image.width);
  for (let i = 0; i < grey.length; i++) grey[i] = Math.min(Math.max(grey[i] / MAX_PIXEL, 0), 1);
  return grey;
}
