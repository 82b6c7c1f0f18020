import { convOutputSize, type FloatArray } from '@cnn/tensor';
import type { ConvolutionShape } from '../convolution/shape.js';
import type { Clamp, ConvolutionGradients } from '../convolution/reference.js';

/*
 * Depthwise convolution (MobileNet): group = input channels, so every output channel sees
 * one input channel only. With M = O / C outputs per channel (the depth multiplier, 1 in
 * MobileNet), output o reads input channel c = floor(o / M) through its own kh x kw filter.
 * As GEMMs it would be one tiny product per channel, each paying for its packing; computed
 * directly it is a few multiply-adds per output and a pass over the planes.
 */

/** Whether a convolution is depthwise (one input channel per group), which the kernels here compute. */
export function isDepthwise(s: ConvolutionShape): boolean {
  return s.group === s.channels && s.group > 1;
}

/**
 * The reference forward, the definition with named indices:
 *
 *   y[n][o][oy][ox] = bias[o] + sum over ky, kx of
 *     weight[o][0][ky][kx] * x[n][c][oy * strideH - padH + ky * dilationH][ox * strideW - padW + kx * dilationW]
 *
 * with c = floor(o / M) and x zero outside its plane. With `clamp`, each output is then
 * clamped to [clamp.min, clamp.max] (the in-place ReLU or Clip after the layer, see `Clamp`).
 */
export function depthwiseForwardReference(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  clamp?: Clamp,
): void {
  const [outH, outW] = convOutputSize(s);
  const multiplier = s.numOutput / s.channels;
  for (let n = 0; n < s.num; n++) {
    for (let o = 0; o < s.numOutput; o++) {
      const c = Math.floor(o / multiplier);
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          let sum = bias ? bias[o]! : 0;
          for (let ky = 0; ky < s.kernelH; ky++) {
            const iy = oy * s.strideH - s.padH + ky * s.dilationH;
            if (iy < 0 || iy >= s.height) continue;
            for (let kx = 0; kx < s.kernelW; kx++) {
              const ix = ox * s.strideW - s.padW + kx * s.dilationW;
              if (ix < 0 || ix >= s.width) continue;
              sum += weight[(o * s.kernelH + ky) * s.kernelW + kx]! * x[((n * s.channels + c) * s.height + iy) * s.width + ix]!;
            }
          }
          y[((n * s.numOutput + o) * outH + oy) * outW + ox] = clamp ? Math.min(Math.max(sum, clamp.min), clamp.max) : sum;
        }
      }
    }
  }
}

/**
 * The reference backward: each product weight[o][0][ky][kx] * x[n][c][iy][ix] of the forward
 * sends dy[n][o][oy][ox] back along both of its factors,
 *
 *   dx[n][c][iy][ix]       += weight[o][0][ky][kx] * dy[n][o][oy][ox]
 *   dWeight[o][0][ky][kx]  += x[n][c][iy][ix] * dy[n][o][oy][ox]
 *
 * and dBias[o] += dy[n][o][oy][ox]. `dx` is zeroed first (written); dWeight and dBias are added into.
 */
export function depthwiseBackwardReference(x: FloatArray, weight: FloatArray, dy: FloatArray, grads: ConvolutionGradients, s: ConvolutionShape): void {
  const { dx, dWeight, dBias } = grads;
  const [outH, outW] = convOutputSize(s);
  const multiplier = s.numOutput / s.channels;
  dx?.fill(0, 0, s.num * s.channels * s.height * s.width);
  for (let n = 0; n < s.num; n++) {
    for (let o = 0; o < s.numOutput; o++) {
      const c = Math.floor(o / multiplier);
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          const grad = dy[((n * s.numOutput + o) * outH + oy) * outW + ox]!;
          if (dBias) dBias[o] += grad;
          for (let ky = 0; ky < s.kernelH; ky++) {
            const iy = oy * s.strideH - s.padH + ky * s.dilationH;
            if (iy < 0 || iy >= s.height) continue;
            for (let kx = 0; kx < s.kernelW; kx++) {
              const ix = ox * s.strideW - s.padW + kx * s.dilationW;
              if (ix < 0 || ix >= s.width) continue;
              const w = (o * s.kernelH + ky) * s.kernelW + kx;
              const i = ((n * s.channels + c) * s.height + iy) * s.width + ix;
              if (dWeight) dWeight[w] += x[i]! * grad;
              if (dx) dx[i] += weight[w]! * grad;
            }
          }
        }
      }
    }
  }
}
