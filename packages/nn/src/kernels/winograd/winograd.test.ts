import { Rng, Tensor, allclose, allocate, convOutputSize, getBackend, setBackend, setThreads, shutdownPool, type DType, type FloatArray } from '@cnn/tensor';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { convolutionBackwardReference, convolutionForwardReference, type Clamp } from '../convolution/reference.js';
import type { ConvolutionShape } from '../convolution/shape.js';
import { convolutionForwardWinograd, convolutionInputGradientWinograd, winogradApplies, winogradPays, winogradPaysBackward } from './fast.js';
import { filterRunWasm, outputRunWasm, phaseWasmKernels, splitPhasesWasm, tileRunWasm, winogradWasmKernels } from './wasm.js';
import { phaseShape, splitPhases } from './phases.js';
import { filterRunJs, outputRunJs, tileRunJs } from './unrolled.js';
import { filterRun, outputRun, tileRun } from './transforms.js';
import { F2X2_3X3, F2X2_5X5 } from './tiles.js';

afterAll(() => shutdownPool());

function shape(num: number, channels: number, height: number, width: number, numOutput: number, group: number, pad: [number, number], kernel = 3): ConvolutionShape {
  return { num, channels, height, width, numOutput, group, kernelH: kernel, kernelW: kernel, strideH: 1, strideW: 1, padH: pad[0], padW: pad[1], dilationH: 1, dilationW: 1 };
}

function random(length: number, rng: Rng, dtype: DType, shared: boolean): FloatArray {
  const a = allocate(length, { dtype, shared });
  for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/**
 * Expects the fast kernel's result equal to the reference's, to 1e-12 (float64) or, absolute and
 * relative, 1e-5 in float32 for 3 x 3 kernels and 5e-5 for 5 x 5: F(2x2, 5x5)'s transforms
 * multiply values by up to 5/2 and its filters' by 16/15 where F(2x2, 3x3)'s stay within 1,
 * and sum 6 terms a row against 2-3, so its rounding is several times larger.
 */
function expectSame(fast: FloatArray, reference: FloatArray, dtype: DType, kernel = 3): void {
  const tolerance = dtype === 'float64' ? 1e-12 : kernel === 3 ? 1e-5 : 5e-5;
  const asTensor = (a: FloatArray) => Tensor.fromArray(a, [a.length], { dtype: 'float64' });
  const result = allclose(asTensor(fast), asTensor(reference), { atol: tolerance, rtol: tolerance });
  expect(result.ok, result.message).toBe(true);
}

/** Runs both kernels on the same random operands and expects the same output (see `expectSame`), clamped if asked. */
function compare(s: ConvolutionShape, dtype: DType, withBias: boolean, shared = false, clamp?: Clamp): void {
  const rng = new Rng(5);
  const [outH, outW] = convOutputSize(s);
  const x = random(s.num * s.channels * s.height * s.width, rng, dtype, shared);
  const weight = random(s.numOutput * (s.channels / s.group) * s.kernelH * s.kernelW, rng, dtype, shared);
  const bias = withBias ? random(s.numOutput, rng, dtype, shared) : undefined;
  const size = s.num * s.numOutput * outH * outW;
  const fast = allocate(size, { dtype, shared }).fill(NaN);
  const reference = allocate(size, { dtype }).fill(NaN);
  convolutionForwardWinograd(x, weight, bias, fast, s, clamp?.min, clamp?.max);
  convolutionForwardReference(x, weight, bias, reference, s, clamp);
  expectSame(fast, reference, dtype, s.kernelH);
}

describe('the tiles: A^T [(G g) ⊙ (B^T d)] is the correlation y_i = sum over j of d_(i+j) g_j, exactly in float64', () => {
  it.each([F2X2_3X3, F2X2_5X5].map((tile) => [`F(2x2, ${tile.r}x${tile.r})`, tile] as const))('%s', (_, tile) => {
    const rng = new Rng(3);
    const { alpha, r } = tile;
    // Small integers and the matrices' binary fractions: every product is exact but the thirds', so compare to 1e-12.
    const d = Array.from({ length: alpha }, () => Math.round(rng.uniform(-8, 8)));
    const g = Array.from({ length: r }, () => Math.round(rng.uniform(-8, 8)));
    const gg = tile.g.map((row) => row.reduce((sum, c, j) => sum + c * g[j]!, 0));
    const bd = tile.bT.map((row) => row.reduce((sum, c, l) => sum + c * d[l]!, 0));
    const y = tile.aT.map((row) => row.reduce((sum, c, k) => sum + c * gg[k]! * bd[k]!, 0));
    const direct = [0, 1].map((i) => g.reduce((sum, tap, j) => sum + d[i + j]! * tap, 0));
    for (let i = 0; i < 2; i++) expect(Math.abs(y[i]! - direct[i]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(direct[i]!)));
  });
});

describe.each([3, 5])('Winograd F(2x2, r x r), r = %i, against the reference loops', (kernel) => {
  const grid: ConvolutionShape[] = [];
  const sizes = kernel === 3 ? [[4, 4], [7, 7], [6, 9], [13, 13], [3, 5]] : [[6, 6], [9, 9], [8, 13], [27, 27], [5, 7]];
  for (const [h, w] of sizes as [number, number][]) {
    for (const pad of [[0, 0], [1, 1], [2, 2], [1, 0]] as [number, number][]) {
      for (const group of [1, 2]) {
        if (h + 2 * pad[0] < kernel || w + 2 * pad[1] < kernel) continue;
        grid.push(shape(3, 4, h, w, 6, group, pad, kernel));
      }
    }
  }
  for (const dtype of ['float64', 'float32'] as const) {
    it.each(grid.map((s) => [`x=[${s.num},${s.channels},${s.height},${s.width}] p=${s.padH}x${s.padW} g=${s.group}`, s] as const))(`${dtype} %s`, (_, s) => {
      compare(s, dtype, true);
      compare(s, dtype, false);
      compare(s, dtype, true, false, { min: 0, max: Infinity });
    });
  }
  it(`applies to ${kernel} x ${kernel} kernels with stride 1 and no dilation only`, () => {
    const s = shape(1, 4, 7, 7, 4, 1, [1, 1], kernel);
    expect(winogradApplies(s)).toBe(true);
    expect(winogradApplies({ ...s, strideH: 2 })).toBe(false);
    expect(winogradApplies({ ...s, dilationW: 2 })).toBe(false);
    expect(winogradApplies({ ...s, kernelH: 7, kernelW: 7 })).toBe(false);
    expect(winogradApplies({ ...s, kernelW: kernel === 3 ? 5 : 3 })).toBe(false);
  });
  // Shared float32 operands are where the wasm backend runs its own transforms (on its heap).
  for (const backend of ['js', 'wasm'] as const) {
    it(`${backend} backend, shared float32 over 2 threads: the grid, and chunks of several images`, () => {
      const initial = getBackend().name;
      setBackend(backend);
      setThreads(2);
      const { winogradFilters, winogradTiles, winogradOutputs } = winogradWasmKernels[kernel as 3 | 5];
      const spies = [vi.spyOn(winogradFilters, 'run'), vi.spyOn(winogradTiles, 'run'), vi.spyOn(winogradOutputs, 'run')];
      try {
        for (const s of grid) {
          compare(s, 'float32', true, true);
          compare(s, 'float32', false, true);
          compare(s, 'float32', true, true, { min: -0.5, max: 0.5 });
        }
        compare(shape(9, 32, 13, 13, 48, 2, [1, 1], kernel), 'float32', true, true);
        compare(shape(3, 16, 30, 30, 16, 1, [1, 1], kernel), 'float32', true, true);
        // The wasm backend ran its own kernels (on the calling thread; the workers' are out of sight of spies).
        for (const spy of spies) expect(spy.mock.results.some((result) => result.value === true)).toBe(backend === 'wasm');
      } finally {
        for (const spy of spies) spy.mockRestore();
        setBackend(initial);
      }
    });
  }
});

describe('a strided convolution as a stride-1 one over its phases, by Winograd, against the reference loops', () => {
  // kernel, stride: phases of 3 x 3 (11/4 as CaffeNet's conv1, 5/2, 6/2, 7/3) and of 5 x 5 (9/2).
  const cases: ConvolutionShape[] = [];
  for (const [kernel, stride] of [[11, 4], [5, 2], [6, 2], [7, 3], [9, 2]]) {
    for (const [h, w] of [[kernel + 8, kernel + 8], [2 * kernel + 1, kernel + 3]]) {
      for (const pad of [0, 1, 2]) {
        for (const group of [1, 2]) cases.push({ ...shape(3, 4, h!, w!, 6, group, [pad, pad], kernel!), strideH: stride!, strideW: stride! });
      }
    }
  }
  const name = (s: ConvolutionShape) => `x=[${s.num},${s.channels},${s.height},${s.width}] k=${s.kernelH} s=${s.strideH} p=${s.padH} g=${s.group}`;
  for (const dtype of ['float64', 'float32'] as const) {
    it.each(cases.map((s) => [name(s), s] as const))(`${dtype} %s`, (_, s) => {
      compare(s, dtype, true);
      compare(s, dtype, false, false, { min: 0, max: Infinity });
    });
  }
  it.each(['js', 'wasm'] as const)('%s backend, shared float32 over 2 threads', (backend) => {
    const initial = getBackend().name;
    setBackend(backend);
    setThreads(2);
    try {
      for (const s of cases) compare(s, 'float32', true, true);
      compare({ ...shape(9, 3, 59, 59, 16, 1, [0, 0], 11), strideH: 4, strideW: 4 }, 'float32', true, true);
    } finally {
      setBackend(initial);
    }
  });
  it.each(cases.filter((s) => s.group === 1).map((s) => [name(s), s] as const))('the wasm phase split equals the TypeScript one: %s', (_, s) => {
    const initial = getBackend().name;
    setBackend('wasm');
    const spy = vi.spyOn(phaseWasmKernels.winogradPhase, 'run');
    try {
      const phases = phaseShape(s)!;
      const x = heapArray(s.num * s.channels * s.height * s.width, new Rng(9));
      const size = phases.channels * phases.height * phases.width;
      const [wasm, reference] = [heapArray(size + 2).fill(NaN), heapArray(size + 2).fill(NaN)];
      splitPhasesWasm(x, s, 2, phases, wasm, 1);
      splitPhases(x, s, 2, phases, reference, 1);
      expect(spy.mock.results.every((result) => result.value === true)).toBe(true);
      expect([...wasm]).toEqual([...reference]);
      // Every phase float written, none outside [1, 1 + size).
      expect(reference.subarray(1, 1 + size).some(Number.isNaN)).toBe(false);
      expect([reference[0], reference[size + 1]]).toEqual([NaN, NaN]);
    } finally {
      spy.mockRestore();
      setBackend(initial);
    }
  });
  it('applies to square kernels with equal strides whose phases are 3 x 3 or 5 x 5, and not to their input gradient', () => {
    const s = { ...shape(8, 3, 227, 227, 96, 1, [0, 0], 11), strideH: 4, strideW: 4 };
    setThreads(2);
    expect(winogradApplies(s)).toBe(true);
    expect(winogradPays(s)).toBe(true);
    expect(winogradPaysBackward(s)).toBe(false);
    expect(winogradApplies({ ...s, strideW: 2 })).toBe(false);
    expect(winogradApplies({ ...s, kernelH: 7, kernelW: 7 })).toBe(false);
    expect(winogradApplies({ ...s, dilationH: 2, dilationW: 2 })).toBe(false);
  });
});

/** A heap float32 array of `length` random values (or zeros). */
function heapArray(length: number, rng?: Rng): FloatArray {
  const a = allocate(length, { dtype: 'float32', shared: true });
  if (rng) for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

// The wasm kernels, and the js backend's (F(2x2, 3x3)'s written out), against the general TypeScript ones.
const fastTransforms = [
  { name: 'wasm', filters: filterRunWasm, tiles: tileRunWasm, outputs: outputRunWasm },
  { name: 'js', filters: filterRunJs, tiles: tileRunJs, outputs: outputRunJs },
];
describe.each(
  [F2X2_3X3, F2X2_5X5].flatMap((tile) => fastTransforms.map((fast) => [fast.name, `F(2x2, ${tile.r}x${tile.r})`, tile, fast] as const)),
)('the %s transforms of %s against the general TypeScript ones', (_, __, tile, fast) => {
  const { alpha, r } = tile;
  const positions = alpha * alpha;
  const withWasm = (body: () => void) => {
    const initial = getBackend().name;
    setBackend('wasm');
    try {
      body();
    } finally {
      setBackend(initial);
    }
  };
  it('filters: U = G g G^T', () => withWasm(() => {
    const rng = new Rng(7);
    const count = 5, stride = 7;
    const weight = heapArray(count * r * r, rng);
    const [wasm, reference] = [heapArray(positions * stride), heapArray(positions * stride)];
    fast.filters(tile, weight, 0, wasm, 1, count, stride);
    filterRun(tile, weight, 0, reference, 1, count, stride);
    expectSame(wasm, reference, 'float32');
  }));
  // Row widths of 1-9 tiles: no group of four, groups with and without tiles left over.
  it.each([[3, 1, 0], [5, 4, 1], [7, 9, 2], [6, 13, 0], [13, 27, 2]])('tiles and outputs: %i x %i planes, pad %i', (height, width, pad) => {
    withWasm(() => {
      const rng = new Rng(8);
      const [outH, outW] = [height + 2 * pad - r + 1, width + 2 * pad - r + 1];
      if (outH < 1 || outW < 1) return;
      const [tilesH, tilesW] = [Math.ceil(outH / 2), Math.ceil(outW / 2)];
      const channels = 3, rowStep = 2 * tilesH * tilesW + 1, stride = channels * rowStep;
      const paddedW = 2 * tilesW + alpha - 2;
      const run = { channels, rowStep, stride, tilesH, tilesW };
      const input = { ...run, planeStep: height * width, height, width, padH: pad, padW: pad, paddedW };
      const x = heapArray(channels * height * width, rng);
      // The padded plane, with room for the group loads' reach past its last row.
      const padded = heapArray((2 * tilesH + alpha - 2) * paddedW + 8);
      const [vWasm, vReference] = [heapArray(positions * stride), heapArray(positions * stride)];
      fast.tiles(tile, x, 0, padded, vWasm, 0, input);
      padded.fill(0);
      tileRun(tile, x, 0, padded, vReference, 0, input);
      expectSame(vWasm, vReference, 'float32');

      // Clamped to [-0.5, 0.5], as a fused Clip would.
      const output = { ...run, planeStep: outH * outW, outH, outW, low: -0.5, high: 0.5 };
      const bias = heapArray(channels, rng);
      const [yWasm, yReference] = [heapArray(channels * outH * outW).fill(NaN), heapArray(channels * outH * outW).fill(NaN)];
      fast.outputs(tile, vReference, 0, yWasm, 0, bias, 0, output);
      outputRun(tile, vReference, 0, yReference, 0, bias, 0, output);
      expectSame(yWasm, yReference, 'float32');
    });
  });
});
/** The input gradient by Winograd against the reference backward's dx, on the same random operands. */
function compareInputGradient(s: ConvolutionShape, dtype: DType, shared = false): void {
  const rng = new Rng(6);
  const [outH, outW] = convOutputSize(s);
  const x = random(s.num * s.channels * s.height * s.width, rng, dtype, shared);
  const weight = random(s.numOutput * (s.channels / s.group) * s.kernelH * s.kernelW, rng, dtype, shared);
  const dy = random(s.num * s.numOutput * outH * outW, rng, dtype, shared);
  const fast = allocate(x.length, { dtype, shared }).fill(NaN);
  const reference = allocate(x.length, { dtype });
  convolutionInputGradientWinograd(weight, dy, fast, s);
  convolutionBackwardReference(x, weight, dy, { dx: reference }, s);
  expectSame(fast, reference, dtype, s.kernelH);
}

describe.each([3, 5])('the input gradient by F(2x2, r x r), r = %i: dy convolved with the turned filters, against the reference backward', (kernel) => {
  const grid: ConvolutionShape[] = [];
  const sizes = kernel === 3 ? [[4, 4], [7, 7], [6, 9], [13, 13]] : [[6, 6], [9, 9], [8, 13], [27, 27]];
  const pads = kernel === 3 ? [[0, 0], [1, 1], [2, 2], [1, 0], [0, 2]] : [[0, 0], [1, 1], [2, 2], [4, 4], [3, 0]];
  for (const [h, w] of sizes as [number, number][]) {
    for (const pad of pads as [number, number][]) {
      for (const group of [1, 2]) grid.push(shape(3, 4, h, w, 6, group, pad, kernel));
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
      compareInputGradient(shape(9, 32, 13, 13, 48, 2, [1, 1], kernel), 'float32', true);
    } finally {
      setBackend(initial);
    }
  });
  it(`is taken by the fast backward where the forward takes Winograd, with pads of at most ${kernel - 1}`, () => {
    setThreads(2);
    const s = shape(8, 16, 13, 13, 16, 1, [1, 1], kernel);
    onBackend('wasm', () => {
      expect(winogradPaysBackward(s)).toBe(true);
      expect(winogradPaysBackward({ ...s, padH: kernel })).toBe(false);
      expect(winogradPaysBackward({ ...s, num: 1 })).toBe(false);
    });
    onBackend('js', () => expect(winogradPaysBackward(s)).toBe(kernel === 3));
  });
});

describe('when the fast convolution takes Winograd', () => {
  it('F(2x2, 3x3) from 4 images per thread, and never for other kernels', () => {
    const s = shape(8, 16, 13, 13, 16, 1, [1, 1]);
    setThreads(2);
    expect(winogradPays(s)).toBe(true);
    expect(winogradPays({ ...s, num: 7 })).toBe(false);
    expect(winogradPays({ ...s, strideW: 2 })).toBe(false);
    setThreads(1);
    expect(winogradPays({ ...s, num: 4 })).toBe(true);
    expect(winogradPays({ ...s, num: 3 })).toBe(false);
  });
  it('F(2x2, 5x5) from 1 image per thread on the wasm backend, never on the js one', () => {
    const s = shape(2, 16, 27, 27, 16, 2, [2, 2], 5);
    setThreads(2);
    onBackend('wasm', () => {
      expect(winogradPays(s)).toBe(true);
      expect(winogradPays({ ...s, num: 1 })).toBe(false);
      expect(winogradPays({ ...s, strideH: 2 })).toBe(false);
      setThreads(1);
      expect(winogradPays({ ...s, num: 1 })).toBe(true);
    });
    onBackend('js', () => expect(winogradPays({ ...s, num: 64 })).toBe(false));
  });
});

/** Runs `body` with `backend` set, then sets back the one before. */
function onBackend(backend: 'js' | 'wasm', body: () => void): void {
  const initial = getBackend().name;
  setBackend(backend);
  try {
    body();
  } finally {
    setBackend(initial);
  }
}

/*
 * The float32 error of Winograd on CaffeNet's conv2 (F(2x2, 5x5); 96 -> 256 channels in 2 groups,
 * 27 x 27, pad 2) and conv1 (F(2x2, 3x3) over the phases; 3 -> 96 channels, 227 x 227, 11 x 11,
 * stride 4), against the float64 reference loops, under the conformance suite's per-tensor
 * tolerance |a - e| <= 1e-5 max(1, max |e|) + 1e-4 |e| (shared/fixtures/caffe/README.md).
 * Weights of spread 0.01 like CaffeNet's filler; conv2's inputs in [0, 100) like a ReLU's and
 * LRN's outputs, conv1's in [-128, 128) like mean-subtracted pixels. Measured on wasm: conv2
 * 0.071 x the tolerance (im2col + GEMM: 0.057), conv1 0.020 (0.025); on js 0.017 and 0.006.
 */
describe("Winograd's float32 error on CaffeNet's conv1 and conv2, against float64", () => {
  const conv1 = { ...shape(1, 3, 227, 227, 96, 1, [0, 0], 11), strideH: 4, strideW: 4 };
  const conv2 = shape(1, 96, 27, 27, 256, 2, [2, 2], 5);
  const cases = (['js', 'wasm'] as const).flatMap((backend) => [[backend, 'conv1', conv1, -128, 128] as const, [backend, 'conv2', conv2, 0, 100] as const]);
  it.each(cases)('%s backend, %s: within a fifth of the conformance tolerance', (backend, _, s, low, high) => {
    const initial = getBackend().name;
    setBackend(backend);
    try {
      const [outH, outW] = convOutputSize(s);
      const rng = new Rng(11);
      const x = allocate(s.channels * s.height * s.width, { dtype: 'float32', shared: true });
      for (let i = 0; i < x.length; i++) x[i] = rng.uniform(low, high);
      const weight = allocate(s.numOutput * (s.channels / s.group) * s.kernelH * s.kernelW, { dtype: 'float32', shared: true });
      for (let i = 0; i < weight.length; i++) weight[i] = rng.normal(0, 0.01);
      const bias = allocate(s.numOutput, { dtype: 'float32', shared: true }).fill(1);
      const y = allocate(s.numOutput * outH * outW, { dtype: 'float32', shared: true });
      convolutionForwardWinograd(x, weight, bias, y, s);
      const expected = new Float64Array(y.length);
      convolutionForwardReference(Float64Array.from(x), Float64Array.from(weight), Float64Array.from(bias), expected, s);
      const atol = 1e-5 * Math.max(1, expected.reduce((max, e) => Math.max(max, Math.abs(e)), 0));
      let worst = 0;
      for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i]! - expected[i]!) / (atol + 1e-4 * Math.abs(expected[i]!)));
      expect(worst).toBeLessThan(0.2);
      expect(worst).toBeGreaterThan(0);
    } finally {
      setBackend(initial);
    }
  });
});
