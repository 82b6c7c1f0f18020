import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { ConcatLayer, type ConcatParams } from './concat.js';

function setUp(params: ConcatParams, bottoms: Blob[]): [ConcatLayer, Blob] {
  const layer = new ConcatLayer('concat', params);
  const top = new Blob('y', [], 'float64');
  layer.setup(bottoms, [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape(bottoms, [top]);
  return [layer, top];
}

describe('Concat', () => {
  it('joins a=[1,2,2] and b=[1,1,2] on axis 1, and splits the gradient back, by hand', () => {
    const a = blobOf('a', Tensor.fromArray([[[1, 2], [3, 4]]]));
    const b = blobOf('b', Tensor.fromArray([[[5, 6]]]));
    const [layer, y] = setUp({}, [a, b]);
    layer.forward([a, b], [y]);
    expect(y.shape).toEqual([1, 3, 2]);
    expect(y.data.toFlatArray()).toEqual([1, 2, 3, 4, 5, 6]);
    y.diff.data.set([10, 20, 30, 40, 50, 60]);
    layer.backward([y], [true, true], [a, b]);
    expect(a.diff.toFlatArray()).toEqual([10, 20, 30, 40]);
    expect(b.diff.toFlatArray()).toEqual([50, 60]);
  });

  it('joins a=[2,2] and b=[2,1] on the last axis, row by row, by hand', () => {
    const a = blobOf('a', Tensor.fromArray([[1, 2], [3, 4]]));
    const b = blobOf('b', Tensor.fromArray([[5], [6]]));
    const [layer, y] = setUp({ axis: -1 }, [a, b]);
    layer.forward([a, b], [y]);
    expect(y.shape).toEqual([2, 3]);
    expect(y.data.toFlatArray()).toEqual([1, 2, 5, 3, 4, 6]);
  });

  it.each([
    { shapes: [[2, 3, 2], [1, 3, 2]], axis: 0 },
    { shapes: [[2, 2, 3], [2, 1, 3], [2, 3, 3]], axis: 1 },
    { shapes: [[2, 3, 2, 2], [2, 3, 1, 2]], axis: 2 },
    { shapes: [[3, 4]], axis: 1 },
  ])('passes the float64 gradient check, bottoms=$shapes axis=$axis', ({ shapes, axis }) => {
    const bottoms = shapes.map((shape, i) => randomBlob(`x${i}`, shape, 10 + i));
    const [layer, y] = setUp({ axis }, bottoms);
    const result = checkGradients(layer, bottoms, [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBe(bottoms.reduce((n, b) => n + b.count, 0));
  });

  it('takes the legacy concatDim as the axis, and not together with axis', () => {
    const a = randomBlob('a', [2, 3], 1);
    const [, y] = setUp({ concatDim: 0 }, [a, a]);
    expect(y.shape).toEqual([4, 3]);
    expect(() => new ConcatLayer('concat', { axis: 1, concatDim: 1 })).toThrow(LayerError);
  });

  it('names the layer and every shape when a=[2,3,4] b=[2,5,3] differ off the axis', () => {
    const a = randomBlob('a', [2, 3, 4], 1);
    const b = randomBlob('b', [2, 5, 3], 2);
    expect(() => setUp({}, [a, b])).toThrow(ShapeError);
    expect(() => setUp({}, [a, b])).toThrow("Concat layer 'concat': bottoms must have the same shape except on axis 1, got 'a' [2,3,4], 'b' [2,5,3]");
    expect(() => setUp({}, [a, randomBlob('c', [2, 3], 3)])).toThrow(/'c' \[2,3\]/);
  });
});
