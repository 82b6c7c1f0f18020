import { defineKernels } from '@cnn/tensor';
import { reluBackwardFast, reluForwardFast } from './fast.js';
import { reluBackwardReference, reluForwardReference } from './reference.js';
import { reluBackwardWasm, reluForwardWasm } from './wasm.js';

export { reluBackwardFast, reluForwardFast } from './fast.js';
export { reluBackwardReference, reluForwardReference } from './reference.js';

/** ReLU's kernels by backend: (x, y, count, slope) forward, (y, dy, dx, count, slope) backward. */
export const { reluForward, reluBackward } = defineKernels({
  reluForward: { reference: reluForwardReference, js: reluForwardFast, wasm: reluForwardWasm },
  reluBackward: { reference: reluBackwardReference, js: reluBackwardFast, wasm: reluBackwardWasm },
});
