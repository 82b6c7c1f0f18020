import { convOutputSize, getBackend, heapIndex, instantiateOnHeap, type FloatArray } from '@cnn/tensor';
import type { ConvolutionShape } from '../convolution/shape.js';
import type { Clamp, ConvolutionGradients } from '../convolution/reference.js';
import { depthwiseKernelModule } from './depthwise-module.js';

/*
 * The TypeScript half of the wasm depthwise kernels (depthwise-module.ts has the WebAssembly):
 * with the wasm backend and every array float32 on the wasm heap, the planes of input channels
 * [first, end) go through the SIMD kernels, one call per plane; otherwise they return false and
 * the caller runs its TypeScript loops.
 */

const FLOAT = 4;

type PlaneKernel = (...args: number[]) => void;

interface DepthwiseInstance {
  forwardPlanes: PlaneKernel;
  inputGradientPlane: PlaneKernel;
  weightGradientPlane: PlaneKernel;
}

let instance: DepthwiseInstance | undefined;

/** This thread's instance over the heap, compiled on first use. */
function kernels(): DepthwiseInstance {
  instance ??= instantiateOnHeap(depthwiseKernelModule(), 'wasm depthwise kernels') as unknown as DepthwiseInstance;
  return instance;
}

/** Byte addresses of the arrays on the heap, or undefined when the backend is not wasm or any array is elsewhere. */
function addresses(...arrays: FloatArray[]): number[] | undefined {
  if (getBackend().name !== 'wasm') return undefined;
  const at = arrays.map((array) => heapIndex(array) * FLOAT);
  return at.every((address) => address >= 0) ? at : undefined;
}

/** The geometry arguments every plane kernel takes after its pointers. */
function geometry(s: ConvolutionShape): number[] {
  const [outH, outW] = convOutputSize(s);
  return [s.height, s.width, outH, outW, s.kernelH, s.kernelW, s.strideH, s.strideW, s.padH, s.padW, s.dilationH, s.dilationW];
}

/** The forward of input channels [first, end) of every image, clamped (see `depthwiseForwardFast`). */
export function wasmDepthwiseForward(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  clamp: Clamp,
  first: number,
  end: number,
): boolean {
  const at = addresses(x, weight, y, bias ?? weight);
  if (!at) return false;
  const [xAt, weightAt, yAt, biasAt] = at as [number, number, number, number];
  const { forwardPlanes } = kernels();
  const g = geometry(s);
  const [, , outH, outW] = g as [number, number, number, number];
  const multiplier = s.numOutput / s.channels;
  const [planeBytes, outBytes, filterBytes] = [s.height * s.width * FLOAT, outH * outW * FLOAT, s.kernelH * s.kernelW * FLOAT];
  /** Output planes [o, o + planes) of image n, from input planes xStep bytes apart starting at channel c's. */
  const run = (n: number, c: number, o: number, planes: number, xStep: number) =>
    forwardPlanes(
      xAt + (n * s.channels + c) * planeBytes, xStep, weightAt + o * filterBytes, biasAt + o * FLOAT, bias ? 1 : 0,
      yAt + (n * s.numOutput + o) * outBytes, planes, clamp.min, clamp.max, ...g,
    );
  for (let n = 0; n < s.num; n++) {
    // One call for all the channels of an image; with a depth multiplier, one per input channel and its outputs.
    if (multiplier === 1) run(n, first, first, end - first, planeBytes);
    else for (let c = first; c < end; c++) run(n, c, c * multiplier, multiplier, 0);
  }
  return true;
}

/**
 * The backward of input channels [first, end) of every image (see `depthwiseBackwardFast`):
 * dx planes zeroed, then the SIMD kernels for dx and dWeight, and dBias summed here.
 */
export function wasmDepthwiseBackward(
  x: FloatArray,
  weight: FloatArray,
  dy: FloatArray,
  grads: ConvolutionGradients,
  s: ConvolutionShape,
  first: number,
  end: number,
): boolean {
  const { dx, dWeight, dBias } = grads;
  const at = addresses(x, weight, dy, dx ?? x, dWeight ?? weight);
  if (!at) return false;
  const [xAt, weightAt, dyAt, dxAt, dWeightAt] = at as [number, number, number, number, number];
  const { inputGradientPlane, weightGradientPlane } = kernels();
  const g = geometry(s);
  const [, , outH, outW] = g as [number, number, number, number];
  const planeSize = s.height * s.width;
  const outSize = outH * outW;
  const multiplier = s.numOutput / s.channels;
  const taps = s.kernelH * s.kernelW;
  for (let n = 0; n < s.num; n++) {
    dx?.fill(0, (n * s.channels + first) * planeSize, (n * s.channels + end) * planeSize);
    for (let o = first * multiplier; o < end * multiplier; o++) {
      const c = Math.floor(o / multiplier);
      const xPlane = (n * s.channels + c) * planeSize;
      const dyPlane = (n * s.numOutput + o) * outSize;
      if (dBias) {
        let sum = 0;
        for (let p = dyPlane; p < dyPlane + outSize; p++) sum += dy[p]!;
        dBias[o] += sum;
      }
      if (dx) inputGradientPlane(dxAt + xPlane * FLOAT, weightAt + o * taps * FLOAT, dyAt + dyPlane * FLOAT, ...g);
      if (dWeight) weightGradientPlane(xAt + xPlane * FLOAT, dyAt + dyPlane * FLOAT, dWeightAt + o * taps * FLOAT, ...g);
    }
  }
  return true;
}
