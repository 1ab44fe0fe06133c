// The contract reader and the arithmetic it dictates (normalization, integer I/O, softmax), on hand-made contracts.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  encodeInput, pixelsToModelValues, ranked, readContract, softmax, toModelValues, toProbabilities,
} from '../site/contract.js';

const tensor = (shape, dtype = 'float32', scale = null, zeroPoint = null) => ({ shape, dtype, scale, zero_point: zeroPoint });

/** A contract as exporters/base.py writes version 1 (what runs hold until v2 lands). */
const v1 = (fields = {}) => ({
  edgekit_contract: 1, name: 'tfjs-float32', format: 'tfjs', variant: 'float32', source: 'float',
  main_file: 'model.json', input: tensor([28, 28, 1]), output: tensor([10]), output_kind: 'probabilities',
  normalization: { divide_by: 255.0, range: [0, 1] }, labels: [...'0123456789'], sha256: 'ab', size_bytes: 1,
  ...fields,
});

/** Version 2: a colour model with its own picture, classes and normalization. */
const v2 = (fields = {}) => ({
  ...v1(), edgekit_contract: 2, model_type: 'graph-model', input: tensor([32, 32, 3]), output: tensor([3]),
  image: { height: 32, width: 32, channels: 3 }, output_kind: 'logits', labels: ['cat', 'dog', 'bird'],
  normalization: { kind: 'mean_std', scale: [0.1, 0.2, 0.4], offset: [-1, -2, -3], mean: [0.1, 0.2, 0.3], std: [0.4, 0.5, 0.6] },
  ...fields,
});

test('version 1 maps onto a 28x28x1 unit-normalized layers model', () => {
  const spec = readContract(v1());
  assert.deepEqual(spec.image, { height: 28, width: 28, channels: 1 });
  assert.equal(spec.modelType, 'layers-model');
  assert.equal(spec.normalization.kind, 'unit');
  assert.equal(spec.input.size, spec.image.height * spec.image.width);
  // Unit normalization leaves [0, 1] pictures exactly as they are.
  const grey = Float32Array.from({ length: spec.input.size }, (_, i) => (i % 97) / 96);
  assert.deepEqual(toModelValues(grey, spec), grey);
});

test('flattened inputs of any picture are accepted; the picture comes from image', () => {
  const spec = readContract(v2({ input: tensor([32 * 32 * 3]) }));
  assert.deepEqual(spec.input.shape, [3072]);
  assert.equal(spec.labels.length, 3);
  assert.equal(spec.modelType, 'graph-model');
});

test('grey pictures are replicated into every channel, each normalized with its own scale and offset', () => {
  const spec = readContract(v2());
  const values = toModelValues(Float32Array.of(0, 1), spec);
  assert.deepEqual(Array.from(values), [-1, -2, -3, 255 * 0.1 - 1, 255 * 0.2 - 2, 255 * 0.4 - 3].map(Math.fround));
  const one = readContract(v2({ normalization: { kind: 'symmetric', scale: [2 / 255], offset: [-1] } }));
  assert.deepEqual(Array.from(toModelValues(Float32Array.of(0, 0.5, 1), one)), [-1, -1, -1, 0, 0, 0, 1, 1, 1]);
});

test('integer inputs are quantized half up and clipped; integer outputs dequantized', () => {
  const spec = readContract(v1({ input: tensor([28, 28, 1], 'int8', 1 / 255, -128), output: tensor([10], 'uint8', 1 / 256, 0) }));
  const q = encodeInput(Float32Array.of(0, 0.5, 1, 2, -1), spec);
  assert.ok(q instanceof Int32Array);
  assert.deepEqual(Array.from(q), [-128, 0, 127, 127, -128]);
  const probabilities = toProbabilities(Int32Array.of(0, 0, 0, 256, 0, 0, 0, 0, 0, 128), spec);
  assert.equal(probabilities[3], 1);
  assert.equal(probabilities[9], 0.5);
});

test('logits get a stable softmax per row; probabilities pass unchanged', () => {
  const spec = readContract(v2());
  const p = toProbabilities(Float32Array.of(1000, 1000, -1000, 0, 0, 0), spec);
  assert.deepEqual(Array.from(p.subarray(0, 3)), [0.5, 0.5, 0]);
  assert.ok(Math.abs(p[3] - 1 / 3) < 1e-7);
  assert.deepEqual(Array.from(softmax(Float32Array.of(0, 0), 2)), [0.5, 0.5]);
  const probs = readContract(v1());
  const raw = Float32Array.from({ length: 10 }, (_, i) => i / 45);
  assert.deepEqual(toProbabilities(raw, probs), raw);
});

test('contracts the consumers cannot honour are refused with the reason', () => {
  const bad = {
    'version 3': [v2({ edgekit_contract: 3 }), /version 3/],
    'no picture in v2': [v2({ image: undefined }), /image must give height and width/],
    'two channels': [v2({ image: { height: 32, width: 32, channels: 2 }, input: tensor([32, 32, 2]) }), /2 channels/],
    'input not the picture': [v2({ input: tensor([28, 28, 3]) }), /does not hold a 32x32x3 image/],
    'labels not outputs': [v2({ labels: ['a', 'b'] }), /does not match 2 labels/],
    'one class': [v2({ output: tensor([1]), labels: ['a'] }), /does not match 1 labels/],
    'unknown output kind': [v2({ output_kind: 'scores' }), /output_kind scores/],
    'unknown model type': [v2({ model_type: 'saved-model' }), /model_type saved-model/],
    'scale per channel': [v2({ normalization: { kind: 'mean_std', scale: [1, 2], offset: [0] } }), /one per channel/],
    'no normalization': [v2({ normalization: { kind: 'unit' } }), /normalization.scale/],
    'int8 without scale': [v1({ input: tensor([28, 28, 1], 'int8', null, -128) }), /positive scale/],
    'zero point out of range': [v1({ input: tensor([28, 28, 1], 'int8', 0.1, 200) }), /in-range zero_point/],
    'float16 input': [v1({ input: tensor([28, 28, 1], 'float16') }), /float16 is not/],
    'inherited name as dtype': [v1({ input: tensor([28, 28, 1], 'toString') }), /toString is not/],
  };
  for (const [what, [contract, message]] of Object.entries(bad)) {
    assert.throws(() => readContract(contract), message, what);
  }
});

test('pixels 0..255 become model values per interleaved channel, in float32 steps as numpy computes them', () => {
  const unit = readContract(v1());
  const pixels = Float32Array.from({ length: 256 }, (_, p) => p);
  const values = pixelsToModelValues(pixels, unit);
  assert.equal(values[0], 0);
  assert.equal(values[255], 1); // float32(255 * float32(1 / 255)) is exactly 1
  // Each step rounds to float32: p * float32(scale), not p * scale in float64 rounded once.
  for (let p = 0; p < 256; p++) assert.equal(values[p], Math.fround(p * Math.fround(1 / 255)));
  const colour = readContract(v2());
  const rgb = pixelsToModelValues(Float32Array.of(0, 0, 0, 10, 10, 10), colour);
  const expected = [0.1, 0.2, 0.4].flatMap((s, c) => [0, 10].map((p) => Math.fround(Math.fround(p * Math.fround(s)) + [-1, -2, -3][c])));
  assert.deepEqual(Array.from(rgb), [expected[0], expected[2], expected[4], expected[1], expected[3], expected[5]]);
});

test('ranked gives the most probable classes first, the lower index on a tie, at most the count asked', () => {
  const labels = ['a', 'b', 'c', 'd'];
  const best = ranked(Float32Array.of(0.1, 0.4, 0.1, 0.4), labels, 3);
  assert.deepEqual(best.map((r) => r.label), ['b', 'd', 'a']);
  assert.deepEqual(best.map((r) => r.index), [1, 3, 0]);
  assert.equal(ranked(Float32Array.of(0.5, 0.5), ['x', 'y'], 5).length, 2);
  // A thousand classes: the five best, found in one sort.
  const many = Float32Array.from({ length: 1000 }, (_, k) => ((k * 7919) % 1000) / 1000);
  const top = ranked(many, Array.from({ length: 1000 }, (_, k) => `class ${k}`), 5);
  assert.deepEqual(top.map((r) => r.probability), Array.from([0.999, 0.998, 0.997, 0.996, 0.995], Math.fround));
});
