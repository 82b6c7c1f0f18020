import { Rng, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { ClipLayer } from './clip.js';

function setUp(layer: ClipLayer, bottom: Blob, top = new Blob('y', [], 'float64')): Blob {
  layer.setup([bottom], [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape([bottom], [top]);
  return top;
}

describe('Clip', () => {
  it('clamps x=[6] to [-1, 2] and passes the gradient where -1 <= x <= 2 (bounds included, as Caffe), by hand', () => {
    const x = blobOf('x', Tensor.fromArray([-3, -1, 0.5, 2, 2.5, -0.25]));
    const clip = new ClipLayer('clip', { min: -1, max: 2 });
    const y = setUp(clip, x);
    clip.forward([x], [y]);
    expect(y.data.toFlatArray()).toEqual([-1, -1, 0.5, 2, 2, -0.25]);
    y.diff.data.set([1, 2, 3, 4, 5, 6]);
    clip.backward([y], [true], [x]);
    expect(x.diff.toFlatArray()).toEqual([0, 2, 3, 4, 0, 6]);
  });

  it.each([
    { shape: [2, 3, 4, 5], min: -0.5, max: 0.5 },
    { shape: [5, 7], min: 0, max: 10 },
  ])('passes the float64 gradient check, x=$shape min=$min max=$max', ({ shape, min, max }) => {
    const x = randomBlob('x', shape, 7);
    const clip = new ClipLayer('clip', { min, max });
    const y = setUp(clip, x);
    const result = checkGradients(clip, [x], [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBeGreaterThan(0.95 * x.count);
  });

  it('runs in place with the same values and gradient, x=[4,6]', () => {
    const x = randomBlob('x', [4, 6], 4);
    const clip = new ClipLayer('clip', { min: -0.3, max: 0.3 });
    const separate = setUp(clip, x);
    clip.forward([x], [separate]);
    separate.diff.data.fill(1);
    const xGrad = new Blob('xg', x.shape, 'float64');
    clip.backward([separate], [true], [xGrad]);
    clip.forward([x], [x]);
    x.diff.data.fill(1);
    clip.backward([x], [true], [x]);
    expect(x.data.toFlatArray()).toEqual(separate.data.toFlatArray());
    expect(x.diff.toFlatArray()).toEqual(xGrad.diff.toFlatArray());
    expect(xGrad.diff.toFlatArray()).toContain(0);
  });

  it('needs both min and max', () => {
    expect(() => new ClipLayer('clip', { min: 0 })).toThrow(LayerError);
    expect(() => new ClipLayer('clip', { max: 1 })).toThrow("Clip layer 'clip': needs both min and max, got min undefined and max 1");
  });
});
