import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { EltwiseLayer, type EltwiseParams } from './eltwise.js';

function run(params: EltwiseParams, bottoms: Blob[]): [EltwiseLayer, Blob] {
  const layer = new EltwiseLayer('eltwise', params);
  const top = new Blob('y', [], 'float64');
  layer.setup(bottoms, [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape(bottoms, [top]);
  layer.forward(bottoms, [top]);
  return [layer, top];
}

const vector = (name: string, values: number[]): Blob => blobOf(name, Tensor.fromArray(values));

describe('Eltwise', () => {
  // a = [1, -2, 3], b = [4, 5, -6].
  it('SUM of a=[3] and b=[3] is [5, 3, -3]; with coeff [1, -1] it is [-3, -7, 9] and dx_i = coeff_i * dy, by hand', () => {
    const a = vector('a', [1, -2, 3]);
    const b = vector('b', [4, 5, -6]);
    expect(run({}, [a, b])[1].data.toFlatArray()).toEqual([5, 3, -3]);
    const [layer, y] = run({ operation: 'SUM', coeff: [1, -1] }, [a, b]);
    expect(y.data.toFlatArray()).toEqual([-3, -7, 9]);
    y.diff.data.set([1, 2, 3]);
    layer.backward([y], [true, true], [a, b]);
    expect(a.diff.toFlatArray()).toEqual([1, 2, 3]);
    expect(b.diff.toFlatArray()).toEqual([-1, -2, -3]);
  });

  it('PROD of a=[3] and b=[3] is [4, -10, -18], and da = dy * b, db = dy * a, by hand', () => {
    const a = vector('a', [1, -2, 3]);
    const b = vector('b', [4, 5, -6]);
    const [layer, y] = run({ operation: 'PROD' }, [a, b]);
    expect(y.data.toFlatArray()).toEqual([4, -10, -18]);
    y.diff.data.set([1, 2, 3]);
    layer.backward([y], [true, true], [a, b]);
    expect(a.diff.toFlatArray()).toEqual([4, 10, -18]);
    expect(b.diff.toFlatArray()).toEqual([1, -4, 9]);
  });

  it('PROD stable gradient stays finite where a bottom is 0, a=[0, 2] b=[3, 4]', () => {
    const a = vector('a', [0, 2]);
    const b = vector('b', [3, 4]);
    const [layer, y] = run({ operation: 'PROD' }, [a, b]);
    y.diff.data.fill(1);
    layer.backward([y], [true, true], [a, b]);
    expect(a.diff.toFlatArray()).toEqual([3, 4]);
    expect(b.diff.toFlatArray()).toEqual([0, 2]);
  });

  it('MAX of a=[3] and b=[3] is [4, 5, 3], and the gradient goes to the argmax only, by hand', () => {
    const a = vector('a', [1, -2, 3]);
    const b = vector('b', [4, 5, -6]);
    const [layer, y] = run({ operation: 'MAX' }, [a, b]);
    expect(y.data.toFlatArray()).toEqual([4, 5, 3]);
    y.diff.data.set([1, 2, 3]);
    layer.backward([y], [true, true], [a, b]);
    expect(a.diff.toFlatArray()).toEqual([0, 0, 3]);
    expect(b.diff.toFlatArray()).toEqual([1, 2, 0]);
  });

  it('MAX breaks ties as Caffe: bottom 1 over bottom 0, then the earlier bottom, a=[1,2,3] b=[1,0,3] c=[1,2,3]', () => {
    const a = vector('a', [1, 2, 3]);
    const b = vector('b', [1, 0, 3]);
    const c = vector('c', [1, 2, 3]);
    const [layer, y] = run({ operation: 'MAX' }, [a, b, c]);
    y.diff.data.fill(1);
    layer.backward([y], [true, true, true], [a, b, c]);
    expect(a.diff.toFlatArray()).toEqual([0, 1, 0]);
    expect(b.diff.toFlatArray()).toEqual([1, 0, 1]);
    expect(c.diff.toFlatArray()).toEqual([0, 0, 0]);
  });

  it.each([
    { operation: 'SUM', bottoms: 2, coeff: undefined },
    { operation: 'SUM', bottoms: 3, coeff: [0.5, -2, 1.5] },
    { operation: 'PROD', bottoms: 3, stableProdGrad: true },
    { operation: 'PROD', bottoms: 3, stableProdGrad: false },
    { operation: 'MAX', bottoms: 3 },
  ] as (EltwiseParams & { bottoms: number })[])(
    'passes the float64 gradient check, x=[2,3,3,2] x $bottoms $operation coeff=$coeff stable=$stableProdGrad',
    ({ bottoms: n, ...params }) => {
      // Magnitudes in [0.5, 1.5] with random signs keep y / x_i well defined for the unstable PROD gradient.
      const bottoms = Array.from({ length: n }, (_, k) => {
        const blob = randomBlob(`x${k}`, [2, 3, 3, 2], 30 + k, 0.5, 1.5);
        const signs = new Rng(40 + k);
        for (let i = 0; i < blob.count; i++) if (signs.bernoulli(0.5)) blob.data.data[i] = -blob.data.data[i]!;
        return blob;
      });
      const [layer, y] = run(params, bottoms);
      const result = checkGradients(layer, bottoms, [y]);
      expect(result.report).toBe('');
      expect(result.checked).toBeGreaterThan(0.95 * n * bottoms[0]!.count);
    },
  );

  it('names the layer and every shape when bottoms a=[2,3] b=[3,2] differ', () => {
    const a = randomBlob('a', [2, 3], 1);
    const b = randomBlob('b', [3, 2], 2);
    expect(() => run({}, [a, b])).toThrow(ShapeError);
    expect(() => run({}, [a, b])).toThrow("Eltwise layer 'eltwise': bottoms must have the same shape, got 'a' [2,3], 'b' [3,2]");
  });

  it('needs two bottoms, one coefficient per bottom, and no coefficients for PROD', () => {
    const a = randomBlob('a', [2, 3], 1);
    expect(() => run({}, [a])).toThrow(LayerError);
    expect(() => run({ coeff: [1, 2, 3] }, [a, a])).toThrow(/one coefficient per bottom: got 3 for 2 bottoms/);
    expect(() => new EltwiseLayer('eltwise', { operation: 'PROD', coeff: [1, 1] })).toThrow(/coefficients only for SUM/);
  });
});
