import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob, type ParamSpec } from '../blob.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { PReLULayer, type PReLUParams } from './prelu.js';

function setUp(bottom: Blob, params: PReLUParams = {}, specs: ParamSpec[] = [], top = new Blob('y', [], 'float64')): [PReLULayer, Blob] {
  const layer = new PReLULayer('prelu', params, specs);
  layer.setup([bottom], [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape([bottom], [top]);
  return [layer, top];
}

describe('PReLU', () => {
  it('scales negatives of x=[1,2,1,2] by the default slope 0.25 per channel, by hand', () => {
    // Channel 0 holds [-1, 2], channel 1 holds [-3, 4].
    const x = blobOf('x', Tensor.fromArray([-1, 2, -3, 4], [1, 2, 1, 2]));
    const [layer, y] = setUp(x);
    expect(layer.params[0]!.shape).toEqual([2]);
    layer.forward([x], [y]);
    expect(y.data.toFlatArray()).toEqual([-0.25, 2, -0.75, 4]);
    // With slopes (0.5, 0.1) and dy = [1, 1, 2, 2]: dx = [0.5, 1, 0.2, 2], da = [1 * -1, 2 * -3] = [-1, -6].
    layer.params[0]!.data.data.set([0.5, 0.1]);
    layer.forward([x], [y]);
    y.diff.data.set([1, 1, 2, 2]);
    layer.backward([y], [true], [x]);
    expect(x.diff.toFlatArray()).toEqual([0.5, 1, 0.2, 2]);
    expect(layer.params[0]!.diff.toFlatArray()).toEqual([-1, -6]);
  });

  it('stores a shared slope as a scalar [] (as Caffe) and sums its gradient over all channels', () => {
    const x = blobOf('x', Tensor.fromArray([-1, 2, -3, 4], [1, 2, 1, 2]));
    const [layer, y] = setUp(x, { channelShared: true });
    expect(layer.params[0]!.shape).toEqual([]);
    layer.forward([x], [y]);
    y.diff.data.fill(1);
    layer.backward([y], [true], [x]);
    expect(layer.params[0]!.diff.toFlatArray()).toEqual([-4]);
  });

  it.each([
    { shape: [2, 3, 4, 4], channelShared: false },
    { shape: [2, 3, 4, 4], channelShared: true },
    { shape: [3, 5], channelShared: false },
  ])('passes the float64 gradient check, x=$shape channelShared=$channelShared', ({ shape, channelShared }) => {
    const x = randomBlob('x', shape, 12);
    const [layer, y] = setUp(x, { channelShared, filler: { type: 'uniform', min: 0.1, max: 0.6 } });
    const result = checkGradients(layer, [x], [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBeGreaterThan(0.95 * (x.count + layer.params[0]!.count));
  });

  it('runs in place with the same values and gradients, x=[2,3,2,2]', () => {
    const x = randomBlob('x', [2, 3, 2, 2], 4);
    const apart = randomBlob('x', [2, 3, 2, 2], 4);
    const [layer, separate] = setUp(apart, { filler: { type: 'gaussian', std: 0.3 } });
    layer.forward([apart], [separate]);
    separate.diff.data.fill(1);
    layer.backward([separate], [true], [apart]);
    const slopeGrad = layer.params[0]!.diff.toFlatArray();
    layer.params[0]!.zeroDiff();
    layer.forward([x], [x]);
    x.diff.data.fill(1);
    layer.backward([x], [true], [x]);
    expect(x.data.toFlatArray()).toEqual(separate.data.toFlatArray());
    expect(x.diff.toFlatArray()).toEqual(apart.diff.toFlatArray());
    expect(layer.params[0]!.diff.toFlatArray()).toEqual(slopeGrad);
  });

  it('leaves a frozen slope (lrMult 0) without gradient but still propagates to x=[2,3,2]', () => {
    const x = randomBlob('x', [2, 3, 2], 5);
    const [layer, y] = setUp(x, {}, [{ lrMult: 0 }]);
    layer.forward([x], [y]);
    y.diff.data.fill(1);
    layer.backward([y], [true], [x]);
    expect(layer.params[0]!.diff.toFlatArray()).toEqual([0, 0, 0]);
    expect(x.diff.toFlatArray().some((d) => d !== 0)).toBe(true);
  });

  it('names the layer and shape when the channels of x=[2,4,3] do not match 3 slopes', () => {
    const [layer, y] = setUp(randomBlob('x', [2, 3, 3], 1));
    const wrong = randomBlob('x', [2, 4, 3], 1);
    expect(() => layer.reshape([wrong], [y])).toThrow(ShapeError);
    expect(() => layer.reshape([wrong], [y])).toThrow("PReLU layer 'prelu': bottom 'x' has shape [2,4,3], but the layer has 3 slopes, one per channel (axis 1)");
    expect(() => setUp(randomBlob('x', [5], 1))).toThrow(/shape \[5\], but needs at least 2 axes/);
  });
});
