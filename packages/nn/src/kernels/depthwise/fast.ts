import { convOutputSize, definePoolJob, getThreads, isShared, partRange, type FloatArray } from '@cnn/tensor';
import { shapeScalars, type ConvolutionShape } from '../convolution/shape.js';
import type { Clamp, ConvolutionGradients } from '../convolution/reference.js';

/**
 * The outputs ox of a row whose tap at column offset `shift` (= kx * dilationW - padW) falls
 * inside the input row, ix = ox * stride + shift in [0, width): the range [first, end).
 * Working out this range once per tap takes every bounds test out of the inner loops.
 */
export function tapRange(shift: number, stride: number, width: number, outW: number): [number, number] {
  const first = Math.max(0, Math.ceil(-shift / stride));
  const end = Math.min(outW, Math.floor((width - 1 - shift) / stride) + 1);
  return [first, Math.max(first, end)];
}

/**
 * Below this many multiply-adds a depthwise layer runs on the calling thread. The wasm kernels
 * do about 3 G multiply-adds a second per thread, so this is ~0.15 ms of work, and waking a
 * sleeping worker cost 0.25 ms and more on a loaded machine (MobileNet 0.5 at batch 1 ran its
 * depthwise layers 3x slower on 2 threads than on 1 with a limit of 64 K).
 */
const MIN_PARALLEL_WORK = 1 << 19;

/**
 * The fast forward, same arguments and result as `depthwiseForwardReference`: a tap at a time
 * over whole output rows, y_row[ox] += w[ky][kx] * x_row[ox * stride + shift] for the ox whose
 * input is inside the row (`tapRange`), so the inner loop is a plain multiply-add with no tests.
 * The channels are shared out over the pool's threads (all images of a channel to one thread),
 * which keeps every thread busy at batch 1 too. The wasm backend runs the planes in SIMD
 * (wasm.ts, and MobileNet's 3 x 3 filters register-blocked in wasm-3x3.ts). Each finished row
 * is clamped to [clamp.min, clamp.max] (see `Clamp`).
 */
export function depthwiseForwardFast(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  clamp: Clamp = { min: -Infinity, max: Infinity },
): void {
  const parts = depthwiseParts(s, [x, weight, y, ...(bias ? [bias] : [])]);
  depthwiseForwardJob.run({ x, weight, y, bias }, { ...s, clampMin: clamp.min, clampMax: clamp.max }, parts);
}

/**
 * The fast backward, same arguments and result as `depthwiseBackwardReference`, with the same
 * tap-at-a-time rows as the forward: dx_row[ox * stride + shift] += w * dy_row[ox] (the forward's
 * transpose), dWeight[ky][kx] += sum over ox of dy_row[ox] * x_row[ox * stride + shift]. Shared
 * out by channels, so no two threads write the same dx plane or filter.
 */
export function depthwiseBackwardFast(x: FloatArray, weight: FloatArray, dy: FloatArray, grads: ConvolutionGradients, s: ConvolutionShape): void {
  const { dx, dWeight, dBias } = grads;
  if (!dx && !dWeight && !dBias) return;
  const given = [dx, dWeight, dBias].filter((a): a is FloatArray => a !== undefined);
  depthwiseBackwardJob.run({ x, weight, dy, dx, dWeight, dBias }, s, depthwiseParts(s, [x, weight, dy, ...given]));
}

/** How many threads a depthwise layer takes: 1 when it is small or an array is not on shared memory. */
export function depthwiseParts(s: ConvolutionShape, arrays: FloatArray[]): number {
  const [outH, outW] = convOutputSize(s);
  const work = s.num * s.numOutput * outH * outW * s.kernelH * s.kernelW;
  const threads = getThreads();
  if (threads === 1 || work < MIN_PARALLEL_WORK || !arrays.every(isShared)) return 1;
  return Math.min(threads, s.channels, Math.ceil(work / MIN_PARALLEL_WORK));
}

/** The pool's part of the forward: input channels [first, end) of every image, clamped to [clampMin, clampMax]. */
export const depthwiseForwardJob = definePoolJob({
  module: import.meta.url,
  name: 'depthwiseForwardJob',
  arrays: ['x', 'weight', 'y'],
  optional: ['bias'],
  scalars: [...shapeScalars, 'clampMin', 'clampMax'],
  part: ({ x, weight, y, bias }, s, part, parts) =>
    forwardChannels(x, weight, bias, y, s, { min: s.clampMin, max: s.clampMax }, ...partRange(s.channels, part, parts)),
});

/** The pool's part of the backward: input channels [first, end) of every image, the gradients asked for. */
export const depthwiseBackwardJob = definePoolJob({
  module: import.meta.url,
  name: 'depthwiseBackwardJob',
  arrays: ['x', 'weight', 'dy'],
  optional: ['dx', 'dWeight', 'dBias'],
  scalars: shapeScalars,
  part: ({ x, weight, dy, ...grads }, s, part, parts) => backwardChannels(x, weight, dy, grads, s, ...partRange(s.channels, part, parts)),
});

/** The forward of input channels [first, end) of every image, clamped. */
export function forwardChannels(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  clamp: Clamp,
  first: number,
  end: number,
): void {
  const multiplier = s.numOutput / s.channels;
  for (let n = 0; n < s.num; n++) {
    for (let o = first * multiplier; o < end * multiplier; o++) forwardPlane(x, weight, bias, y, s, clamp, n, o);
  }
}

/** The backward of input channels [first, end) of every image. */
export function backwardChannels(x: FloatArray, weight: FloatArray, dy: FloatArray, grads: ConvolutionGradients, s: ConvolutionShape, first: number, end: number): void {
  const multiplier = s.numOutput / s.channels;
  const [outH, outW] = convOutputSize(s);
  const planeSize = s.height * s.width;
  for (let n = 0; n < s.num; n++) {
    if (grads.dx) grads.dx.fill(0, (n * s.channels + first) * planeSize, (n * s.channels + end) * planeSize);
    for (let o = first * multiplier; o < end * multiplier; o++) {
      if (grads.dBias) {
        const start = (n * s.numOutput + o) * outH * outW;
        let sum = 0;
        for (let p = start; p < start + outH * outW; p++) sum += dy![p]!;
        grads.dBias[o] += sum;
      }
      if (grads.dx) inputGradientPlane(weight!, dy!, grads.dx, s, n, o);
      if (grads.dWeight) weightGradientPlane(x!, dy!, grads.dWeight, s, n, o);
    }
  }
}

/** Output plane o of image n: the bias, then each tap's multiply-add over the rows, then the clamp. */
function forwardPlane(x: FloatArray, weight: FloatArray, bias: FloatArray | undefined, y: FloatArray, s: ConvolutionShape, clamp: Clamp, n: number, o: number): void {
  const [outH, outW] = convOutputSize(s);
  const c = Math.floor(o / (s.numOutput / s.channels));
  const plane = (n * s.channels + c) * s.height * s.width;
  const out = (n * s.numOutput + o) * outH * outW;
  y.fill(bias ? bias[o]! : 0, out, out + outH * outW);
  for (let oy = 0; oy < outH; oy++) {
    const yRow = out + oy * outW;
    for (let ky = 0; ky < s.kernelH; ky++) {
      const iy = oy * s.strideH - s.padH + ky * s.dilationH;
      if (iy < 0 || iy >= s.height) continue;
      for (let kx = 0; kx < s.kernelW; kx++) {
        const w = weight[(o * s.kernelH + ky) * s.kernelW + kx]!;
        const shift = kx * s.dilationW - s.padW;
        const [first, end] = tapRange(shift, s.strideW, s.width, outW);
        const xRow = plane + iy * s.width + shift;
        for (let ox = first; ox < end; ox++) y[yRow + ox] += w * x[xRow + ox * s.strideW]!;
      }
    }
    for (let ox = 0; ox < outW; ox++) y[yRow + ox] = Math.min(Math.max(y[yRow + ox]!, clamp.min), clamp.max);
  }
}

/** Adds output plane o's share of dx into input plane c of image n (the forward's taps, transposed). */
function inputGradientPlane(weight: FloatArray, dy: FloatArray, dx: FloatArray, s: ConvolutionShape, n: number, o: number): void {
  const [outH, outW] = convOutputSize(s);
  const c = Math.floor(o / (s.numOutput / s.channels));
  const plane = (n * s.channels + c) * s.height * s.width;
  const out = (n * s.numOutput + o) * outH * outW;
  for (let oy = 0; oy < outH; oy++) {
    const dyRow = out + oy * outW;
    for (let ky = 0; ky < s.kernelH; ky++) {
      const iy = oy * s.strideH - s.padH + ky * s.dilationH;
      if (iy < 0 || iy >= s.height) continue;
      for (let kx = 0; kx < s.kernelW; kx++) {
        const w = weight[(o * s.kernelH + ky) * s.kernelW + kx]!;
        const shift = kx * s.dilationW - s.padW;
        const [first, end] = tapRange(shift, s.strideW, s.width, outW);
        const dxRow = plane + iy * s.width + shift;
        for (let ox = first; ox < end; ox++) dx[dxRow + ox * s.strideW] += w * dy[dyRow + ox]!;
      }
    }
  }
}

/** Adds image n's contribution to output o's filter gradient: per tap, the dot product of dy's rows with the input rows it saw. */
function weightGradientPlane(x: FloatArray, dy: FloatArray, dWeight: FloatArray, s: ConvolutionShape, n: number, o: number): void {
  const [outH, outW] = convOutputSize(s);
  const c = Math.floor(o / (s.numOutput / s.channels));
  const plane = (n * s.channels + c) * s.height * s.width;
  const out = (n * s.numOutput + o) * outH * outW;
  for (let ky = 0; ky < s.kernelH; ky++) {
    for (let kx = 0; kx < s.kernelW; kx++) {
      const shift = kx * s.dilationW - s.padW;
      const [first, end] = tapRange(shift, s.strideW, s.width, outW);
      let sum = 0;
      for (let oy = 0; oy < outH; oy++) {
        const iy = oy * s.strideH - s.padH + ky * s.dilationH;
        if (iy < 0 || iy >= s.height) continue;
        const dyRow = out + oy * outW;
        const xRow = plane + iy * s.width + shift;
        for (let ox = first; ox < end; ox++) sum += dy[dyRow + ox]! * x[xRow + ox * s.strideW]!;
      }
      dWeight[(o * s.kernelH + ky) * s.kernelW + kx] += sum;
    }
  }
}
