import { ShapeError, Tensor, allocate, dtypeOf, formatShape, isShared, sizeOf, type DType, type FloatArray } from '@cnn/tensor';

/**
 * A named pair of tensors of one shape, as in Caffe: `data` flows forward and
 * `diff` holds the gradient of the loss with respect to `data` on the way back.
 * Both live on shared memory so worker threads can use them in place.
 *
 * `reshape` keeps the storage when the new shape fits in it, so a net that runs
 * the same batch size again allocates nothing. The gradient storage is allocated on
 * first use, so a net that only runs forward never pays for it.
 */
export class Blob {
  private capacity = 0;
  private dataStore: FloatArray;
  private diffStore: FloatArray | undefined;
  data: Tensor;
  private diffView: Tensor | undefined;

  constructor(
    readonly name: string,
    shape: readonly number[] = [0],
    readonly dtype: DType = 'float32',
  ) {
    this.dataStore = allocate(0, { dtype, shared: true });
    this.data = new Tensor(this.dataStore, [0]);
    this.reshape(shape);
  }

  /** The gradient of the loss with respect to `data`, same shape. */
  get diff(): Tensor {
    if (!this.diffView) {
      if (!this.diffStore || this.diffStore.length < this.capacity) this.diffStore = allocate(this.capacity, { dtype: this.dtype, shared: true });
      this.diffView = new Tensor(this.diffStore, this.shape);
    }
    return this.diffView;
  }

  /** The shape of `data` and `diff`. */
  get shape(): readonly number[] {
    return this.data.shape;
  }

  /** The number of elements. */
  get count(): number {
    return this.data.size;
  }

  /** Sets the shape, growing the storage if needed. Values are kept only when the storage is kept. */
  reshape(shape: readonly number[]): void {
    const count = sizeOf(shape);
    if (count > this.capacity) {
      this.dataStore = allocate(count, { dtype: this.dtype, shared: true });
      this.diffStore = undefined;
      this.capacity = count;
    }
    this.data = new Tensor(this.dataStore, shape);
    this.diffView = undefined;
  }

  /**
   * Uses `values` as this blob's data storage, without copying (for weights read from
   * a file). It must hold exactly `count` elements of this blob's dtype on shared
   * memory; otherwise the values are copied into the blob's own storage.
   */
  adoptData(values: FloatArray): void {
    if (values.length !== this.count) {
      throw new ShapeError(`blob ${this}: cannot take ${values.length} values for ${this.count} elements`);
    }
    if (isShared(values) && dtypeOf(values) === this.dtype) {
      this.dataStore = values;
      this.capacity = values.length;
      this.diffStore = undefined;
      this.data = new Tensor(values, this.shape);
      this.diffView = undefined;
    } else {
      this.data.data.set(values);
    }
  }

  /** Sets every gradient element to 0. */
  zeroDiff(): void {
    this.diff.data.fill(0, 0, this.count);
  }

  /** `name [N,C,H,W]`, for messages. */
  toString(): string {
    return `${this.name} ${formatShape(this.shape)}`;
  }
}

/** How a parameter learns: Caffe's ParamSpec (lr_mult, decay_mult). */
export interface ParamSpec {
  /** Multiplies the learning rate; 0 freezes the parameter (its gradient is never computed). */
  lrMult?: number;
  /** Multiplies the weight decay. */
  decayMult?: number;
  /** Caffe's sharing name; kept for round trips. */
  name?: string;
}

/** A learnable blob of a layer (a weight or a bias), with its learning-rate and decay multipliers. */
export class Param extends Blob {
  lrMult: number;
  decayMult: number;

  constructor(name: string, shape: readonly number[], dtype: DType, spec: ParamSpec = {}) {
    super(name, shape, dtype);
    this.lrMult = spec.lrMult ?? 1;
    this.decayMult = spec.decayMult ?? 1;
  }

  /** A parameter with lr_mult 0 does not learn, and its gradient is not computed. */
  get frozen(): boolean {
    return this.lrMult === 0;
  }
}
