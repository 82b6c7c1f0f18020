import { formatShape, type FillerSpec, type FloatArray } from '@cnn/tensor';
import type { Blob, Param, ParamSpec } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { canonicalAxis, countAxes } from './axes.js';

/** Scale parameters (Caffe's ScaleParameter). */
export interface ScaleParams {
  /** First axis of the input the scale lines up with. Default 1. */
  axis?: number;
  /** One bottom: how many axes the learned scale spans from `axis` (-1: all the rest). Default 1. Ignored with two bottoms. */
  numAxes?: number;
  /** Initial learned scale; default constant 1. */
  filler?: FillerSpec;
  /** Add a learned bias of the scale's shape. Default false. */
  biasTerm?: boolean;
  /** Initial bias; default constant 0. */
  biasFiller?: FillerSpec;
}

/**
 * Multiplies by a scale broadcast over the axes before and after it (optionally adds a bias).
 * With axis 1: `[N,C,H,W] * s[C] (+ b[C]) -> [N,C,H,W]`. The scale is a learned parameter
 * of shape `x.shape[axis : axis + numAxes]` (one bottom), or the second bottom, whose shape
 * must match `x.shape` from `axis` on (a scalar [] bottom scales everything). In place allowed.
 *
 *   forward:  y[o, d, i] = x[o, d, i] * s[d] (+ b[d])
 *   backward: dx = dy * s;  ds[d] (+)= sum_{o, i} dy * x;  db[d] += sum_{o, i} dy
 *
 * Parameters in Caffe's blob order: [scale, bias] with one bottom, [bias] with two.
 * In place, forward keeps a copy of x for the scale gradient.
 */
export class ScaleLayer extends Layer {
  readonly type = 'Scale';
  readonly axis: number;
  readonly numAxes: number;
  readonly filler: FillerSpec;
  readonly biasTerm: boolean;
  readonly biasFiller: FillerSpec;
  private scaleParam: Param | undefined;
  private biasParam: Param | undefined;
  private outer = 0;
  private scaleDim = 0;
  private inner = 0;
  private saved = new Float64Array(0);

  constructor(name: string, params: ScaleParams = {}, paramSpecs: ParamSpec[] = []) {
    super(name, paramSpecs);
    this.axis = params.axis ?? 1;
    this.numAxes = params.numAxes ?? 1;
    this.filler = params.filler ?? { type: 'constant', value: 1 };
    this.biasTerm = params.biasTerm ?? false;
    this.biasFiller = params.biasFiller ?? { type: 'constant', value: 0 };
  }

  override get allowsInPlace(): boolean {
    return true;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], context: SetupContext): void {
    this.expectBlobs(bottom, top, [1, 2], 1);
    this.params = [];
    let shape: readonly number[];
    if (bottom.length === 1) {
      const x = bottom[0]!;
      const axis = canonicalAxis(this.axis, x.shape.length);
      if (axis === undefined) throw this.shapeError(x, `which has no axis ${this.axis}`);
      if (!(Number.isInteger(this.numAxes) && this.numAxes >= -1 && axis + this.numAxes <= x.shape.length)) {
        throw this.shapeError(x, `which cannot hold a scale of ${this.numAxes} axes from axis ${axis}`);
      }
      shape = x.shape.slice(axis, this.numAxes === -1 ? undefined : axis + this.numAxes);
      this.scaleParam = this.createParam(0, 'scale', shape, context, this.filler);
      this.params.push(this.scaleParam);
    } else {
      shape = bottom[1]!.shape;
    }
    if (this.biasTerm) {
      this.biasParam = this.createParam(this.params.length, 'bias', shape, context, this.biasFiller);
      this.params.push(this.biasParam);
    }
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!;
    const scaleShape = (bottom[1] ?? this.scaleParam!).shape;
    const axis = scaleShape.length === 0 ? 0 : canonicalAxis(this.axis, x.shape.length);
    const fits =
      axis !== undefined &&
      axis + scaleShape.length <= x.shape.length &&
      scaleShape.every((d, k) => d === x.shape[axis + k]);
    if (!fits) {
      const source = bottom[1] ? `bottom '${bottom[1].name}'` : 'the learned scale';
      throw this.shapeError(x, `but ${source} ${formatShape(scaleShape)} must match its axes from axis ${this.axis}`);
    }
    this.outer = countAxes(x.shape, 0, axis);
    this.scaleDim = countAxes(scaleShape, 0);
    this.inner = countAxes(x.shape, axis + scaleShape.length);
    top[0]!.reshape(x.shape);
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!.data.data;
    const y = top[0]!.data.data;
    if (x === y) {
      const count = bottom[0]!.count;
      if (this.saved.length < count) this.saved = new Float64Array(count);
      this.saved.set(x.subarray(0, count));
    }
    const s = (bottom[1] ?? this.scaleParam!).data.data;
    const b = this.biasParam?.data.data;
    this.forEachRow((d, start, end) => {
      const shift = b ? b[d] : 0;
      for (let i = start; i < end; i++) y[i] = x[i] * s[d] + shift;
    });
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    const dy = top[0]!.diff.data;
    // dx may overwrite dy in place, so the bias and scale gradients come first.
    if (this.biasParam && !this.biasParam.frozen) {
      const db = this.biasParam.diff.data;
      this.forEachRow((d, start, end) => {
        for (let i = start; i < end; i++) db[d] += dy[i];
      });
    }
    const scale = bottom[1] ?? this.scaleParam!;
    const scaleFromBottom = bottom.length === 2;
    if (scaleFromBottom ? propagateDown[1] : !this.scaleParam!.frozen) {
      const x: FloatArray = bottom[0] === top[0] ? this.saved : bottom[0]!.data.data;
      const ds = scale.diff.data;
      if (scaleFromBottom) ds.fill(0, 0, scale.count);
      this.forEachRow((d, start, end) => {
        let sum = 0;
        for (let i = start; i < end; i++) sum += dy[i] * x[i];
        ds[d] += sum;
      });
    }
    if (propagateDown[0]) {
      const dx = bottom[0]!.diff.data;
      const s = scale.data.data;
      this.forEachRow((d, start, end) => {
        for (let i = start; i < end; i++) dx[i] = dy[i] * s[d];
      });
    }
  }

  /** Visits each (outer, scale index d) row of `inner` elements as the range [start, end). */
  private forEachRow(visit: (d: number, start: number, end: number) => void): void {
    for (let o = 0; o < this.outer; o++) {
      for (let d = 0; d < this.scaleDim; d++) {
        const start = (o * this.scaleDim + d) * this.inner;
        visit(d, start, start + this.inner);
      }
    }
  }
}
