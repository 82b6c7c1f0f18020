import type { FillerSpec } from '@cnn/tensor';
import type { Blob, ParamSpec } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { countAxes } from './axes.js';

/** PReLU parameters (Caffe's PReLUParameter). */
export interface PReLUParams {
  /** Initial slopes; default constant 0.25. */
  filler?: FillerSpec;
  /** One slope for all channels instead of one per channel. Default false. */
  channelShared?: boolean;
}

/**
 * Parametric ReLU: a learned slope for negative inputs, per channel (axis 1) or shared.
 * `[N,C,...] -> [N,C,...]`; one parameter, the slopes: [C], or [] (a scalar, as Caffe
 * stores it) when shared. In place allowed.
 *
 *   forward:  y = max(x, 0) + a_c * min(x, 0)
 *   backward: dx = dy * (x > 0 ? 1 : a_c)
 *             da_c += sum over n and positions of dy * x where x <= 0
 *
 * In place, forward keeps a copy of x, which both gradients need.
 */
export class PReLULayer extends Layer {
  readonly type = 'PReLU';
  readonly filler: FillerSpec;
  readonly channelShared: boolean;
  private num = 0;
  private channels = 0;
  private dim = 0;
  private saved = new Float64Array(0);

  constructor(name: string, params: PReLUParams = {}, paramSpecs: ParamSpec[] = []) {
    super(name, paramSpecs);
    this.filler = params.filler ?? { type: 'constant', value: 0.25 };
    this.channelShared = params.channelShared ?? false;
  }

  override get allowsInPlace(): boolean {
    return true;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], context: SetupContext): void {
    this.expectBlobs(bottom, top, 1, 1);
    if (bottom[0]!.shape.length < 2) throw this.shapeError(bottom[0]!, 'but needs at least 2 axes [N,C,...]');
    const slopes = this.createParam(0, 'slope', this.channelShared ? [] : [bottom[0]!.shape[1]!], context, this.filler);
    this.params = [slopes];
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const shape = bottom[0]!.shape;
    if (shape.length < 2 || (!this.channelShared && shape[1] !== this.params[0]!.count)) {
      throw this.shapeError(bottom[0]!, `but the layer has ${this.params[0]!.count} slopes, one per channel (axis 1)`);
    }
    this.num = shape[0]!;
    this.channels = shape[1]!;
    this.dim = countAxes(shape, 2);
    top[0]!.reshape(shape);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const count = bottom[0]!.count;
    const x = bottom[0]!.data.data;
    const y = top[0]!.data.data;
    if (x === y) {
      if (this.saved.length < count) this.saved = new Float64Array(count);
      this.saved.set(x.subarray(0, count));
    }
    const a = this.params[0]!.data.data;
    this.forEachChannel((c, start, end) => {
      const slope = a[c];
      for (let i = start; i < end; i++) y[i] = Math.max(x[i], 0) + slope * Math.min(x[i], 0);
    });
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    const x = bottom[0] === top[0] ? this.saved : bottom[0]!.data.data;
    const dy = top[0]!.diff.data;
    const slopes = this.params[0]!;
    // The slope gradient first: in place, writing dx overwrites dy.
    if (!slopes.frozen) {
      const da = slopes.diff.data;
      this.forEachChannel((c, start, end) => {
        let sum = 0;
        for (let i = start; i < end; i++) if (x[i] <= 0) sum += dy[i] * x[i];
        da[c] += sum;
      });
    }
    if (propagateDown[0]) {
      const dx = bottom[0]!.diff.data;
      const a = slopes.data.data;
      this.forEachChannel((c, start, end) => {
        const slope = a[c];
        for (let i = start; i < end; i++) dx[i] = x[i] > 0 ? dy[i] : slope * dy[i];
      });
    }
  }

  /** Visits each (n, c) plane as the element range [start, end) and its slope index (0 when shared). */
  private forEachChannel(visit: (slope: number, start: number, end: number) => void): void {
    for (let n = 0; n < this.num; n++) {
      for (let c = 0; c < this.channels; c++) {
        const start = (n * this.channels + c) * this.dim;
        visit(this.channelShared ? 0 : c, start, start + this.dim);
      }
    }
  }
}
