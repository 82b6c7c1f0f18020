import { Rng } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import { InputLayer, type InputParams } from './input.js';

function setUp(params: InputParams, tops: number): Blob[] {
  const layer = new InputLayer('data', params);
  const top = Array.from({ length: tops }, (_, i) => new Blob(`top${i}`, [], 'float32'));
  layer.setup([], top, { dtype: 'float32', rng: new Rng(1) });
  layer.reshape([], top);
  return top;
}

describe('Input', () => {
  it('gives one shape to every top: [10,3,227,227] for data and label', () => {
    const [data, label] = setUp({ shape: [{ dim: [10, 3, 227, 227] }] }, 2);
    expect(data!.shape).toEqual([10, 3, 227, 227]);
    expect(label!.shape).toEqual([10, 3, 227, 227]);
  });

  it('gives one shape per top: data [2,3,4,4] and label [2]', () => {
    const [data, label] = setUp({ shape: [{ dim: [2, 3, 4, 4] }, { dim: [2] }] }, 2);
    expect(data!.shape).toEqual([2, 3, 4, 4]);
    expect(label!.shape).toEqual([2]);
  });

  it('leaves the data the caller wrote and a later reshape by the caller alone', () => {
    const layer = new InputLayer('data', { shape: [{ dim: [1, 2] }] });
    const top = new Blob('data', [], 'float32');
    layer.setup([], [top], { dtype: 'float32', rng: new Rng(1) });
    top.data.data.set([3, 4]);
    layer.reshape([], [top]);
    layer.forward([], [top]);
    expect(top.data.toFlatArray()).toEqual([3, 4]);
    top.reshape([5, 2]);
    layer.reshape([], [top]);
    expect(top.shape).toEqual([5, 2]);
  });

  it('rejects 2 shapes for 3 tops, bottoms, and negative dims', () => {
    expect(() => setUp({ shape: [{ dim: [1] }, { dim: [2] }] }, 3)).toThrow("Input layer 'data': needs one shape for all tops or one per top: got 2 shapes for 3 tops");
    expect(() => new InputLayer('data').setup([new Blob('x')], [new Blob('y')], { dtype: 'float32', rng: new Rng(1) })).toThrow(LayerError);
    expect(() => setUp({ shape: [{ dim: [2, -1] }] }, 1)).toThrow(/invalid shape \[2,-1\]/);
  });
});
