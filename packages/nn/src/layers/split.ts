import type { Blob } from '../blob.js';
import { Layer } from '../layer.js';

/**
 * Copies one blob to several tops, so that a blob read by several layers gets the
 * sum of their gradients (the net inserts it, as Caffe's insert_splits does).
 *
 *   forward:  top_k = x for every k
 *   backward: dx = sum_k dtop_k
 */
export class SplitLayer extends Layer {
  readonly type = 'Split';

  override setup(bottom: readonly Blob[], top: readonly Blob[]): void {
    this.expectBlobs(bottom, top, 1, [1, Infinity]);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    for (const t of top) t.reshape(bottom[0]!.shape);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!.data.data.subarray(0, bottom[0]!.count);
    for (const t of top) t.data.data.set(x);
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (!propagateDown[0]) return;
    const count = bottom[0]!.count;
    const dx = bottom[0]!.diff.data;
    dx.set(top[0]!.diff.data.subarray(0, count));
    for (let k = 1; k < top.length; k++) {
      const dy = top[k]!.diff.data;
      for (let i = 0; i < count; i++) dx[i] += dy[i]!;
    }
  }
}
