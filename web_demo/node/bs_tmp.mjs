import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
const dir = process.argv[2];
await tf.setBackend('wasm'); await tf.ready();
const mj = JSON.parse(readFileSync(dir + '/model.json'));
const handler = { load: () => tf.io.getModelArtifactsForJSON(mj, async (m) => { const specs = m.flatMap(g => g.weights); const b = m.flatMap(g => g.paths).map(p => readFileSync(dir + '/' + p)); const j = Buffer.concat(b); return [specs, j.buffer.slice(j.byteOffset, j.byteOffset + j.byteLength)]; }) };
const model = await tf.loadGraphModel(handler);
const total = 2000;
const sizes = process.argv.slice(3).map(Number);
const res = Object.fromEntries(sizes.map(s => [s, []]));
for (let r = 0; r < 3; r++) for (const bs of sizes) {
  const x = tf.randomUniform([bs, 28, 28, 1]);
  tf.tidy(() => model.predict(x).dataSync());
  const t = performance.now();
  for (let i = 0; i < total / bs; i++) tf.tidy(() => model.predict(x).dataSync());
  res[bs].push(((performance.now() - t) / total * 10).toFixed(2));
  x.dispose();
}
for (const bs of sizes) console.log('batch', bs, 's per 10k:', res[bs].join(' '));
