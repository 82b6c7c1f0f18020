import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { SoftmaxLayer } from './softmax.js';

function setUp(layer: SoftmaxLayer, bottom: Blob): Blob {
  const top = new Blob('y', [], 'float64');
  layer.setup([bottom], [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape([bottom], [top]);
  return top;
}

describe('Softmax', () => {
  it('normalises each row of x=[2,3], by hand', () => {
    // e = 2.718281828, e^2 = 7.389056099, e^3 = 20.08553692, sum 30.19287485:
    // softmax([1, 2, 3]) = [0.0900305732, 0.2447284711, 0.6652409558]; a constant row gives 1/3 each.
    const x = blobOf('x', Tensor.fromArray([[1, 2, 3], [0, 0, 0]]));
    const softmax = new SoftmaxLayer('prob');
    const y = setUp(softmax, x);
    softmax.forward([x], [y]);
    const expected = [0.0900305732, 0.2447284711, 0.6652409558, 1 / 3, 1 / 3, 1 / 3];
    y.data.toFlatArray().forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 9));
  });

  it('normalises over C at every (n, h, w) of x=[1,2,1,2], by hand', () => {
    // Position w=0 holds (0, ln 3): e^0 / (1 + 3) = 0.25 and 0.75; position w=1 holds (0, 0): 0.5 each.
    const x = blobOf('x', Tensor.fromArray([0, 0, Math.log(3), 0], [1, 2, 1, 2], { dtype: 'float64' }));
    const softmax = new SoftmaxLayer('prob');
    const y = setUp(softmax, x);
    softmax.forward([x], [y]);
    y.data.toFlatArray().forEach((v, i) => expect(v).toBeCloseTo([0.25, 0.5, 0.75, 0.5][i]!, 12));
  });

  it('does not overflow on large scores x=[1,3]', () => {
    const x = blobOf('x', Tensor.fromArray([[1000, 1001, 1002]]));
    const softmax = new SoftmaxLayer('prob');
    const y = setUp(softmax, x);
    softmax.forward([x], [y]);
    y.data.toFlatArray().forEach((v, i) => expect(v).toBeCloseTo([0.0900305732, 0.2447284711, 0.6652409558][i]!, 9));
  });

  it.each([
    { shape: [3, 5], axis: 1 },
    { shape: [2, 3, 4], axis: -1 },
    { shape: [2, 4, 3, 2], axis: 1 },
    { shape: [2, 4, 3, 2], axis: -2 },
  ])('passes the float64 gradient check, x=$shape axis=$axis', ({ shape, axis }) => {
    const x = randomBlob('x', shape, 11, -2, 2);
    const softmax = new SoftmaxLayer('prob', { axis });
    const y = setUp(softmax, x);
    const result = checkGradients(softmax, [x], [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBe(x.count);
  });

  it('runs in place with the same values and gradient, x=[2,3,2]', () => {
    const x = randomBlob('x', [2, 3, 2], 5);
    const softmax = new SoftmaxLayer('prob');
    const separate = setUp(softmax, x);
    softmax.forward([x], [separate]);
    separate.diff.data.set([0.3, -1, 2, 0.5, 0.1, -0.7, 1, 1, 0, 2, -2, 0.4]);
    const xGrad = new Blob('xg', x.shape, 'float64');
    softmax.backward([separate], [true], [xGrad]);
    softmax.forward([x], [x]);
    x.diff.data.set(separate.diff.data);
    softmax.backward([x], [true], [x]);
    expect(x.data.toFlatArray()).toEqual(separate.data.toFlatArray());
    expect(x.diff.toFlatArray()).toEqual(xGrad.diff.toFlatArray());
  });

  it('names the layer and the shape for an axis x=[2,3] does not have', () => {
    const x = randomBlob('x', [2, 3], 1);
    expect(() => setUp(new SoftmaxLayer('prob', { axis: 2 }), x)).toThrow(ShapeError);
    expect(() => setUp(new SoftmaxLayer('prob', { axis: -3 }), x)).toThrow("Softmax layer 'prob': bottom 'x' has shape [2,3], which has no axis -3");
  });
});
