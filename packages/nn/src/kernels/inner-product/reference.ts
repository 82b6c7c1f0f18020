import type { FloatArray } from '@cnn/tensor';

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

/** Where W[j][p] (output j, input p) is stored. */
function weightIndex(j: number, p: number, s: InnerProductShape): number {
  return s.transpose ? p * s.numOutput + j : j * s.k + p;
}
