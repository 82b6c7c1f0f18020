import type { FloatArray } from '@cnn/tensor';

/**
 * Clip's backward from its output, over `count` elements (the fused Clip: the convolution's
 * epilogue clamped in place, so the input is gone):
 *
 *   dx[i] = min < y[i] < max ? dy[i] : 0
 *
 * Inside the bounds y is x, and the slope 1; where y sits on a bound, x was clamped (or fell
 * exactly on it, a kink, where 0 is a one-sided slope too).
 */
export function clipBackwardReference(y: FloatArray, dy: FloatArray, dx: FloatArray, count: number, min: number, max: number): void {
  for (let i = 0; i < count; i++) dx[i] = y[i]! > min && y[i]! < max ? dy[i]! : 0;
}
