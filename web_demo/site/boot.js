// Starts the downloads that the first prediction waits for (the model index, then the default model's contract,
// model.json and weights) before the browser spends its time parsing TF.js; main.js picks them up. A classic script
// placed before TF.js, run twice: in the page it starts itself again as a Web Worker, which walks that chain of
// requests on its own thread while the page's thread is busy parsing TF.js (each step needs a turn of JavaScript).
(function boot(global) {
  'use strict';

  const WASM_URL = 'tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm';

  async function getJson(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  async function getBytes(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * The variant the page starts with: the smallest that passed the gate. Without any gate record (an index that
   * predates it, or a run never gated), edgekit's float32 artifact, the one closest to the trained model; a variant
   * known to have failed is only chosen when nothing else is there.
   */
  function defaultModel(models) {
    const bySize = (a, b) => (a.size_bytes ?? Infinity) - (b.size_bytes ?? Infinity);
    const passed = models.filter((m) => m.gate?.passed === true).sort(bySize);
    if (passed.length) return passed[0].name;
    const notFailed = models.filter((m) => m.gate?.passed !== false);
    const pool = notFailed.length ? notFailed : models;
    return (pool.find((m) => m.name === 'tfjs-float32') ?? pool.find((m) => m.variant === 'float32') ?? pool[0]).name;
  }

  /** The index with each model's variant and size; read from the contracts when the index does not give them. */
  async function catalog() {
    const index = await getJson('models/index.json');
    if (!Array.isArray(index.models) || !index.models.length) throw new Error('this run has no TF.js model');
    let models = index.models;
    if (!models.every((m) => Number.isFinite(m.size_bytes) && m.variant)) {
      const contracts = await Promise.all(models.map((m) => getJson(`${m.url}contract.json`)));
      models = models.map((m, i) => ({ ...m, variant: contracts[i].variant, size_bytes: contracts[i].size_bytes,
        contract: contracts[i] }));
    }
    return { models, report: index.report ?? null, selected: defaultModel(models) };
  }

  /** Everything a model needs from the server: its contract, model.json and the weight shards, as bytes. */
  async function download(entry) {
    const contract = entry.contract ?? (await getJson(`${entry.url}contract.json`));
    const modelJson = await getJson(`${entry.url}${contract.main_file}`);
    const paths = (modelJson.weightsManifest ?? []).flatMap((group) => group.paths);
    const shards = await Promise.all(paths.map((path) => getBytes(`${entry.url}${path}`)));
    return { contract, modelJson, shards: Object.fromEntries(paths.map((path, i) => [path, shards[i]])) };
  }

  const chosen = (found) => download(found.models.find((m) => m.name === found.selected));

  if (typeof global.document === 'undefined' && typeof global.postMessage === 'function') {
    // In the worker: post the catalog, then the chosen model's files (the weight bytes moved, not copied).
    catalog()
      .then((found) => {
        global.postMessage({ catalog: found });
        return chosen(found);
      })
      .then(
        (first) => global.postMessage({ first }, Object.values(first.shards).map((shard) => shard.buffer)),
        (error) => global.postMessage({ error: error.message }),
      );
    return;
  }

  /**
   * Fetch and compile TF.js's wasm binary now, off the main thread, while TF.js's scripts download and parse: when
   * the backend asks for the same bytes later, the engine has them compiled (V8 keeps compiled modules by their
   * bytes). The binary is the one tfjs-backend-wasm picks in a page without cross-origin isolation: SIMD.
   */
  function precompileWasm() {
    const wasm = global.WebAssembly;
    if (typeof wasm?.compileStreaming !== 'function' || global.crossOriginIsolated) return;
    const simd = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253,
      15, 26, 11]); // the probe tfjs-backend-wasm validates
    if (!wasm.validate(simd)) return;
    wasm.compileStreaming(fetch(WASM_URL, { credentials: 'same-origin' })).catch(() => {}); // the backend reports failures
  }

  let models, first;
  const script = global.document?.currentScript;
  if (script) precompileWasm();
  if (typeof global.Worker === 'function' && script) {
    const settle = {};
    models = new Promise((resolve, reject) => Object.assign(settle, { models: [resolve, reject] }));
    first = new Promise((resolve, reject) => Object.assign(settle, { first: [resolve, reject] }));
    const worker = new global.Worker(script.src);
    const fail = (message) => {
      for (const [, reject] of Object.values(settle)) reject(new Error(message)); // no-op once resolved
      worker.terminate();
    };
    worker.onmessage = ({ data }) => {
      if (data.catalog) settle.models[0](data.catalog);
      else if (data.first) {
        settle.first[0](data.first);
        worker.terminate();
      } else fail(data.error);
    };
    worker.onerror = (event) => fail(event.message);
  } else {
    models = catalog();
    first = models.then(chosen);
  }
  first.catch(() => {}); // main.js reports failures; this only keeps them from being logged twice
  models.catch(() => {});
  global.edgekitBoot = { models, first, download, defaultModel };
})(globalThis);
