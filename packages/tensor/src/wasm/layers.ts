import { convOutputSize, type ConvGeometry } from '../im2col.js';
import type { FloatArray } from '../storage.js';
import { heapIndex, instantiateOnHeap } from './heap.js';
import { layerKernelModule } from './layer-module.js';

/*
 * The TypeScript half of the wasm backend's layer kernels (layer-module.ts has the
 * WebAssembly): each function takes the same arrays as the TypeScript loop it stands in
 * for, runs the wasm kernel when every array is float32 on the wasm heap, and returns
 * whether it did. On false the caller runs its own TypeScript loop, so arrays anywhere
 * else (float64 in gradient checks, a caller's own buffers) still get the right answer.
 */

const FLOAT = 4;
const LANES = 4;

interface LayerInstance {
  im2col: (...args: number[]) => void;
  col2im: (...args: number[]) => void;
  reluForward: (x: number, y: number, count: number, slope: number) => void;
  reluBackward: (y: number, dy: number, dx: number, count: number, slope: number) => void;
  maxPool: (...args: number[]) => void;
  lrnAcross: (...args: number[]) => void;
  lrnAcrossBackward: (...args: number[]) => void;
  sgdUpdate: (...args: number[]) => void;
  winogradFilters: (weight: number, u: number, count: number, stride: number) => void;
  winogradTiles: (...args: number[]) => void;
  winogradOutputs: (...args: number[]) => void;
}

let instance: LayerInstance | undefined;

/** This thread's instance over the heap, compiled on first use. */
function kernels(): LayerInstance {
  if (!instance) {
    instance = instantiateOnHeap(layerKernelModule(), 'wasm layer kernels') as unknown as LayerInstance;
  }
  return instance;
}

/** Byte addresses of the arrays on the heap, or undefined when any is elsewhere. */
function addresses(...arrays: FloatArray[]): number[] | undefined {
  const at = arrays.map((array) => heapIndex(array) * FLOAT);
  return at.every((address) => address >= 0) ? at : undefined;
}

/** `im2col` (see im2col.ts) in wasm, all of it: the row loops and the copies. */
export function wasmIm2col(x: FloatArray, xOffset: number, g: ConvGeometry, col: FloatArray, colOffset = 0): boolean {
  const at = addresses(x, col);
  if (!at) return false;
  const [outH, outW] = convOutputSize(g);
  const { channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW } = g;
  const [xAt, colAt] = [at[0]! + xOffset * FLOAT, at[1]! + colOffset * FLOAT];
  kernels().im2col(xAt, colAt, channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, outH, outW);
  return true;
}

/**
 * `col2im` (see im2col.ts) in wasm: the image region is zeroed, then every row (c, ky, kx)
 * of the columns is added back onto the pixels it came from.
 */
export function wasmCol2im(col: FloatArray, colOffset: number, g: ConvGeometry, x: FloatArray, xOffset = 0): boolean {
  const at = addresses(col, x);
  if (!at) return false;
  const [outH, outW] = convOutputSize(g);
  const { channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW } = g;
  x.fill(0, xOffset, xOffset + channels * height * width);
  const [colAt, xAt] = [at[0]! + colOffset * FLOAT, at[1]! + xOffset * FLOAT];
  kernels().col2im(xAt, colAt, channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, outH, outW);
  return true;
}

/** ReLU forward over `count` elements: y = max(x, 0) + slope * min(x, 0) (y may be x). */
export function wasmReluForward(x: FloatArray, y: FloatArray, count: number, slope: number): boolean {
  const at = addresses(x, y);
  if (!at) return false;
  kernels().reluForward(at[0]!, at[1]!, count, slope);
  return true;
}

/** ReLU backward over `count` elements: dx = y > 0 ? dy : slope * dy. */
export function wasmReluBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, count: number, slope: number): boolean {
  const at = addresses(y, dy, dx);
  if (!at) return false;
  kernels().reluBackward(at[0]!, at[1]!, at[2]!, count, slope);
  return true;
}

/** The planes and windows of a pooling: `planes` planes of height x width, pooled to pooledH x pooledW. */
export interface PoolPlanes {
  planes: number;
  height: number;
  width: number;
  pooledH: number;
  pooledW: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
}

/**
 * MAX pooling forward of `p.planes` planes from x[0] into y[0], with the position of each
 * maximum in its plane written to `maskBits` (an int32 array seen as float32, as the pool
 * carries it). Windows are clipped to the plane, as in Caffe.
 */
export function wasmMaxPool(x: FloatArray, y: FloatArray, maskBits: FloatArray, p: PoolPlanes): boolean {
  const at = addresses(x, y, maskBits);
  if (!at) return false;
  const { planes, height, width, pooledH, pooledW, kernelH, kernelW, strideH, strideW, padH, padW } = p;
  // With stride 2 across, the outputs whose windows lie whole inside the row go four at a time.
  const first = Math.ceil(padW / 2);
  const end = Math.min(pooledW, Math.floor((width - kernelW + padW) / 2) + 1);
  const groups = strideW === 2 && end > first ? Math.floor((end - first) / LANES) : 0;
  kernels().maxPool(at[0]!, at[1]!, at[2]!, planes, height, width, pooledH, pooledW, kernelH, kernelW, strideH, strideW, padH, padW, first, groups);
  return true;
}

/** A run of pixels of one image for the cross-channel LRN, and its constants (Caffe's LRNParameter). */
export interface LrnRun {
  /** Pixels in the run (consecutive in each channel plane). */
  count: number;
  /** Floats from one channel's plane to the next. */
  planeSize: number;
  channels: number;
  localSize: number;
  alpha: number;
  beta: number;
  k: number;
}

/**
 * The cross-channel LRN forward of the first floor(count / 4) * 4 pixels of a run starting
 * at x[0] (channel 0): scale = k + alpha / n * (sum of squares over the channel window),
 * y = x * scale^-beta. Only Caffe's beta = 0.75 runs here. Returns the number of pixels done
 * (0 if the arrays are not all on the heap, or beta is another value); the caller does the rest.
 */
export function wasmLrnAcross(x: FloatArray, scale: FloatArray, y: FloatArray, run: LrnRun): number {
  const groups = Math.floor(run.count / LANES);
  const at = addresses(x, scale, y);
  if (!at || run.beta !== 0.75 || groups === 0) return 0;
  const half = (run.localSize - 1) / 2;
  kernels().lrnAcross(at[0]!, at[1]!, at[2]!, run.channels, run.planeSize * FLOAT, groups, half, run.k, run.alpha / run.localSize);
  return groups * LANES;
}

/**
 * The gradient of `wasmLrnAcross` over the first floor(count / 4) * 4 pixels of a run from
 * channel 0: dx = dy * scale^-beta - (2 alpha beta / n) * x * (sum of dy * y / scale over the
 * channel window). Beta 0.75 only; returns the number of pixels done (see `wasmLrnAcross`).
 */
export function wasmLrnAcrossBackward(x: FloatArray, y: FloatArray, scale: FloatArray, dy: FloatArray, dx: FloatArray, run: LrnRun): number {
  const groups = Math.floor(run.count / LANES);
  const at = addresses(x, y, scale, dy, dx);
  if (!at || run.beta !== 0.75 || groups === 0) return 0;
  const half = (run.localSize - 1) / 2;
  const factor = (2 * run.alpha * run.beta) / run.localSize;
  kernels().lrnAcrossBackward(at[0]!, at[1]!, at[2]!, at[3]!, at[4]!, run.channels, run.planeSize * FLOAT, groups, half, factor);
  return groups * LANES;
}

/** The constants of an SGD step (see `wasmSgdUpdate`). */
export interface SgdStep {
  rate: number;
  decay: number;
  momentum: number;
  iterSize: number;
}

/**
 * The SGD step with momentum and L2 weight decay over `count` weights, in float32 lanes:
 * g = g / iterSize + decay * w (stored back), v = momentum * v + rate * g, w -= v. (The
 * division is a multiplication by 1 / iterSize, exact when iterSize is a power of two.)
 */
export function wasmSgdUpdate(w: FloatArray, g: FloatArray, v: FloatArray, count: number, step: SgdStep): boolean {
  const at = addresses(w, g, v);
  if (!at) return false;
  kernels().sgdUpdate(at[0]!, at[1]!, at[2]!, count, 1 / step.iterSize, step.decay, step.momentum, step.rate);
  return true;
}

/**
 * A run of Winograd F(2x2, 3x3) transforms over consecutive channels of one image (see
 * winograd.ts in @cnn/nn): the 16 transformed matrices are `stride` floats apart, and each
 * channel's row of tiles in them `rowStep` floats after the previous channel's.
 */
export interface WinogradRun {
  channels: number;
  rowStep: number;
  stride: number;
  tilesH: number;
  tilesW: number;
}

/** The input side of a run: planes of height x width, `planeStep` floats apart, padded by (padH, padW) into rows of paddedW. */
export interface WinogradInput extends WinogradRun {
  planeStep: number;
  height: number;
  width: number;
  padH: number;
  padW: number;
  paddedW: number;
}

/** The output side of a run: planes of outH x outW, `planeStep` floats apart. */
export interface WinogradOutput extends WinogradRun {
  planeStep: number;
  outH: number;
  outW: number;
}

/** U = G g G^T of `count` consecutive 3 x 3 filters from weight[weightOffset] into u[uOffset ..], position xi at + xi * stride. */
export function wasmWinogradFilters(weight: FloatArray, weightOffset: number, u: FloatArray, uOffset: number, count: number, stride: number): boolean {
  const at = addresses(weight, u);
  if (!at) return false;
  kernels().winogradFilters(at[0]! + weightOffset * FLOAT, at[1]! + uOffset * FLOAT, count, stride * FLOAT);
  return true;
}

/**
 * V = B^T d B of every tile of `run.channels` planes from x[xOffset], each copied first into
 * `padded` (whose border must be zero), into v[vOffset ..].
 */
export function wasmWinogradTiles(x: FloatArray, xOffset: number, padded: FloatArray, v: FloatArray, vOffset: number, run: WinogradInput): boolean {
  const at = addresses(x, padded, v);
  if (!at) return false;
  const { channels, planeStep, height, width, padH, padW, paddedW, tilesH, tilesW, rowStep, stride } = run;
  kernels().winogradTiles(
    at[0]! + xOffset * FLOAT, channels, planeStep * FLOAT, height, width, padH, padW, at[1]!, paddedW, tilesH, tilesW,
    at[2]! + vOffset * FLOAT, rowStep * FLOAT, stride * FLOAT,
  );
  return true;
}

/** Y = A^T M A (+ bias[biasOffset + channel]) of every tile of `run.channels` planes, from m[mOffset ..] into y[yOffset ..]. */
export function wasmWinogradOutputs(
  m: FloatArray,
  mOffset: number,
  y: FloatArray,
  yOffset: number,
  bias: FloatArray | undefined,
  biasOffset: number,
  run: WinogradOutput,
): boolean {
  const at = addresses(m, y, ...(bias ? [bias] : []));
  if (!at) return false;
  const { channels, rowStep, stride, planeStep, outH, outW, tilesH, tilesW } = run;
  // Without a bias the kernel reads (and ignores) the float at address 0.
  const biasAt = bias ? at[2]! + biasOffset * FLOAT : 0;
  kernels().winogradOutputs(
    at[0]! + mOffset * FLOAT, channels, rowStep * FLOAT, stride * FLOAT, at[1]! + yOffset * FLOAT, planeStep * FLOAT, outH, outW, tilesH, tilesW,
    biasAt, bias ? 1 : 0,
  );
  return true;
}
