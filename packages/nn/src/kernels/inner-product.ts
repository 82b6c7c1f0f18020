import { sgemm, type FloatArray } from '@cnn/tensor';

/**
 * The sizes of an inner product: `m` rows of `k` inputs each (the bottom flattened from
 * its axis on), `numOutput` outputs per row. The weight is stored `numOutput x k`, or
 * `k x numOutput` when `transpose` is set (Caffe's `transpose: true`).
 */
export interface InnerProductShape {
  m: number;
  k: number;
  numOutput: number;
  transpose: boolean;
}

/**
 * Which gradients an inner product backward computes: each one given is computed, each
 * one left out is skipped. `dx` is overwritten; `dWeight` and `dBias` are added into.
 */
export interface InnerProductGradients {
  dx?: FloatArray;
  dWeight?: FloatArray;
  dBias?: FloatArray;
}

/**
 * The reference inner product, y = x W^T + b, one dot product per output:
 *
 *   y[i][j] = bias[j] + sum over p of x[i][p] * W[j][p]
 *
 * with W[j][p] stored at `weight[j * k + p]`, or at `weight[p * numOutput + j]` when transposed.
 */
export function innerProductForwardReference(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: InnerProductShape,
): void {
  for (let i = 0; i < s.m; i++) {
    for (let j = 0; j < s.numOutput; j++) {
      let sum = bias ? bias[j]! : 0;
      for (let p = 0; p < s.k; p++) sum += x[i * s.k + p]! * weight[weightIndex(j, p, s)]!;
      y[i * s.numOutput + j] = sum;
    }
  }
}

/**
 * The reference backward:
 *
 *   dW[j][p] += sum over i of dy[i][j] * x[i][p]      (dW += dy^T x)
 *   dBias[j] += sum over i of dy[i][j]                (column sums of dy)
 *   dx[i][p]  = sum over j of dy[i][j] * W[j][p]      (dx = dy W)
 */
export function innerProductBackwardReference(
  x: FloatArray,
  weight: FloatArray,
  dy: FloatArray,
  grads: InnerProductGradients,
  s: InnerProductShape,
): void {
  const { dx, dWeight, dBias } = grads;
  if (dWeight) {
    for (let j = 0; j < s.numOutput; j++) {
      for (let p = 0; p < s.k; p++) {
        let sum = 0;
        for (let i = 0; i < s.m; i++) sum += dy[i * s.numOutput + j]! * x[i * s.k + p]!;
        dWeight[weightIndex(j, p, s)] += sum;
      }
    }
  }
  if (dBias) {
    for (let j = 0; j < s.numOutput; j++) {
      let sum = 0;
      for (let i = 0; i < s.m; i++) sum += dy[i * s.numOutput + j]!;
      dBias[j] += sum;
    }
  }
  if (dx) {
    for (let i = 0; i < s.m; i++) {
      for (let p = 0; p < s.k; p++) {
        let sum = 0;
        for (let j = 0; j < s.numOutput; j++) sum += dy[i * s.numOutput + j]! * weight[weightIndex(j, p, s)]!;
        dx[i * s.k + p] = sum;
      }
    }
  }
}

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

/** Where W[j][p] (output j, input p) is stored. */
function weightIndex(j: number, p: number, s: InnerProductShape): number {
  return s.transpose ? p * s.numOutput + j : j * s.k + p;
}
