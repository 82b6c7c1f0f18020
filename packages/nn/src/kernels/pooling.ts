import { ArgumentError, getBackend, getPool, getThreads, isShared, partRange, type FloatArray, type KernelRef, type PartKernel, type PoolPlanes } from '@cnn/tensor';

/** The pooling methods the kernels implement (Caffe's STOCHASTIC is not one of them). */
export type PoolMethod = 'MAX' | 'AVE';

/** How Caffe rounds the number of windows: up (its default) or down (like convolution). */
export type RoundMode = 'CEIL' | 'FLOOR';

/**
 * The geometry of a 2-D pooling over `num x channels` planes of `height x width`,
 * giving `pooledH x pooledW` windows per plane. Window (ph, pw) covers rows
 * [ph * strideH - padH, ph * strideH - padH + kernelH) and the matching columns.
 */
export interface PoolGeometry {
  num: number;
  channels: number;
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
 * Windows along one axis, by Caffe's rule (pooling_layer.cpp):
 *
 *   out = ceil((size + 2 * pad - kernel) / stride) + 1      (floor for FLOOR)
 *   if pad > 0 and (out - 1) * stride >= size + pad: out -= 1
 *
 * The second line drops a last window that would start in the right padding and so
 * see no input at all. CIFAR-10's pool1 gives 16 at 32 x 32 with k 3, s 2, where
 * the floor of convolution would give 15.
 */
export function pooledSize(size: number, kernel: number, stride: number, pad: number, roundMode: RoundMode = 'CEIL'): number {
  const steps = (size + 2 * pad - kernel) / stride;
  let out = (roundMode === 'CEIL' ? Math.ceil(steps) : Math.floor(steps)) + 1;
  if (pad > 0 && (out - 1) * stride >= size + pad) out--;
  return out;
}

/**
 * Pooling forward, written as the formula (one output at a time):
 *
 *   MAX: y[n,c,ph,pw] = max over the window, clipped to the image, of x[n,c,h,w];
 *        mask[n,c,ph,pw] = h * width + w of the first maximum (Caffe's index within the plane)
 *   AVE: y[n,c,ph,pw] = (sum over the window clipped to the image) / poolSize,
 *        poolSize = the window clipped to [-pad, size + pad) along each axis:
 *        padding counts as zeros, the overhang beyond the padding does not.
 *
 * `mask` is needed for MAX only.
 */
export function poolingForwardReference(method: PoolMethod, x: FloatArray, y: FloatArray, mask: Int32Array | undefined, g: PoolGeometry): void {
  const argmax = method === 'MAX' ? requireMask(mask) : undefined;
  for (let n = 0; n < g.num; n++) {
    for (let c = 0; c < g.channels; c++) {
      const xPlane = (n * g.channels + c) * g.height * g.width;
      const yPlane = (n * g.channels + c) * g.pooledH * g.pooledW;
      for (let ph = 0; ph < g.pooledH; ph++) {
        for (let pw = 0; pw < g.pooledW; pw++) {
          const hStart = ph * g.strideH - g.padH;
          const wStart = pw * g.strideW - g.padW;
          const hFirst = Math.max(hStart, 0);
          const wFirst = Math.max(wStart, 0);
          const hEnd = Math.min(hStart + g.kernelH, g.height);
          const wEnd = Math.min(wStart + g.kernelW, g.width);
          const out = yPlane + ph * g.pooledW + pw;
          if (argmax) {
            let best = x[xPlane + hFirst * g.width + wFirst];
            let bestIndex = hFirst * g.width + wFirst;
            for (let h = hFirst; h < hEnd; h++) {
              for (let w = wFirst; w < wEnd; w++) {
                if (x[xPlane + h * g.width + w] > best) {
                  best = x[xPlane + h * g.width + w];
                  bestIndex = h * g.width + w;
                }
              }
            }
            y[out] = best;
            argmax[out] = bestIndex;
          } else {
            const poolSize = (Math.min(hStart + g.kernelH, g.height + g.padH) - hStart) * (Math.min(wStart + g.kernelW, g.width + g.padW) - wStart);
            let sum = 0;
            for (let h = hFirst; h < hEnd; h++) {
              for (let w = wFirst; w < wEnd; w++) sum += x[xPlane + h * g.width + w];
            }
            y[out] = sum / poolSize;
          }
        }
      }
    }
  }
}

/**
 * Pooling backward, written as the formula. `dx` is overwritten:
 *
 *   MAX: dx[n,c,mask[n,c,ph,pw]] += dy[n,c,ph,pw]     (all the gradient to the maximum)
 *   AVE: dx[n,c,h,w] += dy[n,c,ph,pw] / poolSize      for every (h, w) of the clipped window
 */
export function poolingBackwardReference(method: PoolMethod, dy: FloatArray, mask: Int32Array | undefined, dx: FloatArray, g: PoolGeometry): void {
  const argmax = method === 'MAX' ? requireMask(mask) : undefined;
  dx.fill(0, 0, g.num * g.channels * g.height * g.width);
  for (let n = 0; n < g.num; n++) {
    for (let c = 0; c < g.channels; c++) {
      const xPlane = (n * g.channels + c) * g.height * g.width;
      const yPlane = (n * g.channels + c) * g.pooledH * g.pooledW;
      for (let ph = 0; ph < g.pooledH; ph++) {
        for (let pw = 0; pw < g.pooledW; pw++) {
          const out = yPlane + ph * g.pooledW + pw;
          if (argmax) {
            dx[xPlane + argmax[out]] += dy[out];
            continue;
          }
          const hStart = ph * g.strideH - g.padH;
          const wStart = pw * g.strideW - g.padW;
          const poolSize = (Math.min(hStart + g.kernelH, g.height + g.padH) - hStart) * (Math.min(wStart + g.kernelW, g.width + g.padW) - wStart);
          for (let h = Math.max(hStart, 0); h < Math.min(hStart + g.kernelH, g.height); h++) {
            for (let w = Math.max(wStart, 0); w < Math.min(wStart + g.kernelW, g.width); w++) {
              dx[xPlane + h * g.width + w] += dy[out] / poolSize;
            }
          }
        }
      }
    }
  }
}

/** Below this many window reads a pooling runs on one thread: waking workers would cost more. */
const MIN_PARALLEL_READS = 1 << 20;

const forwardPartRef: KernelRef = { module: import.meta.url, name: 'poolingForwardPart' };
const backwardPartRef: KernelRef = { module: import.meta.url, name: 'poolingBackwardPart' };

/**
 * Pooling forward, fast: the window bounds of each row and column of outputs are
 * worked out once per call instead of once per output, the loops run over flat
 * offsets, and large problems are split over the thread pool by planes (N * C),
 * so no two threads write the same element. Same results as the reference.
 */
export function poolingForwardFast(method: PoolMethod, x: FloatArray, y: FloatArray, mask: Int32Array | undefined, g: PoolGeometry): void {
  const arrays = method === 'MAX' ? [x, y, maskAsFloats(requireMask(mask))] : [x, y];
  runOverPlanes(forwardPartRef, poolingForwardPart, arrays, g);
}

/** Pooling backward, fast (see `poolingForwardFast`); `dx` is overwritten. */
export function poolingBackwardFast(method: PoolMethod, dy: FloatArray, mask: Int32Array | undefined, dx: FloatArray, g: PoolGeometry): void {
  const arrays = method === 'MAX' ? [dy, dx, maskAsFloats(requireMask(mask))] : [dy, dx];
  runOverPlanes(backwardPartRef, poolingBackwardPart, arrays, g);
}

/** Part `part` of `parts` of a fast forward over planes: arrays [x, y, mask bits (MAX only)]; a missing mask means AVE. */
export const poolingForwardPart: PartKernel = ([x, y, maskBits], scalars, part, parts) => {
  const s = readScalars(scalars);
  const [first, last] = partRange(s.planes, part, parts);
  const { height: H, width: W, pooledH, pooledW } = s;
  // MAX pooling may run in the backend's own loop (wasm, on the heap); else in the loops below.
  const planes = { ...s, planes: last - first };
  if (maskBits && getBackend().layers.maxPool(x!.subarray(first * H * W), y!.subarray(first * pooledH * pooledW), maskBits.subarray(first * pooledH * pooledW), planes)) return;
  const { rowFirst, rowEnd, colFirst, colEnd, inverseSize } = windowBounds(s);
  const mask = maskBits ? maskFromFloats(maskBits) : undefined;
  for (let plane = first; plane < last; plane++) {
    const xPlane = plane * H * W;
    let out = plane * pooledH * pooledW;
    for (let ph = 0; ph < pooledH; ph++) {
      const h0 = rowFirst[ph];
      const h1 = rowEnd[ph];
      for (let pw = 0; pw < pooledW; pw++, out++) {
        const w0 = colFirst[pw];
        const w1 = colEnd[pw];
        if (mask) {
          let bestIndex = h0 * W + w0;
          let best = x![xPlane + bestIndex];
          for (let row = h0 * W; row < h1 * W; row += W) {
            for (let i = row + w0; i < row + w1; i++) {
              const v = x![xPlane + i];
              if (v > best) {
                best = v;
                bestIndex = i;
              }
            }
          }
          y![out] = best;
          mask[out] = bestIndex;
        } else {
          let sum = 0;
          for (let row = xPlane + h0 * W; row < xPlane + h1 * W; row += W) {
            for (let i = row + w0; i < row + w1; i++) sum += x![i];
          }
          y![out] = sum * inverseSize[ph * pooledW + pw];
        }
      }
    }
  }
};

/** Part `part` of `parts` of a fast backward: arrays [dy, dx, mask bits (MAX only)]. */
export const poolingBackwardPart: PartKernel = ([dy, dx, maskBits], scalars, part, parts) => {
  const s = readScalars(scalars);
  const [first, last] = partRange(s.planes, part, parts);
  const { height: H, width: W, pooledH, pooledW } = s;
  dx!.fill(0, first * H * W, last * H * W);
  if (maskBits) {
    const mask = maskFromFloats(maskBits);
    for (let plane = first; plane < last; plane++) {
      const xPlane = plane * H * W;
      for (let out = plane * pooledH * pooledW, end = out + pooledH * pooledW; out < end; out++) dx![xPlane + mask[out]] += dy![out];
    }
    return;
  }
  const { rowFirst, rowEnd, colFirst, colEnd, inverseSize } = windowBounds(s);
  for (let plane = first; plane < last; plane++) {
    const xPlane = plane * H * W;
    let out = plane * pooledH * pooledW;
    for (let ph = 0; ph < pooledH; ph++) {
      for (let pw = 0; pw < pooledW; pw++, out++) {
        const share = dy![out] * inverseSize[ph * pooledW + pw];
        for (let row = xPlane + rowFirst[ph] * W; row < xPlane + rowEnd[ph] * W; row += W) {
          for (let i = row + colFirst[pw]; i < row + colEnd[pw]; i++) dx![i] += share;
        }
      }
    }
  }
};

/** Runs a part kernel over the N * C planes: on the pool when the problem is large and every array is shared. */
function runOverPlanes(ref: KernelRef, kernel: PartKernel, arrays: FloatArray[], g: PoolGeometry): void {
  const planes = g.num * g.channels;
  const scalars = [planes, g.height, g.width, g.pooledH, g.pooledW, g.kernelH, g.kernelW, g.strideH, g.strideW, g.padH, g.padW];
  const reads = planes * g.pooledH * g.pooledW * g.kernelH * g.kernelW;
  const threads = getThreads();
  const parts = threads > 1 && reads >= MIN_PARALLEL_READS && arrays.every(isShared) ? Math.min(threads, planes, Math.ceil(reads / MIN_PARALLEL_READS)) : 1;
  if (parts === 1) kernel(arrays, scalars, 0, 1);
  else getPool().run(ref, kernel, arrays, scalars, parts);
}

function readScalars(scalars: number[]): PoolPlanes {
  const [planes, height, width, pooledH, pooledW, kernelH, kernelW, strideH, strideW, padH, padW] = scalars as [
    number, number, number, number, number, number, number, number, number, number, number,
  ];
  return { planes, height, width, pooledH, pooledW, kernelH, kernelW, strideH, strideW, padH, padW };
}

/** Clipped first/end rows and columns of every window, and 1 / poolSize of every window (AVE's divisor). */
function windowBounds(s: PoolPlanes): { rowFirst: Int32Array; rowEnd: Int32Array; colFirst: Int32Array; colEnd: Int32Array; inverseSize: Float64Array } {
  const axis = (pooled: number, kernel: number, stride: number, pad: number, size: number) => {
    const first = new Int32Array(pooled);
    const end = new Int32Array(pooled);
    const span = new Int32Array(pooled);
    for (let p = 0; p < pooled; p++) {
      const start = p * stride - pad;
      first[p] = Math.max(start, 0);
      end[p] = Math.min(start + kernel, size);
      span[p] = Math.min(start + kernel, size + pad) - start;
    }
    return { first, end, span };
  };
  const rows = axis(s.pooledH, s.kernelH, s.strideH, s.padH, s.height);
  const cols = axis(s.pooledW, s.kernelW, s.strideW, s.padW, s.width);
  const inverseSize = new Float64Array(s.pooledH * s.pooledW);
  for (let ph = 0; ph < s.pooledH; ph++) {
    for (let pw = 0; pw < s.pooledW; pw++) inverseSize[ph * s.pooledW + pw] = 1 / (rows.span[ph] * cols.span[pw]);
  }
  return { rowFirst: rows.first, rowEnd: rows.end, colFirst: cols.first, colEnd: cols.end, inverseSize };
}

function requireMask(mask: Int32Array | undefined): Int32Array {
  if (!mask) throw new ArgumentError('MAX pooling needs an Int32Array mask for the positions of the maxima');
  return mask;
}

// The pool carries float arrays only, so the mask's bits travel as a Float32Array view of the same memory.
function maskAsFloats(mask: Int32Array): Float32Array {
  return new Float32Array(mask.buffer, mask.byteOffset, mask.length);
}

function maskFromFloats(bits: FloatArray): Int32Array {
  return new Int32Array(bits.buffer, bits.byteOffset, bits.length);
}
