import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob, type ParamSpec } from '../blob.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { ScaleLayer, type ScaleParams } from './scale.js';

function setUp(bottoms: Blob[], params: ScaleParams = {}, specs: ParamSpec[] = [], top = new Blob('y', [], 'float64')): [ScaleLayer, Blob] {
  const layer = new ScaleLayer('scale', params, specs);
  layer.setup(bottoms, [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape(bottoms, [top]);
  return [layer, top];
}

describe('Scale', () => {
  it('multiplies channels of x=[2,2,1] by s=[2,3] and adds b=[1,-1], with the gradients, by hand', () => {
    // x rows: n=0 (1, 2), n=1 (3, 4). y = [1*2+1, 2*3-1, 3*2+1, 4*3-1] = [3, 5, 7, 11].
    const x = blobOf('x', Tensor.fromArray([1, 2, 3, 4], [2, 2, 1]));
    const [layer, y] = setUp([x], { biasTerm: true });
    expect(layer.params.map((p) => p.data.toFlatArray())).toEqual([[1, 1], [0, 0]]);
    layer.params[0]!.data.data.set([2, 3]);
    layer.params[1]!.data.data.set([1, -1]);
    layer.forward([x], [y]);
    expect(y.data.toFlatArray()).toEqual([3, 5, 7, 11]);
    // dy = [1, 2, 3, 4]: dx = dy * s = [2, 6, 6, 12]; ds = [1*1 + 3*3, 2*2 + 4*4] = [10, 20]; db = [4, 6].
    y.diff.data.set([1, 2, 3, 4]);
    layer.backward([y], [true], [x]);
    expect(x.diff.toFlatArray()).toEqual([2, 6, 6, 12]);
    expect(layer.params[0]!.diff.toFlatArray()).toEqual([10, 20]);
    expect(layer.params[1]!.diff.toFlatArray()).toEqual([4, 6]);
  });

  it.each([
    { shape: [2, 3, 4], axis: 1, numAxes: 1, scale: [3] },
    { shape: [2, 3, 4, 2], axis: 1, numAxes: 2, scale: [3, 4] },
    { shape: [2, 3, 4, 2], axis: 1, numAxes: -1, scale: [3, 4, 2] },
    { shape: [2, 3, 4, 2], axis: -1, numAxes: 1, scale: [2] },
    { shape: [2, 3], axis: 0, numAxes: 0, scale: [] },
  ])('learns a scale of shape $scale for x=$shape axis=$axis numAxes=$numAxes', ({ shape, axis, numAxes, scale }) => {
    const [layer] = setUp([randomBlob('x', shape, 1)], { axis, numAxes });
    expect(layer.params[0]!.shape).toEqual(scale);
  });

  it.each([
    { shape: [2, 3, 4, 3], params: { biasTerm: true } },
    { shape: [2, 3, 4, 3], params: { biasTerm: false } },
    { shape: [3, 2, 3, 2], params: { axis: 1, numAxes: 2, biasTerm: true } },
    { shape: [2, 3, 4], params: { axis: -1, numAxes: 1, biasTerm: true } },
  ] as { shape: number[]; params: ScaleParams }[])('passes the float64 gradient check with one bottom, x=$shape $params', ({ shape, params }) => {
    const x = randomBlob('x', shape, 14);
    const [layer, y] = setUp([x], { ...params, filler: { type: 'uniform', min: -1, max: 1 }, biasFiller: { type: 'uniform', min: -1, max: 1 } });
    const result = checkGradients(layer, [x], [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBe(x.count + layer.params.reduce((n, p) => n + p.count, 0));
  });

  it.each([
    { shape: [2, 3, 4, 3], scale: [3], axis: 1, biasTerm: false },
    { shape: [2, 3, 4, 3], scale: [3, 4], axis: 1, biasTerm: true },
    { shape: [2, 3, 4], scale: [2, 3], axis: 0, biasTerm: true },
    { shape: [2, 3, 4], scale: [], axis: 1, biasTerm: false },
  ])('passes the float64 gradient check with two bottoms, x=$shape s=$scale axis=$axis bias=$biasTerm', ({ shape, scale, axis, biasTerm }) => {
    const x = randomBlob('x', shape, 15);
    const s = randomBlob('s', scale, 16);
    const [layer, y] = setUp([x, s], { axis, biasTerm, biasFiller: { type: 'uniform', min: -1, max: 1 } });
    expect(layer.params.map((p) => p.shape)).toEqual(biasTerm ? [scale] : []);
    const result = checkGradients(layer, [x, s], [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBe(x.count + s.count + layer.params.reduce((n, p) => n + p.count, 0));
  });

  it('runs in place with the same values and gradients, x=[2,3,2]', () => {
    const x = randomBlob('x', [2, 3, 2], 4);
    const apart = randomBlob('x', [2, 3, 2], 4);
    const [layer, separate] = setUp([apart], { biasTerm: true, filler: { type: 'uniform', min: -2, max: 2 } });
    layer.forward([apart], [separate]);
    separate.diff.data.set([0.1, -0.4, 1, 0.3, 0.2, 0.7, -1, 0, 0.5, 0.5, -0.2, 0.9]);
    layer.backward([separate], [true], [apart]);
    const grads = layer.params.map((p) => p.diff.toFlatArray());
    layer.params.forEach((p) => p.zeroDiff());
    layer.forward([x], [x]);
    x.diff.data.set(separate.diff.data);
    layer.backward([x], [true], [x]);
    expect(x.data.toFlatArray()).toEqual(separate.data.toFlatArray());
    expect(x.diff.toFlatArray()).toEqual(apart.diff.toFlatArray());
    expect(layer.params.map((p) => p.diff.toFlatArray())).toEqual(grads);
  });

  it('leaves a frozen scale (lrMult 0) without gradient while the bias still learns, x=[2,3]', () => {
    const x = randomBlob('x', [2, 3], 5);
    const [layer, y] = setUp([x], { biasTerm: true }, [{ lrMult: 0 }]);
    layer.forward([x], [y]);
    y.diff.data.fill(1);
    layer.backward([y], [true], [x]);
    expect(layer.params[0]!.diff.toFlatArray()).toEqual([0, 0, 0]);
    expect(layer.params[1]!.diff.toFlatArray()).toEqual([2, 2, 2]);
  });

  it('names the layer and shapes when s=[4] does not match x=[2,3,4] from axis 1', () => {
    const x = randomBlob('x', [2, 3, 4], 1);
    const s = randomBlob('s', [4], 2);
    expect(() => setUp([x, s])).toThrow(ShapeError);
    expect(() => setUp([x, s])).toThrow("Scale layer 'scale': bottom 'x' has shape [2,3,4], but bottom 's' [4] must match its axes from axis 1");
    const [layer, y] = setUp([x]);
    expect(() => layer.reshape([randomBlob('x', [2, 5, 4], 1)], [y])).toThrow(/has shape \[2,5,4\], but the learned scale \[3\]/);
    expect(() => setUp([x], { numAxes: 3 })).toThrow(/cannot hold a scale of 3 axes from axis 1/);
  });
});
