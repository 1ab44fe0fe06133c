#!/usr/bin/env node
// Evaluate edgekit TF.js artifacts in Node with the wasm backend; raw float32 files in and out, for Python.
//
//   node web_demo/node/evaluate.mjs --model DIR --out OUT.f32 [--model DIR2 --out OUT2.f32 ...]
//                                   --images IN.f32 --count N [--batch 500]
//
// IN.f32 holds N model inputs as the contracts describe them (little-endian float32: normalized values, or the
// integers of an int8/uint8 input; input.shape's product per input; every model given takes the same input);
// each OUT.f32 receives N rows of the raw outputs of the model given in the same position (logits stay logits,
// integer outputs stay integers). One process evaluates them all: starting Node and the wasm backend costs more
// than a model. One JSON line per model goes to stdout, {"model", "backend", "count", "seconds", ...} or
// {"model", "error"}: a model that fails does not stop the others. Layers and graph models both load, as the
// contract's model_type says (contract v1 means a layers model).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ImageClassifier, initBackend, loadTfjsModel, modelHandler } from '../site/model.js';
import { readContract } from '../site/contract.js';
import { tf } from './tf.mjs';

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
  let floats = null;
  for (const [i, directory] of values.model.entries()) {
    try {
      const contract = JSON.parse(readFileSync(join(directory, 'contract.json'), 'utf8'));
      const spec = readContract(contract);
      const modelJson = JSON.parse(readFileSync(join(directory, spec.mainFile), 'utf8'));
      const handler = modelHandler(tf, modelJson, (path) => readFileSync(join(directory, path)));
      const model = new ImageClassifier(tf, await loadTfjsModel(tf, spec, handler), contract);
      floats ??= readFloat32(values.images, count * spec.input.size);
      const inputs = spec.input.scale === null ? floats : Int32Array.from(floats);
      const started = performance.now();
      const outputs = model.predictBatches(inputs, count, Number.parseInt(values.batch, 10));
      const seconds = (performance.now() - started) / 1000;
      model.dispose();
      writeFileSync(values.out[i], new Uint8Array(outputs.buffer, outputs.byteOffset, outputs.byteLength));
      const summary = { model: directory, backend, count, outputs_per_image: spec.output.size, seconds };
      console.log(JSON.stringify({ ...summary, model_type: spec.modelType }));
    } catch (error) {
      console.log(JSON.stringify({ model: directory, error: error.message.split('\n')[0] }));
    }
  }
}

main().catch((error) => {
  console.error(`evaluate.mjs: ${error.message}`);
  process.exit(1);
});
