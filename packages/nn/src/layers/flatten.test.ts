import { Rng, ShapeError } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import { checkGradients, randomBlob } from '../testing/gradient-check.js';
import { FlattenLayer, type FlattenParams } from './flatten.js';

function setUp(params: FlattenParams, bottom: Blob): [FlattenLayer, Blob] {
  const layer = new FlattenLayer('flat', params);
  const top = new Blob('y', [], 'float64');
  layer.setup([bottom], [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape([bottom], [top]);
  return [layer, top];
}

describe('Flatten', () => {
  it.each([
    { params: {}, expected: [2, 60] },
    { params: { axis: 0 }, expected: [120] },
    { params: { axis: 1, endAxis: 2 }, expected: [2, 12, 5] },
    { params: { axis: -3, endAxis: -2 }, expected: [2, 12, 5] },
    { params: { axis: 2, endAxis: 2 }, expected: [2, 3, 4, 5] },
  ])('reshapes x=[2,3,4,5] with $params to $expected', ({ params, expected }) => {
    const x = randomBlob('x', [2, 3, 4, 5], 1);
    const [layer, y] = setUp(params, x);
    expect(y.shape).toEqual(expected);
    layer.forward([x], [y]);
    expect(y.data.toFlatArray()).toEqual(x.data.toFlatArray());
  });

  it('passes the float64 gradient check (a copy of the gradient), x=[2,3,2,2]', () => {
    const x = randomBlob('x', [2, 3, 2, 2], 2);
    const [layer, y] = setUp({}, x);
    const result = checkGradients(layer, [x], [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBe(x.count);
  });

  it('names the layer and shape for axes x=[2,3] does not have or in the wrong order', () => {
    const x = randomBlob('x', [2, 3], 1);
    expect(() => setUp({ axis: 2 }, x)).toThrow(ShapeError);
    expect(() => setUp({ axis: 1, endAxis: 0 }, x)).toThrow("Flatten layer 'flat': bottom 'x' has shape [2,3], which cannot be flattened from axis 1 to axis 0");
  });

  it('cannot run in place', () => {
    const x = randomBlob('x', [2, 3], 1);
    expect(() => new FlattenLayer('flat').setup([x], [x], { dtype: 'float64', rng: new Rng(1) })).toThrow(LayerError);
  });
});
