import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob, type ParamSpec } from '../blob.js';
import { LayerError } from '../errors.js';
import type { Phase } from '../layer.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { BatchNormLayer, type BatchNormParams } from './batch-norm.js';

function setUp(bottom: Blob, params: BatchNormParams, phase: Phase, specs: ParamSpec[] = [], top = new Blob('y', [], 'float64')): [BatchNormLayer, Blob] {
  const layer = new BatchNormLayer('bn', params, specs);
  layer.phase = phase;
  layer.setup([bottom], [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape([bottom], [top]);
  return [layer, top];
}

const close = (actual: number[], expected: number[], digits = 9): void => {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, digits));
};

// x=[2,2,1,2]: channel 0 holds 1, 2 (n=0) and 3, 6 (n=1): mean 3, biased variance (4+1+0+9)/4 = 3.5,
// unbiased 3.5 * 4/3 = 4.6666667. Channel 1 holds 0, 0 and 4, 4: mean 2, variance 4.
const x = (): Blob => blobOf('x', Tensor.fromArray([1, 2, 0, 0, 3, 6, 4, 4], [2, 2, 1, 2]));

describe('BatchNorm', () => {
  it('normalises x=[2,2,1,2] with batch statistics in TRAIN and updates the moving averages, by hand', () => {
    const bottom = x();
    const [layer, y] = setUp(bottom, { eps: 0 }, 'TRAIN');
    expect(layer.useGlobalStats).toBe(false);
    layer.forward([bottom], [y]);
    const s = Math.sqrt(3.5);
    close(y.data.toFlatArray(), [-2 / s, -1 / s, -1, -1, 0, 3 / s, 1, 1]);
    const [mean, variance, weight] = layer.params;
    // From zeros: s = 0.999 * 0 + 1, sums = 0.999 * 0 + batch values (variance with m / (m - 1) = 4/3).
    close(weight!.data.toFlatArray(), [1]);
    close(mean!.data.toFlatArray(), [3, 2]);
    close(variance!.data.toFlatArray(), [3.5 * (4 / 3), 4 * (4 / 3)]);
    layer.forward([bottom], [y]);
    close(weight!.data.toFlatArray(), [1.999]);
    close(mean!.data.toFlatArray(), [3 * 1.999, 2 * 1.999]);
  });

  it('normalises with the stored sums divided by the scale factor in TEST, x=[2,2,1,2]', () => {
    const bottom = x();
    const [layer, y] = setUp(bottom, { eps: 0 }, 'TEST');
    expect(layer.useGlobalStats).toBe(true);
    layer.params[0]!.data.data.set([6, 4]); // means * 2
    layer.params[1]!.data.data.set([8, 18]); // variances * 2: 4 and 9
    layer.params[2]!.data.data.set([2]);
    layer.forward([bottom], [y]);
    // Channel 0: (x - 3) / 2; channel 1: (x - 2) / 3.
    close(y.data.toFlatArray(), [-1, -0.5, -2 / 3, -2 / 3, 0, 1.5, 2 / 3, 2 / 3]);
    y.diff.data.fill(1);
    layer.backward([y], [true], [bottom]);
    close(bottom.diff.toFlatArray(), [0.5, 0.5, 1 / 3, 1 / 3, 0.5, 0.5, 1 / 3, 1 / 3]);
  });

  it('gives the same values on float32 blobs, x=[2,2,1,2]', () => {
    const bottom = new Blob('x', [2, 2, 1, 2], 'float32');
    bottom.data.data.set([1, 2, 0, 0, 3, 6, 4, 4]);
    const layer = new BatchNormLayer('bn', { eps: 0 });
    layer.phase = 'TRAIN';
    const y = new Blob('y', [], 'float32');
    layer.setup([bottom], [y], { dtype: 'float32', rng: new Rng(1) });
    layer.reshape([bottom], [y]);
    layer.forward([bottom], [y]);
    const s = Math.sqrt(3.5);
    close(y.data.toFlatArray(), [-2 / s, -1 / s, -1, -1, 0, 3 / s, 1, 1], 6);
    expect(layer.params[0]!.dtype).toBe('float32');
  });

  it('treats a zero scale factor as mean 0 and variance 0 (y = x / sqrt(eps)), as Caffe', () => {
    const bottom = x();
    const [layer, y] = setUp(bottom, {}, 'TEST');
    layer.forward([bottom], [y]);
    close(y.data.toFlatArray(), bottom.data.toFlatArray().map((v) => v / Math.sqrt(1e-5)), 6);
  });

  it('gives a zero gradient for a constant dy with batch statistics (the mean is subtracted)', () => {
    const bottom = x();
    const [layer, y] = setUp(bottom, {}, 'TRAIN');
    layer.forward([bottom], [y]);
    y.diff.data.fill(1);
    layer.backward([y], [true], [bottom]);
    close(bottom.diff.toFlatArray(), new Array(8).fill(0), 12);
  });

  it.each([
    { shape: [3, 2, 3, 4], useGlobalStats: false },
    { shape: [4, 3], useGlobalStats: false },
    { shape: [2, 3, 2, 2], useGlobalStats: true },
  ])('passes the float64 gradient check, x=$shape useGlobalStats=$useGlobalStats', ({ shape, useGlobalStats }) => {
    const bottom = randomBlob('x', shape, 13, -2, 3);
    const [layer, y] = setUp(bottom, { useGlobalStats }, 'TRAIN');
    if (useGlobalStats) {
      const channels = shape[1]!;
      layer.params[0]!.data.data.set(Array.from({ length: channels }, (_, c) => 0.3 * c - 0.2));
      layer.params[1]!.data.data.set(Array.from({ length: channels }, (_, c) => 0.5 + c));
      layer.params[2]!.data.data.set([1.7]);
    }
    const result = checkGradients(layer, [bottom], [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBe(bottom.count);
  });

  it('runs in place with the same values and gradient, and keeps y for backward, x=[3,2,2]', () => {
    const bottom = randomBlob('x', [3, 2, 2], 6);
    const [layer, separate] = setUp(bottom, {}, 'TRAIN');
    layer.forward([bottom], [separate]);
    separate.diff.data.set([0.1, -0.4, 1, 0.3, 0.2, 0.7, -1, 0, 0.5, 0.5, -0.2, 0.9]);
    const xGrad = new Blob('xg', bottom.shape, 'float64');
    layer.backward([separate], [true], [xGrad]);
    layer.forward([bottom], [bottom]);
    bottom.data.data.fill(123); // a following in-place layer (Scale) overwrites y
    bottom.diff.data.set(separate.diff.data);
    layer.backward([bottom], [true], [bottom]);
    close(bottom.diff.toFlatArray(), xGrad.diff.toFlatArray(), 12);
  });

  it('keeps its three blobs frozen (lrMult 0) and refuses a learning rate for them', () => {
    const [layer] = setUp(x(), {}, 'TRAIN', [{ lrMult: 0 }, { lrMult: 0 }, { lrMult: 0 }]);
    expect(layer.params.map((p) => [p.shape, p.frozen])).toEqual([[[2], true], [[2], true], [[1], true]]);
    expect(setUp(x(), {}, 'TRAIN')[0].params.every((p) => p.frozen)).toBe(true);
    expect(() => new BatchNormLayer('bn', {}, [{ lrMult: 1 }])).toThrow(LayerError);
  });

  it('names the layer and shape when x=[2,3,4] does not have the 2 channels of its statistics', () => {
    const [layer, y] = setUp(x(), {}, 'TRAIN');
    const wrong = randomBlob('x', [2, 3, 4], 1);
    expect(() => layer.reshape([wrong], [y])).toThrow(ShapeError);
    expect(() => layer.reshape([wrong], [y])).toThrow("BatchNorm layer 'bn': bottom 'x' has shape [2,3,4], but the layer has statistics for 2 channels (axis 1)");
  });
});
