import { defineKernels } from '@cnn/tensor';
import { clipBackwardFast } from './fast.js';
import { clipBackwardReference } from './reference.js';
import { clipBackwardWasm } from './wasm.js';

export { clipBackwardFast } from './fast.js';
export { clipBackwardReference } from './reference.js';

/** Clip's backward from its output by backend: (y, dy, dx, count, min, max), see `clipBackwardReference`. */
export const { clipBackward } = defineKernels({
  clipBackward: { reference: clipBackwardReference, js: clipBackwardFast, wasm: clipBackwardWasm },
});
