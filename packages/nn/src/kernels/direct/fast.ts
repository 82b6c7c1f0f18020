import { convOutputSize, definePoolJob, getBackend, isOnWasmHeap, type FloatArray } from '@cnn/tensor';
import { eachPanelRun, panelParts } from '../panels.js';
import { convolutionScratch, shapeScalars, type ConvolutionShape } from '../convolution/shape.js';
import { DIRECT_PANEL, directImageWasm } from './wasm.js';

/*
 * The direct 3 x 3 convolution of a net's first layer (few input channels), on the wasm backend
 * (wasm.ts has the kernel). A 4 x 4 filter whose first row and column are zero in every output
 * (how the shared fixtures write TensorFlow's SAME padding at stride 2) is the same kernel on
 * its other 3 x 3 taps, read one row and column further on.
 */

const TAPS = 3;
/** The most input channels the kernel takes: above this, im2col's matrix is no longer thin. */
const MAX_CHANNELS = 4;

/**
 * The filter's first used tap when the direct kernel takes shape `s` (0 for 3 x 3, 1 for a 4 x 4
 * filter with a zero first row and column), or -1 when it does not: stride 1 or 2 on both axes,
 * no dilation, one group, at most 4 input channels, outputs a whole number of panels.
 */
export function directOrigin(s: ConvolutionShape, weight: FloatArray): number {
  if (getBackend().name !== 'wasm' || s.group !== 1 || s.channels > MAX_CHANNELS || s.numOutput % DIRECT_PANEL !== 0) return -1;
  if (s.dilationH !== 1 || s.dilationW !== 1 || s.strideH !== s.strideW || (s.strideH !== 1 && s.strideH !== 2) || s.kernelH !== s.kernelW) return -1;
  if (s.kernelH === TAPS) return 0;
  if (s.kernelH !== TAPS + 1) return -1;
  const side = TAPS + 1;
  for (let filter = 0; filter < s.numOutput * s.channels; filter++) {
    for (let k = 0; k < side; k++) if (weight[filter * side * side + k] !== 0 || weight[filter * side * side + k * side] !== 0) return -1;
  }
  return 1;
}

/** Floats of packed weights (see `packDirectWeights`). */
export function directPackedSize(s: ConvolutionShape): number {
  return s.numOutput * s.channels * TAPS * TAPS;
}

/** Floats of one thread's band: each channel's plane with its zero border, and room for a vector's overrun. */
export function directBandSize(s: ConvolutionShape): number {
  return s.channels * bandPlane(s);
}

const bandRow = (s: ConvolutionShape) => s.width + 2 * s.padW + 4 * TAPS;
const bandPlane = (s: ConvolutionShape) => (s.height + 2 * s.padH + 2) * bandRow(s);

/**
 * The 3 x 3 taps from `origin` of each filter in panels of four outputs:
 * packed[((t * C + c) * 9 + ky * 3 + kx) * 4 + r] = weight[4t + r][c][origin + ky][origin + kx].
 */
export function packDirectWeights(weight: FloatArray, s: ConvolutionShape, origin: number, packed: FloatArray): void {
  for (let o = 0; o < s.numOutput; o++) {
    const [t, r] = [Math.floor(o / DIRECT_PANEL), o % DIRECT_PANEL];
    for (let c = 0; c < s.channels; c++) {
      for (let ky = 0; ky < TAPS; ky++) {
        for (let kx = 0; kx < TAPS; kx++) {
          packed[(((t * s.channels + c) * TAPS + ky) * TAPS + kx) * DIRECT_PANEL + r] = weight[((o * s.channels + c) * s.kernelH + origin + ky) * s.kernelW + origin + kx]!;
        }
      }
    }
  }
}

/**
 * The forward y = min(max(conv(x, weight) + bias, low), high) of the whole batch through the
 * kernel, shared out over the pool by images and panels of outputs (panels.ts); false (nothing done) when the kernel does
 * not take the shape (`directOrigin`) or an array is not float32 on the wasm heap.
 */
export function directForward(x: FloatArray, weight: FloatArray, bias: FloatArray | undefined, y: FloatArray, s: ConvolutionShape, low: number, high: number): boolean {
  const origin = directOrigin(s, weight);
  if (origin < 0 || ![x, weight, y, ...(bias ? [bias] : [])].every(isOnWasmHeap)) return false;
  const packed = convolutionScratch('packed filters', directPackedSize(s), weight);
  packDirectWeights(weight, s, origin, packed);
  const [outH, outW] = convOutputSize(s);
  const parts = panelParts(s.num * s.numOutput * outH * outW * s.channels * TAPS * TAPS, s.num, s.numOutput / DIRECT_PANEL);
  const bands = convolutionScratch('bands', parts * directBandSize(s), x);
  directForwardJob.run({ x, packed, y, bands, bias }, { ...s, origin, clampMin: low, clampMax: high }, parts);
  return true;
}

/**
 * The pool's part: its run of (image, output panel) pairs (panels.ts), with part `part` of
 * `bands` (zeroed here), clamped to [clampMin, clampMax] (every array float32 on the heap:
 * `directForward` checked).
 */
export const directForwardJob = definePoolJob({
  module: import.meta.url,
  name: 'directForwardJob',
  arrays: ['x', 'packed', 'y', 'bands'],
  optional: ['bias'],
  scalars: [...shapeScalars, 'origin', 'clampMin', 'clampMax'],
  part: ({ x, packed, y, bands, bias }, s, part, parts) => {
    const size = directBandSize(s);
    const band = bands.subarray(part * size, (part + 1) * size).fill(0);
    const [outH, outW] = convOutputSize(s);
    const row = bandRow(s);
    const run = directImageWasm[s.strideH as 1 | 2];
    eachPanelRun(s.num, s.numOutput / DIRECT_PANEL, part, parts, (n, first, end) => {
      run({
        x, xStart: n * s.channels * s.height * s.width, channels: s.channels, height: s.height, width: s.width,
        band, bandRow: row, bandPlane: bandPlane(s), copyAt: s.padH * row + s.padW, readAt: s.origin * (row + 1),
        packed: packed.subarray(first * s.channels * TAPS * TAPS * DIRECT_PANEL), bias: bias?.subarray(first * DIRECT_PANEL),
        hasBias: bias ? 1 : 0, y, yStart: (n * s.numOutput + first * DIRECT_PANEL) * outH * outW,
        panels: end - first, outH, outW, low: s.clampMin, high: s.clampMax,
      });
    });
  },
});
