import type { FloatArray } from '@cnn/tensor';

/**
 * ReLU forward, written as the formula, over `count` elements (y may be x):
 *
 *   y[i] = x[i] > 0 ? x[i] : slope * x[i]        (slope 0: the plain ReLU; > 0: leaky)
 */
export function reluForwardReference(x: FloatArray, y: FloatArray, count: number, slope: number): void {
  for (let i = 0; i < count; i++) y[i] = x[i]! > 0 ? x[i]! : slope * x[i]!;
}

/**
 * ReLU backward, from the top: dx[i] = y[i] > 0 ? dy[i] : slope * dy[i]. The sign of y is the
 * sign of x for any slope > 0, and for slope 0, y > 0 exactly where x > 0; so the gradient
 * needs only the top, and the layer can run in place (x gone after the forward).
 */
export function reluBackwardReference(y: FloatArray, dy: FloatArray, dx: FloatArray, count: number, slope: number): void {
  for (let i = 0; i < count; i++) dx[i] = y[i]! > 0 ? dy[i]! : slope * dy[i]!;
}
