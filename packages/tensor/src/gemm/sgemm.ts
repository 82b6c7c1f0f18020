import { ShapeError } from '../errors.js';
import { getBackend } from '../backend.js';
import type { FloatArray } from '../storage.js';

/** Where each matrix starts in its array (all 0 by default). */
export interface GemmOffsets {
  a?: number;
  b?: number;
  c?: number;
}

/**
 * General matrix multiply with BLAS semantics, row-major:
 *
 *   C = alpha * op(A) * op(B) + beta * C,   op(A): M x K,  op(B): K x N,  C: M x N
 *
 * `transA` false: A is stored M x K with row stride `lda` (>= K); true: A is stored
 * K x M (lda >= M) and used transposed. The same for B (K x N, or N x K when `transB`).
 * `offsets` give where each matrix starts in its array. With beta = 0, C is only written.
 *
 * Runs on the current backend and on all threads of the pool (`setThreads`,
 * `CNN_THREADS`). Works on Float32Array (the js backend accumulates in float64, the wasm
 * backend in float32 SIMD lanes) and on Float64Array (for gradient checks; always the js kernel).
 */
export function sgemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  lda: number,
  B: FloatArray,
  ldb: number,
  beta: number,
  C: FloatArray,
  ldc: number,
  offsets: GemmOffsets = {},
): void {
  const offA = offsets.a ?? 0;
  const offB = offsets.b ?? 0;
  const offC = offsets.c ?? 0;
  checkGemmArguments(transA, transB, M, N, K, A, offA, lda, B, offB, ldb, C, offC, ldc);
  getBackend().gemm(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc);
}

/** Throws a `ShapeError` naming the matrix when a size, leading dimension or offset does not fit its array. */
export function checkGemmArguments(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: FloatArray,
  offA: number,
  lda: number,
  B: FloatArray,
  offB: number,
  ldb: number,
  C: FloatArray,
  offC: number,
  ldc: number,
): void {
  for (const [name, value] of [['M', M], ['N', N], ['K', K]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new ShapeError(`sgemm: ${name} = ${value} is not a size`);
  }
  checkMatrix('A', A, offA, lda, transA ? K : M, transA ? M : K, M, N, K);
  checkMatrix('B', B, offB, ldb, transB ? N : K, transB ? K : N, M, N, K);
  checkMatrix('C', C, offC, ldc, M, N, M, N, K);
}

function checkMatrix(
  name: string,
  array: FloatArray,
  offset: number,
  ld: number,
  rows: number,
  cols: number,
  M: number,
  N: number,
  K: number,
): void {
  const where = `sgemm M=${M} N=${N} K=${K}: ${name} stored ${rows} x ${cols}`;
  if (!Number.isInteger(ld) || ld < Math.max(1, cols)) throw new ShapeError(`${where} needs ld${name.toLowerCase()} >= ${Math.max(1, cols)}, got ${ld}`);
  if (!Number.isInteger(offset) || offset < 0) throw new ShapeError(`${where}: offset ${offset} is not valid`);
  const end = rows === 0 || cols === 0 ? offset : offset + (rows - 1) * ld + cols;
  if (end > array.length) {
    throw new ShapeError(`${where} with ld ${ld} from offset ${offset} needs ${end} elements, its array has ${array.length}`);
  }
}
