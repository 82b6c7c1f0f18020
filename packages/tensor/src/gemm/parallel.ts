import type { GemmKernel } from './types.js';
import { extent, gemmScalars, mustCopyC, onShared } from './operands.js';
import { definePoolJob } from '../pool/typed-job.js';
import { partRange } from '../pool/partition.js';
import { getThreads } from '../pool/settings.js';
import { gemmBlocked } from './blocked.js';

/** Below this many flops (2 M N K) a GEMM runs on one thread: waking workers would cost more. */
const MIN_PARALLEL_FLOPS = 4e6;

/**
 * One part of a parallel GEMM. The output is cut along its longer side (columns of C
 * when N >= M, else rows) into bands that are multiples of the 4-wide micro-tile;
 * each part runs the blocked kernel on its band, so parts never write the same element.
 */
export const gemmPart = definePoolJob({
  module: import.meta.url,
  name: 'gemmPart',
  arrays: ['A', 'B', 'C'],
  scalars: gemmScalars,
  part: ({ A, B, C }, { transA, transB, M, N, K, alpha, offA, lda, offB, ldb, beta, offC, ldc }, part, parts) => {
    if (N >= M) {
      const [n0, n1] = partRange(N, part, parts, 4);
      if (n0 === n1) return;
      const bStart = transB ? offB + n0 * ldb : offB + n0;
      gemmBlocked(!!transA, !!transB, M, n1 - n0, K, alpha, A, offA, lda, B, bStart, ldb, beta, C, offC + n0, ldc);
    } else {
      const [m0, m1] = partRange(M, part, parts, 4);
      if (m0 === m1) return;
      const aStart = transA ? offA + m0 : offA + m0 * lda;
      gemmBlocked(!!transA, !!transB, m1 - m0, N, K, alpha, A, aStart, lda, B, offB, ldb, beta, C, offC + m0 * ldc, ldc);
    }
  },
});

/**
 * The multi-threaded GEMM: the blocked kernel split over the thread pool (see
 * `GemmKernel` for the arguments). Operands on a `SharedArrayBuffer` are used in
 * place; others are first copied into shared scratch memory (allocate tensors with
 * `{ shared: true }` to avoid that copy).
 */
export const gemmParallel: GemmKernel = function gemmParallel(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc) {
  const threads = getThreads();
  const flops = 2 * M * N * K;
  if (threads === 1 || flops < MIN_PARALLEL_FLOPS) {
    gemmBlocked(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc);
    return;
  }
  const parts = Math.min(threads, Math.ceil(flops / MIN_PARALLEL_FLOPS));
  const a = onShared(A, offA, extent(transA ? K : M, transA ? M : K, lda), 'A');
  const b = onShared(B, offB, extent(transB ? N : K, transB ? K : N, ldb), 'B');
  const c = onShared(C, offC, extent(M, N, ldc), 'C', mustCopyC(M, N, ldc, beta));
  const scalars = { transA: +transA, transB: +transB, M, N, K, alpha, offA: a.offset, lda, offB: b.offset, ldb, beta, offC: c.offset, ldc };
  gemmPart.run({ A: a.array, B: b.array, C: c.array }, scalars, parts);
  if (c.array !== C) C.set(c.array.subarray(0, extent(M, N, ldc)), offC);
};
