// ImageClassifier (site/model.js) on a real TF.js layers model in Node (cpu backend): how a batch reaches the model.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import { ImageClassifier } from '../site/model.js';

const contract = {
  edgekit_contract: 2, name: 'tiny', format: 'tfjs', variant: 'float32', source: 'float', main_file: 'model.json',
  model_type: 'layers-model', input: { shape: [2, 2, 1], dtype: 'float32', scale: null, zero_point: null },
  output: { shape: [3], dtype: 'float32', scale: null, zero_point: null }, image: { height: 2, width: 2, channels: 1 },
  normalization: { kind: 'unit', scale: [1 / 255], offset: [0] }, output_kind: 'logits', labels: ['a', 'b', 'c'],
  sha256: 'ab', size_bytes: 1,
};

test('a batch goes through a layers model in one piece, with the same outputs as in slices of 32', () => {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2, 1] }), tf.layers.dense({ units: 3 })] });
  const calls = [];
  const predict = model.predict.bind(model);
  model.predict = (x, config) => {
    calls.push(config?.batchSize);
    return predict(x, config);
  };
  const classifier = new ImageClassifier(tf, model, contract);
  const count = 100;
  const inputs = Float32Array.from({ length: count * 4 }, (_, i) => (i % 13) / 13);
  const outputs = classifier.predictRaw(inputs, count);
  // TF.js layers models split a call into batches of 32 unless told otherwise: 4 kernel rounds instead of 1.
  assert.deepEqual(calls, [count]);
  const sliced = predict(tf.tensor(inputs, [count, 2, 2, 1])).dataSync();
  assert.deepEqual(Array.from(outputs), Array.from(sliced));
});

test('classifyPixels normalizes pixels 0..255 as the contract says and agrees with classify on [0, 1] grey', () => {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2, 1] }), tf.layers.dense({ units: 3 })] });
  const classifier = new ImageClassifier(tf, model, contract);
  const pixels = Float32Array.of(0, 64, 128, 255);
  const fromPixels = classifier.classifyPixels(pixels).probabilities;
  const fromGrey = classifier.classify(pixels.map((p) => p / 255)).probabilities;
  assert.equal(fromPixels.length, 3);
  assert.ok(Math.abs(fromPixels.reduce((a, b) => a + b) - 1) < 1e-6); // logits through softmax
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(fromPixels[k] - fromGrey[k]) < 1e-6);
  // The raw pixels themselves (no normalization) would give other probabilities.
  const raw = tf.softmax(model.predict(tf.tensor(pixels, [1, 2, 2, 1]))).dataSync();
  assert.ok(Math.max(...raw.map((p, k) => Math.abs(p - fromPixels[k]))) > 1e-3);
});
