import { Tensor, allocate, formatShape, sizeOf, type DType } from '@cnn/tensor';

/**
 * A named pair of tensors of one shape, as in Caffe: `data` flows forward and
 * `diff` holds the gradient of the loss with respect to `data` on the way back.
 * Both live on shared memory so worker threads can use them in place.
 *
 * `reshape` keeps the storage when the new shape fits in it, so a net that runs
 * the same batch size again allocates nothing.
 */
export class Blob {
  private capacity = 0;
  private dataStore: Float32Array | Float64Array;
  private diffStore: Float32Array | Float64Array;
  data: Tensor;
  diff: Tensor;

  constructor(
    readonly name: string,
    shape: readonly number[] = [0],
    readonly dtype: DType = 'float32',
  ) {
    this.dataStore = allocate(0, { dtype, shared: true });
    this.diffStore = this.dataStore;
    this.data = new Tensor(this.dataStore, [0]);
    this.diff = this.data;
    this.reshape(shape);
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
      this.diffStore = allocate(count, { dtype: this.dtype, shared: true });
      this.capacity = count;
    }
    this.data = new Tensor(this.dataStore, shape);
    this.diff = new Tensor(this.diffStore, shape);
  }

  /** Sets every gradient element to 0. */
  zeroDiff(): void {
    this.diffStore.fill(0, 0, this.count);
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
