// boot.js (a classic script for the page) picks the variant the page starts with: run it in a sandbox.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import vm from 'node:vm';

function loadBoot(index) {
  const responses = { 'models/index.json': index };
  const fetch = async (url) => ({ ok: url in responses, status: 404, json: async () => responses[url] });
  const sandbox = { fetch };
  sandbox.globalThis = sandbox;
  vm.runInNewContext(readFileSync(new URL('../site/boot.js', import.meta.url), 'utf8'), sandbox);
  return sandbox.edgekitBoot;
}

const model = (name, variant, size, gate) => ({ name, url: `models/${name}/`, variant, size_bytes: size, gate });
const gate = (passed, accuracy = 99) => ({ passed, accuracy, runtime: 'tfjs-browser-wasm' });

test('the smallest variant that passed the gate comes first', () => {
  const { defaultModel } = loadBoot({ models: [] });
  const models = [
    model('tfjs-float32', 'float32', 900, gate(true)),
    model('tfjs-uint8', 'uint8', 200, gate(false)),
    model('tfjs-float16', 'float16', 450, gate(true)),
  ];
  assert.equal(defaultModel(models), 'tfjs-float16');
  models[1].gate = gate(true);
  assert.equal(defaultModel(models), 'tfjs-uint8');
});

test('without gate records the float32 variant, and a failed one only when nothing else is there', () => {
  const { defaultModel } = loadBoot({ models: [] });
  assert.equal(defaultModel([model('tfjs-uint8', 'uint8', 200), model('tfjs-float32', 'float32', 900)]), 'tfjs-float32');
  const nulls = { passed: null, accuracy: null, runtime: null };
  assert.equal(defaultModel([model('a', 'uint8', 200, nulls), model('b', 'float16', 400, nulls)]), 'a');
  assert.equal(defaultModel([model('a', 'float32', 900, gate(false)), model('b', 'uint8', 200)]), 'b');
  assert.equal(defaultModel([model('a', 'float32', 900, gate(false))]), 'a');
});

test('the catalog comes from the index when it gives sizes and variants, with the report link', async () => {
  const boot = loadBoot({ models: [model('tfjs-float32', 'float32', 900, gate(true))], report: 'report.html' });
  const catalog = await boot.models;
  assert.equal(catalog.selected, 'tfjs-float32');
  assert.equal(catalog.report, 'report.html');
});

test('in a page, the TF.js wasm binary is fetched and compiled once, before TF.js asks for it', async () => {
  const source = readFileSync(new URL('../site/boot.js', import.meta.url), 'utf8');
  const run = (crossOriginIsolated) => {
    const fetched = [];
    const compiled = [];
    const fetch = async (url) => {
      fetched.push(url);
      if (!url.endsWith('.wasm')) return { ok: false, status: 404, json: async () => ({}) };
      return { ok: true, clone() { return this; }, arrayBuffer: async () => new Uint8Array([0, 97, 115, 109]).buffer };
    };
    const WebAssembly = {
      validate: (bytes) => globalThis.WebAssembly.validate(bytes),
      compileStreaming: async (response) => compiled.push(await response),
    };
    const document = { currentScript: { src: 'boot.js' } };
    const sandbox = { fetch, WebAssembly, crossOriginIsolated, document, URLSearchParams };
    sandbox.globalThis = sandbox;
    vm.runInNewContext(source, sandbox);
    return { fetched, compiled, bytes: sandbox.edgekitBoot.wasmBytes };
  };
  const page = run(false);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(page.fetched.filter((url) => url.endsWith('.wasm')), ['tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm']);
  assert.equal(page.compiled.length, 1);
  // ...and its bytes kept for the backend (main.js), which then does not fetch it again.
  assert.deepEqual([...new Uint8Array(await page.bytes)], [0, 97, 115, 109]);
  // Cross-origin isolated, tfjs-backend-wasm would take its threaded binary: nothing to compile ahead.
  const isolated = run(true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(isolated.compiled, []);
  assert.ok(!isolated.fetched.some((url) => url.endsWith('.wasm')));
});

const LITE = ['Conv2D', 'Relu', 'Const', 'Identity', 'MaxPool', 'Placeholder', 'Reshape', 'Softmax', '_FusedConv2D', '_FusedMatMul'];

test('the lite TF.js is chosen only for graph models whose every op it has, on wasm', () => {
  const { liteFits } = loadBoot({ models: [] });
  const graph = (ops) => ({ ...model('m', 'float32', 1), ops });
  assert.equal(liteFits([graph(LITE), graph(['Const', 'Placeholder', '_FusedConv2D'])], null), true);
  assert.equal(liteFits([graph(LITE)], 'wasm'), true);
  assert.equal(liteFits([graph(LITE)], 'webgl'), false); // the backends are in the full TF.js only
  assert.equal(liteFits([graph(LITE), graph([...LITE, 'BiasAdd'])], null), false);
  assert.equal(liteFits([graph(LITE), graph(null)], null), false); // a layers model
  assert.equal(liteFits([model('m', 'float32', 1)], null), false); // an index without ops
});

/** boot.js in a page with this index and query: the scripts it adds to the page, in order. */
async function scriptsAdded(index, search) {
  const added = [];
  const responses = { 'models/index.json': index };
  const fetch = async (url) => ({ ok: url in responses, status: 404, json: async () => responses[url] });
  const document = {
    currentScript: { src: 'boot.js' },
    createElement: () => ({}),
    head: { append: (script) => added.push(script) },
  };
  const sandbox = { fetch, document, location: { search }, URLSearchParams };
  sandbox.globalThis = sandbox;
  vm.runInNewContext(readFileSync(new URL('../site/boot.js', import.meta.url), 'utf8'), sandbox);
  await sandbox.edgekitBoot.models.catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 0));
  for (const script of added) script.onload();
  await sandbox.edgekitBoot.tf;
  return added.map((script) => script.src);
}

test('in a page, boot.js loads the lite TF.js for lite models, the full one otherwise or when asked', async () => {
  const lite = { models: [{ ...model('tfjs-uint8', 'uint8', 9, gate(true)), ops: LITE }] };
  assert.deepEqual(await scriptsAdded(lite, ''), ['tfjs-lite/tf-lite.js']);
  const full = ['tfjs-core/tf-core.es2017.min.js', 'tfjs-converter/tf-converter.es2017.min.js',
    'tfjs-backend-wasm/tf-backend-wasm.es2017.min.js'];
  assert.deepEqual(await scriptsAdded(lite, '?backend=webgl'), full);
  assert.deepEqual(await scriptsAdded(lite, '?tfjs=full'), full);
  const layers = { models: [{ ...model('tfjs-float32', 'float32', 9, gate(true)), ops: null }] };
  assert.deepEqual(await scriptsAdded(layers, ''), full);
});
