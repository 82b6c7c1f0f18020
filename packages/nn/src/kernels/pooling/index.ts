import { defineKernels } from '@cnn/tensor';
import { poolingBackwardFast, poolingForwardFast } from './fast.js';
import { poolingBackwardReference, poolingForwardReference } from './reference.js';
import { poolingForwardWasm } from './wasm.js';

export { poolingBackwardFast, poolingForwardFast } from './fast.js';
export { pooledSize, poolingBackwardReference, poolingForwardReference, type PoolGeometry, type PoolMethod, type RoundMode } from './reference.js';

/**
 * Pooling's kernels by backend: (method, x, y, mask, geometry) forward and
 * (method, dy, mask, dx, geometry) backward.
 */
export const { poolingForward, poolingBackward } = defineKernels({
  poolingForward: { reference: poolingForwardReference, js: poolingForwardFast, wasm: poolingForwardWasm },
  poolingBackward: { reference: poolingBackwardReference, js: poolingBackwardFast },
});
