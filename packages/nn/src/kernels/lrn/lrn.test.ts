import { Tensor, allocate, getBackend, getThreads, setBackend, setThreads, shutdownPool, type DType, type FloatArray } from '@cnn/tensor';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { lrnBackward, lrnBackwardReference, lrnForward, lrnForwardReference, type LrnSpec, type NormRegion } from './index.js';
import { lrnWasmKernels } from './wasm.js';

afterAll(() => shutdownPool());

function random(length: number, seed: number, dtype: DType, shared: boolean, low = -1, high = 1): FloatArray {
  const values = allocate(length, { dtype, shared });
  values.set(Tensor.uniform([length], seed, low, high, { dtype }).data);
  return values;
}

/** Runs both kernels forward and backward; returns the largest relative differences. */
function compare(spec: LrnSpec, dtype: DType, shared = false): { y: number; scale: number; dx: number } {
  const count = spec.num * spec.channels * spec.height * spec.width;
  const x = random(count, 1, dtype, shared, -2, 2);
  const dy = random(count, 2, dtype, shared);
  const run = (forward: typeof lrnForwardReference, backward: typeof lrnBackwardReference) => {
    const scale = allocate(count, { dtype, shared });
    const y = allocate(count, { dtype, shared });
    // Stale values in dx must not survive: backward overwrites.
    const dx = allocate(count, { dtype, shared }).fill(7);
    forward(x, scale, y, spec);
    backward(x, y, scale, dy, dx, spec);
    return { y, scale, dx };
  };
  const reference = run(lrnForwardReference, lrnBackwardReference);
  // The backend's kernels (the wasm ones fall back to TypeScript for float64 and arrays off the heap).
  const fast = run(lrnForward, lrnBackward);
  const maxDiff = (a: FloatArray, b: FloatArray): number => {
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
    return worst;
  };
  return { y: maxDiff(fast.y, reference.y), scale: maxDiff(fast.scale, reference.scale), dx: maxDiff(fast.dx, reference.dx) };
}

const grid: { x: [number, number, number, number]; n: number; alpha: number; beta: number; k: number }[] = [
  { x: [2, 7, 3, 3], n: 5, alpha: 1, beta: 0.75, k: 1 },
  { x: [2, 7, 3, 3], n: 3, alpha: 2, beta: 0.6, k: 2 },
  { x: [2, 3, 4, 5], n: 5, alpha: 3, beta: 0.5, k: 1 },
  { x: [3, 4, 1, 3], n: 1, alpha: 1.5, beta: 1, k: 0.5 },
  { x: [1, 2, 2, 3], n: 7, alpha: 1e-4, beta: 0.75, k: 1 },
  { x: [2, 5, 9, 7], n: 5, alpha: 1e-4, beta: 0.75, k: 1 },
];

describe('LRN kernels: fast matches reference', () => {
  for (const region of ['ACROSS_CHANNELS', 'WITHIN_CHANNEL'] as const) {
    for (const dtype of ['float64', 'float32'] as const) {
      it.each(grid)(`${region} ${dtype} x=$x n=$n alpha=$alpha beta=$beta k=$k`, ({ x: [num, channels, height, width], n, alpha, beta, k }) => {
        const tolerance = dtype === 'float64' ? 1e-13 : 1e-6;
        const diff = compare({ region, num, channels, height, width, localSize: n, alpha, beta, k }, dtype);
        expect(diff.scale).toBeLessThanOrEqual(tolerance);
        expect(diff.y).toBeLessThanOrEqual(tolerance);
        expect(diff.dx).toBeLessThanOrEqual(tolerance);
      });
    }
  }

  it.each(grid.filter(({ beta }) => beta === 0.75).flatMap((c) => [{ ...c, x: [c.x[0], c.x[1], c.x[2], c.x[3] + 4] as typeof c.x }, c]))(
    'ACROSS_CHANNELS float32 with the wasm backend, on its heap (SIMD kernels forward and backward, float32 sums) x=$x n=$n',
    ({ x: [num, channels, height, width], n, alpha, beta, k }) => {
      const initial = getBackend().name;
      setBackend('wasm');
      const lrnAcross = vi.spyOn(lrnWasmKernels.lrnAcross, 'run');
      const lrnAcrossBackward = vi.spyOn(lrnWasmKernels.lrnAcrossBackward, 'run');
      try {
        const diff = compare({ region: 'ACROSS_CHANNELS', num, channels, height, width, localSize: n, alpha, beta, k }, 'float32', true);
        // Whole groups of four pixels ran in wasm; any rest of a run ran in TypeScript.
        expect(lrnAcross.mock.results.some((result) => result.value === true)).toBe(true);
        expect(lrnAcrossBackward.mock.results.some((result) => result.value === true)).toBe(true);
        expect(diff.scale).toBeLessThanOrEqual(1e-6);
        expect(diff.y).toBeLessThanOrEqual(1e-6);
        expect(diff.dx).toBeLessThanOrEqual(1e-6);
      } finally {
        lrnAcross.mockRestore();
        lrnAcrossBackward.mockRestore();
        setBackend(initial);
      }
    },
  );

  it.each(['ACROSS_CHANNELS', 'WITHIN_CHANNEL'] as NormRegion[])('%s split over 2 threads x=[4,16,32,32] n=5 matches the reference', (region) => {
    const threads = getThreads();
    setThreads(2);
    try {
      const diff = compare({ region, num: 4, channels: 16, height: 32, width: 32, localSize: 5, alpha: 1e-4, beta: 0.75, k: 1 }, 'float32', true);
      expect(diff.scale).toBeLessThanOrEqual(1e-6);
      expect(diff.y).toBeLessThanOrEqual(1e-6);
      expect(diff.dx).toBeLessThanOrEqual(1e-6);
    } finally {
      setThreads(threads);
    }
  });
});
