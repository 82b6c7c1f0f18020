import ndarray from 'ndarray';
import ops from 'ndarray-ops';
import { describe, expect, it } from 'vitest';
import { Tensor, fromNdarray, toNdarray } from './index.js';

describe('ndarray interop', () => {
  it('views a tensor as an ndarray without copying, and ndarray-ops writes through', () => {
    const t = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
    const view = toNdarray(t.transpose());
    expect(view.data).toBe(t.data);
    expect(view.shape).toEqual([3, 2]);
    expect(view.get(2, 1)).toBe(6);
    ops.mulseq(view, 10);
    expect(t.toFlatArray()).toEqual([10, 20, 30, 40, 50, 60]);
    expect(ops.sum(toNdarray(t.slice(1, 1)))).toBe(20 + 30 + 50 + 60);
  });

  it('views an ndarray as a tensor without copying, keeping strides and offset', () => {
    const array = ndarray(new Float32Array([...Array(12).keys()]), [3, 4]).hi(3, 3).lo(1, 1);
    const t = fromNdarray(array);
    expect(t.data).toBe(array.data);
    expect(t.shape).toEqual([2, 2]);
    expect(t.offset).toBe(5);
    expect(t.toFlatArray()).toEqual([5, 6, 9, 10]);
    t.set(0, 0, -1);
    expect(array.get(0, 0)).toBe(-1);
  });

  it('refuses ndarrays of non-float storage', () => {
    expect(() => fromNdarray(ndarray([1, 2, 3]))).toThrow(/Float32Array or Float64Array/);
  });
});
