import { convOutputSize, type FloatArray } from '@cnn/tensor';
import type { ConvolutionShape } from './shape.js';

/**
 * Which gradients a convolution backward computes: each one given is computed, each one
 * left out is skipped. `dx` (the input gradient) is overwritten; `dWeight` and `dBias`
 * are added into.
 */
export interface ConvolutionGradients {
  dx?: FloatArray;
  dWeight?: FloatArray;
  dBias?: FloatArray;
}

/**
 * The reference convolution, written as its definition (cross-correlation, zero padding):
 *
 *   y[n][o][oy][ox] = bias[o] + sum over c, ky, kx of
 *     weight[o][c][ky][kx] * x[n][g * C/group + c][oy * strideH - padH + ky * dilationH][ox * strideW - padW + kx * dilationW]
 *
 * where g is the group of output o and c runs over the C/group channels of that group.
 * `bias` may be undefined (no bias term). With `clamp`, each output is then clamped to
 * [clamp.min, clamp.max] (the in-place ReLU or Clip after the layer, see `Clamp`).
 */
export function convolutionForwardReference(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  clamp?: Clamp,
): void {
  const [outH, outW] = convOutputSize(s);
  const channelsPerGroup = s.channels / s.group;
  const outputsPerGroup = s.numOutput / s.group;
  for (let n = 0; n < s.num; n++) {
    for (let g = 0; g < s.group; g++) {
      for (let o = g * outputsPerGroup; o < (g + 1) * outputsPerGroup; o++) {
        for (let oy = 0; oy < outH; oy++) {
          for (let ox = 0; ox < outW; ox++) {
            let sum = bias ? bias[o]! : 0;
            for (let c = 0; c < channelsPerGroup; c++) {
              const inputChannel = g * channelsPerGroup + c;
              for (let ky = 0; ky < s.kernelH; ky++) {
                const iy = oy * s.strideH - s.padH + ky * s.dilationH;
                if (iy < 0 || iy >= s.height) continue;
                for (let kx = 0; kx < s.kernelW; kx++) {
                  const ix = ox * s.strideW - s.padW + kx * s.dilationW;
                  if (ix < 0 || ix >= s.width) continue;
                  const w = weight[((o * channelsPerGroup + c) * s.kernelH + ky) * s.kernelW + kx]!;
                  sum += w * x[((n * s.channels + inputChannel) * s.height + iy) * s.width + ix]!;
                }
              }
            }
            y[((n * s.numOutput + o) * outH + oy) * outW + ox] = clamp ? Math.min(Math.max(sum, clamp.min), clamp.max) : sum;
          }
        }
      }
    }
  }
}

/**
 * The reference backward, the chain rule applied to each term of the forward sum:
 * every product weight[o][c][ky][kx] * x[n][ic][iy][ix] that fed y[n][o][oy][ox] sends
 *
 *   dWeight[o][c][ky][kx] += x[n][ic][iy][ix] * dy[n][o][oy][ox]
 *   dx[n][ic][iy][ix]     += weight[o][c][ky][kx] * dy[n][o][oy][ox]
 *
 * and dBias[o] += dy[n][o][oy][ox]. `dx` is zeroed first (it is written, not added into).
 */
export function convolutionBackwardReference(
  x: FloatArray,
  weight: FloatArray,
  dy: FloatArray,
  grads: ConvolutionGradients,
  s: ConvolutionShape,
): void {
  const { dx, dWeight, dBias } = grads;
  const [outH, outW] = convOutputSize(s);
  const channelsPerGroup = s.channels / s.group;
  const outputsPerGroup = s.numOutput / s.group;
  dx?.fill(0, 0, s.num * s.channels * s.height * s.width);
  for (let n = 0; n < s.num; n++) {
    for (let g = 0; g < s.group; g++) {
      for (let o = g * outputsPerGroup; o < (g + 1) * outputsPerGroup; o++) {
        for (let oy = 0; oy < outH; oy++) {
          for (let ox = 0; ox < outW; ox++) {
            const grad = dy[((n * s.numOutput + o) * outH + oy) * outW + ox]!;
            if (dBias) dBias[o] += grad;
            for (let c = 0; c < channelsPerGroup; c++) {
              const inputChannel = g * channelsPerGroup + c;
              for (let ky = 0; ky < s.kernelH; ky++) {
                const iy = oy * s.strideH - s.padH + ky * s.dilationH;
                if (iy < 0 || iy >= s.height) continue;
                for (let kx = 0; kx < s.kernelW; kx++) {
                  const ix = ox * s.strideW - s.padW + kx * s.dilationW;
                  if (ix < 0 || ix >= s.width) continue;
                  const w = ((o * channelsPerGroup + c) * s.kernelH + ky) * s.kernelW + kx;
                  const i = ((n * s.channels + inputChannel) * s.height + iy) * s.width + ix;
                  if (dWeight) dWeight[w] += x[i]! * grad;
                  if (dx) dx[i] += weight[w]! * grad;
                }
              }
            }
          }
        }
      }
    }
  }
}

/**
 * An activation y = min(max(y, min), max) run in a convolution's epilogue, on its outputs while
 * they are fresh in cache, instead of as a layer of its own: ReLU is { min: 0, max: Infinity },
 * Caffe's Clip (ReLU6 in MobileNet) its own bounds. The result is the same float as the separate
 * layer's (clamping a rounded float to representable bounds rounds the same).
 */
export interface Clamp {
  min: number;
  max: number;
}
