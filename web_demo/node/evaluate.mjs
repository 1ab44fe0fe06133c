#!/usr/bin/env node
// Evaluate edgekit TF.js artifacts in Node with the wasm backend; raw float32 files in and out, for Python.
//
//   node web_demo/node/evaluate.mjs --model DIR --out OUT.f32 [--model DIR2 --out OUT2.f32 ...]
//                                   --images IN.f32 --count N [--batch 500]
//
// IN.f32 holds N model inputs (little-endian float32, already shaped by the contract: 784 values each);
// each OUT.f32 receives N rows of the raw outputs of the model given in the same position. One process evaluates
// them all (starting Node and the wasm backend costs more than a model). One JSON line per model goes to stdout,
// {"model": DIR, "backend", "count", "seconds"} or {"model": DIR, "error": message}: a model that fails does not stop
// the others.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

import { DigitModel, initBackend } from '../site/model.js';
import { fileHandler } from './files.mjs';

function readFloat32(path, expected) {
  const bytes = readFileSync(path);
  if (bytes.byteLength !== expected * 4) {
    throw new Error(`${path}: ${bytes.byteLength} bytes, expected ${expected * 4} (${expected} float32)`);
  }
  // Copy into a fresh, aligned buffer: a Buffer may start at any offset of a shared pool.
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', multiple: true },
      images: { type: 'string' },
      count: { type: 'string' },
      out: { type: 'string', multiple: true },
      batch: { type: 'string', default: '500' },
      backend: { type: 'string', default: 'wasm' },
    },
  });
  for (const key of ['model', 'images', 'count', 'out']) {
    if (!values[key]) throw new Error(`missing --${key}`);
  }
  if (values.model.length !== values.out.length) throw new Error('give one --out per --model');
  const count = Number.parseInt(values.count, 10);
  const backend = await initBackend(tf, [values.backend]);
  const pixels = readFloat32(values.images, count * 28 * 28);
  for (const [i, directory] of values.model.entries()) {
    try {
      const contract = JSON.parse(readFileSync(join(directory, 'contract.json'), 'utf8'));
      const model = new DigitModel(tf, await tf.loadLayersModel(fileHandler(tf, directory, contract.main_file)), contract);
      const started = performance.now();
      const outputs = model.predictBatches(pixels, count, Number.parseInt(values.batch, 10));
      const seconds = (performance.now() - started) / 1000;
      model.dispose();
      writeFileSync(values.out[i], new Uint8Array(outputs.buffer, outputs.byteOffset, outputs.byteLength));
      console.log(JSON.stringify({ model: directory, backend, count, seconds }));
    } catch (error) {
      console.log(JSON.stringify({ model: directory, error: error.message.split('\n')[0] }));
    }
  }
}

main().catch((error) => {
  console.error(`evaluate.mjs: ${error.message}`);
  process.exit(1);
});
