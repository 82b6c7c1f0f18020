import type { FloatArray } from '../storage.js';

/**
 * The reference GEMM, written to be read: C = alpha * op(A) * op(B) + beta * C
 * with one dot product per output element (see `GemmKernel` for the layout).
 * It is the yardstick the fast kernels are tested against, not a fast path.
 */
export function gemmReference(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  offA: number,
  lda: number,
  B: FloatArray,
  offB: number,
  ldb: number,
  beta: number,
  C: FloatArray,
  offC: number,
  ldc: number,
): void {
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
}
