#!/usr/bin/env node
// Evaluate an edgekit TF.js artifact in Node with the wasm backend; raw float32 files in and out, for Python.
//
//   node web_demo/node/evaluate.mjs --model DIR --images IN.f32 --count N --out OUT.f32 [--batch 500]
//
// IN.f32 holds N model inputs as the contract describes them (little-endian float32: normalized values, or the
// integers of an int8/uint8 input; input.shape's product per input); OUT.f32 receives N rows of raw model outputs
// (logits stay logits, integer outputs stay integers). A one-line JSON summary goes to stdout. Layers and graph
// models both load, as the contract's model_type says (contract v1 means a layers model).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

import { ImageClassifier, initBackend, loadTfjsModel, modelHandler } from '../site/model.js';
import { readContract } from '../site/contract.js';

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
      model: { type: 'string' },
      images: { type: 'string' },
      count: { type: 'string' },
      out: { type: 'string' },
      batch: { type: 'string', default: '500' },
      backend: { type: 'string', default: 'wasm' },
    },
  });
  for (const key of ['model', 'images', 'count', 'out']) {
    if (!values[key]) throw new Error(`missing --${key}`);
  }
  const count = Number.parseInt(values.count, 10);
  const backend = await initBackend(tf, [values.backend]);
  const contract = JSON.parse(readFileSync(join(values.model, 'contract.json'), 'utf8'));
  const spec = readContract(contract);
  const modelJson = JSON.parse(readFileSync(join(values.model, spec.mainFile), 'utf8'));
  const handler = modelHandler(tf, modelJson, (path) => readFileSync(join(values.model, path)));
  const model = new ImageClassifier(tf, await loadTfjsModel(tf, spec, handler), contract);
  const floats = readFloat32(values.images, count * spec.input.size);
  const inputs = spec.input.scale === null ? floats : Int32Array.from(floats);
  const started = performance.now();
  const outputs = model.predictBatches(inputs, count, Number.parseInt(values.batch, 10));
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(values.out, new Uint8Array(outputs.buffer, outputs.byteOffset, outputs.byteLength));
  console.log(JSON.stringify({ backend, count, outputs_per_image: spec.output.size, model_type: spec.modelType, seconds }));
}

main().catch((error) => {
  console.error(`evaluate.mjs: ${error.message}`);
  process.exit(1);
});
