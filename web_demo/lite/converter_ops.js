// What the converter may call of tfjs-core's ops in the lite bundle (it stands in for tfjs-core's
// ops_for_converter, see package.json's build script): the ops of the graph ops in site/boot.js's LITE_OPS.
import * as fused from '@tensorflow/tfjs-core/dist/ops/fused_ops';

export { fused };
export { clone } from '@tensorflow/tfjs-core/dist/ops/clone';
export { conv2d } from '@tensorflow/tfjs-core/dist/ops/conv2d';
export { matMul } from '@tensorflow/tfjs-core/dist/ops/mat_mul';
export { maxPool } from '@tensorflow/tfjs-core/dist/ops/max_pool';
export { relu } from '@tensorflow/tfjs-core/dist/ops/relu';
export { reshape } from '@tensorflow/tfjs-core/dist/ops/reshape';
export { softmax } from '@tensorflow/tfjs-core/dist/ops/softmax';
export { tensor } from '@tensorflow/tfjs-core/dist/ops/tensor';
