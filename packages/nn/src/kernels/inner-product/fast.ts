import { sgemm, type FloatArray } from '@cnn/tensor';
import type { InnerProductGradients, InnerProductShape } from './reference.js';

/** The fast inner product: one GEMM, y = x * W^T (W stored numOutput x k) or x * W (stored k x numOutput), then the bias. */
export function innerProductForwardFast(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: InnerProductShape,
): void {
  const { m, k, numOutput: n } = s;
  sgemm(false, !s.transpose, m, n, k, 1, x, k, weight, s.transpose ? n : k, 0, y, n);
  if (bias) {
    for (let i = 0; i < m; i++) {
      const row = i * n;
      for (let j = 0; j < n; j++) y[row + j] += bias[j]!;
    }
  }
}

/**
 * The fast backward, one GEMM per gradient:
 * dW += dy^T x (stored numOutput x k) or x^T dy (stored k x numOutput);
 * dBias += column sums of dy; dx = dy W, reading W transposed when it is stored k x numOutput.
 */
export function innerProductBackwardFast(
  x: FloatArray,
  weight: FloatArray,
  dy: FloatArray,
  grads: InnerProductGradients,
  s: InnerProductShape,
): void {
  const { dx, dWeight, dBias } = grads;
  const { m, k, numOutput: n } = s;
  if (dWeight) {
    if (s.transpose) sgemm(true, false, k, n, m, 1, x, k, dy, n, 1, dWeight, n);
    else sgemm(true, false, n, k, m, 1, dy, n, x, k, 1, dWeight, k);
  }
  if (dBias) {
    for (let i = 0; i < m; i++) {
      const row = i * n;
      for (let j = 0; j < n; j++) dBias[j] += dy[row + j]!;
    }
  }
  if (dx) sgemm(false, s.transpose, m, k, n, 1, dy, n, weight, s.transpose ? n : k, 0, dx, k);
}

/** Multiply-adds of one forward pass: m * k * numOutput. */
export function innerProductMultiplyAdds(s: InnerProductShape): number {
  return s.m * s.k * s.numOutput;
}
