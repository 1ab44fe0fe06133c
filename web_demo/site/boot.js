// Starts what the first prediction waits for before the browser parses anything else: the model index, then the
// default model's contract, model.json and weights, TF.js's wasm binary, and TF.js itself, the small build of it
// (tfjs-lite/tf-lite.js, web_demo/lite/) when every model of the index runs on it, else the full TF.js scripts.
// A classic script placed first in the page; main.js picks up what it started from `edgekitBoot`.
(function boot(global) {
  'use strict';

  const WASM_URL = 'tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm';
  // The graph ops that web_demo/lite/entry.js has kernels and converter ops for (wasm backend only): those of the
  // CNN graphs edgekit exports, fused (the default MNIST run) or not (the tests' tiny run).
  const LITE_OPS = new Set(['Const', 'Conv2D', 'Identity', 'MatMul', 'MaxPool', 'Placeholder', 'Relu', 'Reshape',
    'Softmax', '_FusedConv2D', '_FusedMatMul']);
  const LITE_SCRIPTS = ['tfjs-lite/tf-lite.js'];
  const FULL_SCRIPTS = ['tfjs-core/tf-core.es2017.min.js', 'tfjs-converter/tf-converter.es2017.min.js',
    'tfjs-backend-wasm/tf-backend-wasm.es2017.min.js'];

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

  /**
   * Whether the lite TF.js runs every model of the index on `backend`: graph models whose ops (the index lists
   * them) it has, on wasm. Any other model, or a variant picked later that it could not run, needs the full TF.js.
   */
  function liteFits(models, backend) {
    if (backend != null && backend !== 'wasm') return false;
    return models.every((m) => Array.isArray(m.ops) && m.ops.every((op) => LITE_OPS.has(op)));
  }

  /**
   * The index with each model's variant and size; read from the contracts when the index does not give them. With
   * `litert` (?backend=litertjs), the .tflite files the page runs in LiteRT.js instead of the TF.js models.
   */
  async function catalog(litert) {
    const index = await getJson('models/index.json');
    if (litert && !index.litertjs?.length) {
      throw new Error('this run has no .tflite that LiteRT.js runs: export it again for its pixels artifacts');
    }
    if (!litert && !index.models?.length) throw new Error('this run has no TF.js model');
    let models = litert ? index.litertjs : index.models;
    if (!models.every((m) => Number.isFinite(m.size_bytes) && m.variant)) {
      const contracts = await Promise.all(models.map((m) => getJson(`${m.url}contract.json`)));
      models = models.map((m, i) => ({ ...m, variant: contracts[i].variant, size_bytes: contracts[i].size_bytes,
        contract: contracts[i] }));
    }
    return { models, report: index.report ?? null, selected: defaultModel(models) };
  }

  /**
   * Everything a model needs from the server: its contract, model.json and the weight shards, as bytes. With the
   * contract in the index (edgekit serve puts it there), model.json and every other file it lists are fetched at
   * once rather than one after the other.
   */
  async function download(entry) {
    const contract = entry.contract ?? (await getJson(`${entry.url}contract.json`));
    const listed = Object.keys(contract.files ?? {}).filter((file) => file !== contract.main_file);
    const early = new Map(listed.map((file) => [file, getBytes(`${entry.url}${file}`)]));
    early.forEach((bytes) => bytes.catch(() => {})); // awaited below if model.json names it
    const modelJson = await getJson(`${entry.url}${contract.main_file}`);
    const paths = (modelJson.weightsManifest ?? []).flatMap((group) => group.paths);
    const shards = await Promise.all(paths.map((path) => early.get(path) ?? getBytes(`${entry.url}${path}`)));
    return { contract, modelJson, shards: Object.fromEntries(paths.map((path, i) => [path, shards[i]])) };
  }

  /**
   * Fetch TF.js's wasm binary now and compile it while TF.js's scripts download and parse (V8 keeps compiled modules
   * by their bytes), and keep the bytes: main.js hands them to the backend, so the same file is not fetched again on
   * the way to the first prediction. The binary is the one tfjs-backend-wasm picks in a page without cross-origin
   * isolation: SIMD. Resolves to the bytes, or null when the backend should fetch for itself.
   */
  function prefetchWasm() {
    const wasm = global.WebAssembly;
    if (typeof wasm?.compileStreaming !== 'function' || global.crossOriginIsolated) return Promise.resolve(null);
    const simd = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253,
      15, 26, 11]); // the probe tfjs-backend-wasm validates
    if (!wasm.validate(simd)) return Promise.resolve(null);
    const response = fetch(WASM_URL, { credentials: 'same-origin' });
    response.then((r) => (r.ok ? wasm.compileStreaming(r.clone()) : null)).catch(() => {}); // the backend reports
    return response.then((r) => (r.ok ? r.arrayBuffer() : null)).catch(() => null);
  }

  /** Add same-origin scripts (as the page's Content-Security-Policy allows) that run in order; resolves when all ran. */
  function loadScripts(document, urls) {
    return Promise.all(urls.map((src) => new Promise((resolve, reject) => {
      const script = Object.assign(document.createElement('script'), { src, async: false });
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.append(script);
    })));
  }

  const document = global.document;
  const query = document?.currentScript ? new URLSearchParams(global.location?.search ?? '') : null;
  // ?backend=litertjs runs the .tflite in LiteRT.js (main.js imports it): no TF.js, no TF.js model is fetched.
  const litert = query?.get('backend') === 'litertjs';
  const models = catalog(litert);
  const first = litert ? Promise.resolve(null)
    : models.then((found) => download(found.models.find((m) => m.name === found.selected)));
  let tf, wasmBytes, lite;
  if (query && !litert) {
    wasmBytes = prefetchWasm();
    // ?backend=webgl (or webgpu, cpu) starts another backend, ?tfjs=full the full TF.js: both need the full scripts.
    lite = models.then((found) => query.get('tfjs') !== 'full' && liteFits(found.models, query.get('backend')));
    tf = lite.then((small) => loadScripts(document, small ? LITE_SCRIPTS : FULL_SCRIPTS)).then(() => global.tf);
    tf.catch(() => {});
    lite.catch(() => {});
  }
  first.catch(() => {}); // main.js reports failures; this only keeps them from being logged twice
  models.catch(() => {});
  global.edgekitBoot = { models, first, download, defaultModel, liteFits, tf, lite, wasmBytes, WASM_URL, litert };
})(globalThis);
