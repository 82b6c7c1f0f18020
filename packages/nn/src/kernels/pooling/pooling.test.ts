import { Tensor, allocate, getBackend, getThreads, setBackend, setThreads, shutdownPool, type DType, type FloatArray } from '@cnn/tensor';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  pooledSize,
  poolingBackward,
  poolingBackwardReference,
  poolingForward,
  poolingForwardReference,
  type PoolGeometry,
  type PoolMethod,
} from './index.js';
import { poolingWasmKernels } from './wasm.js';

afterAll(() => shutdownPool());

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  s: [number, number];
  p: [number, number];
}

function geometry({ x: [num, channels, height, width], k, s, p }: Case): PoolGeometry {
  return {
    num, channels, height, width,
    pooledH: pooledSize(height, k[0], s[0], p[0]),
    pooledW: pooledSize(width, k[1], s[1], p[1]),
    kernelH: k[0], kernelW: k[1], strideH: s[0], strideW: s[1], padH: p[0], padW: p[1],
  };
}

function random(length: number, seed: number, dtype: DType, shared = false): FloatArray {
  const values = allocate(length, { dtype, shared });
  values.set(Tensor.uniform([length], seed, -1, 1, { dtype }).data);
  return values;
}

/** Runs both kernels forward and backward; returns the largest differences. */
function compare(method: PoolMethod, g: PoolGeometry, dtype: DType, shared = false): { y: number; mask: boolean; dx: number } {
  const inputs = g.num * g.channels * g.height * g.width;
  const outputs = g.num * g.channels * g.pooledH * g.pooledW;
  const x = random(inputs, 1, dtype, shared);
  const dy = random(outputs, 2, dtype, shared);
  const run = (forward: typeof poolingForwardReference, backward: typeof poolingBackwardReference) => {
    const y = allocate(outputs, { dtype, shared });
    // Shared, the mask is float32 storage seen as int32, as the layer allocates it (on the wasm heap with that backend).
    const maskStore = shared ? allocate(outputs, { shared: true }) : new Float32Array(outputs);
    const mask = new Int32Array(maskStore.buffer, maskStore.byteOffset, outputs);
    // Stale values in dx must not survive: backward overwrites.
    const dx = allocate(inputs, { dtype, shared }).fill(7);
    forward(method, x, y, mask, g);
    backward(method, dy, mask, dx, g);
    return { y, mask, dx };
  };
  const reference = run(poolingForwardReference, poolingBackwardReference);
  // The backend's kernels (the wasm one falls back to TypeScript for float64 and arrays off the heap).
  const fast = run(poolingForward, poolingBackward);
  const maxDiff = (a: FloatArray, b: FloatArray): number => {
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    return worst;
  };
  return {
    y: maxDiff(fast.y, reference.y),
    mask: fast.mask.every((v, i) => v === reference.mask[i]),
    dx: maxDiff(fast.dx, reference.dx),
  };
}

const grid: Case[] = [
  { x: [2, 3, 7, 7], k: [3, 3], s: [2, 2], p: [0, 0] },
  { x: [2, 3, 7, 7], k: [3, 3], s: [2, 2], p: [1, 1] },
  { x: [2, 2, 6, 5], k: [2, 2], s: [1, 1], p: [0, 0] },
  { x: [1, 2, 5, 5], k: [3, 3], s: [2, 2], p: [2, 2] },
  { x: [3, 2, 9, 8], k: [3, 2], s: [2, 1], p: [1, 0] },
  { x: [2, 1, 3, 3], k: [2, 2], s: [2, 2], p: [1, 1] },
  { x: [2, 4, 13, 13], k: [3, 3], s: [2, 2], p: [0, 0] },
  { x: [1, 3, 5, 4], k: [5, 4], s: [1, 1], p: [0, 0] },
];

describe('pooling kernels: fast matches reference', () => {
  for (const method of ['MAX', 'AVE'] as const) {
    for (const dtype of ['float64', 'float32'] as const) {
      it.each(grid)(`${method} ${dtype} x=$x k=$k s=$s p=$p`, (c) => {
        const tolerance = dtype === 'float64' ? 1e-14 : 1e-6;
        const diff = compare(method, geometry(c), dtype);
        expect(diff.y).toBeLessThanOrEqual(tolerance);
        expect(diff.dx).toBeLessThanOrEqual(tolerance);
        if (method === 'MAX') expect(diff.mask).toBe(true);
      });
    }
  }

  it.each(grid)('MAX float32 with the wasm backend, on its heap (SIMD kernel) x=$x k=$k s=$s p=$p', (c) => {
    const initial = getBackend().name;
    setBackend('wasm');
    const maxPool = vi.spyOn(poolingWasmKernels.maxPool, 'run');
    try {
      const diff = compare('MAX', geometry(c), 'float32', true);
      expect(maxPool.mock.results.some((result) => result.value === true)).toBe(true);
      expect(diff.y).toBe(0);
      expect(diff.mask).toBe(true);
      expect(diff.dx).toBe(0);
    } finally {
      maxPool.mockRestore();
      setBackend(initial);
    }
  });

  it.each(['MAX', 'AVE'] as const)('%s split over 2 threads x=[16,32,32,32] k=3 s=2 p=1 matches the reference', (method) => {
    const threads = getThreads();
    setThreads(2);
    try {
      const diff = compare(method, geometry({ x: [16, 32, 32, 32], k: [3, 3], s: [2, 2], p: [1, 1] }), 'float32', true);
      expect(diff.y).toBeLessThanOrEqual(1e-6);
      expect(diff.dx).toBeLessThanOrEqual(1e-6);
      if (method === 'MAX') expect(diff.mask).toBe(true);
    } finally {
      setThreads(threads);
    }
  });
});
