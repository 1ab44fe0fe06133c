#!/usr/bin/env node
// Evaluate an edgekit TF.js artifact in Node with the wasm backend; raw float32 files in and out, for Python.
//
//   node web_demo/node/evaluate.mjs --model DIR --images IN.f32 --count N --out OUT.f32 [--batch 500]
//
// IN.f32 holds N model inputs (little-endian float32, already normalized and shaped by the contract);
// OUT.f32 receives N rows of raw model outputs. A one-line JSON summary goes to stdout.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

import { initBackend } from '../site/model.js';

/** A TF.js IO handler reading model.json and its weight shards from a directory. */
function fileHandler(directory, modelFile) {
  return {
    load: async () => {
      const modelJSON = JSON.parse(readFileSync(join(directory, modelFile), 'utf8'));
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const shard of group.paths) buffers.push(readFileSync(join(directory, shard)));
        }
        const joined = Buffer.concat(buffers);
        return [specs, joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength)];
      });
    },
  };
}

function readFloat32(path, expected) {
  const bytes = readFileSync(path);
  if (bytes.byteLength !== expected * 4) {
    throw new Error(`${path}: ${bytes.byteLength} bytes, expected ${expected * 4} (${expected} float32)`);
  }
  // Copy into a fresh, aligned buffer: a Buffer may start at any offset of a shared pool.
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Raw outputs of `count` model inputs, `batchSize` at a time so that memory stays flat (layers or graph model). */
function predictBatches(tf, model, shape, values, count, batchSize) {
  const perImage = shape.reduce((a, b) => a * b, 1);
  let outputs = null;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const output = tf.tidy(() =>
      model.predict(tf.tensor(values.subarray(start * perImage, (start + n) * perImage), [n, ...shape], 'float32')),
    );
    const raw = output.dataSync();
    output.dispose();
    outputs ??= new Float32Array(count * (raw.length / n));
    outputs.set(raw, start * (raw.length / n));
  }
  return outputs ?? new Float32Array(0);
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
  const handler = fileHandler(values.model, contract.main_file);
  const model =
    contract.model_type === 'graph-model' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  const perImage = contract.input.shape.reduce((a, b) => a * b, 1);
  const pixels = readFloat32(values.images, count * perImage);
  const started = performance.now();
  const outputs = predictBatches(tf, model, contract.input.shape, pixels, count, Number.parseInt(values.batch, 10));
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(values.out, new Uint8Array(outputs.buffer, outputs.byteOffset, outputs.byteLength));
  console.log(JSON.stringify({ backend, count, outputs_per_image: outputs.length / Math.max(count, 1), seconds }));
}

main().catch((error) => {
  console.error(`evaluate.mjs: ${error.message}`);
  process.exit(1);
});
