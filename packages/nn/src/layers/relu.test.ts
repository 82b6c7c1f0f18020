import { Rng } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { Tensor } from '@cnn/tensor';
import { ReLULayer } from './relu.js';

function setUp(layer: ReLULayer, bottom: Blob): Blob {
  const top = new Blob('y', [], 'float64');
  layer.setup([bottom], [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape([bottom], [top]);
  return top;
}

describe('ReLU', () => {
  it('computes max(x, 0) and the leaky variant, by hand', () => {
    const x = blobOf('x', Tensor.fromArray([-2, -0.5, 0, 1.5]));
    const relu = new ReLULayer('relu');
    const y = setUp(relu, x);
    relu.forward([x], [y]);
    expect(y.data.toFlatArray()).toEqual([0, 0, 0, 1.5]);
    const leaky = new ReLULayer('leaky', { negativeSlope: 0.1 });
    const z = setUp(leaky, x);
    leaky.forward([x], [z]);
    expect(z.data.toFlatArray()).toEqual([-0.2, -0.05, 0, 1.5]);
  });

  it.each([
    { shape: [2, 3, 4, 5], negativeSlope: 0 },
    { shape: [3, 7], negativeSlope: 0.1 },
  ])('passes the float64 gradient check, x=$shape slope=$negativeSlope', ({ shape, negativeSlope }) => {
    const x = randomBlob('x', shape, 3);
    const relu = new ReLULayer('relu', { negativeSlope });
    const y = setUp(relu, x);
    const result = checkGradients(relu, [x], [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBeGreaterThan(0.9 * x.count);
  });

  it('runs in place with the same gradient as out of place', () => {
    const x = randomBlob('x', [2, 6], 4);
    const relu = new ReLULayer('relu');
    const separate = setUp(relu, x);
    relu.forward([x], [separate]);
    separate.diff.data.fill(1);
    const xGrad = new Blob('xg', x.shape, 'float64');
    relu.backward([separate], [true], [xGrad]);
    relu.forward([x], [x]);
    x.diff.data.fill(1);
    relu.backward([x], [true], [x]);
    expect(x.data.toFlatArray()).toEqual(separate.data.toFlatArray());
    expect(x.diff.toFlatArray()).toEqual(xGrad.diff.toFlatArray());
  });
});
