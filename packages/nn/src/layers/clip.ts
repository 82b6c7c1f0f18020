import type { Blob } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { clipBackward } from '../kernels/clip/index.js';

/** Clip parameters (Caffe's ClipParameter); both bounds are required. */
export interface ClipParams {
  min?: number;
  max?: number;
}

/**
 * Clamps every element to [min, max], any shape, in place allowed.
 *
 *   forward:  y = min(max(x, min), max)
 *   backward: dx = dy where min <= x <= max (bounds included, as in Caffe), else 0
 *
 * In place, x is gone after forward and y no longer tells which elements were
 * clamped, so forward records that in a mask.
 */
export class ClipLayer extends Layer {
  readonly type = 'Clip';
  readonly min: number;
  readonly max: number;
  private inside = new Uint8Array(0);
  /** Whether the last forward ran in the convolution's epilogue (`forwardFused`), leaving `inside` unset. */
  private fused = false;

  constructor(name: string, params: ClipParams = {}) {
    super(name);
    if (params.min === undefined || params.max === undefined) {
      throw this.error(`needs both min and max, got min ${params.min} and max ${params.max}`);
    }
    this.min = params.min;
    this.max = params.max;
  }

  override get allowsInPlace(): boolean {
    return true;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], _context?: SetupContext): void {
    this.expectBlobs(bottom, top, 1, 1);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    top[0]!.reshape(bottom[0]!.shape);
    if (this.inside.length < bottom[0]!.count) this.inside = new Uint8Array(bottom[0]!.count);
  }

  /**
   * Called by the net instead of `forward` when the convolution below ran this clamp in its
   * epilogue, in place: the input is gone, so the backward takes its mask from the output,
   * passing the gradient where min < y < max. That differs from the mask of `forward` only at
   * inputs exactly equal to min or max, the kinks, where either one-sided slope is a subgradient.
   */
  forwardFused(): void {
    this.fused = true;
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    this.fused = false;
    const x = bottom[0]!.data.data;
    const y = top[0]!.data.data;
    const { min, max, inside } = this;
    for (let i = 0, n = bottom[0]!.count; i < n; i++) {
      const v = x[i];
      inside[i] = v >= min && v <= max ? 1 : 0;
      y[i] = Math.max(min, Math.min(v, max));
    }
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (!propagateDown[0]) return;
    const dy = top[0]!.diff.data;
    const dx = bottom[0]!.diff.data;
    if (this.fused) {
      clipBackward(top[0]!.data.data, dy, dx, bottom[0]!.count, this.min, this.max);
      return;
    }
    const inside = this.inside;
    for (let i = 0, n = bottom[0]!.count; i < n; i++) dx[i] = inside[i] ? dy[i] : 0;
  }
}
