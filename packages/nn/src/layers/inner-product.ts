import { formatShape, sizeOf, type FillerSpec } from '@cnn/tensor';
import type { Blob, Param, ParamSpec } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { innerProductBackward, innerProductForward, type InnerProductShape } from '../kernels/inner-product/index.js';

/** Inner product parameters (Caffe's InnerProductParameter). */
export interface InnerProductParams {
  /** Number of outputs (required). */
  numOutput?: number;
  /** Whether to add a learned bias per output (default true). */
  biasTerm?: boolean;
  /** Filler of the weights (default constant 0). */
  weightFiller?: FillerSpec;
  /** Filler of the bias (default constant 0). */
  biasFiller?: FillerSpec;
  /** The first axis flattened into the inputs of each row (default 1; negative counts from the end). */
  axis?: number;
  /** Store the weight K x numOutput instead of numOutput x K (default false). */
  transpose?: boolean;
}

/**
 * Fully connected layer. The axes before `axis` index the rows, the axes from `axis` on
 * are flattened (row-major, so C, H, W order for an image) into K inputs:
 *
 *   [d0..d(axis-1), d(axis)..] -> [d0..d(axis-1), numOutput],  M = d0 * ... * d(axis-1),  K = d(axis) * ...
 *   weight [numOutput, K] ([K, numOutput] when `transpose`), bias [numOutput]
 *
 *   y = x W^T + b      (x: M x K, W: numOutput x K)
 *
 * Backward: dx = dy W (written); dW += dy^T x, dBias += column sums of dy (skipped when frozen).
 */
export class InnerProductLayer extends Layer {
  readonly type = 'InnerProduct';
  readonly numOutput: number;
  readonly biasTerm: boolean;
  readonly axis: number;
  readonly transpose: boolean;
  readonly weightFiller: FillerSpec;
  readonly biasFiller: FillerSpec;
  private shape: InnerProductShape | undefined;

  constructor(name: string, params: InnerProductParams = {}, paramSpecs: ParamSpec[] = []) {
    super(name, paramSpecs);
    if (params.numOutput === undefined) throw this.error('numOutput is required');
    if (!Number.isInteger(params.numOutput) || params.numOutput < 1) throw this.error(`numOutput must be an integer > 0, got ${params.numOutput}`);
    this.numOutput = params.numOutput;
    this.biasTerm = params.biasTerm ?? true;
    this.axis = params.axis ?? 1;
    if (!Number.isInteger(this.axis)) throw this.error(`axis must be an integer, got ${this.axis}`);
    this.transpose = params.transpose ?? false;
    this.weightFiller = params.weightFiller ?? { type: 'constant' };
    this.biasFiller = params.biasFiller ?? { type: 'constant' };
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], context: SetupContext): void {
    this.expectBlobs(bottom, top, 1, 1);
    const x = bottom[0]!;
    const k = sizeOf(x.shape.slice(this.canonicalAxis(x)));
    const shape = this.transpose ? [k, this.numOutput] : [this.numOutput, k];
    const weight = this.createParam(0, 'weight', shape, context, this.weightFiller);
    this.params = [weight];
    if (this.biasTerm) {
      const bias = this.createParam(1, 'bias', [this.numOutput], context, this.biasFiller);
      this.params.push(bias);
    }
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!;
    const axis = this.canonicalAxis(x);
    const weight = this.params[0]!;
    const expected = this.transpose ? weight.shape[0]! : weight.shape[1]!;
    const k = sizeOf(x.shape.slice(axis));
    if (k !== expected) {
      throw this.shapeError(
        x,
        `flattened from axis ${axis} it gives ${k} inputs, but the weight ${formatShape(weight.shape)} takes ${expected}`,
      );
    }
    const m = sizeOf(x.shape.slice(0, axis));
    this.shape = { m, k, numOutput: this.numOutput, transpose: this.transpose };
    top[0]!.reshape([...x.shape.slice(0, axis), this.numOutput]);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const [weight, bias] = this.params as [Param, Param | undefined];
    innerProductForward(bottom[0]!.data.data, weight.data.data, bias?.data.data, top[0]!.data.data, this.shape!);
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    const [weight, bias] = this.params as [Param, Param | undefined];
    const dx = propagateDown[0] ? bottom[0]!.diff.data : undefined;
    const dWeight = weight.frozen ? undefined : weight.diff.data;
    const dBias = bias && !bias.frozen ? bias.diff.data : undefined;
    if (!dx && !dWeight && !dBias) return;
    innerProductBackward(bottom[0]!.data.data, weight.data.data, top[0]!.diff.data, { dx, dWeight, dBias }, this.shape!);
  }

  /** M * K * numOutput: one multiply-add per weight use. */
  override multiplyAdds(bottom: readonly Blob[], _top: readonly Blob[]): number {
    const x = bottom[0]!;
    const axis = this.canonicalAxis(x);
    return sizeOf(x.shape.slice(0, axis)) * sizeOf(x.shape.slice(axis)) * this.numOutput;
  }

  /** `axis` counted from the front (Caffe's CanonicalAxisIndex), checked against the bottom's rank. */
  private canonicalAxis(x: Blob): number {
    const rank = x.shape.length;
    if (this.axis < -rank || this.axis >= rank) {
      throw this.shapeError(x, `axis ${this.axis} is outside its ${rank} axes`);
    }
    return this.axis < 0 ? this.axis + rank : this.axis;
  }
}
