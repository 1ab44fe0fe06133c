// The JS preprocessing against golden vectors written by the Python reference (toolkit/golden.py).
// EDGEKIT_GOLDEN names the golden.json to read; tests/test_web_preprocess.py writes one and runs this file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { preprocessDigit } from '../site/preprocess.js';

// float32 values computed in float64 on both sides: they differ at most by a float32 rounding step.
const TOLERANCE = 1e-6;
const goldenPath = process.env.EDGEKIT_GOLDEN;
const cases = goldenPath ? JSON.parse(readFileSync(goldenPath, 'utf8')).preprocess : [];

test('golden vectors are given', () => {
  assert.ok(goldenPath, 'set EDGEKIT_GOLDEN to a golden.json written by toolkit.golden.write_golden_vectors');
  assert.ok(cases.length > 0, `${goldenPath} has no preprocess cases`);
});

for (const c of cases) {
  test(`preprocess matches Python: ${c.name}`, () => {
    const actual = preprocessDigit(Uint8Array.from(c.pixels), c.height, c.width, 255);
    assert.equal(actual.length, c.expected.length);
    let worst = 0, at = -1;
    for (let i = 0; i < actual.length; i++) {
      const delta = Math.abs(actual[i] - c.expected[i]);
      if (delta > worst) { worst = delta; at = i; }
    }
    assert.ok(worst <= TOLERANCE, `max |delta| ${worst} at pixel ${at} (row ${Math.floor(at / 28)}, col ${at % 28})`);
  });

  test(`preprocess of [0, 1] floats matches too: ${c.name}`, () => {
    const floats = Float64Array.from(c.pixels, (p) => p / 255);
    const actual = preprocessDigit(floats, c.height, c.width, 1);
    for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i] - c.expected[i]) <= TOLERANCE);
  });
}
