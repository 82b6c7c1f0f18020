import { ArgumentError, type FloatArray } from '@cnn/tensor';

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

/** The mask MAX pooling needs, or a clear error. */
export function requireMask(mask: Int32Array | undefined): Int32Array {
  if (!mask) throw new ArgumentError('MAX pooling needs an Int32Array mask for the positions of the maxima');
  return mask;
}
