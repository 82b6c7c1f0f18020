import { ShapeError, formatShape } from '@cnn/tensor';
import type { Blob } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';

/** Eltwise parameters (Caffe's EltwiseParameter). */
export interface EltwiseParams {
  /** Default SUM. */
  operation?: 'PROD' | 'SUM' | 'MAX';
  /** SUM only: one coefficient per bottom (default all 1). */
  coeff?: number | number[];
  /** PROD only: compute each gradient as the product of the other bottoms (default) instead of y / x_i. */
  stableProdGrad?: boolean;
}

/**
 * Element-wise combination of two or more bottoms of one shape: `[N,C,H,W] x k -> [N,C,H,W]`.
 *
 *   SUM:  y = sum_i coeff_i * x_i              dx_i = coeff_i * dy
 *   PROD: y = prod_i x_i                       dx_i = dy * prod_{j != i} x_j (or dy * y / x_i when not stable)
 *   MAX:  y = max_i x_i, argmax kept per element   dx_i = dy where i was the argmax, else 0
 *
 * MAX ties go as in Caffe: between bottoms 0 and 1 to bottom 1, after that to the earlier bottom.
 */
export class EltwiseLayer extends Layer {
  readonly type = 'Eltwise';
  readonly operation: 'PROD' | 'SUM' | 'MAX';
  readonly coeff: readonly number[];
  readonly stableProdGrad: boolean;
  private argmax = new Int32Array(0);

  constructor(name: string, params: EltwiseParams = {}) {
    super(name);
    this.operation = params.operation ?? 'SUM';
    this.coeff = params.coeff === undefined ? [] : [params.coeff].flat();
    this.stableProdGrad = params.stableProdGrad ?? true;
    if (this.operation === 'PROD' && this.coeff.length > 0) throw this.error('takes coefficients only for SUM');
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], _context?: SetupContext): void {
    this.expectBlobs(bottom, top, [2, Infinity], 1);
    if (this.coeff.length > 0 && this.coeff.length !== bottom.length) {
      throw this.error(`needs one coefficient per bottom: got ${this.coeff.length} for ${bottom.length} bottoms`);
    }
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const shape = bottom[0]!.shape;
    if (!bottom.every((b) => b.shape.length === shape.length && b.shape.every((d, i) => d === shape[i]))) {
      const shapes = bottom.map((b) => `'${b.name}' ${formatShape(b.shape)}`).join(', ');
      throw new ShapeError(`${this.type} layer '${this.name}': bottoms must have the same shape, got ${shapes}`);
    }
    top[0]!.reshape(shape);
    if (this.operation === 'MAX' && this.argmax.length < bottom[0]!.count) this.argmax = new Int32Array(bottom[0]!.count);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const y = top[0]!.data.data;
    const count = top[0]!.count;
    const xs = bottom.map((b) => b.data.data);
    if (this.operation === 'SUM') {
      y.fill(0, 0, count);
      xs.forEach((x, k) => {
        const c = this.coeff[k] ?? 1;
        for (let i = 0; i < count; i++) y[i] += c * x[i];
      });
    } else if (this.operation === 'PROD') {
      y.set(xs[0]!.subarray(0, count));
      for (let k = 1; k < xs.length; k++) for (let i = 0; i < count; i++) y[i] *= xs[k]![i];
    } else {
      const argmax = this.argmax;
      for (let i = 0; i < count; i++) {
        let best = 0;
        let value = xs[0]![i];
        for (let k = 1; k < xs.length; k++) {
          const v = xs[k]![i];
          if (k === 1 ? v >= value : v > value) {
            best = k;
            value = v;
          }
        }
        y[i] = value;
        argmax[i] = best;
      }
    }
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    const dy = top[0]!.diff.data;
    const y = top[0]!.data.data;
    const count = top[0]!.count;
    bottom.forEach((b, k) => {
      if (!propagateDown[k]) return;
      const dx = b.diff.data;
      if (this.operation === 'SUM') {
        const c = this.coeff[k] ?? 1;
        for (let i = 0; i < count; i++) dx[i] = c * dy[i];
      } else if (this.operation === 'MAX') {
        for (let i = 0; i < count; i++) dx[i] = this.argmax[i] === k ? dy[i] : 0;
      } else if (this.stableProdGrad) {
        dx.set(dy.subarray(0, count));
        bottom.forEach((other, j) => {
          if (j === k) return;
          const x = other.data.data;
          for (let i = 0; i < count; i++) dx[i] *= x[i];
        });
      } else {
        const x = b.data.data;
        for (let i = 0; i < count; i++) dx[i] = (dy[i] * y[i]) / x[i];
      }
    });
  }
}
