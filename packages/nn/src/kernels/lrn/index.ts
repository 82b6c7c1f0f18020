import { defineKernels } from '@cnn/tensor';
import { lrnBackwardFast, lrnForwardFast } from './fast.js';
import { lrnBackwardReference, lrnForwardReference } from './reference.js';
import { lrnBackwardWasm, lrnForwardWasm } from './wasm.js';

export { lrnBackwardFast, lrnForwardFast } from './fast.js';
export { lrnBackwardReference, lrnForwardReference, type LrnSpec, type NormRegion } from './reference.js';

/** LRN's kernels by backend: (x, scale, y, spec) forward and (x, y, scale, dy, dx, spec) backward. */
export const { lrnForward, lrnBackward } = defineKernels({
  lrnForward: { reference: lrnForwardReference, js: lrnForwardFast, wasm: lrnForwardWasm },
  lrnBackward: { reference: lrnBackwardReference, js: lrnBackwardFast, wasm: lrnBackwardWasm },
});
