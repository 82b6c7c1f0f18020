import { im2colWasmKernels } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { clipModule } from './clip/wasm.js';
import { depthwise3x3BackwardModule } from './depthwise/wasm-3x3-backward.js';
import { depthwise3x3Module } from './depthwise/wasm-3x3.js';
import { depthwiseWasmKernels } from './depthwise/wasm.js';
import { directModule } from './direct/wasm.js';
import { epilogueModule } from './epilogue/wasm.js';
import { lrnWasmKernels } from './lrn/wasm.js';
import { pointwiseModule } from './pointwise/wasm.js';
import { poolingWasmKernels } from './pooling/wasm.js';
import { reluModule } from './relu/wasm.js';
import { updateWasmKernels } from './solver-update/wasm.js';
import { phaseWasmKernels, winogradWasmKernels } from './winograd/wasm.js';

/*
 * Every wasm module of the layer kernels is built by a FunctionBuilder that checks the operand
 * stack at each instruction: building it at all means no instruction broke the types, and the
 * engine's validator then has the last word.
 */
const modules: [string, () => Uint8Array][] = [
  ['im2col', im2colWasmKernels.bytes],
  ['relu', reluModule],
  ['pooling', poolingWasmKernels.bytes],
  ['lrn', lrnWasmKernels.bytes],
  ['solver update', updateWasmKernels.bytes],
  ['winograd F(2x2, 3x3)', winogradWasmKernels[3].bytes],
  ['winograd F(2x2, 5x5)', winogradWasmKernels[5].bytes],
  ['winograd phases', phaseWasmKernels.bytes],
  ['depthwise', depthwiseWasmKernels.bytes],
  ['depthwise 3x3', depthwise3x3Module],
  ['depthwise 3x3 backward', depthwise3x3BackwardModule],
  ['clip', clipModule],
  ['direct convolution', directModule],
  ['pointwise convolution', pointwiseModule],
  ['convolution epilogue', epilogueModule],
];

describe('the wasm modules of the kernel families', () => {
  it.each(modules)('%s: builds with every instruction type-checked, and WebAssembly validates it', (_, bytes) => {
    expect(WebAssembly.validate(bytes())).toBe(true);
  });
});
