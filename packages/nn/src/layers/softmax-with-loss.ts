import { formatShape } from '@cnn/tensor';
import { Blob } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { canonicalAxis, countAxes } from './axes.js';
import { SoftmaxLayer, type SoftmaxParams } from './softmax.js';

/** How a loss is divided (Caffe's LossParameter.NormalizationMode). */
export type NormalizationMode = 'FULL' | 'VALID' | 'BATCH_SIZE' | 'NONE';

/** Loss parameters shared by loss layers (Caffe's LossParameter). */
export interface LossParams {
  /** Positions with this label add nothing to the loss or the gradient. */
  ignoreLabel?: number;
  /** Default VALID: divide by the number of labels that are not ignored. */
  normalization?: NormalizationMode;
  /** Legacy: true means VALID, false BATCH_SIZE; used only when `normalization` is not given. */
  normalize?: boolean;
}

/** SoftmaxWithLoss parameters: Caffe's softmax_param and loss_param. */
export interface SoftmaxWithLossParams {
  softmax?: SoftmaxParams;
  loss?: LossParams;
}

/** Caffe's FLT_MIN: the smallest normal float32, so log() of a probability that underflowed stays finite. */
const FLT_MIN = 1.17549435e-38;

/**
 * Softmax followed by the multinomial logistic loss, in one layer for a stable gradient.
 *
 *   bottoms: scores [N,C,H,W] (softmax over `softmax.axis`), labels with N*H*W elements
 *   tops:    loss [] and, optionally, the probabilities [N,C,H,W]
 *   forward:  p = softmax(scores); loss = -sum_{valid i} log(max(p[i, label_i], FLT_MIN)) / normalizer
 *   backward: dscores[i, c] = (p[i, c] - [c == label_i]) * dloss / normalizer, 0 where the label is ignored
 *
 * normalizer (Caffe's get_normalizer, never below 1): FULL = N*H*W, VALID = number of
 * non-ignored labels, BATCH_SIZE = N (the axes before the softmax axis), NONE = 1.
 * dloss is the loss top's diff (its loss weight). As in Caffe, the labels get no gradient
 * and the gradient of the probabilities top is ignored.
 */
export class SoftmaxWithLossLayer extends Layer {
  readonly type = 'SoftmaxWithLoss';
  readonly ignoreLabel: number | undefined;
  readonly normalization: NormalizationMode;
  private readonly softmax: SoftmaxLayer;
  private prob = new Blob('prob');
  private outer = 0;
  private channels = 0;
  private inner = 0;
  private normalizer = 1;

  constructor(name: string, params: SoftmaxWithLossParams = {}) {
    super(name);
    this.softmax = new SoftmaxLayer(`${name}/softmax`, params.softmax);
    const loss = params.loss ?? {};
    this.ignoreLabel = loss.ignoreLabel;
    this.normalization = loss.normalization ?? (loss.normalize === false ? 'BATCH_SIZE' : 'VALID');
  }

  override get isLoss(): boolean {
    return true;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], context: SetupContext): void {
    this.expectBlobs(bottom, top, 2, [1, 2]);
    this.prob = new Blob(`${this.name}/prob`, bottom[0]!.shape, context.dtype);
    this.softmax.setup([bottom[0]!], [this.prob]);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const [scores, labels] = [bottom[0]!, bottom[1]!];
    const axis = canonicalAxis(this.softmax.axis, scores.shape.length);
    if (axis === undefined) throw this.shapeError(scores, `which has no axis ${this.softmax.axis}`);
    this.outer = countAxes(scores.shape, 0, axis);
    this.channels = scores.shape[axis]!;
    this.inner = countAxes(scores.shape, axis + 1);
    if (labels.count !== this.outer * this.inner) {
      throw this.shapeError(
        labels,
        `but scores '${scores.name}' ${formatShape(scores.shape)} with softmax axis ${axis} need ` +
          `${this.outer * this.inner} labels (one per position outside the axis, values in 0..${this.channels - 1})`,
      );
    }
    this.softmax.reshape([scores], [this.prob]);
    top[0]!.reshape([]);
    top[1]?.reshape(scores.shape);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    this.softmax.forward([bottom[0]!], [this.prob]);
    const p = this.prob.data.data;
    const labels = bottom[1]!.data.data;
    const { outer, channels, inner } = this;
    let loss = 0;
    let valid = 0;
    for (let o = 0; o < outer; o++) {
      for (let s = 0; s < inner; s++) {
        const label = this.labelAt(labels, o, s);
        if (label === undefined) continue;
        loss -= Math.log(Math.max(p[(o * channels + label) * inner + s], FLT_MIN));
        valid++;
      }
    }
    this.normalizer = this.normalizerFor(valid);
    top[0]!.data.data[0] = loss / this.normalizer;
    if (top[1]) top[1].data.data.set(p.subarray(0, this.prob.count));
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (propagateDown[1]) {
      throw this.error(`cannot backpropagate to the labels '${bottom[1]!.name}' (set propagateDown false for them)`);
    }
    if (!propagateDown[0]) return;
    const p = this.prob.data.data;
    const labels = bottom[1]!.data.data;
    const dx = bottom[0]!.diff.data;
    const { outer, channels, inner } = this;
    const scale = top[0]!.diff.data[0] / this.normalizer;
    for (let o = 0; o < outer; o++) {
      for (let s = 0; s < inner; s++) {
        const label = this.labelAt(labels, o, s);
        for (let c = 0; c < channels; c++) {
          const i = (o * channels + c) * inner + s;
          dx[i] = label === undefined ? 0 : (p[i] - (c === label ? 1 : 0)) * scale;
        }
      }
    }
  }

  /** The label at (outer o, inner s) as an integer class, or undefined when it is ignored. */
  private labelAt(labels: Float32Array | Float64Array, o: number, s: number): number | undefined {
    const label = Math.trunc(labels[o * this.inner + s]);
    if (label === this.ignoreLabel) return undefined;
    if (!(label >= 0 && label < this.channels)) {
      throw this.error(
        `label ${labels[o * this.inner + s]} at position ${o * this.inner + s} (outer ${o}, inner ${s}) ` +
          `is outside 0..${this.channels - 1}`,
      );
    }
    return label;
  }

  private normalizerFor(valid: number): number {
    const n = { FULL: this.outer * this.inner, VALID: valid, BATCH_SIZE: this.outer, NONE: 1 }[this.normalization];
    // Caffe's guard: a batch with every label ignored gives loss 0, not NaN.
    return Math.max(1, n);
  }
}
