import { ShapeError, fill, formatShape, type DType, type FillerSpec, type FloatArray, type Rng } from '@cnn/tensor';
import { Param, type Blob, type ParamSpec } from './blob.js';
import { LayerError } from './errors.js';

/** Caffe's two phases: TRAIN (dropout on, loss layers) and TEST. */
export type Phase = 'TRAIN' | 'TEST';

/**
 * Values for a layer's parameter, from a trained model: called with the layer's name,
 * the parameter's index and its shape; returns the values (or undefined: not in the
 * model, fill it). It throws when the model's blob has another shape.
 */
export type PretrainedSource = (layer: string, index: number, shape: readonly number[]) => FloatArray | undefined;

/** What a layer gets once, when its net is built: the dtype of its blobs and where its initial values come from. */
export interface SetupContext {
  dtype: DType;
  rng: Rng;
  /** Trained values that replace the fillers (parameters found there are not filled). */
  pretrained?: PretrainedSource;
}

/**
 * A layer, with Caffe's life cycle:
 *
 * - `setup(bottom, top, context)` once: check the number of bottoms and tops, create
 *   and fill the parameters.
 * - `reshape(bottom, top)` whenever input shapes may have changed: validate the shapes
 *   (errors name the layer and the full shapes) and set the top shapes. No checks run
 *   after this, in the hot loops.
 * - `forward(bottom, top)`: compute the tops.
 * - `backward(top, propagateDown, bottom)`: from the tops' `diff`, **write** each
 *   bottom's `diff` where `propagateDown[i]`, and **add** into the `diff` of every
 *   parameter that is not frozen (lr_mult 0 parameters cost nothing).
 */
export abstract class Layer {
  abstract readonly type: string;
  /** Learnable parameters, in Caffe's blob order (weights, then bias). */
  params: Param[] = [];
  /** TRAIN or TEST; set by the net. Only layers like Dropout look at it. */
  phase: Phase = 'TEST';

  constructor(
    readonly name: string,
    /** ParamSpecs from the definition, one per parameter in order (missing ones: lr_mult 1). */
    protected readonly paramSpecs: readonly ParamSpec[] = [],
  ) {}

  /** Checks bottom/top counts and creates parameters. The default checks nothing. */
  setup(_bottom: readonly Blob[], _top: readonly Blob[], _context: SetupContext): void {}

  abstract reshape(bottom: readonly Blob[], top: readonly Blob[]): void;
  abstract forward(bottom: readonly Blob[], top: readonly Blob[]): void;
  abstract backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void;

  /** Whether a top may be the same blob as a bottom (ReLU, Dropout, ...). */
  get allowsInPlace(): boolean {
    return false;
  }

  /** Layers that compute a loss default to a loss weight of 1 on their first top. */
  get isLoss(): boolean {
    return false;
  }

  /**
   * Floats of scratch the layer's fast kernels take while it runs at the current shapes (a
   * convolution's im2col columns), beyond its tops and parameters (for `Net.memoryEstimate`).
   */
  workspace(_bottom: readonly Blob[], _top: readonly Blob[]): number {
    return 0;
  }

  /** Multiply-adds of one forward pass at the current shapes (for `Net.summary`). */
  multiplyAdds(_bottom: readonly Blob[], _top: readonly Blob[]): number {
    return 0;
  }

  /**
   * Creates parameter `index` with its ParamSpec and its initial values: the trained
   * ones when `context.pretrained` has them, else drawn from `filler` (left at 0 without one).
   */
  protected createParam(index: number, suffix: string, shape: readonly number[], context: SetupContext, filler?: FillerSpec): Param {
    const param = new Param(`${this.name}/${suffix}`, shape, context.dtype, this.paramSpecs[index] ?? {});
    const trained = context.pretrained?.(this.name, index, shape);
    if (trained) param.adoptData(trained);
    else if (filler) fill(param.data, filler, context.rng);
    return param;
  }

  /** Throws a LayerError unless there are `bottoms` bottoms and `tops` tops (a range as [min, max]). */
  protected expectBlobs(bottom: readonly Blob[], top: readonly Blob[], bottoms: number | [number, number], tops: number | [number, number]): void {
    const fits = (n: number, want: number | [number, number]): boolean =>
      typeof want === 'number' ? n === want : n >= want[0] && n <= want[1];
    const say = (want: number | [number, number]): string => (typeof want === 'number' ? `${want}` : `${want[0]} to ${want[1]}`);
    if (!fits(bottom.length, bottoms) || !fits(top.length, tops)) {
      throw new LayerError(
        `${this.type} layer '${this.name}' needs ${say(bottoms)} bottom(s) and ${say(tops)} top(s), ` +
          `got ${bottom.length} (${bottom.map(String).join(', ')}) and ${top.length}`,
      );
    }
  }

  /** A LayerError naming this layer, for shape and parameter problems. */
  protected error(message: string): LayerError {
    return new LayerError(`${this.type} layer '${this.name}': ${message}`);
  }

  /** A ShapeError naming this layer and a bottom's full shape. */
  protected shapeError(blob: Blob, expectation: string): ShapeError {
    return new ShapeError(`${this.type} layer '${this.name}': bottom '${blob.name}' has shape ${formatShape(blob.shape)}, ${expectation}`);
  }
}
