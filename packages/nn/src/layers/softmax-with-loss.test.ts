import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { SoftmaxWithLossLayer, type SoftmaxWithLossParams } from './softmax-with-loss.js';

function setUp(layer: SoftmaxWithLossLayer, bottoms: Blob[], tops = 1): Blob[] {
  const top = Array.from({ length: tops }, (_, i) => new Blob(`top${i}`, [], 'float64'));
  layer.setup(bottoms, top, { dtype: 'float64', rng: new Rng(1) });
  layer.reshape(bottoms, top);
  return top;
}

function lossOf(params: SoftmaxWithLossParams, scores: Blob, labels: Blob): number {
  const layer = new SoftmaxWithLossLayer('loss', params);
  const [loss] = setUp(layer, [scores, labels]);
  layer.forward([scores, labels], [loss!]);
  return loss!.data.data[0]!;
}

// Hand values: softmax([1, 2, 3]) = [0.0900305732, 0.2447284711, 0.6652409558], so with label 2
// the loss is -ln(0.6652409558) = 0.4076059644; a constant column [0, 0, 0] with label 0 gives ln 3 = 1.0986122887.
const LOSS_123 = 0.4076059644;
const LN3 = 1.0986122887;

describe('SoftmaxWithLoss', () => {
  it('gives -log p[label] for scores=[1,3] [1,2,3] and label 2, by hand', () => {
    const scores = blobOf('scores', Tensor.fromArray([[1, 2, 3]]));
    const labels = blobOf('labels', Tensor.fromArray([2]));
    const layer = new SoftmaxWithLossLayer('loss');
    const [loss, prob] = setUp(layer, [scores, labels], 2);
    expect(loss!.shape).toEqual([]);
    layer.forward([scores, labels], [loss!, prob!]);
    expect(loss!.data.data[0]).toBeCloseTo(LOSS_123, 9);
    expect(prob!.shape).toEqual([1, 3]);
    prob!.data.toFlatArray().forEach((p, i) => expect(p).toBeCloseTo([0.0900305732, 0.2447284711, 0.6652409558][i]!, 9));

    // dscores = (p - onehot(2)) * dloss / 1, here with a loss weight of 2.
    loss!.diff.data[0] = 2;
    layer.backward([loss!, prob!], [true, false], [scores, labels]);
    scores.diff.toFlatArray().forEach((d, i) => expect(d).toBeCloseTo(2 * [0.0900305732, 0.2447284711, 0.6652409558 - 1][i]!, 9));
  });

  // Scores [1,3,3]: softmax over C at three positions, columns [1,2,3] (label 2), [0,0,0] (label 0)
  // and [5,5,5] (label -1, ignored). Summed loss 0.4076059644 + 1.0986122887 = 1.5062182531, 2 valid labels.
  const scores = blobOf('scores', Tensor.fromArray([1, 0, 5, 2, 0, 5, 3, 0, 5], [1, 3, 3]));
  const labels = blobOf('labels', Tensor.fromArray([2, 0, -1], [1, 3]));
  it.each([
    { name: 'VALID (2 labels)', params: { loss: { ignoreLabel: -1, normalization: 'VALID' } }, expected: (LOSS_123 + LN3) / 2 },
    { name: 'FULL (N*H*W = 3)', params: { loss: { ignoreLabel: -1, normalization: 'FULL' } }, expected: (LOSS_123 + LN3) / 3 },
    { name: 'BATCH_SIZE (N = 1)', params: { loss: { ignoreLabel: -1, normalization: 'BATCH_SIZE' } }, expected: LOSS_123 + LN3 },
    { name: 'NONE', params: { loss: { ignoreLabel: -1, normalization: 'NONE' } }, expected: LOSS_123 + LN3 },
    { name: 'default = VALID', params: { loss: { ignoreLabel: -1 } }, expected: (LOSS_123 + LN3) / 2 },
    { name: 'legacy normalize true = VALID', params: { loss: { ignoreLabel: -1, normalize: true } }, expected: (LOSS_123 + LN3) / 2 },
    { name: 'legacy normalize false = BATCH_SIZE', params: { loss: { ignoreLabel: -1, normalize: false } }, expected: LOSS_123 + LN3 },
  ] as { name: string; params: SoftmaxWithLossParams; expected: number }[])(
    'normalises scores=[1,3,3] with ignore_label -1 by $name, by hand',
    ({ params, expected }) => {
      expect(lossOf(params, scores, labels)).toBeCloseTo(expected, 9);
    },
  );

  it('divides by the batch size for scores=[3,3] with one ignored row (BATCH_SIZE = 3)', () => {
    const rows = blobOf('scores', Tensor.fromArray([[1, 2, 3], [0, 0, 0], [5, 5, 5]]));
    const rowLabels = blobOf('labels', Tensor.fromArray([2, 0, 7]));
    expect(lossOf({ loss: { ignoreLabel: 7, normalization: 'BATCH_SIZE' } }, rows, rowLabels)).toBeCloseTo((LOSS_123 + LN3) / 3, 9);
    expect(lossOf({ loss: { ignoreLabel: 7 } }, rows, rowLabels)).toBeCloseTo((LOSS_123 + LN3) / 2, 9);
  });

  it('gives loss 0, not NaN, when every label of scores=[2,3] is ignored (normalizer max(1, 0))', () => {
    const rows = blobOf('scores', Tensor.fromArray([[1, 2, 3], [0, 0, 0]]));
    expect(lossOf({ loss: { ignoreLabel: 1 } }, rows, blobOf('labels', Tensor.fromArray([1, 1])))).toBe(0);
  });

  it('clamps p at FLT_MIN: scores=[1,2] [0, 200] with label 0 gives -ln(FLT_MIN) = 87.3365', () => {
    const rows = blobOf('scores', Tensor.fromArray([[0, 200]]));
    expect(lossOf({}, rows, blobOf('labels', Tensor.fromArray([0])))).toBeCloseTo(87.33654475, 6);
  });

  it('zeroes the gradient at ignored positions and divides by the valid count, scores=[1,3,3]', () => {
    const layer = new SoftmaxWithLossLayer('loss', { loss: { ignoreLabel: -1 } });
    const [loss] = setUp(layer, [scores, labels]);
    layer.forward([scores, labels], [loss!]);
    loss!.diff.data[0] = 1;
    layer.backward([loss!], [true, false], [scores, labels]);
    // Column 0: (p - onehot(2)) / 2; column 1: (1/3 - onehot(0)) / 2; column 2 ignored.
    const expected = [0.0900305732 / 2, (1 / 3 - 1) / 2, 0, 0.2447284711 / 2, 1 / 6, 0, (0.6652409558 - 1) / 2, 1 / 6, 0];
    scores.diff.toFlatArray().forEach((d, i) => expect(d).toBeCloseTo(expected[i]!, 9));
  });

  it.each([
    { shape: [4, 5], normalization: 'VALID' },
    { shape: [2, 4, 3, 2], normalization: 'VALID' },
    { shape: [2, 4, 3, 2], normalization: 'FULL' },
    { shape: [2, 4, 3, 2], normalization: 'BATCH_SIZE' },
    { shape: [2, 4, 3, 2], normalization: 'NONE' },
  ] as const)('passes the float64 gradient check, scores=$shape ignore_label=1 $normalization', ({ shape, normalization }) => {
    const x = randomBlob('scores', shape, 21, -2, 2);
    const positions = x.count / shape[1];
    const rng = new Rng(3);
    const labelShape = [shape[0], ...shape.slice(2)];
    const y = blobOf('labels', Tensor.fromArray(Array.from({ length: positions }, () => rng.int(shape[1])), labelShape));
    const layer = new SoftmaxWithLossLayer('loss', { loss: { ignoreLabel: 1, normalization } });
    const tops = setUp(layer, [x, y]);
    const result = checkGradients(layer, [x, y], tops, { checkBottoms: [true, false] });
    expect(result.report).toBe('');
    expect(result.checked).toBe(x.count);
  });

  it('softmax axis -1 over scores=[2,3,4] with labels [2,3]', () => {
    const x = randomBlob('scores', [2, 3, 4], 8);
    const y = blobOf('labels', Tensor.fromArray([0, 1, 2, 3, 3, 2], [2, 3]));
    const layer = new SoftmaxWithLossLayer('loss', { softmax: { axis: -1 } });
    const tops = setUp(layer, [x, y]);
    const result = checkGradients(layer, [x, y], tops, { checkBottoms: [true, false] });
    expect(result.report).toBe('');
    expect(result.checked).toBe(x.count);
  });

  it('names the layer, both shapes and the label count when labels do not fit scores=[2,3,4,4]', () => {
    const x = randomBlob('scores', [2, 3, 4, 4], 1);
    const y = blobOf('labels', Tensor.fromArray([0, 1]));
    const layer = new SoftmaxWithLossLayer('loss');
    expect(() => setUp(layer, [x, y])).toThrow(ShapeError);
    expect(() => setUp(layer, [x, y])).toThrow(/SoftmaxWithLoss layer 'loss': bottom 'labels' has shape \[2\], but scores 'scores' \[2,3,4,4\].*need 32 labels/);
  });

  it('computes the same loss and gradient on float32 blobs, scores=[2,3]', () => {
    const scores32 = new Blob('scores', [2, 3], 'float32');
    scores32.data.data.set([1, 2, 3, 0, 0, 0]);
    const labels32 = new Blob('labels', [2], 'float32');
    labels32.data.data.set([2, 0]);
    const layer = new SoftmaxWithLossLayer('loss');
    const loss = new Blob('loss', [], 'float32');
    layer.setup([scores32, labels32], [loss], { dtype: 'float32', rng: new Rng(1) });
    layer.reshape([scores32, labels32], [loss]);
    layer.forward([scores32, labels32], [loss]);
    expect(loss.data.data[0]).toBeCloseTo((LOSS_123 + LN3) / 2, 6);
    loss.diff.data[0] = 1;
    layer.backward([loss], [true, false], [scores32, labels32]);
    const expected = [0.0900305732, 0.2447284711, 0.6652409558 - 1, 1 / 3 - 1, 1 / 3, 1 / 3].map((v) => v / 2);
    scores32.diff.toFlatArray().forEach((d, i) => expect(d).toBeCloseTo(expected[i]!, 6));
  });

  it('names the position and value of a label outside 0..C-1', () => {
    const x = randomBlob('scores', [2, 3], 1);
    const y = blobOf('labels', Tensor.fromArray([0, 3]));
    const layer = new SoftmaxWithLossLayer('loss');
    const [loss] = setUp(layer, [x, y]);
    expect(() => layer.forward([x, y], [loss!])).toThrow("SoftmaxWithLoss layer 'loss': label 3 at position 1 (outer 1, inner 0) is outside 0..2");
  });

  it('refuses to backpropagate to the labels', () => {
    const x = randomBlob('scores', [2, 3], 1);
    const y = blobOf('labels', Tensor.fromArray([0, 2]));
    const layer = new SoftmaxWithLossLayer('loss');
    const [loss] = setUp(layer, [x, y]);
    layer.forward([x, y], [loss!]);
    expect(() => layer.backward([loss!], [true, true], [x, y])).toThrow(LayerError);
    expect(layer.isLoss).toBe(true);
  });
});
