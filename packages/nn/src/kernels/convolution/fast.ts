import { col2im, convOutputSize, definePoolJob, getBackend, getThreads, im2col, isShared, partRange, sgemm, type FloatArray } from '@cnn/tensor';
import { convolutionForwardWinograd, convolutionInputGradientWinograd, winogradPays, winogradPaysBackward } from '../winograd/fast.js';
import { depthwiseBackward, depthwiseForward, isDepthwise } from '../depthwise/index.js';
import { convolutionScratch, shapeScalars, type ConvolutionShape } from './shape.js';
import type { Clamp, ConvolutionGradients } from './reference.js';
import { biasClampPlanes } from '../epilogue/index.js';
import { directForward } from '../direct/fast.js';
import { pointwiseForward } from '../pointwise/fast.js';

/**
 * The fast convolution: per image, im2col unfolds the input into a
 * `(C * kh * kw) x (outH * outW)` matrix, and per group one GEMM multiplies the group's
 * weights `(O/g) x (C/g * kh * kw)` by the group's rows of it. A 1x1 kernel with stride 1
 * and no padding needs no unfolding: the image already is that matrix. A 3x3 or 5x5 kernel
 * with stride 1 over a batch large enough (see `winogradPays`) goes to Winograd's
 * F(2x2, 3x3) or F(2x2, 5x5) instead (winograd/), which need 2.25 and 2.78 times fewer
 * multiplies, with the clamp in their output transform; so does a strided one whose input's
 * phases make such a kernel (CaffeNet's conv1, 11x11 stride 4: 3x3 over 48 phase planes,
 * winograd/phases.ts); depthwise ones (one input channel
 * per group) to direct loops (depthwise/), forward and backward. On the wasm
 * backend, a 1x1 one runs straight over the image's planes with its epilogue in registers
 * (pointwise/), and a 3x3 one over few
 * input channels (a net's first layer) as a direct convolution (direct/).
 *
 * A batch is shared out over the thread pool, whole images to each thread, so the
 * unfolding runs in parallel too and the GEMMs need no synchronisation. Each thread
 * unfolds into its own band of one column buffer, allocated here (workers cannot
 * allocate on the wasm heap), and the backend readies every thread for its GEMMs.
 *
 * With `clamp`, the outputs are clamped as they are finished (see `Clamp`): the layer's
 * in-place ReLU or Clip after it then has nothing left to do.
 */
export function convolutionForwardFast(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  clamp?: Clamp,
): void {
  if (isDepthwise(s)) {
    depthwiseForward(x, weight, bias, y, s, clamp);
    return;
  }
  const [low, high] = clamp ? [clamp.min, clamp.max] : [-Infinity, Infinity];
  if (directForward(x, weight, bias, y, s, low, high) || pointwiseForward(x, weight, bias, y, s, low, high)) return;
  if (winogradPays(s)) {
    convolutionForwardWinograd(x, weight, bias, y, s, low, high);
    return;
  }
  const m = gemmSizes(s);
  const threads = Math.min(getThreads(), s.num);
  if (threads > 1 && [x, weight, y, ...(bias ? [bias] : [])].every(isShared)) {
    const columns = m.unfold ? columnBuffer(threads * m.colSize, x) : x;
    getBackend().prepareGemms(threads, m.outputsPerGroup, m.positions, m.rowsPerGroup);
    convolutionForwardJob.run({ x, weight, y, columns, bias }, { ...s, clampMin: low, clampMax: high }, threads);
    return;
  }
  forwardImages(x, weight, bias, y, s, 0, s.num, m.unfold ? columnBuffer(m.colSize, x) : x, low, high);
}

/**
 * Floats of scratch convolutionForwardFast takes for shape `s`: the im2col columns of each
 * thread working at once (Winograd's bands and depthwise loops take little beside them).
 */
export function convolutionWorkspace(s: ConvolutionShape): number {
  if (isDepthwise(s) || winogradPays(s)) return 0;
  const m = gemmSizes(s);
  return m.unfold ? Math.min(getThreads(), s.num) * m.colSize : 0;
}

/**
 * The pool's part of a batch forward: a band of the batch's images, on one thread, with
 * its band of the column buffer (arrays: x, weight, y, columns, the bias if any; scalars: the
 * shape, the clamp's bounds or +-Infinity).
 */
export const convolutionForwardJob = definePoolJob({
  module: import.meta.url,
  name: 'convolutionForwardJob',
  arrays: ['x', 'weight', 'y', 'columns'],
  optional: ['bias'],
  scalars: [...shapeScalars, 'clampMin', 'clampMax'],
  part: ({ x, weight, y, columns, bias }, s, part, parts) => {
    const m = gemmSizes(s);
    const [first, end] = partRange(s.num, part, parts);
    const col = m.unfold ? columns.subarray(part * m.colSize, (part + 1) * m.colSize) : x;
    forwardImages(x, weight, bias, y, s, first, end, col, s.clampMin, s.clampMax);
  },
});

/**
 * The forward of images [first, end) of the batch (see convolutionForwardFast), unfolding
 * each into `col` (or, with no unfolding to do, reading the image itself: `col` is `x`),
 * then adding the bias and clamping each image's outputs to [low, high].
 */
function forwardImages(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  first: number,
  end: number,
  col: FloatArray,
  low: number,
  high: number,
): void {
  const m = gemmSizes(s);
  for (let n = first; n < end; n++) {
    const xImage = n * m.imageSize;
    const yImage = n * s.numOutput * m.positions;
    if (m.unfold) unfold(x, xImage, s, col);
    const colImage = m.unfold ? 0 : xImage;
    for (let g = 0; g < s.group; g++) {
      sgemm(false, false, m.outputsPerGroup, m.positions, m.rowsPerGroup, 1, weight, m.rowsPerGroup, col, m.positions, 0, y, m.positions, {
        a: g * m.outputsPerGroup * m.rowsPerGroup,
        b: colImage + g * m.rowsPerGroup * m.positions,
        c: yImage + g * m.outputsPerGroup * m.positions,
      });
    }
    // The epilogue: bias and activation in one pass over the image's outputs.
    if (bias || low > -Infinity || high < Infinity) biasClampPlanes(y, yImage, s.numOutput, m.positions, bias, low, high);
  }
}

/** im2col of one image into col[0 ..] (the backend's im2col: wasm or TypeScript loops). */
function unfold(x: FloatArray, xImage: number, s: ConvolutionShape, col: FloatArray): void {
  im2col(x, xImage, s, col, 0);
}

/**
 * The fast backward, per image and group, with col the image unfolded by im2col:
 *
 *   dWeight_g += dY_g * col_g^T        (O/g x P) * (P x C/g*kh*kw)
 *   dBias[o]  += sum over positions of dY[o]
 *   dcol_g     = W_g^T * dY_g, then dx = col2im(dcol)
 *
 * The weight gradient of an image is taken before its col buffer is reused for dcol. Where
 * the forward takes Winograd (3 x 3 or 5 x 5, stride 1, a large enough batch), dx comes from
 * `convolutionInputGradientWinograd` instead, a convolution of dy itself.
 */
export function convolutionBackwardFast(
  x: FloatArray,
  weight: FloatArray,
  dy: FloatArray,
  grads: ConvolutionGradients,
  s: ConvolutionShape,
): void {
  if (isDepthwise(s)) {
    depthwiseBackward(x, weight, dy, grads, s);
    return;
  }
  const { dx, dWeight, dBias } = grads;
  const m = gemmSizes(s);
  if (dBias) {
    for (let n = 0; n < s.num; n++) {
      for (let o = 0; o < s.numOutput; o++) {
        const start = (n * s.numOutput + o) * m.positions;
        let sum = 0;
        for (let p = start; p < start + m.positions; p++) sum += dy[p]!;
        dBias[o] += sum;
      }
    }
  }
  // A 3 x 3 or 5 x 5, stride-1 convolution over a batch takes its input gradient by Winograd, as its forward does.
  const byWinograd = dx !== undefined && winogradPaysBackward(s);
  if (byWinograd) convolutionInputGradientWinograd(weight, dy, dx, s);
  const dxByGemm = byWinograd ? undefined : dx;
  if (!dxByGemm && !dWeight) return;
  const col = m.unfold ? columnBuffer(m.colSize, x) : undefined;
  for (let n = 0; n < s.num; n++) {
    const xImage = n * m.imageSize;
    const yImage = n * s.numOutput * m.positions;
    if (dWeight) {
      if (col) unfold(x, xImage, s, col);
      const source = col ?? x;
      const colImage = col ? 0 : xImage;
      for (let g = 0; g < s.group; g++) {
        sgemm(false, true, m.outputsPerGroup, m.rowsPerGroup, m.positions, 1, dy, m.positions, source, m.positions, 1, dWeight, m.rowsPerGroup, {
          a: yImage + g * m.outputsPerGroup * m.positions,
          b: colImage + g * m.rowsPerGroup * m.positions,
          c: g * m.outputsPerGroup * m.rowsPerGroup,
        });
      }
    }
    if (dxByGemm) {
      // Without unfolding, dcol has the layout of the image itself: write it straight into dx.
      const target = col ?? dxByGemm;
      const colImage = col ? 0 : xImage;
      for (let g = 0; g < s.group; g++) {
        sgemm(true, false, m.rowsPerGroup, m.positions, m.outputsPerGroup, 1, weight, m.rowsPerGroup, dy, m.positions, 0, target, m.positions, {
          a: g * m.outputsPerGroup * m.rowsPerGroup,
          b: yImage + g * m.outputsPerGroup * m.positions,
          c: colImage + g * m.rowsPerGroup * m.positions,
        });
      }
      if (col) col2im(col, 0, s, dxByGemm, xImage);
    }
  }
}

/** Multiply-adds of one forward pass: N * O * outH * outW * (C/g) * kh * kw. */
export function convolutionMultiplyAdds(s: ConvolutionShape): number {
  const [outH, outW] = convOutputSize(s);
  return s.num * s.numOutput * outH * outW * (s.channels / s.group) * s.kernelH * s.kernelW;
}

interface GemmSizes {
  /** outH * outW: the columns of the unfolded image. */
  positions: number;
  /** (C/g) * kh * kw: the rows of the unfolded image per group, the columns of a group's weights. */
  rowsPerGroup: number;
  outputsPerGroup: number;
  imageSize: number;
  colSize: number;
  /** False when im2col would copy the image unchanged (1x1 kernel, stride 1, no padding). */
  unfold: boolean;
}

function gemmSizes(s: ConvolutionShape): GemmSizes {
  const [outH, outW] = convOutputSize(s);
  const positions = outH * outW;
  const rowsPerGroup = (s.channels / s.group) * s.kernelH * s.kernelW;
  const identity = s.kernelH === 1 && s.kernelW === 1 && s.strideH === 1 && s.strideW === 1 && s.padH === 0 && s.padW === 0;
  return {
    positions,
    rowsPerGroup,
    outputsPerGroup: s.numOutput / s.group,
    imageSize: s.channels * s.height * s.width,
    colSize: s.group * rowsPerGroup * positions,
    unfold: !identity,
  };
}

function columnBuffer(length: number, like: FloatArray): FloatArray {
  return convolutionScratch('bands', length, like);
}
