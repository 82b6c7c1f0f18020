import { Rng, ShapeError, Tensor, formatShape } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import type { Layer } from '../layer.js';
import { pooledSize } from '../kernels/pooling/index.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { PoolingLayer, type PoolingParams } from './pooling.js';

function setUp(layer: Layer, bottom: Blob, tops = 1): Blob[] {
  const top = Array.from({ length: tops }, (_, i) => new Blob(`y${i}`, [], bottom.dtype));
  layer.setup([bottom], top, { dtype: bottom.dtype, rng: new Rng(1) });
  layer.reshape([bottom], top);
  return top;
}

function run(params: PoolingParams, x: Blob, dy?: number[]): { y: number[]; shape: readonly number[]; dx: number[] } {
  const layer = new PoolingLayer('pool', params);
  const [y] = setUp(layer, x);
  layer.forward([x], [y!]);
  let dx: number[] = [];
  if (dy) {
    y!.diff.data.set(dy);
    layer.backward([y!], [true], [x]);
    dx = x.diff.toFlatArray();
  }
  return { y: y!.data.toFlatArray(), shape: y!.shape, dx };
}

const close = (actual: number[], expected: number[]): void => {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a, `element ${i}`).toBeCloseTo(expected[i]!, 12));
};

// A 4 x 4 plane whose windows have distinct maxima:
//    1  5  2  0
//    3  9  4  8
//    7  6 12 10
//   11 15 13 14
const plane4 = [1, 5, 2, 0, 3, 9, 4, 8, 7, 6, 12, 10, 11, 15, 13, 14];
const x4 = (): Blob => blobOf('x', Tensor.fromArray(plane4, [1, 1, 4, 4], { dtype: 'float64' }));

describe('Pooling output size (Caffe rule)', () => {
  it('rounds up by default: CIFAR-10 pool1 32 -> 16 with k=3 s=2, where floor gives 15', () => {
    // (32 - 3) / 2 = 14.5: ceil 15 + 1 = 16, floor 14 + 1 = 15.
    expect(pooledSize(32, 3, 2, 0, 'CEIL')).toBe(16);
    expect(pooledSize(32, 3, 2, 0, 'FLOOR')).toBe(15);
    const x = randomBlob('x', [1, 2, 32, 32], 5);
    expect(run({ kernelSize: 3, stride: 2 }, x).shape).toEqual([1, 2, 16, 16]);
    expect(run({ kernelSize: 3, stride: 2, roundMode: 'FLOOR' }, x).shape).toEqual([1, 2, 15, 15]);
  });

  it('gives CaffeNet 55 -> 27 -> 13 -> 6 with k=3 s=2, and 27 (not 26) after a 224 input', () => {
    expect(pooledSize(55, 3, 2, 0)).toBe(27);
    expect(pooledSize(27, 3, 2, 0)).toBe(13);
    expect(pooledSize(13, 3, 2, 0)).toBe(6);
    // conv1 at 224: floor((224 - 11) / 4) + 1 = 54; (54 - 3) / 2 = 25.5.
    expect(pooledSize(54, 3, 2, 0)).toBe(27);
    expect(pooledSize(54, 3, 2, 0, 'FLOOR')).toBe(26);
  });

  it('drops a last window that would start in the padding: x=[1,1,3,3] k=2 s=2 p=1 -> 2 x 2, not 3 x 3', () => {
    // ceil((3 + 2 - 2) / 2) + 1 = 3, but window 2 would start at 2 * 2 - 1 = 3 = H: only padding.
    // (3 - 1) * 2 = 4 >= H + p = 4, so Caffe drops it.
    expect(pooledSize(3, 2, 2, 1)).toBe(2);
    const x = blobOf('x', Tensor.fromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3], { dtype: 'float64' }));
    // Windows cover rows {0} (with padding row -1) and {1, 2}; columns likewise.
    const max = run({ kernelSize: 2, stride: 2, pad: 1 }, x);
    expect(max.shape).toEqual([1, 1, 2, 2]);
    expect(max.y).toEqual([1, 3, 7, 9]);
    // Every window spans 2 x 2 padded cells: 1/4, (2+3)/4, (4+7)/4, (5+6+8+9)/4.
    close(run({ pool: 'AVE', kernelSize: 2, stride: 2, pad: 1 }, x).y, [0.25, 1.25, 2.75, 7]);
  });

  it('keeps a 3 x 3 output at x=[1,1,4,4] k=3 s=2 p=1 ((3 - 1) * 2 = 4 < H + p = 5)', () => {
    expect(pooledSize(4, 3, 2, 1)).toBe(3);
  });
});

describe('Pooling by hand', () => {
  it('MAX x=[1,1,4,4] k=3 s=2 p=0 (ceil -> 2 x 2, the last windows overhang)', () => {
    // Windows rows {0,1,2} and {2,3}, columns likewise:
    //   {1,5,2,3,9,4,7,6,12} -> 12 (index 10)   {2,0,4,8,12,10} -> 12 (index 10)
    //   {7,6,12,11,15,13}    -> 15 (index 13)   {12,10,13,14}   -> 14 (index 15)
    // Backward with dy = [1,2,3,4]: dx[10] = 1 + 2, dx[13] = 3, dx[15] = 4.
    const x = x4();
    const { y, shape, dx } = run({ kernelSize: 3, stride: 2 }, x, [1, 2, 3, 4]);
    expect(shape).toEqual([1, 1, 2, 2]);
    expect(y).toEqual([12, 12, 15, 14]);
    const expected = new Array<number>(16).fill(0);
    expected[10] = 3;
    expected[13] = 3;
    expected[15] = 4;
    expect(dx).toEqual(expected);
    expect(run({ kernelSize: 3, stride: 2, roundMode: 'FLOOR' }, x4()).y).toEqual([12]);
  });

  it('AVE x=[1,1,4,4] k=3 s=2 p=0 divides by the window clipped to H + pad', () => {
    // Window sizes 3x3, 3x2, 2x3, 2x2 (no padding, so the overhang does not count):
    //   49 / 9, 36 / 6 = 6, 64 / 6 = 32/3, 49 / 4 = 12.25.
    // Backward with dy = [1,2,3,4]: shares 1/9, 2/6, 3/6, 4/4 spread over each window.
    const a = 1 / 9;
    const b = 1 / 3;
    const c = 1 / 2;
    const d = 1;
    const { y, dx } = run({ pool: 'AVE', kernelSize: 3, stride: 2 }, x4(), [1, 2, 3, 4]);
    close(y, [49 / 9, 6, 32 / 3, 12.25]);
    close(dx, [
      a, a, a + b, b,
      a, a, a + b, b,
      a + c, a + c, a + b + c + d, b + d,
      c, c, c + d, d,
    ]);
  });

  it('MAX and AVE x=[1,1,4,4] k=3 s=2 p=1 -> 3 x 3, padding counts in the AVE divisor', () => {
    // Rows (and columns) of the windows: {-1,0,1}, {1,2,3}, {3,4}, 4 being padding;
    // the last window's span is min(3 + 3, H + p = 5) - 3 = 2, so divisors are
    //   9 9 6 / 9 9 6 / 6 6 4.
    // MAX: {1,5,3,9} 9, {5,2,0,9,4,8} 9, {0,8} 8, {3,9,7,6,11,15} 15, {all but row 0, col 0} 15,
    //      {8,10,14} 14, {11,15} 15, {15,13,14} 15, {14} 14.
    expect(run({ kernelSize: 3, stride: 2, pad: 1 }, x4()).y).toEqual([9, 9, 8, 15, 15, 14, 15, 15, 14]);
    // AVE sums: 18, 28, 8, 51, 91, 32, 26, 42, 14.
    close(run({ pool: 'AVE', kernelSize: 3, stride: 2, pad: 1 }, x4()).y, [
      18 / 9, 28 / 9, 8 / 6,
      51 / 9, 91 / 9, 32 / 6,
      26 / 6, 42 / 6, 14 / 4,
    ]);
  });

  it('global pooling x=[2,3,5,4] -> [2,3,1,1]: the max and the mean of each plane', () => {
    const x = randomBlob('x', [2, 3, 5, 4], 8);
    const values = x.data.toFlatArray();
    const planes = Array.from({ length: 6 }, (_, p) => values.slice(p * 20, (p + 1) * 20));
    const max = run({ globalPooling: true }, x);
    expect(max.shape).toEqual([2, 3, 1, 1]);
    expect(max.y).toEqual(planes.map((p) => Math.max(...p)));
    close(run({ pool: 'AVE', globalPooling: true }, x).y, planes.map((p) => p.reduce((s, v) => s + v, 0) / 20));
  });

  it('MAX writes the argmax as a second top, Caffe style (h * W + w within the plane)', () => {
    const x = blobOf('x', Tensor.fromArray([...plane4, ...plane4.map((v) => -v)], [1, 2, 4, 4], { dtype: 'float64' }));
    const layer = new PoolingLayer('pool', { kernelSize: 3, stride: 2 });
    const [y, mask] = setUp(layer, x, 2);
    layer.forward([x], [y!, mask!]);
    // Second plane is negated: the maxima are the smallest originals, 1 (index 0), 0 (3), 6 (9), 10 (11).
    expect(mask!.data.toFlatArray()).toEqual([10, 10, 13, 15, 0, 3, 9, 11]);
    // (-0 is the negated 0.)
    expect(y!.data.toFlatArray()).toEqual([12, 12, 15, 14, -1, -0, -6, -10]);
  });

  it('reruns at a smaller batch in storage sized for a larger one', () => {
    const big = randomBlob('x', [3, 2, 5, 5], 9);
    const small = randomBlob('x', [1, 2, 5, 5], 10);
    const layer = new PoolingLayer('pool', { pool: 'AVE', kernelSize: 3, stride: 2, pad: 1 });
    const [y] = setUp(layer, big);
    layer.forward([big], [y!]);
    layer.reshape([small], [y!]);
    layer.forward([small], [y!]);
    expect(y!.data.toFlatArray()).toEqual(run({ pool: 'AVE', kernelSize: 3, stride: 2, pad: 1 }, small).y);
  });
});

describe('Pooling gradients (float64, central differences)', () => {
  const cases: { shape: number[]; params: PoolingParams; label: string }[] = [
    { shape: [2, 3, 7, 7], params: { kernelSize: 3, stride: 2 }, label: 'k=3 s=2 p=0' },
    { shape: [2, 3, 7, 7], params: { kernelSize: 3, stride: 2, pad: 1 }, label: 'k=3 s=2 p=1' },
    { shape: [2, 2, 6, 5], params: { kernelSize: 2, stride: 1 }, label: 'k=2 s=1 p=0' },
    { shape: [2, 2, 5, 5], params: { kernelSize: 3, stride: 2, pad: 2 }, label: 'k=3 s=2 p=2' },
    { shape: [2, 2, 7, 6], params: { kernelH: 3, kernelW: 2, strideH: 2, strideW: 1, padH: 1, padW: 0 }, label: 'k=3x2 s=2x1 p=1x0' },
    { shape: [2, 3, 7, 7], params: { kernelSize: 3, stride: 2, pad: 1, roundMode: 'FLOOR' }, label: 'k=3 s=2 p=1 FLOOR' },
    { shape: [2, 1, 3, 3], params: { kernelSize: 2, stride: 2, pad: 1 }, label: 'k=2 s=2 p=1 (clipped last window)' },
    { shape: [2, 3, 5, 4], params: { globalPooling: true }, label: 'global' },
  ];
  for (const pool of ['MAX', 'AVE'] as const) {
    it.each(cases)(`${pool} x=$shape $label`, ({ shape, params }) => {
      const x = randomBlob('x', shape, 11);
      const layer = new PoolingLayer('pool', { ...params, pool });
      const [y] = setUp(layer, x);
      const result = checkGradients(layer, [x], [y!]);
      expect(result.report).toBe('');
      expect(result.checked).toBeGreaterThan(0.9 * x.count);
    });
  }
});

describe('Pooling errors name the layer and the shapes', () => {
  it('rejects a bottom that is not 4-D: x=[2,3,4]', () => {
    const x = new Blob('data', [2, 3, 4], 'float64');
    const layer = new PoolingLayer('pool1', { kernelSize: 2 });
    expect(() => setUp(layer, x)).toThrow(ShapeError);
    expect(() => setUp(layer, x)).toThrow(`Pooling layer 'pool1': bottom 'data' has shape ${formatShape([2, 3, 4])}`);
  });

  it('rejects a window that does not fit: x=[1,1,2,2] k=3 s=1', () => {
    const x = new Blob('data', [1, 1, 2, 2], 'float64');
    expect(() => setUp(new PoolingLayer('pool1', { kernelSize: 3 }), x)).toThrow(/Pooling layer 'pool1'.*\[1,1,2,2\].*3 x 3/);
  });

  it('rejects windows that start past the input: x=[1,1,5,5] k=1 s=3 (Caffe would read outside)', () => {
    const x = new Blob('data', [1, 1, 5, 5], 'float64');
    expect(() => setUp(new PoolingLayer('pool1', { kernelSize: 1, stride: 3 }), x)).toThrow(/Pooling layer 'pool1'.*\[1,1,5,5\]/);
  });

  it('rejects pad >= kernel, as Caffe does', () => {
    expect(() => new PoolingLayer('pool1', { kernelSize: 3, pad: 3 })).toThrow(LayerError);
    expect(() => new PoolingLayer('pool1', { kernelSize: 3, pad: 3 })).toThrow(/Pooling layer 'pool1': pad 3 x 3 must be smaller than the kernel 3 x 3/);
    expect(() => new PoolingLayer('pool1', { kernelH: 3, kernelW: 2, padH: 1, padW: 2 })).toThrow(/pad 1 x 2/);
  });

  it('rejects STOCHASTIC pooling as not supported', () => {
    expect(() => new PoolingLayer('pool1', { pool: 'STOCHASTIC', kernelSize: 2 })).toThrow(/Pooling layer 'pool1': pool STOCHASTIC is not supported/);
  });

  it('rejects inconsistent kernel, pad and stride fields, as Caffe does', () => {
    expect(() => new PoolingLayer('p', {})).toThrow(/needs kernelSize, or both kernelH and kernelW/);
    expect(() => new PoolingLayer('p', { kernelH: 3 })).toThrow(/needs kernelSize/);
    expect(() => new PoolingLayer('p', { kernelSize: 3, kernelH: 3, kernelW: 3 })).toThrow(/not both/);
    expect(() => new PoolingLayer('p', { kernelSize: 3, pad: 1, padH: 1 })).toThrow(/give pad alone, or both padH and padW/);
    expect(() => new PoolingLayer('p', { kernelSize: 3, strideW: 2 })).toThrow(/give stride alone/);
    expect(() => new PoolingLayer('p', { globalPooling: true, kernelSize: 3 })).toThrow(/globalPooling takes its kernel from the input/);
    expect(() => new PoolingLayer('p', { globalPooling: true, stride: 2 })).toThrow(/only pad 0 and stride 1/);
    expect(() => new PoolingLayer('p', { kernelSize: 0 })).toThrow(/kernelH 0 must be an integer >= 1/);
  });

  it('takes one top, or two for MAX (the mask)', () => {
    const x = new Blob('data', [1, 1, 4, 4], 'float64');
    expect(() => setUp(new PoolingLayer('pool1', { pool: 'AVE', kernelSize: 2 }), x, 2)).toThrow(/Pooling layer 'pool1' needs 1 bottom\(s\) and 1 top\(s\)/);
    expect(() => setUp(new PoolingLayer('pool1', { kernelSize: 2 }), x, 3)).toThrow(/1 to 2 top/);
  });

  it('has no parameters to learn or freeze', () => {
    const layer = new PoolingLayer('pool1', { kernelSize: 2 });
    setUp(layer, new Blob('data', [1, 1, 4, 4], 'float64'));
    expect(layer.params).toEqual([]);
  });
});
