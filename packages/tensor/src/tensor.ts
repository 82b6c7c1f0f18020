import { ArgumentError, ShapeError, formatShape } from './errors.js';
import { Rng } from './rng.js';
import { allocate, dtypeOf, type AllocOptions, type DType, type FloatArray } from './storage.js';

/** A nested array of numbers, as accepted by `Tensor.fromArray`. */
export type NestedArray = number | readonly NestedArray[];

/**
 * An n-dimensional view of a typed array: `data`, `shape`, `stride` and `offset`,
 * the same fields as scijs `ndarray`, so one converts to the other without copying.
 *
 * Element `[i0, i1, ..., ik]` lives at `data[offset + i0 * stride[0] + ... + ik * stride[k]]`.
 * Image batches are NCHW. Views (`reshape`, `permute`, `transpose`, `slice`, `pick`)
 * share `data` and change only `shape`, `stride` and `offset`.
 */
export class Tensor<T extends FloatArray = FloatArray> {
  readonly data: T;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly offset: number;
  /** The number of elements (computed once: kernels read it in their loop conditions). */
  readonly size: number;

  /**
   * Wraps `data` without copying. `stride` defaults to the row-major (C order) strides
   * of `shape`. Throws a `ShapeError` when a view would reach outside `data`.
   */
  constructor(data: T, shape: readonly number[], stride?: readonly number[], offset = 0) {
    validateShape(shape);
    const strides = stride ?? contiguousStrides(shape);
    if (strides.length !== shape.length) {
      throw new ShapeError(`stride ${formatShape(strides)} does not match shape ${formatShape(shape)}`);
    }
    const [lowest, highest] = reach(shape, strides, offset);
    if (sizeOf(shape) > 0 && (lowest < 0 || highest >= data.length)) {
      throw new ShapeError(
        `view shape ${formatShape(shape)} stride ${formatShape(strides)} offset ${offset} reaches elements ` +
          `${lowest}..${highest} of an array of length ${data.length}`,
      );
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.stride = Object.freeze([...strides]);
    this.offset = offset;
    this.size = sizeOf(shape);
  }

  /** A zero-filled tensor. */
  static zeros(shape: readonly number[], options: AllocOptions = {}): Tensor {
    validateShape(shape);
    return new Tensor(allocate(sizeOf(shape), options), shape);
  }

  /** A tensor filled with `value`. */
  static full(shape: readonly number[], value: number, options: AllocOptions = {}): Tensor {
    const t = Tensor.zeros(shape, options);
    t.data.fill(value);
    return t;
  }

  /**
   * A tensor from nested arrays (`[[1, 2], [3, 4]]`), or from a flat list of values
   * and a shape. The values are copied.
   */
  static fromArray(values: NestedArray | ArrayLike<number>, shape?: readonly number[], options: AllocOptions = {}): Tensor {
    const flat: number[] = [];
    const inferred = shape ? undefined : nestedShape(values as NestedArray);
    if (shape) {
      for (let i = 0; i < (values as ArrayLike<number>).length; i++) flat.push((values as ArrayLike<number>)[i]!);
    } else {
      flatten(values as NestedArray, flat);
    }
    const finalShape = shape ?? inferred!;
    if (sizeOf(finalShape) !== flat.length) {
      throw new ShapeError(`${flat.length} values do not fill shape ${formatShape(finalShape)}`);
    }
    const t = Tensor.zeros(finalShape, options);
    t.data.set(flat);
    return t;
  }

  /** Uniform random values in [low, high), from a seeded generator. */
  static uniform(shape: readonly number[], seed: number, low = 0, high = 1, options: AllocOptions = {}): Tensor {
    const t = Tensor.zeros(shape, options);
    const rng = new Rng(seed);
    for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(low, high);
    return t;
  }

  /** Normal random values, from a seeded generator. */
  static normal(shape: readonly number[], seed: number, mean = 0, std = 1, options: AllocOptions = {}): Tensor {
    const t = Tensor.zeros(shape, options);
    const rng = new Rng(seed);
    for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal(mean, std);
    return t;
  }

  /** The number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** `float32` or `float64`. */
  get dtype(): DType {
    return dtypeOf(this.data);
  }

  /** True when the elements are in row-major order from `offset` with no gaps. */
  isContiguous(): boolean {
    let expected = 1;
    for (let axis = this.shape.length - 1; axis >= 0; axis--) {
      if (this.shape[axis] !== 1 && this.stride[axis] !== expected) return false;
      expected *= this.shape[axis]!;
    }
    return true;
  }

  /** The position in `data` of the element at `indices`. */
  index(...indices: number[]): number {
    if (indices.length !== this.shape.length) {
      throw new ShapeError(`${indices.length} indices given for a tensor of shape ${formatShape(this.shape)}`);
    }
    let position = this.offset;
    for (let axis = 0; axis < indices.length; axis++) {
      const i = indices[axis]!;
      if (!Number.isInteger(i) || i < 0 || i >= this.shape[axis]!) {
        throw new ShapeError(`index [${indices.join(',')}] is outside shape ${formatShape(this.shape)}`);
      }
      position += i * this.stride[axis]!;
    }
    return position;
  }

  /** The element at `indices` (as in ndarray: `t.get(n, c, y, x)`). */
  get(...indices: number[]): number {
    return this.data[this.index(...indices)]!;
  }

  /** Sets the element at `indices` (as in ndarray: `t.set(n, c, y, x, value)`). */
  set(...indicesThenValue: number[]): void {
    const value = indicesThenValue[indicesThenValue.length - 1]!;
    this.data[this.index(...indicesThenValue.slice(0, -1))] = value;
  }

  /**
   * The same elements under a new shape. Needs contiguous data (call `contiguous()`
   * first on a permuted view). One dimension may be -1, inferred from the size.
   */
  reshape(shape: readonly number[]): Tensor<T> {
    const resolved = resolveReshape(this.shape, shape);
    if (!this.isContiguous()) {
      throw new ShapeError(
        `cannot reshape a non-contiguous view of shape ${formatShape(this.shape)} stride ${formatShape(this.stride)} ` +
          `to ${formatShape(resolved)}: call contiguous() first`,
      );
    }
    return new Tensor(this.data, resolved, undefined, this.offset);
  }

  /** A view with the axes reordered: `permute(0, 2, 3, 1)` turns NCHW into NHWC. */
  permute(...axes: number[]): Tensor<T> {
    const rank = this.shape.length;
    const seen = new Set(axes);
    if (axes.length !== rank || seen.size !== rank || axes.some((a) => !Number.isInteger(a) || a < 0 || a >= rank)) {
      throw new ShapeError(`permute(${axes.join(',')}) is not a permutation of the axes of shape ${formatShape(this.shape)}`);
    }
    return new Tensor(
      this.data,
      axes.map((a) => this.shape[a]!),
      axes.map((a) => this.stride[a]!),
      this.offset,
    );
  }

  /** A view with two axes swapped (the last two by default: a matrix transpose). */
  transpose(axisA = this.shape.length - 2, axisB = this.shape.length - 1): Tensor<T> {
    const axes = this.shape.map((_, i) => i);
    this.checkAxis(axisA);
    this.checkAxis(axisB);
    axes[axisA] = axisB;
    axes[axisB] = axisA;
    return this.permute(...axes);
  }

  /**
   * A view of `start <= i < end` (stepping by `step`) along one axis. Negative
   * `start`/`end` count from the end, as in Python.
   */
  slice(axis: number, start: number, end = this.shape[axis]!, step = 1): Tensor<T> {
    this.checkAxis(axis);
    const length = this.shape[axis]!;
    const from = start < 0 ? start + length : start;
    const to = end < 0 ? end + length : end;
    if (!Number.isInteger(step) || step < 1 || from < 0 || to > length || from > to) {
      throw new ShapeError(`slice(${axis}, ${start}, ${end}, ${step}) does not fit shape ${formatShape(this.shape)}`);
    }
    const shape = [...this.shape];
    const stride = [...this.stride];
    shape[axis] = Math.ceil((to - from) / step);
    stride[axis] = this.stride[axis]! * step;
    return new Tensor(this.data, shape, stride, this.offset + from * this.stride[axis]!);
  }

  /** A view of one index along `axis`, with that axis removed: `batch.pick(0, n)` is image n. */
  pick(axis: number, index: number): Tensor<T> {
    this.checkAxis(axis);
    if (!Number.isInteger(index) || index < 0 || index >= this.shape[axis]!) {
      throw new ShapeError(`pick(${axis}, ${index}) is outside shape ${formatShape(this.shape)}`);
    }
    return new Tensor(
      this.data,
      this.shape.filter((_, a) => a !== axis),
      this.stride.filter((_, a) => a !== axis),
      this.offset + index * this.stride[axis]!,
    );
  }

  /** This tensor if it is contiguous, else a contiguous copy. */
  contiguous(): Tensor<T> {
    return this.isContiguous() ? this : this.clone();
  }

  /** A contiguous copy (of the same dtype; on shared memory when asked). */
  clone(options: { shared?: boolean } = {}): Tensor<T> {
    const out = Tensor.zeros(this.shape, { dtype: this.dtype, shared: options.shared }) as Tensor<T>;
    let i = 0;
    this.forEachPosition((position) => {
      out.data[i++] = this.data[position]!;
    });
    return out;
  }

  /** A contiguous copy converted to another dtype. */
  to(dtype: DType): Tensor {
    const out = Tensor.zeros(this.shape, { dtype });
    let i = 0;
    this.forEachPosition((position) => {
      out.data[i++] = this.data[position]!;
    });
    return out;
  }

  /** The elements in row-major order, as a plain array. */
  toFlatArray(): number[] {
    const values: number[] = [];
    this.forEachPosition((position) => values.push(this.data[position]!));
    return values;
  }

  /** Calls `visit` with the `data` position of every element, in row-major order. */
  forEachPosition(visit: (position: number) => void): void {
    const rank = this.shape.length;
    if (this.size === 0) return;
    if (rank === 0) {
      visit(this.offset);
      return;
    }
    const counter = new Array<number>(rank).fill(0);
    let position = this.offset;
    for (;;) {
      visit(position);
      let axis = rank - 1;
      while (axis >= 0) {
        counter[axis]!++;
        position += this.stride[axis]!;
        if (counter[axis]! < this.shape[axis]!) break;
        position -= this.stride[axis]! * this.shape[axis]!;
        counter[axis] = 0;
        axis--;
      }
      if (axis < 0) return;
    }
  }

  /** The shape, stride and dtype, for messages and debugging. */
  toString(): string {
    return `Tensor(${this.dtype} ${formatShape(this.shape)} stride ${formatShape(this.stride)} offset ${this.offset})`;
  }

  private checkAxis(axis: number): void {
    if (!Number.isInteger(axis) || axis < 0 || axis >= this.shape.length) {
      throw new ShapeError(`axis ${axis} does not exist in shape ${formatShape(this.shape)}`);
    }
  }
}

/** The number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

/** Row-major strides of a shape, the last one 1: `[2,3,4]` gives `[12,4,1]`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let step = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    stride[axis] = step;
    step *= shape[axis]!;
  }
  return stride;
}

/** True when two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

function validateShape(shape: readonly number[]): void {
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0) throw new ShapeError(`invalid shape ${formatShape(shape)}`);
  }
}

/** The lowest and highest `data` positions a view touches. */
function reach(shape: readonly number[], stride: readonly number[], offset: number): [number, number] {
  let lowest = offset;
  let highest = offset;
  for (let axis = 0; axis < shape.length; axis++) {
    const span = (shape[axis]! - 1) * stride[axis]!;
    if (span < 0) lowest += span;
    else highest += span;
  }
  return [lowest, highest];
}

function resolveReshape(from: readonly number[], to: readonly number[]): number[] {
  const size = sizeOf(from);
  const unknown = to.filter((d) => d === -1).length;
  if (unknown > 1) throw new ShapeError(`reshape to ${formatShape(to)}: at most one dimension may be -1`);
  const known = to.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const resolved = to.map((d) => (d === -1 ? (known === 0 ? 0 : size / known) : d));
  if (!resolved.every((d) => Number.isInteger(d) && d >= 0) || sizeOf(resolved) !== size) {
    throw new ShapeError(`cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(to)}`);
  }
  return resolved;
}

function nestedShape(values: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = values;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0]!;
  }
  return shape;
}

function flatten(values: NestedArray, out: number[]): void {
  if (typeof values === 'number') {
    out.push(values);
    return;
  }
  if (!Array.isArray(values)) throw new ArgumentError(`fromArray expects numbers or nested arrays, got ${typeof values}`);
  for (const v of values) flatten(v, out);
}
