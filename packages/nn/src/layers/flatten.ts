import type { Blob } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { canonicalAxis, countAxes } from './axes.js';

/** Flatten parameters (Caffe's FlattenParameter). */
export interface FlattenParams {
  /** First axis to merge. Default 1. */
  axis?: number;
  /** Last axis to merge (inclusive); negative counts from the end. Default -1. */
  endAxis?: number;
}

/**
 * Merges axes `axis..endAxis` into one: `[N,C,H,W] -> [N,C*H*W]` with the defaults.
 * The values keep their order, so forward copies the data and backward copies the
 * gradient. Not in place (as in Caffe).
 */
export class FlattenLayer extends Layer {
  readonly type = 'Flatten';
  readonly axis: number;
  readonly endAxis: number;

  constructor(name: string, params: FlattenParams = {}) {
    super(name);
    this.axis = params.axis ?? 1;
    this.endAxis = params.endAxis ?? -1;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], _context?: SetupContext): void {
    this.expectBlobs(bottom, top, 1, 1);
    if (bottom[0] === top[0]) throw this.error('cannot run in place');
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const shape = bottom[0]!.shape;
    const start = canonicalAxis(this.axis, shape.length);
    const end = canonicalAxis(this.endAxis, shape.length);
    if (start === undefined || end === undefined || end < start) {
      throw this.shapeError(bottom[0]!, `which cannot be flattened from axis ${this.axis} to axis ${this.endAxis}`);
    }
    top[0]!.reshape([...shape.slice(0, start), countAxes(shape, start, end + 1), ...shape.slice(end + 1)]);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    top[0]!.data.data.set(bottom[0]!.data.data.subarray(0, bottom[0]!.count));
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (propagateDown[0]) bottom[0]!.diff.data.set(top[0]!.diff.data.subarray(0, top[0]!.count));
  }
}
