import { allocate, type FloatArray } from '@cnn/tensor';
import type { Blob } from '../blob.js';
import { Layer } from '../layer.js';
import { pooledSize, poolingBackward, poolingForward, type PoolGeometry, type RoundMode } from '../kernels/pooling/index.js';

/** Pooling parameters (Caffe's PoolingParameter). Give the kernel as `kernelSize` or as `kernelH` and `kernelW`. */
export interface PoolingParams {
  /** MAX (default) or AVE. STOCHASTIC is Caffe's too but is not supported here. */
  pool?: 'MAX' | 'AVE' | 'STOCHASTIC';
  /** Square window side. */
  kernelSize?: number;
  /** Step between windows, both axes (default 1). */
  stride?: number;
  /** Zero padding on every side, both axes (default 0); must be smaller than the kernel. */
  pad?: number;
  kernelH?: number;
  kernelW?: number;
  strideH?: number;
  strideW?: number;
  padH?: number;
  padW?: number;
  /** Pool the whole plane: the kernel is the input's H x W, with pad 0 and stride 1. */
  globalPooling?: boolean;
  /** How the number of windows is rounded: CEIL (Caffe's default) or FLOOR. */
  roundMode?: RoundMode;
}

/**
 * 2-D max or average pooling over each channel, as Caffe's Pooling layer.
 *
 *   [N,C,H,W] -> [N,C,H',W'],  H' = ceil((H + 2 padH - kernelH) / strideH) + 1  (floor with roundMode FLOOR),
 *   minus 1 when padH > 0 and (H' - 1) strideH >= H + padH (the last window would start in the padding);
 *   W' likewise.
 *
 * Window (ph, pw) covers rows [ph strideH - padH, ph strideH - padH + kernelH) and the matching columns.
 *
 *   MAX: y = the largest x in the window clipped to the image; the first maximum wins ties.
 *        backward: dx[argmax] += dy, every other dx of the window gets nothing.
 *   AVE: y = (sum of x in the window clipped to the image) / poolSize, where poolSize is the
 *        window clipped to [-pad, H + pad) per axis: padding counts as zeros, the overhang
 *        of a ceil-rounded last window beyond the padding does not.
 *        backward: dx[h,w] += dy / poolSize for every (h, w) of the clipped window.
 *
 * An optional second top (MAX only) receives the argmax of each output as Caffe's
 * float index h * W + w within its plane.
 */
export class PoolingLayer extends Layer {
  readonly type = 'Pooling';
  readonly pool: 'MAX' | 'AVE';
  readonly globalPooling: boolean;
  readonly roundMode: RoundMode;
  /** Kernel height and width; with global pooling they follow the input's H and W at each reshape. */
  kernelH: number;
  kernelW: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly padH: number;
  readonly padW: number;
  private geometry: PoolGeometry | undefined;
  /** For MAX: the position h * W + w of each output's maximum within its plane. */
  private mask: Int32Array = new Int32Array(0);
  /**
   * The memory under `mask`, allocated as float32 storage so that with the wasm backend it
   * lives on the heap, where the wasm kernel writes it; kept here because the int32 view
   * alone would not keep heap memory alive.
   */
  private maskStore: FloatArray = new Float32Array(0);

  constructor(name: string, params: PoolingParams = {}) {
    super(name);
    const pool = params.pool ?? 'MAX';
    if (pool === 'STOCHASTIC') throw this.error('pool STOCHASTIC is not supported (only MAX and AVE)');
    if (pool !== 'MAX' && pool !== 'AVE') throw this.error(`unknown pool method '${String(pool)}' (expected MAX or AVE)`);
    this.pool = pool;
    this.globalPooling = params.globalPooling ?? false;
    this.roundMode = params.roundMode ?? 'CEIL';
    if (this.roundMode !== 'CEIL' && this.roundMode !== 'FLOOR') throw this.error(`unknown roundMode '${String(this.roundMode)}' (expected CEIL or FLOOR)`);

    const has = (value: number | undefined): value is number => value !== undefined;
    if (has(params.kernelSize) && has(params.kernelH) && has(params.kernelW)) {
      throw this.error('give the kernel as kernelSize or as kernelH and kernelW, not both');
    }
    if (this.globalPooling) {
      if (has(params.kernelSize) || has(params.kernelH) || has(params.kernelW)) {
        throw this.error('globalPooling takes its kernel from the input: do not set kernelSize, kernelH or kernelW');
      }
      this.kernelH = this.kernelW = 0;
    } else if (has(params.kernelSize)) {
      this.kernelH = this.kernelW = params.kernelSize;
    } else if (has(params.kernelH) && has(params.kernelW)) {
      this.kernelH = params.kernelH;
      this.kernelW = params.kernelW;
    } else {
      throw this.error('needs kernelSize, or both kernelH and kernelW');
    }
    [this.padH, this.padW] = pair('pad', params.pad, params.padH, params.padW, 0, (m) => this.error(m));
    [this.strideH, this.strideW] = pair('stride', params.stride, params.strideH, params.strideW, 1, (m) => this.error(m));

    const checkInteger = (label: string, value: number, min: number): void => {
      if (!Number.isInteger(value) || value < min) throw this.error(`${label} ${value} must be an integer >= ${min}`);
    };
    if (!this.globalPooling) {
      checkInteger('kernelH', this.kernelH, 1);
      checkInteger('kernelW', this.kernelW, 1);
    }
    checkInteger('strideH', this.strideH, 1);
    checkInteger('strideW', this.strideW, 1);
    checkInteger('padH', this.padH, 0);
    checkInteger('padW', this.padW, 0);
    if (this.globalPooling && (this.padH !== 0 || this.padW !== 0 || this.strideH !== 1 || this.strideW !== 1)) {
      throw this.error(`globalPooling allows only pad 0 and stride 1, got pad ${this.padH} x ${this.padW}, stride ${this.strideH} x ${this.strideW}`);
    }
    if (!this.globalPooling && (this.padH >= this.kernelH || this.padW >= this.kernelW)) {
      throw this.error(`pad ${this.padH} x ${this.padW} must be smaller than the kernel ${this.kernelH} x ${this.kernelW} (as Caffe requires)`);
    }
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[]): void {
    this.expectBlobs(bottom, top, 1, this.pool === 'MAX' ? [1, 2] : 1);
  }

  reshape(bottom: readonly Blob[], top: readonly Blob[]): void {
    const x = bottom[0]!;
    if (x.shape.length !== 4) throw this.shapeError(x, 'expected 4 axes [N,C,H,W]');
    const [num, channels, height, width] = x.shape as [number, number, number, number];
    if (this.globalPooling) {
      this.kernelH = height;
      this.kernelW = width;
    }
    const pooledH = pooledSize(height, this.kernelH, this.strideH, this.padH, this.roundMode);
    const pooledW = pooledSize(width, this.kernelW, this.strideW, this.padW, this.roundMode);
    // Every window must see at least one input: the first always does (pad < kernel); the last
    // may not when the stride exceeds the kernel, where Caffe would read outside the plane.
    if (pooledH < 1 || pooledW < 1 || (pooledH - 1) * this.strideH - this.padH >= height || (pooledW - 1) * this.strideW - this.padW >= width) {
      throw this.shapeError(
        x,
        `which a ${this.kernelH} x ${this.kernelW} window with stride ${this.strideH} x ${this.strideW}, pad ${this.padH} x ${this.padW} ` +
          `(${this.roundMode}) cannot pool: it gives ${pooledH} x ${pooledW} windows, some of them outside the input`,
      );
    }
    this.geometry = {
      num, channels, height, width, pooledH, pooledW,
      kernelH: this.kernelH, kernelW: this.kernelW, strideH: this.strideH, strideW: this.strideW, padH: this.padH, padW: this.padW,
    };
    const topShape = [num, channels, pooledH, pooledW];
    for (const t of top) t.reshape(topShape);
    const count = num * channels * pooledH * pooledW;
    if (this.pool === 'MAX' && this.mask.length < count) {
      // On shared memory, so the thread pool can write it in place.
      this.maskStore = allocate(count, { shared: true });
      this.mask = new Int32Array(this.maskStore.buffer, this.maskStore.byteOffset, count);
    }
  }

  forward(bottom: readonly Blob[], top: readonly Blob[]): void {
    const g = this.geometry!;
    poolingForward(this.pool, bottom[0]!.data.data, top[0]!.data.data, this.mask, g);
    if (top.length > 1) {
      const topMask = top[1]!.data.data;
      for (let i = 0, n = top[1]!.count; i < n; i++) topMask[i] = this.mask[i];
    }
  }

  backward(top: readonly Blob[], propagateDown: readonly boolean[], bottom: readonly Blob[]): void {
    if (!propagateDown[0]) return;
    poolingBackward(this.pool, top[0]!.diff.data, this.mask, bottom[0]!.diff.data, this.geometry!);
  }
}

/**
 * Caffe's rule for a per-axis setting: either the shared field (or nothing, for the
 * default) or both per-axis fields, never a mix.
 */
function pair(
  label: string,
  both: number | undefined,
  h: number | undefined,
  w: number | undefined,
  fallback: number,
  error: (message: string) => Error,
): [number, number] {
  if (h === undefined && w === undefined) return [both ?? fallback, both ?? fallback];
  if (both !== undefined || h === undefined || w === undefined) {
    throw error(`give ${label} alone, or both ${label}H and ${label}W (got ${label} ${both}, ${label}H ${h}, ${label}W ${w})`);
  }
  return [h, w];
}
