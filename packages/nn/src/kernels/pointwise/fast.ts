import { definePoolJob, getBackend, isOnWasmHeap, type FloatArray } from '@cnn/tensor';
import { convolutionScratch, shapeScalars, type ConvolutionShape } from '../convolution/shape.js';
import { eachPanelRun, panelParts } from '../panels.js';
import { POINTWISE_BLOCK, POINTWISE_PANEL, packWeightsWasm, pointwiseImageWasm } from './wasm.js';

/*
 * Pointwise (1 x 1, stride 1, no padding, one group) convolutions, as MobileNet's separable
 * blocks have them, on the wasm backend: each image's outputs straight from its input planes
 * (wasm.ts), with no GEMM result block and no separate epilogue pass.
 * The im2col + GEMM path packs the input into panels first; with few input channels that
 * packing and the passes over the outputs cost more than the multiply-adds.
 */

/**
 * Whether the direct kernel takes this convolution: 1 x 1, stride 1, no padding, one group,
 * outputs a whole number of the kernel's panels, and at most `MAX_CHANNELS` input channels
 * (`WIDE_CHANNELS` over planes of at least `MANY_POSITIONS`). The choice depends on the shape
 * of one image only, never on the batch: the two kernels round differently, and an image's
 * features must not depend on the images it was batched with (the feature cache keeps one
 * entry per image, and `cnn features` shards batch them differently).
 */
export function pointwisePays(s: ConvolutionShape): boolean {
  const oneByOne = s.kernelH === 1 && s.kernelW === 1 && s.strideH === 1 && s.strideW === 1 && s.padH === 0 && s.padW === 0;
  const positions = s.height * s.width;
  const narrow = s.channels <= MAX_CHANNELS || (s.channels <= WIDE_CHANNELS && positions >= MANY_POSITIONS);
  return oneByOne && s.group === 1 && s.numOutput % POINTWISE_PANEL === 0 && narrow && getBackend().name === 'wasm';
}

/*
 * Where the direct kernel beats the GEMM (convolution/fast.ts), measured layer by layer on
 * MobileNet v1 0.5 / 160's and 0.75 / 192's 1 x 1 layers (CPU time, 1 thread, interleaved,
 * medians): at batch 64, 5-15 % faster up to 64 input channels and at 96 over 48 x 48 planes
 * (0.75's 96 -> 96: 81 -> 76 ms; 3 % slower at 96 -> 192 over 24 x 24), and 2-8 % faster over
 * 5 x 5 and 6 x 6 planes at any width (512 -> 512: 21.8 -> 20.8 ms, 768 -> 768: 64.9 -> 62.5 ms),
 * where the GEMM's passes over its result block and its per-image packing weigh most, but 3-15 %
 * slower there at batch 1, and the choice may not depend on the batch (above): those stay on the GEMM; 3-7 %
 * slower at 128-384 channels over 10 x 10 to 24 x 24 planes. At batch 1, 3-15 % slower than the GEMM from 128 channels on: the weights' packing
 * is not shared by images there. Sharing a batch-1 image's output panels out over 2 threads
 * (panels.ts) where the GEMM runs on one (under 2e7 flops, wasm/gemm.ts: MobileNet 0.5 / 160's
 * layers from 128 channels on) took 16 ms of CPU per forward against 10 on a loaded machine,
 * the pool's waiting workers competing with the work.
 */
const MAX_CHANNELS = 64;
const WIDE_CHANNELS = 96;
const MANY_POSITIONS = 1024;

/** Floats of packed weights for shape `s` (see `packWeights` in wasm.ts). */
export function pointwisePackedSize(s: ConvolutionShape): number {
  return s.numOutput * s.channels;
}

/**
 * The forward y = min(max(W x + bias, low), high) of the whole batch through the kernel, shared
 * out over the pool by images and panels of outputs (panels.ts), from weights packed here once;
 * false (nothing done) when the kernel does not take the shape (`pointwisePays`) or an array is
 * not float32 on the wasm heap.
 */
export function pointwiseForward(x: FloatArray, weight: FloatArray, bias: FloatArray | undefined, y: FloatArray, s: ConvolutionShape, low: number, high: number): boolean {
  if (!pointwisePays(s) || ![x, weight, y, ...(bias ? [bias] : [])].every(isOnWasmHeap)) return false;
  const packed = convolutionScratch('packed filters', pointwisePackedSize(s), weight);
  packWeightsWasm({ weight, packed, panels: s.numOutput / POINTWISE_PANEL, channels: s.channels });
  const panels = s.numOutput / POINTWISE_PANEL;
  const parts = panelParts(s.num * s.numOutput * s.channels * s.height * s.width, s.num, panels);
  const scratch = convolutionScratch('bands', parts * POINTWISE_BLOCK * s.channels, x);
  pointwiseForwardJob.run({ x, packed, y, scratch, bias }, { ...s, clampMin: low, clampMax: high }, parts);
  return true;
}

/** The pool's part: its run of (image, output panel) pairs (panels.ts), clamped to [clampMin, clampMax]. */
export const pointwiseForwardJob = definePoolJob({
  module: import.meta.url,
  name: 'pointwiseForwardJob',
  arrays: ['x', 'packed', 'y', 'scratch'],
  optional: ['bias'],
  scalars: [...shapeScalars, 'clampMin', 'clampMax'],
  part: ({ x, packed, y, scratch, bias }, s, part, parts) => {
    const positions = s.height * s.width;
    const block = scratch.subarray(part * POINTWISE_BLOCK * s.channels);
    eachPanelRun(s.num, s.numOutput / POINTWISE_PANEL, part, parts, (n, first, end) => {
      pointwiseImageWasm({
        x, xStart: n * s.channels * positions, packed: packed.subarray(first * s.channels * POINTWISE_PANEL),
        bias: bias?.subarray(first * POINTWISE_PANEL), hasBias: bias ? 1 : 0, y, yStart: (n * s.numOutput + first * POINTWISE_PANEL) * positions, scratch: block, copied: s.num > 1 ? 1 : 0,
        panels: end - first, channels: s.channels, positions, low: s.clampMin, high: s.clampMax,
      });
    });
  },
});
