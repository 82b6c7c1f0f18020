import type { FloatArray } from '../storage.js';

/**
 * The positional form every GEMM kernel shares (row-major BLAS semantics):
 *
 *   C = alpha * op(A) * op(B) + beta * C,   op(A): M x K,  op(B): K x N,  C: M x N
 *
 * op(A) = A (stored M x K, element (i, p) at `A[offA + i * lda + p]`) or, when
 * `transA`, A^T (A stored K x M, element (i, p) at `A[offA + p * lda + i]`); the same for B.
 * C's element (i, j) is at `C[offC + i * ldc + j]`. With beta = 0, C is only written
 * (NaN in C does not leak through), as in BLAS.
 */
export type GemmKernel = (
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
) => void;
