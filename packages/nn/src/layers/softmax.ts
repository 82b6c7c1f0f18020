import type { Blob } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { canonicalAxis, countAxes } from './axes.js';

/** Softmax parameters (Caffe's SoftmaxParameter). */
export interface SoftmaxParams {
  /** The axis the probabilities are taken over; negative counts from the end. Default 1. */
  axis?: number;
}

/**
 * Softmax over one axis, for every position of the axes before it (outer) and after
 * it (inner): `[N,C,H,W] -> [N,C,H,W]` with axis 1 normalises over C at each (n, h, w).
 * In place allowed.
 *
 *   forward:  y_c = exp(x_c - max_k x_k) / sum_k exp(x_k - max_k x_k)
 *   backward: dx_c = y_c * (dy_c - sum_k dy_k * y_k)
 */
export class SoftmaxLayer extends Layer {
  readonly type = 'Softmax';
  readonly axis: number;
  private outer = 0;
  private channels = 0;
  private inner = 0;

  constructor(name: string, params: SoftmaxParams = {}) {
    super(name);
    this.axis = params.axis ?? 1;
  }

  override get allowsInPlace(): boolean {
    return true;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], _context?: SetupContext): void {
    this.expectBlobs(bottom, top, 1, 1);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const shape = bottom[0]!.shape;
    const axis = canonicalAxis(this.axis, shape.length);
    if (axis === undefined) throw this.shapeError(bottom[0]!, `which has no axis ${this.axis}`);
    this.outer = countAxes(shape, 0, axis);
    this.channels = shape[axis]!;
    this.inner = countAxes(shape, axis + 1);
    top[0]!.reshape(shape);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!.data.data;
    const y = top[0]!.data.data;
    const { outer, channels, inner } = this;
    for (let o = 0; o < outer; o++) {
      for (let s = 0; s < inner; s++) {
        const base = o * channels * inner + s;
        // Subtracting the max keeps exp() from overflowing; the ratio is unchanged.
        let max = -Infinity;
        for (let c = 0; c < channels; c++) max = Math.max(max, x[base + c * inner]);
        let sum = 0;
        for (let c = 0; c < channels; c++) {
          const e = Math.exp(x[base + c * inner] - max);
          y[base + c * inner] = e;
          sum += e;
        }
        for (let c = 0; c < channels; c++) y[base + c * inner] /= sum;
      }
    }
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (!propagateDown[0]) return;
    const y = top[0]!.data.data;
    const dy = top[0]!.diff.data;
    const dx = bottom[0]!.diff.data;
    const { outer, channels, inner } = this;
    for (let o = 0; o < outer; o++) {
      for (let s = 0; s < inner; s++) {
        const base = o * channels * inner + s;
        let dot = 0;
        for (let c = 0; c < channels; c++) dot += dy[base + c * inner] * y[base + c * inner];
        for (let c = 0; c < channels; c++) {
          const i = base + c * inner;
          dx[i] = y[i] * (dy[i] - dot);
        }
      }
    }
  }
}
