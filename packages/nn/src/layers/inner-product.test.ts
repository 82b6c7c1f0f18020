import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob, type ParamSpec } from '../blob.js';
import { LayerError } from '../errors.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { InnerProductLayer, type InnerProductParams } from './inner-product.js';

const random: InnerProductParams = { weightFiller: { type: 'uniform', min: -1, max: 1 }, biasFiller: { type: 'uniform', min: -1, max: 1 } };

function setUp(layer: InnerProductLayer, bottom: Blob, dtype: 'float32' | 'float64' = 'float64'): Blob {
  const top = new Blob('y', [], dtype);
  layer.setup([bottom], [top], { dtype, rng: new Rng(7) });
  layer.reshape([bottom], [top]);
  return top;
}

describe('InnerProduct: values by hand', () => {
  // x = [[1,2,3],[4,5,6]], W = [[1,0,-1],[0.5,0.5,0.5]], b = [1,-1]
  // y = x W^T + b: y[0] = [1 - 3 + 1, 3 - 1] = [-1, 2]; y[1] = [4 - 6 + 1, 7.5 - 1] = [-1, 6.5]
  // with dy = [[1,0],[0,1]]: dW = dy^T x = x, db = [1,1], dx = dy W = W
  it.each([
    { transpose: false, weight: [1, 0, -1, 0.5, 0.5, 0.5], weightShape: [2, 3], dW: [1, 2, 3, 4, 5, 6] },
    { transpose: true, weight: [1, 0.5, 0, 0.5, -1, 0.5], weightShape: [3, 2], dW: [1, 4, 2, 5, 3, 6] },
  ])('x=[2,3] o=2 transpose=$transpose: y = x W^T + b and its gradients', ({ transpose, weight, weightShape, dW }) => {
    const ip = new InnerProductLayer('fc', { numOutput: 2, transpose });
    const x = blobOf('x', Tensor.fromArray([[1, 2, 3], [4, 5, 6]], undefined, { dtype: 'float64' }));
    const y = setUp(ip, x);
    expect(ip.params.map((p) => p.shape)).toEqual([weightShape, [2]]);
    ip.params[0]!.data.data.set(weight);
    ip.params[1]!.data.data.set([1, -1]);
    ip.forward([x], [y]);
    expect(y.shape).toEqual([2, 2]);
    expect(y.data.toFlatArray()).toEqual([-1, 2, -1, 6.5]);
    y.diff.data.set([1, 0, 0, 1]);
    x.diff.data.fill(NaN);
    ip.backward([y], [true], [x]);
    expect(ip.params[0]!.diff.toFlatArray()).toEqual(dW);
    expect(ip.params[1]!.diff.toFlatArray()).toEqual([1, 1]);
    expect(x.diff.toFlatArray()).toEqual([1, 0, -1, 0.5, 0.5, 0.5]);
  });

  it('x=[1,2,1,2] axis=1 flattens C, H, W in row-major order into K=4', () => {
    const ip = new InnerProductLayer('fc', { numOutput: 1, biasTerm: false });
    const x = blobOf('x', Tensor.fromArray([[[[1, 2]], [[3, 4]]]], undefined, { dtype: 'float64' }));
    const y = setUp(ip, x);
    ip.params[0]!.data.data.set([1, 10, 100, 1000]);
    ip.forward([x], [y]);
    // 1*1 + 2*10 + 3*100 + 4*1000
    expect(y.shape).toEqual([1, 1]);
    expect(y.data.toFlatArray()).toEqual([4321]);
    expect(ip.params).toHaveLength(1);
  });

  it.each([
    { x: [2, 3, 2, 2], axis: 1, top: [2, 5], weight: [5, 12], madds: 2 * 12 * 5 },
    { x: [2, 3, 2, 2], axis: 2, top: [2, 3, 5], weight: [5, 4], madds: 6 * 4 * 5 },
    { x: [2, 3, 2, 2], axis: -1, top: [2, 3, 2, 5], weight: [5, 2], madds: 12 * 2 * 5 },
    { x: [2, 3, 2, 2], axis: 0, top: [5], weight: [5, 24], madds: 24 * 5 },
  ])('x=$x axis=$axis gives top $top, weight $weight and M*K*N multiply-adds', ({ x, axis, top, weight, madds }) => {
    const ip = new InnerProductLayer('fc', { numOutput: 5, axis });
    const bottom = new Blob('x', x, 'float64');
    const y = setUp(ip, bottom);
    expect(y.shape).toEqual(top);
    expect(ip.params[0]!.shape).toEqual(weight);
    expect(ip.multiplyAdds([bottom], [y])).toBe(madds);
  });

  it('CaffeNet fc8 on fc7: x=[10,4096] o=1000 has weight [1000,4096] and 40,960,000 multiply-adds', () => {
    const ip = new InnerProductLayer('fc8', { numOutput: 1000 });
    const x = new Blob('fc7', [10, 4096]);
    const y = setUp(ip, x, 'float32');
    expect(ip.params.map((p) => p.shape)).toEqual([[1000, 4096], [1000]]);
    expect(y.shape).toEqual([10, 1000]);
    expect(ip.multiplyAdds([x], [y])).toBe(40_960_000);
  });
});

interface GradCase {
  x: number[];
  params: InnerProductParams;
}

const gradCases: GradCase[] = [];
for (const transpose of [false, true]) {
  gradCases.push(
    { x: [3, 5], params: { numOutput: 4, transpose } },
    { x: [2, 3, 3, 3], params: { numOutput: 6, transpose } },
    { x: [2, 3, 2, 3], params: { numOutput: 3, axis: 2, transpose } },
    { x: [1, 7], params: { numOutput: 2, transpose, biasTerm: false } },
  );
}

describe('InnerProduct: float64 gradient check', () => {
  it.each(gradCases.map((c) => [`x=[${c.x.join(',')}] o=${c.params.numOutput} axis=${c.params.axis ?? 1} transpose=${c.params.transpose} bias=${c.params.biasTerm ?? true}`, c] as const))(
    '%s',
    (_, c) => {
      const x = randomBlob('x', c.x, 3);
      const ip = new InnerProductLayer('fc', { ...random, ...c.params });
      const y = setUp(ip, x);
      const result = checkGradients(ip, [x], [y]);
      expect(result.report).toBe('');
      const elements = x.count + ip.params.reduce((sum, p) => sum + p.count, 0);
      expect(result.checked).toBeGreaterThan(0.95 * elements);
    },
  );
});

describe('InnerProduct: backward contract', () => {
  const build = (paramSpecs: ParamSpec[] = []) => {
    const x = randomBlob('x', [3, 2, 2, 2], 5);
    const ip = new InnerProductLayer('fc', { ...random, numOutput: 4 }, paramSpecs);
    const y = setUp(ip, x);
    ip.forward([x], [y]);
    y.diff.data.set(Tensor.uniform(y.shape, 9, -1, 1, { dtype: 'float64' }).data);
    return { x, ip, y };
  };

  it.each([
    { spec: [{ lrMult: 0 }, { lrMult: 1 }], frozen: [true, false] },
    { spec: [{ lrMult: 1 }, { lrMult: 0 }], frozen: [false, true] },
    { spec: [{ lrMult: 0 }, { lrMult: 0 }], frozen: [true, true] },
  ])('a frozen param (lrMult 0) gets no gradient, x=[3,2,2,2] o=4, frozen=$frozen', ({ spec, frozen }) => {
    const { x, ip, y } = build(spec);
    ip.backward([y], [true], [x]);
    ip.params.forEach((param, i) => expect(param.diff.toFlatArray().some((v) => v !== 0)).toBe(!frozen[i]));
    expect(x.diff.toFlatArray().some((v) => v !== 0)).toBe(true);
  });

  it('adds into param diffs and overwrites the bottom diff (two backward passes: params double, x stays)', () => {
    const { x, ip, y } = build();
    ip.backward([y], [true], [x]);
    const once = ip.params.map((p) => p.diff.toFlatArray());
    const dx = x.diff.toFlatArray();
    ip.backward([y], [true], [x]);
    ip.params.forEach((p, i) => p.diff.toFlatArray().forEach((v, j) => expect(v).toBeCloseTo(2 * once[i]![j]!, 12)));
    expect(x.diff.toFlatArray()).toEqual(dx);
  });

  it('propagateDown false leaves the bottom diff alone', () => {
    const { x, ip, y } = build();
    x.diff.data.fill(42);
    ip.backward([y], [false], [x]);
    expect(x.diff.toFlatArray().every((v) => v === 42)).toBe(true);
    expect(ip.params[0]!.diff.toFlatArray().some((v) => v !== 0)).toBe(true);
  });
});

describe('InnerProduct: errors name the layer and the shapes', () => {
  it('a reshape to another input size than at setup: [2,9216] then [2,4096]', () => {
    const ip = new InnerProductLayer('fc6', { numOutput: 3 });
    const top = new Blob('y', [], 'float64');
    ip.setup([new Blob('pool5', [2, 9216], 'float64')], [top], { dtype: 'float64', rng: new Rng(1) });
    expect(() => ip.reshape([new Blob('pool5', [2, 4096], 'float64')], [top])).toThrow(ShapeError);
    expect(() => ip.reshape([new Blob('pool5', [2, 4096], 'float64')], [top])).toThrow(
      /InnerProduct layer 'fc6'.*'pool5' has shape \[2,4096\].*4096 inputs.*weight \[3,9216\] takes 9216/,
    );
  });

  it('an axis outside the bottom: x=[2,3] axis=2', () => {
    expect(() => setUp(new InnerProductLayer('fc', { numOutput: 1, axis: 2 }), new Blob('x', [2, 3], 'float64'))).toThrow(
      /InnerProduct layer 'fc'.*\[2,3\].*axis 2 is outside its 2 axes/,
    );
  });

  it('missing or bad numOutput, and a wrong number of blobs', () => {
    expect(() => new InnerProductLayer('fc', {})).toThrow(LayerError);
    expect(() => new InnerProductLayer('fc', {})).toThrow(/InnerProduct layer 'fc': numOutput is required/);
    expect(() => new InnerProductLayer('fc', { numOutput: 0 })).toThrow(/numOutput must be an integer > 0/);
    const ip = new InnerProductLayer('fc', { numOutput: 1 });
    expect(() => ip.setup([new Blob('a', [1, 2]), new Blob('b', [1, 2])], [new Blob('y')], { dtype: 'float32', rng: new Rng(1) })).toThrow(
      /InnerProduct layer 'fc' needs 1 bottom/,
    );
  });
});
