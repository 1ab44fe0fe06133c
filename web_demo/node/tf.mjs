// TF.js for the Node runners: core, the converter for graph models and the wasm backend; the layers API is
// imported only when a layers model is loaded. Importing all of @tensorflow/tfjs (layers, data, the webgl and cpu
// backends) cost about 0.4 s more CPU at each start.
import * as core from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import '@tensorflow/tfjs-backend-wasm';

async function loadLayersModel(...args) {
  const layers = await import('@tensorflow/tfjs-layers');
  return layers.loadLayersModel(...args);
}

export const tf = { ...core, loadGraphModel, loadLayersModel };
