import { defineKernels } from '../kernels.js';
import { col2imReference, im2colReference } from './reference.js';
import { col2imWasm, im2colWasm } from './wasm.js';

export { im2colWasmKernels } from './wasm.js';
export { convOutputSize, col2imReference, im2colReference, type ConvGeometry } from './reference.js';

/** im2col and col2im (see reference.ts), with the wasm backend's versions beside the TypeScript loops. */
export const { im2col, col2im } = defineKernels({
  im2col: { reference: im2colReference, wasm: im2colWasm },
  col2im: { reference: col2imReference, wasm: col2imWasm },
});
