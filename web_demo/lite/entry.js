// The demo page's TF.js for its first prediction: tfjs-core without its ops, the graph-model converter and the wasm
// backend with only the kernels of the graphs in LITE_OPS (site/boot.js). Built by `npm run build` into
// dist/tf-lite.js, one script that sets the `tf` global the page uses; the page loads the full TF.js instead for
// any other model or backend. Half the JavaScript to parse (docs/performance.md, "The demo's first prediction").
import '@tensorflow/tfjs-core/dist/base_side_effects';
import { registerKernel } from '@tensorflow/tfjs-core/dist/base';
import * as wasm from '@tensorflow/tfjs-backend-wasm/dist/base';
import { batchMatMulConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/BatchMatMul';
import { castConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/Cast';
import { conv2DConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/Conv2D';
import { fusedConv2DConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/FusedConv2D';
import { identityConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/Identity';
import { maxPoolConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/MaxPool';
import { reluConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/Relu';
import { reshapeConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/Reshape';
import { softmaxConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/Softmax';
import { _fusedMatMulConfig } from '@tensorflow/tfjs-backend-wasm/dist/kernels/_FusedMatMul';

// The kernels the ops of converter_ops.js run (Cast: tensors of other dtypes in model.js's input path).
const KERNELS = [batchMatMulConfig, castConfig, conv2DConfig, fusedConv2DConfig, identityConfig, maxPoolConfig,
  reluConfig, reshapeConfig, softmaxConfig, _fusedMatMulConfig];
for (const config of KERNELS) registerKernel({ ...config, backendName: 'wasm' });

export {
  dispose, env, findBackend, getBackend, io, ready, setBackend, tidy, util, version_core as version,
} from '@tensorflow/tfjs-core/dist/base';
export { tensor } from '@tensorflow/tfjs-core/dist/ops/tensor';
export { loadGraphModel } from '@tensorflow/tfjs-converter';
export { wasm };
export const lite = true; // main.js: the backends and layers models of the full TF.js are not in this one
