import { isShared, type FloatArray } from '../storage.js';

/** Elements spanned by a rows x cols matrix with leading dimension ld. */
export function extent(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/**
 * `array` itself if it is on shared memory (the pool's workers can use it in place), else
 * its [offset, offset + length) in fresh shared memory, copied in when `copyIn`. The copy
 * gets a buffer of its own, never the wasm heap: it lives for one call, and heap memory is
 * only given back once the garbage collector has run, which a loop of calls may not let happen.
 */
export function onShared(array: FloatArray, offset: number, length: number, copyIn = true): { array: FloatArray; offset: number } {
  if (isShared(array)) return { array, offset };
  const bytes = length * array.BYTES_PER_ELEMENT;
  const copy = array instanceof Float64Array ? new Float64Array(new SharedArrayBuffer(bytes)) : new Float32Array(new SharedArrayBuffer(bytes));
  if (copyIn) copy.set(array.subarray(offset, offset + length));
  return { array: copy, offset: 0 };
}

/**
 * Whether a C that is not on shared memory must be copied in before a parallel GEMM:
 * when beta reads it, and when its rows have gaps (ldc > N), since the copy back spans
 * the gaps and they must come back as they were.
 */
export function mustCopyC(M: number, N: number, ldc: number, beta: number): boolean {
  return beta !== 0 || (ldc > N && M > 1);
}

/** C = beta * C over the M x N block (beta 0 writes zeros, so NaNs in C do not survive). */
export function scaleC(M: number, N: number, beta: number, C: FloatArray, offC: number, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < M; i++) {
    const row = offC + i * ldc;
    if (beta === 0) C.fill(0, row, row + N);
    else for (let j = row; j < row + N; j++) C[j] *= beta;
  }
}
