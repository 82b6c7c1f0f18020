import { Rng } from '@cnn/tensor';
import type { Blob } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';

/** Dropout parameters (Caffe's DropoutParameter). */
export interface DropoutParams {
  /** Probability of dropping an element. Default 0.5. */
  dropoutRatio?: number;
}

/**
 * Dropout, element by element, any shape, in place allowed.
 *
 *   TRAIN forward:  y = x * mask / (1 - p), mask ~ Bernoulli(1 - p) per element
 *   TRAIN backward: dx = dy * mask / (1 - p) (the mask of the last forward)
 *   TEST:           y = x, dx = dy
 *
 * Dividing by 1 - p at training time keeps the expected output equal to x, so the
 * test-time pass needs no scaling. The mask is drawn in element order from the Rng
 * of the setup context, or from the one set by `reseed`.
 */
export class DropoutLayer extends Layer {
  readonly type = 'Dropout';
  readonly dropoutRatio: number;
  private rng = new Rng(0);
  private mask = new Uint8Array(0);

  constructor(name: string, params: DropoutParams = {}) {
    super(name);
    this.dropoutRatio = params.dropoutRatio ?? 0.5;
  }

  override get allowsInPlace(): boolean {
    return true;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], context: SetupContext): void {
    this.expectBlobs(bottom, top, 1, 1);
    if (!(this.dropoutRatio >= 0 && this.dropoutRatio < 1)) throw this.error(`dropoutRatio must be in [0, 1), got ${this.dropoutRatio}`);
    this.rng = context.rng;
  }

  /** Draws the following masks from a fresh Rng with this seed (for reproducible runs and gradient checks). */
  reseed(seed: number): void {
    this.rng = new Rng(seed);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    top[0]!.reshape(bottom[0]!.shape);
    if (this.mask.length < bottom[0]!.count) this.mask = new Uint8Array(bottom[0]!.count);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!.data.data;
    const y = top[0]!.data.data;
    const count = bottom[0]!.count;
    if (this.phase === 'TEST') {
      if (x !== y) y.set(x.subarray(0, count));
      return;
    }
    const keep = 1 - this.dropoutRatio;
    const scale = 1 / keep;
    const mask = this.mask;
    for (let i = 0; i < count; i++) {
      mask[i] = this.rng.bernoulli(keep) ? 1 : 0;
      y[i] = x[i] * mask[i] * scale;
    }
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (!propagateDown[0]) return;
    const dy = top[0]!.diff.data;
    const dx = bottom[0]!.diff.data;
    const count = bottom[0]!.count;
    if (this.phase === 'TEST') {
      if (dx !== dy) dx.set(dy.subarray(0, count));
      return;
    }
    const scale = 1 / (1 - this.dropoutRatio);
    const mask = this.mask;
    for (let i = 0; i < count; i++) dx[i] = dy[i] * mask[i] * scale;
  }
}
