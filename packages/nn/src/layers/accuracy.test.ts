import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import { blobOf, randomBlob } from '../testing/gradient-check.js';
import { AccuracyLayer, type AccuracyParams } from './accuracy.js';

function accuracy(params: AccuracyParams, scores: Blob, labels: Blob, tops = 1): number[][] {
  const layer = new AccuracyLayer('acc', params);
  const top = Array.from({ length: tops }, (_, i) => new Blob(`top${i}`, [], 'float64'));
  layer.setup([scores, labels], top, { dtype: 'float64', rng: new Rng(1) });
  layer.reshape([scores, labels], top);
  layer.forward([scores, labels], top);
  return top.map((t) => t.data.toFlatArray());
}

// Four rows of scores=[4,3]; the label's rank with Caffe's rule (other classes scoring >= the label's):
//   [0.1, 0.7, 0.2] label 1: none            -> right at top 1
//   [0.5, 0.3, 0.2] label 1: class 0         -> right at top 2
//   [0.2, 0.2, 0.6] label 0: classes 1 (tie) and 2 -> wrong at top 2, right at top 3
//   [0.3, 0.3, 0.4] label 2: none            -> right at top 1
const scores = blobOf('scores', Tensor.fromArray([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]]));
const labels = blobOf('labels', Tensor.fromArray([1, 1, 0, 2]));

describe('Accuracy', () => {
  it('top 1 of scores=[4,3] is 2/4 and top 2 is 3/4, ties counted against the label, by hand', () => {
    expect(accuracy({}, scores, labels)).toEqual([[0.5]]);
    expect(accuracy({ topK: 2 }, scores, labels)).toEqual([[0.75]]);
    expect(accuracy({ topK: 3 }, scores, labels)).toEqual([[1]]);
  });

  it('gives per-class accuracy [C] as a second top: class 0 0/1, class 1 1/2, class 2 1/1', () => {
    const [total, perClass] = accuracy({}, scores, labels, 2);
    expect(total).toEqual([0.5]);
    expect(perClass).toEqual([0, 0.5, 1]);
  });

  it('counts a full tie as wrong for every label, scores=[2,2] [0.5, 0.5]', () => {
    const tied = blobOf('scores', Tensor.fromArray([[0.5, 0.5], [0.5, 0.5]]));
    expect(accuracy({}, tied, blobOf('labels', Tensor.fromArray([0, 1])))).toEqual([[0]]);
    expect(accuracy({ topK: 2 }, tied, blobOf('labels', Tensor.fromArray([0, 1])))).toEqual([[1]]);
  });

  it('skips ignored labels: scores=[4,3] with row 1 ignored is 2/3 at top 1', () => {
    const withIgnored = blobOf('labels', Tensor.fromArray([1, -1, 0, 2]));
    const [total, perClass] = accuracy({ ignoreLabel: -1 }, scores, withIgnored, 2);
    expect(total![0]).toBeCloseTo(2 / 3, 12);
    expect(perClass).toEqual([0, 1, 1]);
  });

  it('reads classes on axis 1 at every position of scores=[1,3,2] (labels [1,2])', () => {
    // Position 0 scores (0.1, 0.8, 0.1), label 1: right. Position 1 scores (0.5, 0.2, 0.3), label 2: wrong at top 1.
    const spatial = blobOf('scores', Tensor.fromArray([0.1, 0.5, 0.8, 0.2, 0.1, 0.3], [1, 3, 2]));
    const spatialLabels = blobOf('labels', Tensor.fromArray([1, 2], [1, 2]));
    expect(accuracy({}, spatial, spatialLabels)).toEqual([[0.5]]);
    expect(accuracy({ topK: 2 }, spatial, spatialLabels)).toEqual([[1]]);
  });

  it('names the layer and shapes when labels do not fit scores=[4,3], and rejects topK > C', () => {
    expect(() => accuracy({}, scores, blobOf('labels', Tensor.fromArray([1, 2, 0])))).toThrow(ShapeError);
    expect(() => accuracy({}, scores, blobOf('labels', Tensor.fromArray([1, 2, 0])))).toThrow(
      "Accuracy layer 'acc': bottom 'labels' has shape [3], but scores 'scores' [4,3] with class axis 1 need 4 labels",
    );
    expect(() => accuracy({ topK: 4 }, scores, labels)).toThrow(/fewer than topK = 4 classes/);
  });

  it('has no gradient', () => {
    const layer = new AccuracyLayer('acc');
    const x = randomBlob('x', [2, 3], 1);
    expect(() => layer.backward([], [true, false], [x])).toThrow(LayerError);
    expect(() => layer.backward([], [false, false], [x])).not.toThrow();
  });
});
