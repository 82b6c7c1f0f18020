import { ShapeError } from '../errors.js';
import type { FloatArray } from '../storage.js';

/**
 * The geometry of a 2-D convolution window over one image (or one group of its
 * channels): input `channels x height x width`, kernel `kernelH x kernelW`, with
 * stride, zero padding and dilation per axis.
 */
export interface ConvGeometry {
  channels: number;
  height: number;
  width: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
}

/**
 * Output height and width of a convolution (Caffe's rule, rounding down):
 * out = floor((in + 2 * pad - (dilation * (kernel - 1) + 1)) / stride) + 1.
 */
export function convOutputSize(g: ConvGeometry): [outH: number, outW: number] {
  const outH = Math.floor((g.height + 2 * g.padH - (g.dilationH * (g.kernelH - 1) + 1)) / g.strideH) + 1;
  const outW = Math.floor((g.width + 2 * g.padW - (g.dilationW * (g.kernelW - 1) + 1)) / g.strideW) + 1;
  if (outH < 1 || outW < 1) {
    throw new ShapeError(
      `a ${g.kernelH} x ${g.kernelW} kernel (dilation ${g.dilationH} x ${g.dilationW}, pad ${g.padH} x ${g.padW}) ` +
        `does not fit a ${g.height} x ${g.width} input`,
    );
  }
  return [outH, outW];
}

/**
 * Unfolds image patches into the columns of a matrix, so that a convolution becomes
 * one GEMM (Caffe's layout):
 *
 *   col[(c * kernelH + ky) * kernelW + kx][oy * outW + ox] =
 *     x[c][oy * strideH - padH + ky * dilationH][ox * strideW - padW + kx * dilationW]   (0 outside)
 *
 * `x` holds `channels x height x width` from `xOffset`; `col` receives
 * `(channels * kernelH * kernelW) x (outH * outW)` from `colOffset`. For a grouped
 * convolution call it once per group, with `channels` = channels per group and
 * `xOffset` moved by `group * channels * height * width`.
 */
export function im2colReference(x: FloatArray, xOffset: number, g: ConvGeometry, col: FloatArray, colOffset = 0): void {
  const [outH, outW] = convOutputSize(g);
  const { height, width } = g;
  let row = colOffset;
  for (let c = 0; c < g.channels; c++) {
    const plane = xOffset + c * height * width;
    for (let ky = 0; ky < g.kernelH; ky++) {
      for (let kx = 0; kx < g.kernelW; kx++) {
        const dx = kx * g.dilationW - g.padW;
        // Output columns whose input column 0 <= ox * strideW + dx < width: no bounds test inside the loop.
        const [oxStart, oxEnd] = validRange(dx, g.strideW, width, outW);
        for (let oy = 0; oy < outH; oy++) {
          const y = oy * g.strideH - g.padH + ky * g.dilationH;
          const dst = row + oy * outW;
          if (y < 0 || y >= height) {
            col.fill(0, dst, dst + outW);
            continue;
          }
          const src = plane + y * width + dx;
          for (let ox = 0; ox < oxStart; ox++) col[dst + ox] = 0;
          for (let ox = oxStart; ox < oxEnd; ox++) col[dst + ox] = x[src + ox * g.strideW]!;
          for (let ox = oxEnd; ox < outW; ox++) col[dst + ox] = 0;
        }
        row += outH * outW;
      }
    }
  }
}

/**
 * The adjoint of `im2colReference`: sums every column entry back onto the input pixel it was
 * copied from (the gradient of im2col). The `channels x height x width` region of `x`
 * from `xOffset` is overwritten: zeroed, then accumulated into.
 */
export function col2imReference(col: FloatArray, colOffset: number, g: ConvGeometry, x: FloatArray, xOffset = 0): void {
  const [outH, outW] = convOutputSize(g);
  const { height, width } = g;
  x.fill(0, xOffset, xOffset + g.channels * height * width);
  let row = colOffset;
  for (let c = 0; c < g.channels; c++) {
    const plane = xOffset + c * height * width;
    for (let ky = 0; ky < g.kernelH; ky++) {
      for (let kx = 0; kx < g.kernelW; kx++) {
        const dx = kx * g.dilationW - g.padW;
        const [oxStart, oxEnd] = validRange(dx, g.strideW, width, outW);
        for (let oy = 0; oy < outH; oy++) {
          const y = oy * g.strideH - g.padH + ky * g.dilationH;
          if (y < 0 || y >= height) continue;
          const src = row + oy * outW;
          const dst = plane + y * width + dx;
          for (let ox = oxStart; ox < oxEnd; ox++) x[dst + ox * g.strideW] += col[src + ox]!;
        }
        row += outH * outW;
      }
    }
  }
}

/** The output columns ox in [start, end) for which 0 <= ox * stride + shift < size. */
function validRange(shift: number, stride: number, size: number, outSize: number): [number, number] {
  const start = shift >= 0 ? 0 : Math.ceil(-shift / stride);
  const end = Math.min(outSize, Math.ceil((size - shift) / stride));
  return [Math.min(start, outSize), Math.max(Math.min(start, outSize), end)];
}
