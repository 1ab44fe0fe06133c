// The JS preprocessing against golden vectors written by the Python reference (toolkit/pixels/golden.py).
// EDGEKIT_GOLDEN names the golden.json to read; tests/test_web_preprocess.py writes one and runs this file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { readContract, toModelValues } from '../site/contract.js';
import { preprocessDigit } from '../site/preprocess.js';

// float32 values computed in float64 on both sides: they differ at most by a float32 rounding step.
const TOLERANCE = 1e-6;
const goldenPath = process.env.EDGEKIT_GOLDEN;
const golden = goldenPath ? JSON.parse(readFileSync(goldenPath, 'utf8')) : { preprocess: [], targets: [] };
// The MNIST cases carry no field: they are the 28x28 pictures of edgekit's default contract.
const MNIST_FIELD = { height: 28, width: 28 };

function assertClose(actual, expected, width, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const delta = Math.abs(actual[i] - expected[i]);
    if (!(delta <= worst)) { worst = delta; at = i; }
  }
  assert.ok(worst <= TOLERANCE, `${what}: max |delta| ${worst} at ${at} (row ${Math.floor(at / width)}, col ${at % width})`);
}

test('golden vectors are given', () => {
  assert.ok(goldenPath, 'set EDGEKIT_GOLDEN to a golden.json written by toolkit.pixels.golden.write_golden_vectors');
  assert.ok(golden.preprocess.length > 0, `${goldenPath} has no preprocess cases`);
  assert.ok(golden.targets.length > 0, `${goldenPath} has no target cases`);
});

for (const c of golden.preprocess) {
  test(`preprocess matches Python: ${c.name}`, () => {
    const actual = preprocessDigit(Uint8Array.from(c.pixels), c.height, c.width, MNIST_FIELD, 255);
    assertClose(actual, c.expected, MNIST_FIELD.width, c.name);
  });

  test(`preprocess of [0, 1] floats matches too: ${c.name}`, () => {
    const floats = Float64Array.from(c.pixels, (p) => p / 255);
    assertClose(preprocessDigit(floats, c.height, c.width, MNIST_FIELD, 1), c.expected, MNIST_FIELD.width, c.name);
  });
}

for (const c of golden.targets) {
  const { height, width, channels } = c.image;
  test(`${height}x${width}x${channels} ${c.normalization.kind} model values match Python: ${c.name}`, () => {
    const grey = preprocessDigit(Uint8Array.from(c.pixels), c.height, c.width, c.image, 255);
    assertClose(grey, c.expected_grey, width, `${c.name} grey`);
    // The normalization as a v2 contract states it, read by the same code as the page's.
    const spec = readContract({
      edgekit_contract: 2, name: c.name, format: 'tfjs', model_type: 'graph-model',
      input: { shape: [height, width, channels], dtype: 'float32', scale: null, zero_point: null },
      output: { shape: [2], dtype: 'float32', scale: null, zero_point: null },
      image: c.image, normalization: c.normalization, output_kind: 'logits', labels: ['a', 'b'],
    });
    assertClose(toModelValues(grey, spec), c.expected, width * channels, `${c.name} values`);
  });
}
