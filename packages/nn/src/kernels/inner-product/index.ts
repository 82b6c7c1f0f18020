import { defineKernels } from '@cnn/tensor';
import { innerProductBackwardFast, innerProductForwardFast } from './fast.js';
import { innerProductBackwardReference, innerProductForwardReference } from './reference.js';

export { innerProductBackwardFast, innerProductForwardFast, innerProductMultiplyAdds } from './fast.js';
export { innerProductBackwardReference, innerProductForwardReference, type InnerProductGradients, type InnerProductShape } from './reference.js';

/**
 * The inner product's kernels by backend: (x, weight, bias, y, shape) forward and
 * (x, weight, dy, gradients, shape) backward. The fast kernel is GEMMs, which run on the
 * backend's own GEMM (wasm or TypeScript).
 */
export const { innerProductForward, innerProductBackward } = defineKernels({
  innerProductForward: { reference: innerProductForwardReference, js: innerProductForwardFast },
  innerProductBackward: { reference: innerProductBackwardReference, js: innerProductBackwardFast },
});
