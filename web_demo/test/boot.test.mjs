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

test('in a page, the TF.js wasm binary is fetched and compiled before TF.js asks for it', async () => {
  const source = readFileSync(new URL('../site/boot.js', import.meta.url), 'utf8');
  const run = (crossOriginIsolated) => {
    const fetched = [];
    const compiled = [];
    const fetch = async (url) => {
      fetched.push(url);
      return { ok: false, status: 404, json: async () => ({}) };
    };
    const WebAssembly = {
      validate: (bytes) => globalThis.WebAssembly.validate(bytes),
      compileStreaming: async (response) => compiled.push(await response),
    };
    const sandbox = { fetch, WebAssembly, crossOriginIsolated, document: { currentScript: { src: 'boot.js' } } };
    sandbox.globalThis = sandbox;
    vm.runInNewContext(source, sandbox);
    return { fetched, compiled };
  };
  const page = run(false);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(page.fetched.includes('tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm'), page.fetched.join(', '));
  assert.equal(page.compiled.length, 1);
  // Cross-origin isolated, tfjs-backend-wasm would take its threaded binary: nothing to compile ahead.
  const isolated = run(true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(isolated.compiled, []);
  assert.ok(!isolated.fetched.some((url) => url.endsWith('.wasm')));
});
