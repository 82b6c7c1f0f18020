import { ShapeError, formatShape } from '@cnn/tensor';
import type { Blob } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';
import { canonicalAxis, countAxes } from './axes.js';

/** Concat parameters (Caffe's ConcatParameter). */
export interface ConcatParams {
  /** The axis to join along; negative counts from the end. Default 1. */
  axis?: number;
  /** Legacy name of a non-negative `axis`; give one or the other. */
  concatDim?: number;
}

/**
 * Joins one or more bottoms along an axis; all other axes must agree:
 * `[N,C1,H,W], [N,C2,H,W], ... -> [N,C1+C2+...,H,W]` with axis 1.
 *
 *   forward:  each bottom's block is copied to its place in the top
 *   backward: each bottom's gradient is its block of the top's gradient
 */
export class ConcatLayer extends Layer {
  readonly type = 'Concat';
  readonly axis: number;
  private outer = 0;
  private inner = 0;
  private canonical = 0;

  constructor(name: string, params: ConcatParams = {}) {
    super(name);
    if (params.axis !== undefined && params.concatDim !== undefined) {
      throw this.error(`give either axis or concatDim, not both (got axis ${params.axis}, concatDim ${params.concatDim})`);
    }
    if (params.concatDim !== undefined && params.concatDim < 0) throw this.error(`concatDim must be >= 0, got ${params.concatDim}`);
    this.axis = params.concatDim ?? params.axis ?? 1;
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], _context?: SetupContext): void {
    this.expectBlobs(bottom, top, [1, Infinity], 1);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const first = bottom[0]!.shape;
    const axis = canonicalAxis(this.axis, first.length);
    if (axis === undefined) throw this.shapeError(bottom[0]!, `which has no axis ${this.axis}`);
    const fits = (shape: readonly number[]): boolean =>
      shape.length === first.length && shape.every((d, i) => i === axis || d === first[i]);
    if (!bottom.every((b) => fits(b.shape))) {
      throw new ShapeError(
        `${this.type} layer '${this.name}': bottoms must have the same shape except on axis ${axis}, got ` +
          bottom.map((b) => `'${b.name}' ${formatShape(b.shape)}`).join(', '),
      );
    }
    this.canonical = axis;
    this.outer = countAxes(first, 0, axis);
    this.inner = countAxes(first, axis + 1);
    const joined = bottom.reduce((sum, b) => sum + b.shape[axis]!, 0);
    top[0]!.reshape(first.map((d, i) => (i === axis ? joined : d)));
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const y = top[0]!.data.data;
    const topBlock = this.blockOf(top[0]!);
    let start = 0;
    for (const b of bottom) {
      const x = b.data.data;
      const block = this.blockOf(b);
      for (let o = 0; o < this.outer; o++) y.set(x.subarray(o * block, (o + 1) * block), o * topBlock + start);
      start += block;
    }
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    const dy = top[0]!.diff.data;
    const topBlock = this.blockOf(top[0]!);
    let start = 0;
    bottom.forEach((b, i) => {
      const block = this.blockOf(b);
      if (propagateDown[i]) {
        const dx = b.diff.data;
        for (let o = 0; o < this.outer; o++) dx.set(dy.subarray(o * topBlock + start, o * topBlock + start + block), o * block);
      }
      start += block;
    });
  }

  /** The elements of `blob` in one outer position: its axis length times the inner size. */
  private blockOf(blob: Blob): number {
    return blob.shape[this.canonical]! * this.inner;
  }
}
