import { allocate, dtypeOf, isShared, sharedFloat32Source, type DType, type FloatArray } from '../storage.js';

/** Elements spanned by a rows x cols matrix with leading dimension ld. */
export function extent(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/**
 * `array` itself if it is on shared memory (the pool's workers can use it in place), else
 * its [offset, offset + length) copied (when `copyIn`) into shared staging memory for
 * `operand`. Staging up to `KEPT_STAGING_ELEMENTS` is kept and reused by later calls,
 * where the backend puts shared storage (the wasm heap): allocating fresh shared memory
 * took 4-5 ms for 1.3 MB here, against 0.07 ms to copy it into memory already mapped. Larger
 * copies get a buffer of their own, never the wasm heap, which only gets memory back once
 * the garbage collector has run.
 */
export function onShared(array: FloatArray, offset: number, length: number, operand: 'A' | 'B' | 'C', copyIn = true): { array: FloatArray; offset: number } {
  if (isShared(array)) return { array, offset };
  const dtype = dtypeOf(array);
  const copy = length <= KEPT_STAGING_ELEMENTS ? stagingFor(operand, dtype, length) : ownSharedBuffer(dtype, length);
  if (copyIn) copy.set(array.subarray(offset, offset + length));
  return { array: copy, offset: 0 };
}

/** 4 Mi elements: 16 MiB of float32 per operand at most stays allocated between calls. */
const KEPT_STAGING_ELEMENTS = 1 << 22;

const staging = new Map<string, { array: FloatArray; source: unknown }>();

function stagingFor(operand: string, dtype: DType, length: number): FloatArray {
  const key = `${operand} ${dtype}`;
  const kept = staging.get(key);
  if (kept && kept.array.length >= length && kept.source === sharedFloat32Source()) return kept.array;
  // Grown to the largest size seen, so a loop of growing calls does not reallocate each time.
  const array = allocate(Math.max(length, kept?.array.length ?? 0), { dtype, shared: true });
  staging.set(key, { array, source: sharedFloat32Source() });
  return array;
}

function ownSharedBuffer(dtype: DType, length: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(new SharedArrayBuffer(length * 8)) : new Float32Array(new SharedArrayBuffer(length * 4));
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

/**
 * A GEMM's arguments as the scalars of its pool job (gemm/parallel.ts, wasm/gemm.ts): `GemmKernel`'s
 * numbers by name, the transposes as 0 or 1, and the offsets into the arrays the job carries.
 */
export const gemmScalars = ['transA', 'transB', 'M', 'N', 'K', 'alpha', 'offA', 'lda', 'offB', 'ldb', 'beta', 'offC', 'ldc'] as const;
