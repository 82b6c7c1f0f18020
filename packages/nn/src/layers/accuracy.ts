import { formatShape } from '@cnn/tensor';
import type { Blob } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { canonicalAxis, countAxes } from './axes.js';

/** Accuracy parameters (Caffe's AccuracyParameter). */
export interface AccuracyParams {
  /** A prediction is right when the label is among the `topK` highest scores. Default 1. */
  topK?: number;
  /** The class axis of the scores; negative counts from the end. Default 1. */
  axis?: number;
  /** Positions with this label are not counted. */
  ignoreLabel?: number;
}

/**
 * Top-k classification accuracy; no gradient.
 *
 *   bottoms: scores [N,C,H,W] (classes on `axis`), labels with N*H*W elements
 *   tops:    accuracy [] and, optionally, per-class accuracy [C]
 *   forward: a position is right when fewer than topK other classes score >= its label's score
 *            (ties count against the label, as in Caffe); accuracy = right / counted positions.
 *            Per class: right / positions with that label (0 for a class that never occurs).
 *
 * With every label ignored the accuracy is 0 / 0 = NaN, as in Caffe.
 */
export class AccuracyLayer extends Layer {
  readonly type = 'Accuracy';
  readonly topK: number;
  readonly axis: number;
  readonly ignoreLabel: number | undefined;
  private outer = 0;
  private channels = 0;
  private inner = 0;

  constructor(name: string, params: AccuracyParams = {}) {
    super(name);
    this.topK = params.topK ?? 1;
    this.axis = params.axis ?? 1;
    this.ignoreLabel = params.ignoreLabel;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], _context?: SetupContext): void {
    this.expectBlobs(bottom, top, 2, [1, 2]);
    if (!Number.isInteger(this.topK) || this.topK < 1) throw this.error(`topK must be a positive integer, got ${this.topK}`);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const [scores, labels] = [bottom[0]!, bottom[1]!];
    const axis = canonicalAxis(this.axis, scores.shape.length);
    if (axis === undefined) throw this.shapeError(scores, `which has no axis ${this.axis}`);
    this.outer = countAxes(scores.shape, 0, axis);
    this.channels = scores.shape[axis]!;
    this.inner = countAxes(scores.shape, axis + 1);
    if (labels.count !== this.outer * this.inner) {
      throw this.shapeError(
        labels,
        `but scores '${scores.name}' ${formatShape(scores.shape)} with class axis ${axis} need ${this.outer * this.inner} labels`,
      );
    }
    if (this.topK > this.channels) throw this.shapeError(scores, `which has fewer than topK = ${this.topK} classes`);
    top[0]!.reshape([]);
    top[1]?.reshape([this.channels]);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const scores = bottom[0]!.data.data;
    const labels = bottom[1]!.data.data;
    const { outer, channels, inner, topK } = this;
    const right = new Float64Array(channels);
    const seen = new Float64Array(channels);
    let rightTotal = 0;
    let counted = 0;
    for (let o = 0; o < outer; o++) {
      for (let s = 0; s < inner; s++) {
        const label = Math.trunc(labels[o * inner + s]);
        if (label === this.ignoreLabel) continue;
        if (!(label >= 0 && label < channels)) {
          throw this.error(`label ${labels[o * inner + s]} at position ${o * inner + s} (outer ${o}, inner ${s}) is outside 0..${channels - 1}`);
        }
        const base = o * channels * inner + s;
        const labelScore = scores[base + label * inner];
        let atLeastAsHigh = 0;
        for (let c = 0; c < channels; c++) if (c !== label && scores[base + c * inner] >= labelScore) atLeastAsHigh++;
        seen[label]++;
        counted++;
        if (atLeastAsHigh < topK) {
          right[label]++;
          rightTotal++;
        }
      }
    }
    top[0]!.data.data[0] = rightTotal / counted;
    if (top[1]) {
      const perClass = top[1].data.data;
      for (let c = 0; c < channels; c++) perClass[c] = seen[c] === 0 ? 0 : right[c] / seen[c];
    }
  }

  backward(_top: readonly Blob[], propagateDown: readonly boolean[], _bottom?: readonly Blob[]): void {
    if (propagateDown.some(Boolean)) throw this.error('has no gradient; it cannot backpropagate');
  }
}
