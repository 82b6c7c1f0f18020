import type { Blob } from '../blob.js';
import { Layer } from '../layer.js';
import { reluBackward, reluForward } from '../kernels/relu/index.js';

/** ReLU parameters (Caffe's ReLUParameter). */
export interface ReLUParams {
  /** Slope for negative inputs: 0 is the plain ReLU, > 0 a leaky ReLU. */
  negativeSlope?: number;
}

/**
 * Rectified linear unit, element by element, any shape, in place allowed.
 *
 *   forward:  y = max(x, 0) + negativeSlope * min(x, 0)
 *   backward: dx = dy * (x > 0 ? 1 : negativeSlope)
 *
 * In place, `x` is gone after forward; the sign of y is the sign of x for any slope > 0,
 * and for slope 0 y > 0 exactly where x > 0, so backward tests the top instead.
 * Kernels: kernels/relu/ (the reference loop, a branch-free one, 128-bit SIMD).
 */
export class ReLULayer extends Layer {
  readonly type = 'ReLU';
  readonly negativeSlope: number;

  constructor(name: string, params: ReLUParams = {}) {
    super(name);
    this.negativeSlope = params.negativeSlope ?? 0;
  }

  override get allowsInPlace(): boolean {
    return true;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[]): void {
    this.expectBlobs(bottom, top, 1, 1);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    top[0]!.reshape(bottom[0]!.shape);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    reluForward(bottom[0]!.data.data, top[0]!.data.data, bottom[0]!.count, this.negativeSlope);
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (!propagateDown[0]) return;
    reluBackward(top[0]!.data.data, top[0]!.diff.data, bottom[0]!.diff.data, bottom[0]!.count, this.negativeSlope);
  }
}
