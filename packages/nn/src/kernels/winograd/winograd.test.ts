import { Rng, Tensor, allclose, allocate, convOutputSize, getBackend, setBackend, setThreads, shutdownPool, type DType, type FloatArray } from '@cnn/tensor';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { convolutionBackwardReference, convolutionForwardReference } from '../convolution/reference.js';
import type { ConvolutionShape } from '../convolution/shape.js';
import { convolutionForwardWinograd, convolutionInputGradientWinograd, winogradApplies, winogradPays, winogradPaysBackward } from './fast.js';
import { winogradWasmKernels } from './wasm.js';

afterAll(() => shutdownPool());

function shape(num: number, channels: number, height: number, width: number, numOutput: number, group: number, pad: [number, number]): ConvolutionShape {
  return { num, channels, height, width, numOutput, group, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: pad[0], padW: pad[1], dilationH: 1, dilationW: 1 };
}

function random(length: number, rng: Rng, dtype: DType, shared: boolean): FloatArray {
  const a = allocate(length, { dtype, shared });
  for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/** Expects the fast kernel's result equal to the reference's, to 1e-12 (float64) or 1e-5 (float32), absolute and relative. */
function expectSame(fast: FloatArray, reference: FloatArray, dtype: DType): void {
  const tolerance = dtype === 'float64' ? 1e-12 : 1e-5;
  const asTensor = (a: FloatArray) => Tensor.fromArray(a, [a.length], { dtype: 'float64' });
  const result = allclose(asTensor(fast), asTensor(reference), { atol: tolerance, rtol: tolerance });
  expect(result.ok, result.message).toBe(true);
}

/** Runs both kernels on the same random operands and expects the same output (see `expectSame`). */
function compare(s: ConvolutionShape, dtype: DType, withBias: boolean, shared = false): void {
  const rng = new Rng(5);
  const [outH, outW] = convOutputSize(s);
  const x = random(s.num * s.channels * s.height * s.width, rng, dtype, shared);
  const weight = random(s.numOutput * (s.channels / s.group) * 9, rng, dtype, shared);
  const bias = withBias ? random(s.numOutput, rng, dtype, shared) : undefined;
  const size = s.num * s.numOutput * outH * outW;
  const fast = allocate(size, { dtype, shared }).fill(NaN);
  const reference = allocate(size, { dtype }).fill(NaN);
  convolutionForwardWinograd(x, weight, bias, fast, s);
  convolutionForwardReference(x, weight, bias, reference, s);
  expectSame(fast, reference, dtype);
}

describe('Winograd F(2x2, 3x3) against the reference loops', () => {
  const grid: ConvolutionShape[] = [];
  for (const [h, w] of [[4, 4], [7, 7], [6, 9], [13, 13], [3, 5]] as const) {
    for (const pad of [[0, 0], [1, 1], [2, 2], [1, 0]] as [number, number][]) {
      for (const group of [1, 2]) {
        if (h + 2 * pad[0] < 3 || w + 2 * pad[1] < 3) continue;
        grid.push(shape(3, 4, h, w, 6, group, pad));
      }
    }
  }
  for (const dtype of ['float64', 'float32'] as const) {
    it.each(grid.map((s) => [`x=[${s.num},${s.channels},${s.height},${s.width}] p=${s.padH}x${s.padW} g=${s.group}`, s] as const))(`${dtype} %s`, (_, s) => {
      compare(s, dtype, true);
      compare(s, dtype, false);
    });
  }
  it('applies to 3 x 3 kernels with stride 1 and no dilation only', () => {
    expect(winogradApplies(shape(1, 4, 7, 7, 4, 1, [1, 1]))).toBe(true);
    expect(winogradApplies({ ...shape(1, 4, 7, 7, 4, 1, [1, 1]), strideH: 2 })).toBe(false);
    expect(winogradApplies({ ...shape(1, 4, 7, 7, 4, 1, [1, 1]), dilationW: 2 })).toBe(false);
    expect(winogradApplies({ ...shape(1, 4, 7, 7, 4, 1, [1, 1]), kernelH: 5, kernelW: 5 })).toBe(false);
  });
  // Shared float32 operands are where the wasm backend runs its own transforms (on its heap).
  for (const backend of ['js', 'wasm'] as const) {
    it(`${backend} backend, shared float32 over 2 threads: the grid, and chunks of several images`, () => {
      const initial = getBackend().name;
      setBackend(backend);
      setThreads(2);
      const { winogradFilters, winogradTiles, winogradOutputs } = winogradWasmKernels;
      const spies = [vi.spyOn(winogradFilters, 'run'), vi.spyOn(winogradTiles, 'run'), vi.spyOn(winogradOutputs, 'run')];
      try {
        for (const s of grid) {
          compare(s, 'float32', true, true);
          compare(s, 'float32', false, true);
        }
        compare(shape(9, 32, 13, 13, 48, 2, [1, 1]), 'float32', true, true);
        compare(shape(3, 16, 30, 30, 16, 1, [1, 1]), 'float32', true, true);
        // The wasm backend ran its own kernels (on the calling thread; the workers' are out of sight of spies).
        for (const spy of spies) expect(spy.mock.results.some((result) => result.value === true)).toBe(backend === 'wasm');
      } finally {
        for (const spy of spies) spy.mockRestore();
        setBackend(initial);
      }
    });
  }
});

/** The input gradient by Winograd against the reference backward's dx, on the same random operands. */
function compareInputGradient(s: ConvolutionShape, dtype: DType, shared = false): void {
  const rng = new Rng(6);
  const [outH, outW] = convOutputSize(s);
  const x = random(s.num * s.channels * s.height * s.width, rng, dtype, shared);
  const weight = random(s.numOutput * (s.channels / s.group) * 9, rng, dtype, shared);
  const dy = random(s.num * s.numOutput * outH * outW, rng, dtype, shared);
  const fast = allocate(x.length, { dtype, shared }).fill(NaN);
  const reference = allocate(x.length, { dtype });
  convolutionInputGradientWinograd(weight, dy, fast, s);
  convolutionBackwardReference(x, weight, dy, { dx: reference }, s);
  expectSame(fast, reference, dtype);
}

describe('the input gradient by F(2x2, 3x3): dy convolved with the turned filters, against the reference backward', () => {
  const grid: ConvolutionShape[] = [];
  for (const [h, w] of [[4, 4], [7, 7], [6, 9], [13, 13]] as const) {
    for (const pad of [[0, 0], [1, 1], [2, 2], [1, 0], [0, 2]] as [number, number][]) {
      for (const group of [1, 2]) grid.push(shape(3, 4, h, w, 6, group, pad));
    }
  }
  for (const dtype of ['float64', 'float32'] as const) {
    it.each(grid.map((s) => [`x=[${s.num},${s.channels},${s.height},${s.width}] p=${s.padH}x${s.padW} g=${s.group}`, s] as const))(`${dtype} %s`, (_, s) => {
      compareInputGradient(s, dtype);
    });
  }
  it.each(['js', 'wasm'] as const)('%s backend, shared float32 over 2 threads', (backend) => {
    const initial = getBackend().name;
    setBackend(backend);
    setThreads(2);
    try {
      for (const s of grid) compareInputGradient(s, 'float32', true);
      compareInputGradient(shape(9, 32, 13, 13, 48, 2, [1, 1]), 'float32', true);
    } finally {
      setBackend(initial);
    }
  });
  it('is taken by the fast backward where the forward takes Winograd, with pads of at most 2', () => {
    setThreads(2);
    const s = shape(8, 16, 13, 13, 16, 1, [1, 1]);
    expect(winogradPaysBackward(s)).toBe(true);
    expect(winogradPaysBackward({ ...s, padH: 3 })).toBe(false);
    expect(winogradPaysBackward({ ...s, num: 7 })).toBe(false);
  });
});

describe('when the fast convolution takes F(2x2, 3x3)', () => {
  it('takes it from 4 images per thread, and never for other kernels', () => {
    const s = shape(8, 16, 13, 13, 16, 1, [1, 1]);
    setThreads(2);
    expect(winogradPays(s)).toBe(true);
    expect(winogradPays({ ...s, num: 7 })).toBe(false);
    expect(winogradPays({ ...s, strideW: 2 })).toBe(false);
    setThreads(1);
    expect(winogradPays({ ...s, num: 4 })).toBe(true);
    expect(winogradPays({ ...s, num: 3 })).toBe(false);
  });
});
