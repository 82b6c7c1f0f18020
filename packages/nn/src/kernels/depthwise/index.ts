import { defineKernels } from '@cnn/tensor';
import { depthwiseBackwardFast, depthwiseForwardFast } from './fast.js';
import { depthwiseBackwardReference, depthwiseForwardReference } from './reference.js';
import { depthwiseBackwardWasm, depthwiseForwardWasm } from './wasm.js';

export { depthwiseBackwardFast, depthwiseForwardFast } from './fast.js';
export { depthwiseBackwardReference, depthwiseForwardReference, isDepthwise } from './reference.js';

/**
 * The depthwise convolution's kernels by backend (group = channels, see reference.ts):
 * (x, weight, bias, y, shape, clamp?) forward and (x, weight, dy, gradients, shape) backward.
 * Only the fast convolution calls them; the reference convolution computes depthwise layers
 * by its own general loop.
 */
export const { depthwiseForward, depthwiseBackward } = defineKernels({
  depthwiseForward: { reference: depthwiseForwardReference, js: depthwiseForwardFast, wasm: depthwiseForwardWasm },
  depthwiseBackward: { reference: depthwiseBackwardReference, js: depthwiseBackwardFast, wasm: depthwiseBackwardWasm },
});
