import type { GemmKernel } from './types.js';

/**
 * The reference GEMM, written to be read: C = alpha * op(A) * op(B) + beta * C
 * with one dot product per output element (see `GemmKernel` for the layout).
 * It is the yardstick the fast kernels are tested against, not a fast path.
 */
export const gemmReference: GemmKernel = function gemmReference(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc) {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let dot = 0;
      for (let p = 0; p < K; p++) {
        const a = transA ? A[offA + p * lda + i]! : A[offA + i * lda + p]!;
        const b = transB ? B[offB + j * ldb + p]! : B[offB + p * ldb + j]!;
        dot += a * b;
      }
      const c = offC + i * ldc + j;
      C[c] = beta === 0 ? alpha * dot : alpha * dot + beta * C[c]!;
    }
  }
};
