import { afterAll, describe, expect, it } from 'vitest';
import {
  Rng,
  ShapeError,
  allocate,
  gemmBlocked,
  gemmParallel,
  gemmReference,
  getBackend,
  setBackend,
  setThreads,
  sgemm,
  shutdownPool,
  type GemmKernel,
} from '../index.js';

afterAll(() => shutdownPool());

interface Case {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra columns in each leading dimension, and elements before each matrix. */
  pad: number;
  shared?: boolean;
}

/** Runs `kernel` on seeded operands laid out as `c` says; returns the whole C array. */
function run(kernel: GemmKernel, c: Case, seed = 1): Float32Array {
  const rng = new Rng(seed);
  const [rowsA, colsA] = c.transA ? [c.K, c.M] : [c.M, c.K];
  const [rowsB, colsB] = c.transB ? [c.N, c.K] : [c.K, c.N];
  const lda = colsA + c.pad;
  const ldb = colsB + c.pad;
  const ldc = c.N + c.pad;
  const random = (n: number): Float32Array => {
    const a = allocate(n, { shared: c.shared }) as Float32Array;
    for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
    return a;
  };
  const A = random(c.pad + rowsA * lda);
  const B = random(c.pad + rowsB * ldb);
  const C = random(c.pad + c.M * ldc);
  kernel(c.transA, c.transB, c.M, c.N, c.K, c.alpha, A, c.pad, lda, B, c.pad, ldb, c.beta, C, c.pad, ldc);
  return C;
}

function expectClose(actual: Float32Array, expected: Float32Array, K: number): void {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  // Both accumulate in float64; what differs is the summation order and one float32 rounding.
  expect(worst).toBeLessThanOrEqual(1e-6 * Math.max(1, K));
}

const sizes = [1, 3, 17, 129];
const cases: Case[] = [];
for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    for (const [M, N, K] of [
      [1, 1, 1],
      [3, 17, 129],
      [129, 3, 17],
      [17, 129, 3],
      [129, 129, 129],
      [5, 7, 0],
    ] as const) {
      cases.push({ transA, transB, M, N, K, alpha: 1, beta: 0, pad: 0 });
    }
    for (const M of sizes) cases.push({ transA, transB, M, N: 17, K: 129, alpha: -0.5, beta: 0.75, pad: 3 });
  }
}

describe('gemm kernels against the reference triple loop', () => {
  for (const kernel of [gemmBlocked, gemmParallel]) {
    it.each(cases)(`${kernel.name} transA=$transA transB=$transB M=$M N=$N K=$K alpha=$alpha beta=$beta pad=$pad`, (c) => {
      setThreads(2);
      expectClose(run(kernel, c), run(gemmReference, c), c.K);
    });
  }

  it('leaves elements outside C untouched (offsets and leading dimensions)', () => {
    const c: Case = { transA: false, transB: true, M: 17, N: 3, K: 5, alpha: 1, beta: 0, pad: 4 };
    const untouched = run(() => undefined, c);
    const result = run(gemmBlocked, c);
    for (let i = 0; i < c.pad; i++) expect(result[i]).toBe(untouched[i]);
    for (let row = 0; row < c.M; row++) {
      for (let j = c.N; j < c.N + c.pad; j++) expect(result[c.pad + row * (c.N + c.pad) + j]).toBe(untouched[c.pad + row * (c.N + c.pad) + j]);
    }
  });

  it('leaves the elements between C\'s rows untouched on threads, with C off shared memory and beta = 0', () => {
    setThreads(2);
    const c: Case = { transA: false, transB: false, M: 130, N: 301, K: 257, alpha: 1, beta: 0, pad: 3, shared: false };
    const untouched = run(() => undefined, c);
    const result = run(gemmParallel, c);
    for (let row = 0; row < c.M; row++) {
      for (let j = c.N; j < c.N + c.pad; j++) expect(result[c.pad + row * (c.N + c.pad) + j]).toBe(untouched[c.pad + row * (c.N + c.pad) + j]);
    }
  });

  it('writes C with beta = 0 even where C held NaN', () => {
    const C = new Float32Array([NaN, NaN]);
    gemmBlocked(false, false, 1, 2, 1, 1, new Float32Array([2]), 0, 1, new Float32Array([3, 4]), 0, 2, 0, C, 0, 2);
    expect([...C]).toEqual([6, 8]);
  });

  it('computes a small product known by hand', () => {
    // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]
    const C = new Float32Array(4);
    sgemm(false, false, 2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), 2, new Float32Array([5, 6, 7, 8]), 2, 0, C, 2);
    expect([...C]).toEqual([19, 22, 43, 50]);
    // A^T * B^T with A = [1 3; 2 4] stored, B = [5 7; 6 8] stored gives the same product
    sgemm(true, true, 2, 2, 2, 1, new Float32Array([1, 3, 2, 4]), 2, new Float32Array([5, 7, 6, 8]), 2, 0, C, 2);
    expect([...C]).toEqual([19, 22, 43, 50]);
  });
});

describe('parallel gemm', () => {
  const big: Case = { transA: false, transB: false, M: 130, N: 301, K: 257, alpha: 1.5, beta: 0.5, pad: 2 };

  it.each([
    { ...big, shared: true },
    { ...big, shared: false },
    { ...big, M: 301, N: 130, transA: true, transB: true, shared: true },
  ])('gives the same bits on 2 threads as on 1 (M=$M N=$N shared=$shared)', (c) => {
    setThreads(1);
    const serial = run(gemmParallel, c);
    setThreads(2);
    const parallel = run(gemmParallel, c);
    expect(parallel).toEqual(serial);
  });

  // Operands off shared memory are copied into staging kept between calls: a smaller call after a
  // larger one must read only its own elements, a larger one must grow the staging, on both backends.
  it.each(['js', 'wasm'] as const)('reuses its staging for operands off shared memory over calls of changing sizes (%s backend)', (backend) => {
    const initial = getBackend().name;
    setBackend(backend);
    setThreads(2);
    try {
      for (const [M, N, K, seed] of [[130, 301, 257, 1], [64, 90, 200, 2], [200, 310, 300, 3], [130, 301, 257, 4]] as const) {
        const c: Case = { transA: false, transB: false, M, N, K, alpha: 1, beta: 0.5, pad: 1, shared: false };
        expectClose(run(getBackend().gemm, c, seed), run(gemmReference, c, seed), K);
      }
    } finally {
      setBackend(initial);
    }
  });

  it('survives many calls in a row and interleaved with async work', async () => {
    setThreads(2);
    const c: Case = { transA: false, transB: false, M: 64, N: 200, K: 200, alpha: 1, beta: 0, pad: 0, shared: true };
    const expected = run(gemmReference, c);
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i % 3));
        return run(gemmParallel, c);
      }),
    );
    for (const result of results) expectClose(result, expected, c.K);
  });
});

describe('sgemm argument checks', () => {
  it('names the matrix and the sizes when an array is too short', () => {
    expect(() => sgemm(false, false, 2, 2, 2, 1, new Float32Array(3), 2, new Float32Array(4), 2, 0, new Float32Array(4), 2)).toThrow(
      /sgemm M=2 N=2 K=2: A stored 2 x 2 with ld 2 from offset 0 needs 4 elements, its array has 3/,
    );
    expect(() => sgemm(false, true, 2, 3, 4, 1, new Float32Array(8), 4, new Float32Array(12), 3, 0, new Float32Array(6), 3)).toThrow(
      ShapeError,
    );
    expect(() =>
      sgemm(false, false, 2, 2, 2, 1, new Float32Array(8), 2, new Float32Array(4), 2, 0, new Float32Array(4), 2, { c: 1 }),
    ).toThrow(/C stored 2 x 2 with ld 2 from offset 1 needs 5 elements/);
  });
});
