import type { FloatArray } from '@cnn/tensor';

/**
 * The epilogue of a convolution's GEMM over one image: for `planes` output planes of
 * `planeSize` floats from y[start], y = min(max(y + bias[o], min), max), plane o's bias
 * (none: 0), with min/max the bounds of the ReLU or Clip fused into the convolution
 * (+-Infinity: none). The reference and the js backend's kernel; wasm.ts has the SIMD one.
 */
export function biasClampPlanesFast(
  y: FloatArray,
  start: number,
  planes: number,
  planeSize: number,
  bias: FloatArray | undefined,
  min: number,
  max: number,
): void {
  for (let o = 0; o < planes; o++) {
    const b = bias ? bias[o]! : 0;
    const first = start + o * planeSize;
    for (let p = first; p < first + planeSize; p++) y[p] = Math.min(Math.max(y[p]! + b, min), max);
  }
}
