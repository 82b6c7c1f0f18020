import { ShapeError, convOutputSize, formatShape, sameShape, type FillerSpec } from '@cnn/tensor';
import type { Blob, Param, ParamSpec } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { convolutionBackward, convolutionForward, convolutionWorkspace, type Clamp, type ConvolutionShape } from '../kernels/convolution/index.js';

/**
 * Convolution parameters (Caffe's ConvolutionParameter). `pad`, `kernelSize`, `stride`
 * and `dilation` take one value for both axes or two values `[h, w]`; `padH`/`padW`,
 * `kernelH`/`kernelW`, `strideH`/`strideW` give the two axes separately instead (both
 * of a pair, and not together with the repeated field).
 */
export interface ConvolutionParams {
  /** Number of output channels O (required). */
  numOutput?: number;
  /** Whether to add a learned bias per output channel (default true). */
  biasTerm?: boolean;
  /** Zero padding on each side (default 0). */
  pad?: number | number[];
  /** Kernel size (required unless kernelH and kernelW are given). */
  kernelSize?: number | number[];
  /** Step between windows (default 1). */
  stride?: number | number[];
  /** Spacing between kernel taps (default 1: a dense kernel). */
  dilation?: number | number[];
  padH?: number;
  padW?: number;
  kernelH?: number;
  kernelW?: number;
  strideH?: number;
  strideW?: number;
  /** Split channels and outputs into this many contiguous blocks, each convolved on its own (default 1). */
  group?: number;
  /** Filler of the weights (default constant 0). */
  weightFiller?: FillerSpec;
  /** Filler of the bias (default constant 0). */
  biasFiller?: FillerSpec;
  /** The channel axis; only 1 (NCHW) is supported. */
  axis?: number;
}

/**
 * 2-D convolution (cross-correlation, as in Caffe: the kernel is not flipped), with zero
 * padding, stride, dilation and groups. Each bottom i gives top i, all with the same weights.
 *
 *   [N,C,H,W] -> [N,O,H',W'],  H' = floor((H + 2 padH - (dilationH (kernelH - 1) + 1)) / strideH) + 1, W' alike
 *   weight [O, C/group, kernelH, kernelW], bias [O]
 *
 *   y[n][o][oy][ox] = bias[o] + sum over c < C/group, ky, kx of
 *     weight[o][c][ky][kx] * x[n][g C/group + c][oy strideH - padH + ky dilationH][ox strideW - padW + kx dilationW]
 *
 * where g = floor(o / (O/group)): group g sees only its own contiguous block of C/group channels.
 *
 * Backward: dx is the transposed convolution of dy with the weights (written);
 * dWeight += correlation of x with dy, dBias += dy summed over n, oy, ox (each skipped when frozen).
 */
export class ConvolutionLayer extends Layer {
  readonly type = 'Convolution';
  readonly numOutput: number;
  readonly biasTerm: boolean;
  readonly group: number;
  readonly kernelH: number;
  readonly kernelW: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly padH: number;
  readonly padW: number;
  readonly dilationH: number;
  readonly dilationW: number;
  readonly axis: number;
  readonly weightFiller: FillerSpec;
  readonly biasFiller: FillerSpec;
  private shape: ConvolutionShape | undefined;

  constructor(name: string, params: ConvolutionParams = {}, paramSpecs: ParamSpec[] = []) {
    super(name, paramSpecs);
    if (params.numOutput === undefined) throw this.error('numOutput is required');
    this.numOutput = this.positive('numOutput', params.numOutput);
    this.biasTerm = params.biasTerm ?? true;
    this.group = this.positive('group', params.group ?? 1);
    if (this.numOutput % this.group !== 0) {
      throw this.error(`numOutput ${this.numOutput} is not a multiple of group ${this.group}: every group needs as many outputs`);
    }
    [this.kernelH, this.kernelW] = this.perAxis('kernelSize', params.kernelSize, 'kernelH', params.kernelH, 'kernelW', params.kernelW, undefined);
    [this.strideH, this.strideW] = this.perAxis('stride', params.stride, 'strideH', params.strideH, 'strideW', params.strideW, 1);
    [this.padH, this.padW] = this.perAxis('pad', params.pad, 'padH', params.padH, 'padW', params.padW, 0, true);
    [this.dilationH, this.dilationW] = this.perAxis('dilation', params.dilation, undefined, undefined, undefined, undefined, 1);
    this.axis = params.axis ?? 1;
    this.weightFiller = params.weightFiller ?? { type: 'constant' };
    this.biasFiller = params.biasFiller ?? { type: 'constant' };
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], context: SetupContext): void {
    if (bottom.length < 1 || top.length !== bottom.length) {
      throw this.error(`needs one top per bottom (at least one), got ${bottom.length} bottom(s) and ${top.length} top(s)`);
    }
    const x = bottom[0]!;
    const rank = x.shape.length;
    if (!Number.isInteger(this.axis) || (this.axis < 0 ? this.axis + rank : this.axis) !== 1) {
      throw this.error(`axis ${this.axis} is not supported: only axis 1, the channels of an NCHW batch`);
    }
    this.expectImages(x);
    const channels = x.shape[1]!;
    if (channels % this.group !== 0) {
      throw this.shapeError(x, `its ${channels} channels do not split into group ${this.group} (need a multiple of ${this.group})`);
    }
    const weight = this.createParam(0, 'weight', [this.numOutput, channels / this.group, this.kernelH, this.kernelW], context, this.weightFiller);
    this.params = [weight];
    if (this.biasTerm) {
      const bias = this.createParam(1, 'bias', [this.numOutput], context, this.biasFiller);
      this.params.push(bias);
    }
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!;
    this.expectImages(x);
    for (const other of bottom.slice(1)) {
      if (!sameShape(other.shape, x.shape)) throw this.shapeError(other, `every bottom needs the shape of '${x.name}' ${formatShape(x.shape)}`);
    }
    const weight = this.params[0]!;
    const [num, channels, height, width] = x.shape as [number, number, number, number];
    if (channels !== weight.shape[1]! * this.group) {
      throw this.shapeError(
        x,
        `the layer was set up for ${weight.shape[1]! * this.group} channels (weight ${formatShape(weight.shape)}, group ${this.group})`,
      );
    }
    const shape: ConvolutionShape = {
      num, channels, height, width,
      numOutput: this.numOutput, group: this.group,
      kernelH: this.kernelH, kernelW: this.kernelW,
      strideH: this.strideH, strideW: this.strideW,
      padH: this.padH, padW: this.padW,
      dilationH: this.dilationH, dilationW: this.dilationW,
    };
    let outH: number;
    let outW: number;
    try {
      [outH, outW] = convOutputSize(shape);
    } catch (error) {
      if (error instanceof ShapeError) throw this.shapeError(x, error.message);
      throw error;
    }
    this.shape = shape;
    for (const t of top) t.reshape([num, this.numOutput, outH, outW]);
  }

  /**
   * With `clamp`, the outputs come out clamped (the epilogue of the in-place ReLU or Clip that
   * follows, which the net then skips; see `Clamp`).
   */
  forward(bottom: readonly Blob[], top: readonly Blob[], clamp?: Clamp): void {
    const [weight, bias] = this.params as [Param, Param | undefined];
    for (let i = 0; i < bottom.length; i++) {
      convolutionForward(bottom[i]!.data.data, weight.data.data, bias?.data.data, top[i]!.data.data, this.shape!, clamp);
    }
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    const [weight, bias] = this.params as [Param, Param | undefined];
    const dWeight = weight.frozen ? undefined : weight.diff.data;
    const dBias = bias && !bias.frozen ? bias.diff.data : undefined;
    for (let i = 0; i < bottom.length; i++) {
      const dx = propagateDown[i] ? bottom[i]!.diff.data : undefined;
      if (!dx && !dWeight && !dBias) continue;
      convolutionBackward(bottom[i]!.data.data, weight.data.data, top[i]!.diff.data, { dx, dWeight, dBias }, this.shape!);
    }
  }

  /** N * O * H' * W' * (C/group) * kernelH * kernelW per bottom: one multiply-add per weight use. */
  /** The im2col columns of the fast forward (one buffer serves every bottom in turn). */
  override workspace(): number {
    return this.shape ? convolutionWorkspace(this.shape) : 0;
  }

  override multiplyAdds(bottom: readonly Blob[], top: readonly Blob[]): number {
    let total = 0;
    for (let i = 0; i < bottom.length; i++) {
      total += top[i]!.count * (bottom[i]!.shape[1]! / this.group) * this.kernelH * this.kernelW;
    }
    return total;
  }

  private expectImages(x: Blob): void {
    if (x.shape.length !== 4) throw this.shapeError(x, 'expected 4 axes [N,C,H,W] (only 2-D convolution is supported)');
  }

  private positive(field: string, value: number, allowZero = false): number {
    if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
      throw this.error(`${field} must be an integer ${allowZero ? '>= 0' : '> 0'}, got ${value}`);
    }
    return value;
  }

  /**
   * Resolves one of Caffe's per-axis settings to [h, w]: the `_h`/`_w` pair when given
   * (both, and then not the repeated field), else the repeated field (one value for both
   * axes or one per axis), else the default (`undefined`: required).
   */
  private perAxis(
    field: string,
    values: number | number[] | undefined,
    fieldH: string | undefined,
    valueH: number | undefined,
    fieldW: string | undefined,
    valueW: number | undefined,
    fallback: number | undefined,
    allowZero = false,
  ): [number, number] {
    const list = values === undefined ? [] : typeof values === 'number' ? [values] : values;
    if (valueH !== undefined || valueW !== undefined) {
      if (valueH === undefined || valueW === undefined) throw this.error(`${fieldH} and ${fieldW} must be given together`);
      if (list.length > 0) throw this.error(`give either ${field} or ${fieldH}/${fieldW}, not both`);
      return [this.positive(fieldH!, valueH, allowZero), this.positive(fieldW!, valueW, allowZero)];
    }
    if (list.length === 0) {
      if (fallback === undefined) throw this.error(`${field} is required (or ${fieldH} and ${fieldW})`);
      return [fallback, fallback];
    }
    if (list.length > 2) throw this.error(`${field} takes 1 value or 2 ([h, w]) for a 2-D convolution, got ${list.length}`);
    return [this.positive(field, list[0]!, allowZero), this.positive(field, list[list.length - 1]!, allowZero)];
  }
}
