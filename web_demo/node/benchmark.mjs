#!/usr/bin/env node
// Benchmark one edgekit TF.js artifact in Node (wasm backend); one JSON line with the figures goes to stdout.
//
//   node web_demo/node/benchmark.mjs --model DIR [--runs 1000] [--warmup 100] [--batch 100]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

import { benchmarkModel } from '../site/bench.js';
import { DigitModel, initBackend } from '../site/model.js';
import { fileHandler } from './files.mjs';

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      runs: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '100' },
      batch: { type: 'string', default: '100' },
    },
  });
  if (!values.model) throw new Error('missing --model');
  const baselineRss = process.resourceUsage().maxRSS;
  await initBackend(tf, ['wasm']);
  const contract = JSON.parse(readFileSync(join(values.model, 'contract.json'), 'utf8'));
  const load = async () =>
    new DigitModel(tf, await tf.loadLayersModel(fileHandler(tf, values.model, contract.main_file)), contract);
  const result = await benchmarkModel(tf, load, {
    runs: Number.parseInt(values.runs, 10),
    warmup: Number.parseInt(values.warmup, 10),
    batch: Number.parseInt(values.batch, 10),
  });
  // maxRSS is in kilobytes: the peak of this whole process (Node, TF.js, the wasm heap, the model).
  const usage = process.resourceUsage();
  console.log(JSON.stringify({ ...result, peak_rss_mb: usage.maxRSS / 1024, baseline_rss_mb: baselineRss / 1024 }));
}

main().catch((error) => {
  console.error(`benchmark.mjs: ${error.message}`);
  process.exit(1);
});
