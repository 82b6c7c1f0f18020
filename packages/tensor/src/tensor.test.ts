import { describe, expect, it } from 'vitest';
import { ShapeError, Tensor, allclose, isShared } from './index.js';

describe('Tensor', () => {
  it('stores NCHW with full row-major strides, trailing 1 included', () => {
    const t = Tensor.zeros([2, 3, 4, 5]);
    expect(t.stride).toEqual([60, 20, 5, 1]);
    expect(t.size).toBe(120);
    expect(t.dtype).toBe('float32');
    expect(Tensor.zeros([2], { dtype: 'float64' }).data).toBeInstanceOf(Float64Array);
  });

  it('builds from nested arrays and from flat values with a shape', () => {
    const nested = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
    expect(nested.shape).toEqual([2, 3]);
    expect(nested.get(1, 2)).toBe(6);
    const flat = Tensor.fromArray([1, 2, 3, 4, 5, 6], [3, 2]);
    expect(flat.get(2, 1)).toBe(6);
    expect(() => Tensor.fromArray([1, 2, 3], [2, 2])).toThrow(ShapeError);
  });

  it('fills with a constant and draws seeded random values reproducibly', () => {
    expect(Tensor.full([2, 2], 7).toFlatArray()).toEqual([7, 7, 7, 7]);
    const a = Tensor.normal([100], 42);
    const b = Tensor.normal([100], 42);
    const c = Tensor.normal([100], 43);
    expect(a.toFlatArray()).toEqual(b.toFlatArray());
    expect(a.toFlatArray()).not.toEqual(c.toFlatArray());
    const u = Tensor.uniform([1000], 1, -2, 3);
    expect(Math.min(...u.data)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u.data)).toBeLessThan(3);
  });

  it('reshapes contiguous data without copying, inferring one -1', () => {
    const t = Tensor.fromArray([0, 1, 2, 3, 4, 5], [2, 3]);
    const r = t.reshape([3, -1]);
    expect(r.shape).toEqual([3, 2]);
    expect(r.data).toBe(t.data);
    expect(r.get(2, 1)).toBe(5);
    expect(() => t.reshape([4, 2])).toThrow(/cannot reshape \[2,3\] \(6 elements\) to \[4,2\]/);
  });

  it('transposes and permutes by changing strides only', () => {
    const t = Tensor.fromArray([0, 1, 2, 3, 4, 5], [2, 3]);
    const tt = t.transpose();
    expect(tt.shape).toEqual([3, 2]);
    expect(tt.stride).toEqual([1, 3]);
    expect(tt.data).toBe(t.data);
    expect(tt.get(2, 1)).toBe(5);
    expect(tt.isContiguous()).toBe(false);
    expect(() => tt.reshape([6])).toThrow(/contiguous\(\) first/);
    expect(tt.contiguous().toFlatArray()).toEqual([0, 3, 1, 4, 2, 5]);
    const nchw = Tensor.uniform([2, 3, 4, 5], 3);
    const nhwc = nchw.permute(0, 2, 3, 1);
    expect(nhwc.shape).toEqual([2, 4, 5, 3]);
    expect(nhwc.get(1, 3, 4, 2)).toBe(nchw.get(1, 2, 3, 4));
    expect(() => nchw.permute(0, 1, 1, 2)).toThrow(ShapeError);
  });

  it('slices with steps and negative bounds, and picks an index', () => {
    const t = Tensor.fromArray([...Array(24).keys()], [2, 3, 4]);
    const s = t.slice(2, 1, 4, 2);
    expect(s.shape).toEqual([2, 3, 2]);
    expect(s.toFlatArray().slice(0, 4)).toEqual([1, 3, 5, 7]);
    expect(t.slice(1, -1).toFlatArray()).toEqual([8, 9, 10, 11, 20, 21, 22, 23]);
    const image = t.pick(0, 1);
    expect(image.shape).toEqual([3, 4]);
    expect(image.offset).toBe(12);
    expect(image.get(2, 3)).toBe(23);
    expect(() => t.pick(0, 2)).toThrow(/pick\(0, 2\) is outside shape \[2,3,4\]/);
    expect(() => t.slice(1, 2, 5)).toThrow(ShapeError);
  });

  it('writes through views into the shared data', () => {
    const t = Tensor.zeros([2, 2]);
    t.transpose().set(0, 1, 9);
    expect(t.get(1, 0)).toBe(9);
  });

  it('rejects views that reach outside their data, naming shape, stride and offset', () => {
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrow(/view shape \[2,3\] stride \[3,1\] offset 0/);
    expect(() => Tensor.zeros([2, 3]).get(2, 0)).toThrow(/index \[2,0\] is outside shape \[2,3\]/);
  });

  it('lives on a SharedArrayBuffer when asked', () => {
    const t = Tensor.zeros([4], { shared: true });
    expect(isShared(t.data)).toBe(true);
    expect(isShared(Tensor.zeros([4]).data)).toBe(false);
    expect(isShared(Tensor.uniform([4], 1).clone({ shared: true }).data)).toBe(true);
  });
});

describe('allclose', () => {
  it('passes within tolerance and reports the worst element otherwise', () => {
    const expected = Tensor.fromArray([[1, 2], [3, 4]]);
    expect(allclose(Tensor.fromArray([[1, 2], [3, 4.000001]]), expected, { atol: 1e-5 }).ok).toBe(true);
    const result = allclose(Tensor.fromArray([[1, 2.1], [3, 4.5]]), expected, { atol: 0.01, rtol: 0 });
    expect(result.ok).toBe(false);
    expect(result.failures).toBe(2);
    expect(result.worstIndex).toEqual([1, 1]);
    expect(result.worstActual).toBe(4.5);
    expect(result.worstExpected).toBe(4);
    expect(result.message).toMatch(/worst at \[1,1\]: actual 4.5, expected 4/);
  });

  it('counts NaN as a failure and refuses different shapes', () => {
    expect(allclose(Tensor.fromArray([NaN]), Tensor.fromArray([1])).ok).toBe(false);
    expect(() => allclose(Tensor.zeros([2]), Tensor.zeros([3]))).toThrow(/\[2\] vs \[3\]/);
  });
});
