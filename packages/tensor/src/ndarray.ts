import ndarray from 'ndarray';
import type { NdArray } from 'ndarray';
import { ArgumentError } from './errors.js';
import type { FloatArray } from './storage.js';
import { Tensor } from './tensor.js';

/**
 * A scijs `ndarray` over the same memory as `tensor` (no copy): the field names
 * (`data`, `shape`, `stride`, `offset`) are the same, so `ndarray-ops` works on it directly.
 */
export function toNdarray<T extends FloatArray>(tensor: Tensor<T>): NdArray<T> {
  return ndarray(tensor.data, [...tensor.shape], [...tensor.stride], tensor.offset);
}

/** A tensor over the same memory as a scijs `ndarray` of float32 or float64 elements (no copy). */
export function fromNdarray(array: NdArray): Tensor {
  const data = array.data as unknown;
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
    throw new ArgumentError(`fromNdarray needs a Float32Array or Float64Array ndarray, got dtype '${array.dtype}'`);
  }
  return new Tensor(data, array.shape, array.stride, array.offset);
}
