import type { FloatArray } from '@cnn/tensor';
import type { Blob, ParamSpec } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { countAxes } from './axes.js';

/** BatchNorm parameters (Caffe's BatchNormParameter). */
export interface BatchNormParams {
  /** Normalise with the stored moving averages instead of the batch. Default: true in TEST, false in TRAIN. */
  useGlobalStats?: boolean;
  /** Decay of the moving averages. Default 0.999. */
  movingAverageFraction?: number;
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
}

/**
 * Batch normalisation per channel (axis 1), without scale or bias (a Scale layer follows):
 * `[N,C,H,W] -> [N,C,H,W]`, in place allowed.
 *
 *   y = (x - mean_c) / sqrt(var_c + eps)
 *
 * Three blobs, as Caffe stores them, never learned (lr_mult 0): the running sums of the
 * means [C] and variances [C], and the running weight s [1] that they are divided by.
 *
 * - Batch statistics (TRAIN by default): mean_c and var_c (biased) over N, H, W; then
 *   s = maf * s + 1, means = maf * means + mean, variances = maf * variances + m / (m - 1) * var
 *   with m = N*H*W. backward: dx = (dy - mean(dy) - mean(dy * y) * y) / sqrt(var + eps),
 *   the means over N, H, W of channel c.
 * - Global statistics (TEST by default): mean = means / s and var = variances / s (0 when s = 0);
 *   backward: dx = dy / sqrt(var + eps).
 */
export class BatchNormLayer extends Layer {
  readonly type = 'BatchNorm';
  readonly movingAverageFraction: number;
  readonly eps: number;
  private readonly globalStats: boolean | undefined;
  private num = 0;
  private channels = 0;
  private spatial = 0;
  private mean = new Float64Array(0);
  private invStd = new Float64Array(0);
  private xNorm = new Float64Array(0);
  private usedGlobalStats = false;

  constructor(name: string, params: BatchNormParams = {}, paramSpecs: ParamSpec[] = []) {
    super(name, [0, 1, 2].map((i) => ({ ...paramSpecs[i], lrMult: paramSpecs[i]?.lrMult ?? 0 })));
    if (paramSpecs.some((spec) => (spec.lrMult ?? 0) !== 0)) {
      throw this.error('its statistics cannot be learned: every lrMult must be 0 (or left out)');
    }
    this.globalStats = params.useGlobalStats;
    this.movingAverageFraction = params.movingAverageFraction ?? 0.999;
    this.eps = params.eps ?? 1e-5;
  }

  /** Whether forward uses the stored statistics: as set, or by phase (TEST yes, TRAIN no). */
  get useGlobalStats(): boolean {
    return this.globalStats ?? this.phase === 'TEST';
  }

  override get allowsInPlace(): boolean {
    return true;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], context: SetupContext): void {
    this.expectBlobs(bottom, top, 1, 1);
    const channels = channelsOf(bottom[0]!.shape);
    // Zero-filled, as in Caffe: a net that never trained normalises with mean 0 and variance 0.
    this.params = [
      this.createParam(0, 'mean', [channels], context),
      this.createParam(1, 'variance', [channels], context),
      this.createParam(2, 'scale_factor', [1], context),
    ];
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const shape = bottom[0]!.shape;
    if (shape.length < 1 || channelsOf(shape) !== this.params[0]!.count) {
      throw this.shapeError(bottom[0]!, `but the layer has statistics for ${this.params[0]!.count} channels (axis 1)`);
    }
    this.num = shape[0]!;
    this.channels = channelsOf(shape);
    this.spatial = countAxes(shape, 2);
    this.mean = new Float64Array(this.channels);
    this.invStd = new Float64Array(this.channels);
    if (this.xNorm.length < bottom[0]!.count) this.xNorm = new Float64Array(bottom[0]!.count);
    top[0]!.reshape(shape);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!.data.data;
    const y = top[0]!.data.data;
    const [means, variances, weight] = this.params.map((p) => p.data.data) as [FloatArray, FloatArray, FloatArray];
    const { mean, invStd, channels } = this;
    this.usedGlobalStats = this.useGlobalStats;
    if (this.usedGlobalStats) {
      const f = weight[0] === 0 ? 0 : 1 / weight[0];
      for (let c = 0; c < channels; c++) {
        mean[c] = f * means[c];
        invStd[c] = 1 / Math.sqrt(f * variances[c] + this.eps);
      }
    } else {
      const m = this.num * this.spatial;
      const maf = this.movingAverageFraction;
      weight[0] = weight[0] * maf + 1;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        this.forPlanes(c, (start, end) => {
          for (let i = start; i < end; i++) sum += x[i];
        });
        mean[c] = sum / m;
        let squares = 0;
        this.forPlanes(c, (start, end) => {
          for (let i = start; i < end; i++) squares += (x[i] - mean[c]) ** 2;
        });
        const variance = squares / m;
        invStd[c] = 1 / Math.sqrt(variance + this.eps);
        means[c] = maf * means[c] + mean[c];
        variances[c] = maf * variances[c] + (m > 1 ? m / (m - 1) : 1) * variance;
      }
    }
    const xNorm = this.xNorm;
    for (let c = 0; c < channels; c++) {
      this.forPlanes(c, (start, end) => {
        for (let i = start; i < end; i++) y[i] = (x[i] - mean[c]) * invStd[c];
      });
    }
    // Kept for backward: in place, a following in-place layer (Scale) overwrites y.
    xNorm.set(y.subarray(0, top[0]!.count));
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (!propagateDown[0]) return;
    const dy = top[0]!.diff.data;
    const dx = bottom[0]!.diff.data;
    const { invStd, xNorm, channels } = this;
    const m = this.num * this.spatial;
    for (let c = 0; c < channels; c++) {
      if (this.usedGlobalStats) {
        this.forPlanes(c, (start, end) => {
          for (let i = start; i < end; i++) dx[i] = dy[i] * invStd[c];
        });
        continue;
      }
      let sumDy = 0;
      let sumDyY = 0;
      this.forPlanes(c, (start, end) => {
        for (let i = start; i < end; i++) {
          sumDy += dy[i];
          sumDyY += dy[i] * xNorm[i];
        }
      });
      const meanDy = sumDy / m;
      const meanDyY = sumDyY / m;
      this.forPlanes(c, (start, end) => {
        for (let i = start; i < end; i++) dx[i] = (dy[i] - meanDy - meanDyY * xNorm[i]) * invStd[c];
      });
    }
  }

  /** Visits the N planes of channel c as element ranges [start, end). */
  private forPlanes(c: number, visit: (start: number, end: number) => void): void {
    for (let n = 0; n < this.num; n++) {
      const start = (n * this.channels + c) * this.spatial;
      visit(start, start + this.spatial);
    }
  }
}

/** Caffe's channel count: axis 1, or 1 for a blob with a single axis. */
function channelsOf(shape: readonly number[]): number {
  return shape.length > 1 ? shape[1]! : 1;
}
