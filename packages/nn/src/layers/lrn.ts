import { Blob } from '../blob.js';
import { Layer } from '../layer.js';
import { lrnBackward, lrnForward, type LrnSpec, type NormRegion } from '../kernels/lrn/index.js';

/** Local response normalization parameters (Caffe's LRNParameter). */
export interface LRNParams {
  /** n: the channels (ACROSS_CHANNELS) or the side of the square (WITHIN_CHANNEL) summed over; odd (default 5). */
  localSize?: number;
  /** Scale of the sum of squares (default 1); Caffe divides it by n (ACROSS) or n^2 (WITHIN). */
  alpha?: number;
  /** Exponent (default 0.75). */
  beta?: number;
  /** ACROSS_CHANNELS (default) or WITHIN_CHANNEL. */
  normRegion?: NormRegion;
  /** Constant added to the scale, ACROSS_CHANNELS only (default 1); WITHIN_CHANNEL always adds 1, as Caffe does. */
  k?: number;
}

/**
 * Local response normalization, as Caffe's LRN layer. `[N,C,H,W] -> [N,C,H,W]`.
 *
 * With half = (n - 1) / 2 and x = 0 outside the input:
 *
 *   ACROSS_CHANNELS: s[c,h,w] = k + (alpha / n) * sum_{i = c - half .. c + half} x[i,h,w]^2
 *   WITHIN_CHANNEL:  s[c,h,w] = 1 + (alpha / n^2) * sum_{|i - h| <= half, |j - w| <= half} x[c,i,j]^2
 *   y = x * s^-beta
 *
 * Note alpha is divided by the window size (other libraries use alpha alone: a classic
 * mismatch), and WITHIN_CHANNEL ignores k: Caffe builds it from an AVE pooling of x^2
 * (kernel n, pad half, stride 1, whose divisor is always n^2 as the padding counts)
 * and a power layer with shift 1, scale alpha, power -beta.
 *
 * Backward, with D = n (ACROSS) or n^2 (WITHIN) and "i near j" meaning j is in i's window
 * (windows are symmetric, so the sum runs over j's own window):
 *
 *   dx_j = dy_j s_j^-beta - (2 alpha beta / D) x_j sum_{i near j} dy_i y_i / s_i
 *
 * since dy_i/dx_j = [i = j] s_j^-beta - beta x_i s_i^(-beta - 1) ds_i/dx_j and
 * ds_i/dx_j = (2 alpha / D) x_j.
 */
export class LRNLayer extends Layer {
  readonly type = 'LRN';
  readonly localSize: number;
  readonly alpha: number;
  readonly beta: number;
  readonly normRegion: NormRegion;
  readonly k: number;
  private spec: LrnSpec | undefined;
  /** s of every element, kept from forward for backward. */
  private scale: Blob | undefined;

  constructor(name: string, params: LRNParams = {}) {
    super(name);
    this.localSize = params.localSize ?? 5;
    this.alpha = params.alpha ?? 1;
    this.beta = params.beta ?? 0.75;
    this.normRegion = params.normRegion ?? 'ACROSS_CHANNELS';
    this.k = params.k ?? 1;
    if (!Number.isInteger(this.localSize) || this.localSize < 1 || this.localSize % 2 !== 1) {
      throw this.error(`localSize ${this.localSize} must be an odd integer (the window is centred on each element)`);
    }
    if (this.normRegion !== 'ACROSS_CHANNELS' && this.normRegion !== 'WITHIN_CHANNEL') {
      throw this.error(`unknown normRegion '${String(this.normRegion)}' (expected ACROSS_CHANNELS or WITHIN_CHANNEL)`);
    }
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[]): void {
    this.expectBlobs(bottom, top, 1, 1);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!;
    if (x.shape.length !== 4) throw this.shapeError(x, 'expected 4 axes [N,C,H,W]');
    const [num, channels, height, width] = x.shape as [number, number, number, number];
    this.spec = { region: this.normRegion, num, channels, height, width, localSize: this.localSize, alpha: this.alpha, beta: this.beta, k: this.k };
    top[0]!.reshape(x.shape);
    if (!this.scale || this.scale.dtype !== x.dtype) this.scale = new Blob(`${this.name}/scale`, x.shape, x.dtype);
    else this.scale.reshape(x.shape);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    lrnForward(bottom[0]!.data.data, this.scale!.data.data, top[0]!.data.data, this.spec!);
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (!propagateDown[0]) return;
    lrnBackward(bottom[0]!.data.data, top[0]!.data.data, this.scale!.data.data, top[0]!.diff.data, bottom[0]!.diff.data, this.spec!);
  }
}
