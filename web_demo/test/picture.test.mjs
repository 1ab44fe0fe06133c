// Pictures for any model (site/picture.js): the centre crop, box resampling, channels, and which inputs a model gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { readContract } from '../site/contract.js';
import { centerCrop, fitInk, fitPicture, inputKind, resizeArea, SKETCH_BACKGROUND, SOURCES, toChannels } from '../site/picture.js';

const tensor = (shape) => ({ shape, dtype: 'float32', scale: null, zero_point: null });
const contract = (height, width, channels, labels) => readContract({
  edgekit_contract: 2, name: 'm', format: 'tfjs', variant: 'float32', source: 'float', main_file: 'model.json',
  model_type: 'graph-model', input: tensor([height, width, channels]), output: tensor([labels.length]),
  image: { height, width, channels }, output_kind: 'logits', labels,
  normalization: { kind: 'unit', scale: [1 / 255], offset: [0] }, sha256: 'ab', size_bytes: 1,
});
const digits = [...'0123456789'];

/** An RGBA picture whose pixel (y, x) has colour f(y, x) = [r, g, b], opaque. */
function rgba(height, width, f) {
  const out = new Uint8ClampedArray(height * width * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out.set([...f(y, x), 255], (y * width + x) * 4);
  return out;
}

test('only a 28x28 one-channel model of the classes 0 to 9 is a digit model', () => {
  assert.equal(inputKind(contract(28, 28, 1, digits)), 'digit');
  assert.equal(inputKind(contract(28, 28, 1, digits), 0.01), 'digit'); // whatever its test images look like
  assert.equal(inputKind(contract(32, 32, 1, digits)), 'sketch');
  assert.equal(inputKind(contract(28, 28, 1, [...digits].reverse())), 'sketch');
  assert.equal(inputKind(contract(28, 28, 1, ['cat', 'dog'])), 'sketch');
  assert.equal(inputKind(contract(28, 28, 3, digits)), 'photo');
});

test('a grey model is shown photos when its test images are not mostly background', () => {
  const grey = contract(48, 48, 1, ['cat', 'dog']);
  assert.equal(inputKind(grey, null), 'sketch'); // nothing to judge by: the pad
  assert.equal(inputKind(grey, SKETCH_BACKGROUND + 0.2), 'sketch');
  assert.equal(inputKind(grey, SKETCH_BACKGROUND - 0.2), 'photo');
  assert.equal(inputKind(contract(48, 48, 3, ['cat', 'dog']), 0.99), 'photo');
  assert.ok(!SOURCES.photo.includes('draw') && SOURCES.digit[0] === 'draw' && SOURCES.sketch[0] === 'draw');
  assert.ok(SOURCES.photo.includes('camera') && SOURCES.photo.includes('image'));
});

test('the centre crop keeps the model aspect and cuts both sides equally (one pixel less on the left or top)', () => {
  assert.deepEqual(centerCrop(64, 96, { height: 32, width: 32 }), { top: 0, left: 16, height: 64, width: 64 });
  assert.deepEqual(centerCrop(97, 40, { height: 32, width: 32 }), { top: 28, left: 0, height: 40, width: 40 });
  assert.deepEqual(centerCrop(30, 30, { height: 20, width: 40 }), { top: 7, left: 0, height: 15, width: 30 });
  assert.deepEqual(centerCrop(5, 5, { height: 5, width: 5 }), { top: 0, left: 0, height: 5, width: 5 });
});

test('box resampling leaves a picture of the output size unchanged and averages 2x2 blocks when halving', () => {
  const values = Float64Array.from({ length: 4 * 6 * 3 }, (_, i) => (i * 37) % 256);
  const crop = { top: 0, left: 0, height: 4, width: 6 };
  assert.deepEqual(Array.from(resizeArea(values, 6, 3, crop, 4, 6)), Array.from(values));
  const half = resizeArea(values, 6, 3, crop, 2, 3);
  const at = (y, x, c) => values[(y * 6 + x) * 3 + c];
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 3; x++) {
      for (let c = 0; c < 3; c++) {
        const mean = (at(2 * y, 2 * x, c) + at(2 * y, 2 * x + 1, c) + at(2 * y + 1, 2 * x, c) + at(2 * y + 1, 2 * x + 1, c)) / 4;
        assert.equal(half[(y * 3 + x) * 3 + c], mean);
      }
    }
  }
  // The mean of a picture survives any resampling: each output pixel is a weighted average with weights summing to 1.
  const odd = resizeArea(values, 6, 3, crop, 3, 5);
  const meanOf = (a) => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(meanOf(odd) - meanOf(values)) < 1e-3);
});

test('colour pictures keep RGB for three channels and become BT.601 grey for one', () => {
  const pixels = Uint8ClampedArray.of(255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 10, 10, 10, 255);
  assert.deepEqual(Array.from(toChannels(pixels, 3)), [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 10, 10]);
  const grey = toChannels(pixels, 1);
  assert.deepEqual(Array.from(grey.slice(0, 3)).map((v) => +v.toFixed(6)), [76.245, 149.685, 29.07]);
  assert.ok(Math.abs(grey[3] - 10) < 1e-12);
});

test('fitPicture crops the centre of a wide picture and resizes it to the model picture', () => {
  // 4 x 8: left and right quarters red, the middle half green; a 2x2 model sees only green.
  const picture = rgba(4, 8, (y, x) => (x < 2 || x >= 6 ? [255, 0, 0] : [0, 200, 0]));
  const fitted = fitPicture(picture, 4, 8, { height: 2, width: 2, channels: 3 });
  assert.deepEqual(Array.from(fitted), [0, 200, 0, 0, 200, 0, 0, 200, 0, 0, 200, 0]);
  assert.equal(fitPicture(picture, 4, 8, { height: 3, width: 5, channels: 1 }).length, 15);
  assert.throws(() => fitPicture(picture, 4, 7, { height: 2, width: 2, channels: 3 }), /expected 4x7/);
});

test('fitInk scales the whole drawing without moving it: ink in a corner stays in that corner', () => {
  const ink = new Uint8ClampedArray(8 * 8);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) ink[y * 8 + x] = 255;
  const grey = fitInk(ink, 8, 8, { height: 2, width: 2, channels: 1 });
  assert.deepEqual(Array.from(grey), [1, 0, 0, 0]);
});
