import { Rng, Tensor, allclose, allocate, convOutputSize, getBackend, setBackend, setThreads, shutdownPool, type FloatArray } from '@cnn/tensor';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ConvolutionShape } from '../convolution/shape.js';
import { depthwiseForward } from './index.js';
import { depthwiseForwardReference } from './reference.js';
import { depthwise3x3BandSize, depthwise3x3Forward, depthwise3x3Origin } from './wasm-3x3.js';
import { depthwise3x3Backward, depthwise3x3BackwardBandSize, turnFilters, turnedFiltersSize } from './wasm-3x3-backward.js';
import { depthwiseBackwardReference } from './reference.js';

const initialBackend = getBackend().name;
afterEach(() => {
  setBackend(initialBackend);
  setThreads(1);
});
afterAll(() => shutdownPool());

function shape(num: number, channels: number, height: number, width: number, kernel: number, stride: number, pad: number): ConvolutionShape {
  return {
    num, channels, height, width, numOutput: channels, group: channels,
    kernelH: kernel, kernelW: kernel, strideH: stride, strideW: stride, padH: pad, padW: pad, dilationH: 1, dilationW: 1,
  };
}

const label = (s: ConvolutionShape) => `x=[${s.num},${s.channels},${s.height},${s.width}] k=${s.kernelH} s=${s.strideH} p=${s.padH}`;

/** Random float32 operands on the heap; a 4 x 4 filter gets a zero first row and column (TensorFlow's SAME at stride 2). */
function operands(s: ConvolutionShape, seed: number): { x: FloatArray; weight: FloatArray; bias: FloatArray } {
  const rng = new Rng(seed);
  const random = (length: number) => {
    const a = allocate(length, { dtype: 'float32', shared: true });
    for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
    return a;
  };
  const weight = random(s.numOutput * s.kernelH * s.kernelW);
  if (s.kernelH === 4) {
    for (let o = 0; o < s.numOutput; o++) for (let k = 0; k < 4; k++) weight[o * 16 + k] = weight[o * 16 + k * 4] = 0;
  }
  return { x: random(s.num * s.channels * s.height * s.width), weight, bias: random(s.numOutput) };
}

// MobileNet's 3 x 3 pad 1 at stride 1 and 2 and its 4 x 4 pad 1 stride 2; no padding, wide padding;
// rows of 1 to 9 outputs (a vector of four and the rest one at a time), odd and uneven planes.
const cases: ConvolutionShape[] = [];
for (const [kernel, stride, pad] of [[3, 1, 1], [3, 2, 1], [4, 2, 1], [3, 1, 0], [3, 2, 2], [3, 1, 2]] as const) {
  for (const [height, width] of [[7, 7], [8, 5], [3, 10], [10, 16], [5, 3]] as const) {
    if (height + 2 * pad < kernel || width + 2 * pad < kernel) continue;
    cases.push(shape(2, 3, height, width, kernel, stride, pad));
  }
}

function reference(s: ConvolutionShape, o: ReturnType<typeof operands>, withBias: boolean, min: number, max: number): Float64Array {
  const [outH, outW] = convOutputSize(s);
  const y = new Float64Array(s.num * s.numOutput * outH * outW);
  depthwiseForwardReference(Float64Array.from(o.x), Float64Array.from(o.weight), withBias ? Float64Array.from(o.bias) : undefined, y, s);
  return y.map((v) => Math.min(Math.max(v, min), max));
}

function expectClose(actual: FloatArray, expected: FloatArray): void {
  const t = (a: FloatArray) => Tensor.fromArray(a, [a.length], { dtype: 'float64' });
  const result = allclose(t(actual), t(expected), { atol: 2e-5, rtol: 2e-5 });
  expect(result.ok, result.message).toBe(true);
}

describe('register-blocked 3 x 3 depthwise kernel (wasm SIMD) against the reference', () => {
  it.each(cases.map((s) => [label(s), s] as const))('called directly on channels 1..2 of each image, a guard float left alone: %s', (_, s) => {
    setBackend('wasm');
    const o = operands(s, 7);
    const [outH, outW] = convOutputSize(s);
    const plane = outH * outW;
    const y = allocate(s.num * s.numOutput * plane + 1, { dtype: 'float32', shared: true }).fill(NaN);
    const band = allocate(depthwise3x3BandSize(s), { dtype: 'float32', shared: true });
    const origin = depthwise3x3Origin(s, o.weight, 1, 3);
    expect(origin).toBe(s.kernelH === 4 ? 1 : 0);
    expect(depthwise3x3Forward(o.x, o.weight, o.bias, y, s, { min: -0.5, max: 0.75 }, 1, 3, band, origin)).toBe(true);
    const expected = reference(s, o, true, -0.5, 0.75);
    for (let n = 0; n < s.num; n++) {
      const at = n * s.numOutput * plane;
      expect(Number.isNaN(y[at]!), 'channel 0 is not this call\'s').toBe(true);
      expectClose(y.subarray(at + plane, at + 3 * plane), expected.subarray(at + plane, at + 3 * plane));
    }
    expect(y[y.length - 1]).toBeNaN();
  });

  for (const threads of [1, 2]) {
    it.each(cases.map((s) => [label(s), s] as const))(`through depthwiseForward on ${threads} thread(s), with and without bias: %s`, (_, s) => {
      setBackend('wasm');
      setThreads(threads);
      const o = operands(s, 8);
      const [outH, outW] = convOutputSize(s);
      for (const withBias of [true, false]) {
        const y = allocate(s.num * s.numOutput * outH * outW, { dtype: 'float32', shared: true }).fill(NaN);
        depthwiseForward(o.x, o.weight, withBias ? o.bias : undefined, y, s, { min: 0, max: 6 });
        expectClose(y, reference(s, o, withBias, 0, 6));
      }
    });
  }

  it('a large layer shared out over 2 threads: x=[2,32,40,40] k=4 s=2 p=1 (MobileNet 0.5 conv3_2/dw)', () => {
    setBackend('wasm');
    setThreads(2);
    const s = shape(2, 32, 40, 40, 4, 2, 1);
    const o = operands(s, 9);
    const [outH, outW] = convOutputSize(s);
    const y = allocate(s.num * s.numOutput * outH * outW, { dtype: 'float32', shared: true }).fill(NaN);
    depthwiseForward(o.x, o.weight, o.bias, y, s, { min: 0, max: 6 });
    expectClose(y, reference(s, o, true, 0, 6));
  });

  it('refuses what it does not compute: a 4 x 4 filter with a non-zero first row or column, dilation, stride 3, a depth multiplier', () => {
    const s = shape(1, 2, 8, 8, 4, 2, 1);
    const o = operands(s, 10);
    expect(depthwise3x3Origin(s, o.weight, 0, 2)).toBe(1);
    o.weight[16 + 4] = 0.5; // filter 1, row 1, column 0
    expect(depthwise3x3Origin(s, o.weight, 0, 2)).toBe(-1);
    expect(depthwise3x3Origin(s, o.weight, 0, 1)).toBe(1);
    const three = shape(1, 2, 8, 8, 3, 1, 1);
    expect(depthwise3x3Origin({ ...three, dilationH: 2, dilationW: 2 }, o.weight, 0, 2)).toBe(-1);
    expect(depthwise3x3Origin({ ...three, strideH: 3, strideW: 3 }, o.weight, 0, 2)).toBe(-1);
    expect(depthwise3x3Origin({ ...three, numOutput: 4 }, o.weight, 0, 2)).toBe(-1);
  });
});

describe('register-blocked depthwise backward (wasm SIMD) against the reference', () => {
  it.each(cases.map((s) => [label(s), s] as const))('called directly on channels 1..2: dWeight added into, dx written at stride 1 (3 x 3), the rest left to the caller: %s', (_, s) => {
    setBackend('wasm');
    const o = operands(s, 11);
    const [outH, outW] = convOutputSize(s);
    const rng = new Rng(12);
    const heap = (length: number, fill: (i: number) => number) => {
      const a = allocate(length, { dtype: 'float32', shared: true });
      for (let i = 0; i < length; i++) a[i] = fill(i);
      return a;
    };
    const dy = heap(s.num * s.numOutput * outH * outW, () => rng.uniform(-1, 1));
    const dWeight0 = heap(o.weight.length, () => rng.uniform(-1, 1));
    const grads = { dx: heap(o.x.length, () => NaN), dWeight: heap(o.weight.length, (i) => dWeight0[i]!), dBias: heap(s.numOutput, () => 0) };
    const band = allocate(depthwise3x3BackwardBandSize(s), { dtype: 'float32', shared: true });
    const turned = turnedFiltersSize(s) > 0 ? allocate(turnedFiltersSize(s), { dtype: 'float32', shared: true }) : undefined;
    if (turned) turnFilters(o.weight, s, turned);
    const left = depthwise3x3Backward(o.x, dy, grads, s, 1, 3, band, turned);
    const byConvolution = s.kernelH === 3 && s.strideH === 1;
    expect(left).toEqual({ dx: byConvolution ? undefined : grads.dx, dWeight: undefined, dBias: grads.dBias });
    const expected = { dx: new Float64Array(o.x.length), dWeight: Float64Array.from(dWeight0), dBias: new Float64Array(s.numOutput) };
    depthwiseBackwardReference(Float64Array.from(o.x), Float64Array.from(o.weight), Float64Array.from(dy), expected, s);
    const filter = s.kernelH * s.kernelW;
    const planeSize = s.height * s.width;
    expect(grads.dWeight[0]).toBe(dWeight0[0]); // channel 0 is not this call's
    const dWeightOf = (a: FloatArray) => a.subarray(filter, 3 * filter);
    const result = allclose(Tensor.fromArray(dWeightOf(grads.dWeight), [2 * filter], { dtype: 'float64' }), Tensor.fromArray(dWeightOf(expected.dWeight), [2 * filter], { dtype: 'float64' }), { atol: 2e-4, rtol: 2e-4 });
    expect(result.ok, result.message).toBe(true);
    if (byConvolution) {
      for (let n = 0; n < s.num; n++) {
        const at = n * s.channels * planeSize;
        expect(Number.isNaN(grads.dx[at]!), 'channel 0 of dx is not this call\'s').toBe(true);
        expectClose(grads.dx.subarray(at + planeSize, at + 3 * planeSize), expected.dx.subarray(at + planeSize, at + 3 * planeSize));
      }
    }
  });
});

