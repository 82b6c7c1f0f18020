import { defineKernels } from '@cnn/tensor';
import { biasClampPlanesFast } from './fast.js';
import { biasClampPlanesWasm } from './wasm.js';

export { biasClampPlanesFast } from './fast.js';

/** The convolution epilogue by backend: (y, start, planes, planeSize, bias, min, max), see `biasClampPlanesFast`. */
export const { biasClampPlanes } = defineKernels({
  biasClampPlanes: { reference: biasClampPlanesFast, js: biasClampPlanesFast, wasm: biasClampPlanesWasm },
});
