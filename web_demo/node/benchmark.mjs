#!/usr/bin/env node
// Benchmark one edgekit TF.js artifact in Node (wasm backend); one JSON line with the figures goes to stdout.
//
//   node web_demo/node/benchmark.mjs --model DIR [--runs 1000] [--warmup 100] [--batch 100]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { benchmarkModel } from '../site/bench.js';
import { readContract } from '../site/contract.js';
import { ImageClassifier, initBackend, loadTfjsModel, modelHandler } from '../site/model.js';
import { tf } from './tf.mjs';

/** Peak resident memory of this process in MB: VmHWM (its own address space; maxRSS would carry the parent's
 * peak across fork and exec on Linux), else maxRSS. */
function peakRssMb() {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
    if (line) return Number.parseInt(line.split(/\s+/)[1], 10) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

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
  const baselineRss = peakRssMb();
  await initBackend(tf, ['wasm']);
  const contract = JSON.parse(readFileSync(join(values.model, 'contract.json'), 'utf8'));
  const spec = readContract(contract);
  const load = async () => {
    const modelJson = JSON.parse(readFileSync(join(values.model, spec.mainFile), 'utf8'));
    const handler = modelHandler(tf, modelJson, (path) => readFileSync(join(values.model, path)));
    return new ImageClassifier(tf, await loadTfjsModel(tf, spec, handler), contract);
  };
  const result = await benchmarkModel(tf, load, {
    runs: Number.parseInt(values.runs, 10),
    warmup: Number.parseInt(values.warmup, 10),
    batch: Number.parseInt(values.batch, 10),
  });
  // The peak of this whole process: Node, TF.js, the wasm heap, the model.
  console.log(JSON.stringify({ ...result, peak_rss_mb: peakRssMb(), baseline_rss_mb: baselineRss }));
}

main().catch((error) => {
  console.error(`benchmark.mjs: ${error.message}`);
  process.exit(1);
});
