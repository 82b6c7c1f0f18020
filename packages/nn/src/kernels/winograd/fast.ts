import { convOutputSize, definePoolJob, getBackend, getThreads, isShared, partRange, sgemm, type FloatArray } from '@cnn/tensor';
import { convolutionScratch, shapeScalars, type ConvolutionShape } from '../convolution/shape.js';
import { winogradFilters, winogradOutputs, winogradTiles } from './index.js';
import type { WinogradInput, WinogradOutput } from './transforms.js';

/*
 * Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): a 3x3 convolution with stride 1 computed tile by
 * tile, each 4 x 4 patch d of the (padded) input giving a 2 x 2 patch of the output,
 *
 *   Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A        with
 *
 *         | 1  0 -1  0 |         | 1    0    0  |
 *   B^T = | 0  1  1  0 |     G = | 1/2  1/2  1/2 |     A^T = | 1  1  1  0 |
 *         | 0 -1  1  0 |         | 1/2 -1/2  1/2 |           | 0  1 -1 -1 |
 *         | 0  1  0 -1 |         | 0    0    1  |
 *
 * The elementwise product ⊙ takes 16 multiplies where the direct sum takes 36 (2 x 2
 * outputs of 9 taps). Summed over input channels, it becomes 16 independent matrix
 * products, one per position xi of the 4 x 4 transformed tile:
 *
 *   M_xi (O/g x tiles) = U_xi (O/g x C/g) * V_xi (C/g x tiles)
 *
 * with U = G g G^T for every filter and V = B^T d B for every tile of every channel. On a
 * 13 x 13 output (CaffeNet's conv3-conv5) that is 49 tiles x 16 = 784 products per filter
 * and channel against 169 x 9 = 1521: 1.94 times fewer, for the cost of the transforms,
 * which grow with the channels but not with their product.
 */

/** Whether F(2x2, 3x3) computes this convolution: a 3 x 3 kernel, stride 1, no dilation. */
export function winogradApplies(s: ConvolutionShape): boolean {
  return s.kernelH === 3 && s.kernelW === 3 && s.strideH === 1 && s.strideW === 1 && s.dilationH === 1 && s.dilationW === 1;
}

/**
 * Images per thread from which F(2x2, 3x3) is faster than im2col + GEMM. Transforming the
 * filters, once per call, costs about as much as convolving one image directly, and one
 * image's tiles (49 on 13 x 13) make GEMMs too narrow to run at full speed; measured on
 * CaffeNet's conv3-conv5 with both backends, the two ways are level at 2 images per thread.
 */
const MIN_IMAGES_PER_THREAD = 4;

/** Whether the fast convolution should take F(2x2, 3x3): it applies, and the batch is large enough to repay it. */
export function winogradPays(s: ConvolutionShape): boolean {
  return winogradApplies(s) && s.num >= MIN_IMAGES_PER_THREAD * Math.min(getThreads(), s.num);
}

/**
 * How many tile columns one batch of GEMMs should have: enough for the GEMM to run at full
 * speed (CaffeNet at batch 64 timed the same with 256 and 512, within this VM's noise), few
 * enough to keep the bands small: at 256, 12 MB per thread for conv4, and the peak of a
 * batch-64 CaffeNet forward is 786 MiB, against 824 at 512 and 735 without Winograd.
 */
const TARGET_COLUMNS = 256;

/** The tiling of one convolution, and the sizes of its buffers. */
interface WinogradPlan {
  outH: number;
  outW: number;
  /** Tiles down and across an image: ceil(outH / 2) x ceil(outW / 2). */
  tilesH: number;
  tilesW: number;
  tilesPerImage: number;
  /** Images transformed together, so that their tiles make one wide enough GEMM. */
  chunkImages: number;
  channelsPerGroup: number;
  outputsPerGroup: number;
  /** One input plane with its zero border, as the tiles read it: (2 tilesH + 2) x (2 tilesW + 2). */
  paddedH: number;
  paddedW: number;
  /** U: 16 x O x C/g. */
  weightSize: number;
  /** One thread's scratch: a padded plane, then V (16 x C x columns), then M (16 x O x columns). */
  bandSize: number;
}

function planOf(s: ConvolutionShape, threads: number): WinogradPlan {
  const [outH, outW] = convOutputSize(s);
  const tilesH = Math.ceil(outH / 2);
  const tilesW = Math.ceil(outW / 2);
  const tilesPerImage = tilesH * tilesW;
  const chunkImages = Math.max(1, Math.min(Math.round(TARGET_COLUMNS / tilesPerImage), Math.ceil(s.num / threads)));
  const columns = chunkImages * tilesPerImage;
  const paddedH = 2 * tilesH + 2;
  const paddedW = 2 * tilesW + 2;
  const channelsPerGroup = s.channels / s.group;
  return {
    outH, outW, tilesH, tilesW, tilesPerImage, chunkImages, channelsPerGroup,
    outputsPerGroup: s.numOutput / s.group,
    paddedH, paddedW,
    weightSize: 16 * s.numOutput * channelsPerGroup,
    bandSize: paddedH * paddedW + 16 * (s.channels + s.numOutput) * columns,
  };
}

/**
 * The forward of a 3 x 3, stride-1 convolution by F(2x2, 3x3) (see `winogradApplies`),
 * with the same arguments and result as `convolutionForwardReference`. The filters are
 * transformed once per call; the batch is shared out over the thread pool, whole images
 * to each thread, each with its own band of one scratch buffer.
 */
export function convolutionForwardWinograd(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
): void {
  const threads = Math.min(getThreads(), s.num);
  const plan = planOf(s, threads);
  const u = convolutionScratch('filters', plan.weightSize, x);
  transformFilters(weight, s, plan, u);
  const bands = convolutionScratch('bands', threads * plan.bandSize, x);
  if (threads > 1 && [x, y, ...(bias ? [bias] : [])].every(isShared)) {
    getBackend().prepareGemms(threads, plan.outputsPerGroup, plan.chunkImages * plan.tilesPerImage, plan.channelsPerGroup);
    winogradForwardJob.run({ x, u, y, bands, bias }, s, threads);
    return;
  }
  forwardImages(x, u, bias, y, s, plan, 0, s.num, bands.subarray(0, plan.bandSize));
}

/**
 * The input gradient of a 3 x 3, stride-1 convolution by F(2x2, 3x3). It is itself such a
 * convolution: of dy, by the filters turned by 180 degrees with inputs and outputs swapped,
 * padded by 2 - pad (which maps the outH x outW gradient back onto height x width):
 *
 *   dx[n][c][iy][ix] = sum over o, ky, kx of weight[o][c][2 - ky][2 - kx] * dy[n][o][iy - (2 - pad) + ky][ix - (2 - pad) + kx]
 *
 * with dy zero outside its plane and o running over the outputs of c's group. `dx` is
 * overwritten. Needs pad <= 2 on both axes (see `winogradPaysBackward`).
 */
export function convolutionInputGradientWinograd(weight: FloatArray, dy: FloatArray, dx: FloatArray, s: ConvolutionShape): void {
  const [outH, outW] = convOutputSize(s);
  const turned = convolutionScratch('turned filters', weight.length, weight);
  turnFilters(weight, s, turned);
  const gradientShape: ConvolutionShape = {
    num: s.num, channels: s.numOutput, height: outH, width: outW, numOutput: s.channels, group: s.group,
    kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 2 - s.padH, padW: 2 - s.padW, dilationH: 1, dilationW: 1,
  };
  convolutionForwardWinograd(dy, turned, undefined, dx, gradientShape);
}

/** Whether the fast backward should take `convolutionInputGradientWinograd` for dx: as the forward would, and with pads of at most 2. */
export function winogradPaysBackward(s: ConvolutionShape): boolean {
  return winogradPays(s) && s.padH <= 2 && s.padW <= 2;
}

/**
 * The filters of the gradient convolution: turned[(c * O/g + o') * 9 + (2 - ky) * 3 + (2 - kx)] =
 * weight[(o * C/g + c') * 9 + ky * 3 + kx], for output o = group * O/g + o' and input channel
 * c = group * C/g + c'. Turning a 3 x 3 filter by 180 degrees reverses its 9 taps.
 */
function turnFilters(weight: FloatArray, s: ConvolutionShape, turned: FloatArray): void {
  const cg = s.channels / s.group;
  const og = s.numOutput / s.group;
  for (let o = 0; o < s.numOutput; o++) {
    const group = Math.floor(o / og);
    for (let c = 0; c < cg; c++) {
      const from = (o * cg + c) * 9;
      const to = ((group * cg + c) * og + (o - group * og)) * 9;
      for (let tap = 0; tap < 9; tap++) turned[to + 8 - tap] = weight[from + tap]!;
    }
  }
}

/**
 * The pool's part of a batch forward: a band of the batch's images, on one thread
 * (arrays: x, the transformed filters U, y, the scratch bands, the bias if any).
 */
export const winogradForwardJob = definePoolJob({
  module: import.meta.url,
  name: 'winogradForwardJob',
  arrays: ['x', 'u', 'y', 'bands'],
  optional: ['bias'],
  scalars: shapeScalars,
  part: ({ x, u, y, bands, bias }, s, part, parts) => {
    const plan = planOf(s, parts);
    const [first, end] = partRange(s.num, part, parts);
    const band = bands.subarray(part * plan.bandSize, (part + 1) * plan.bandSize);
    forwardImages(x, u, bias, y, s, plan, first, end, band);
  },
});

/** Images [first, end) of the batch, a chunk at a time: transform the tiles, 16 GEMMs per group, transform back. */
function forwardImages(
  x: FloatArray,
  u: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  plan: WinogradPlan,
  first: number,
  end: number,
  band: FloatArray,
): void {
  const planeSize = plan.paddedH * plan.paddedW;
  const padded = band.subarray(0, planeSize);
  // The border of the padded plane stays zero: each plane copies only its interior.
  padded.fill(0);
  const { channelsPerGroup: cg, outputsPerGroup: og } = plan;
  for (let chunk = first; chunk < end; chunk += plan.chunkImages) {
    const count = Math.min(plan.chunkImages, end - chunk);
    const columns = count * plan.tilesPerImage;
    const v = band.subarray(planeSize, planeSize + 16 * s.channels * columns);
    const m = band.subarray(planeSize + 16 * s.channels * columns, planeSize + 16 * (s.channels + s.numOutput) * columns);
    transformTiles(x, s, plan, chunk, count, padded, v);
    for (let g = 0; g < s.group; g++) {
      for (let xi = 0; xi < 16; xi++) {
        const matrix = g * 16 + xi;
        sgemm(false, false, og, columns, cg, 1, u, cg, v, columns, 0, m, columns, {
          a: matrix * og * cg,
          b: matrix * cg * columns,
          c: matrix * og * columns,
        });
      }
    }
    transformOutputs(m, bias, y, s, plan, chunk, count);
  }
}

/**
 * U = G g G^T for every 3 x 3 filter g (output o, input channel c of its group), stored
 * as 16 matrices, one per position xi of the 4 x 4 result: u[((group * 16 + xi) * O/g + o') * C/g + c].
 * One run per output: its C/g filters go to consecutive floats of each matrix.
 */
function transformFilters(weight: FloatArray, s: ConvolutionShape, plan: WinogradPlan, u: FloatArray): void {
  const { channelsPerGroup: cg, outputsPerGroup: og } = plan;
  const stride = og * cg;
  for (let o = 0; o < s.numOutput; o++) {
    const group = Math.floor(o / og);
    const uOffset = (group * 16 * og + (o - group * og)) * cg;
    winogradFilters(weight, o * cg * 9, u, uOffset, cg, stride);
  }
}

/**
 * V = B^T d B for every 4 x 4 tile d of every channel of images [first, first + count),
 * stored as 16 matrices of C/g rows and `count * tilesPerImage` columns per group:
 * v[((group * 16 + xi) * C/g + c) * columns + tile], tiles numbered image by image, row by row.
 * One run per image and group.
 */
function transformTiles(x: FloatArray, s: ConvolutionShape, plan: WinogradPlan, first: number, count: number, padded: FloatArray, v: FloatArray): void {
  const cg = plan.channelsPerGroup;
  const columns = count * plan.tilesPerImage;
  const run: WinogradInput = {
    channels: cg, rowStep: columns, stride: cg * columns, tilesH: plan.tilesH, tilesW: plan.tilesW,
    planeStep: s.height * s.width, height: s.height, width: s.width, padH: s.padH, padW: s.padW, paddedW: plan.paddedW,
  };
  for (let n = first; n < first + count; n++) {
    for (let group = 0; group < s.group; group++) {
      const xOffset = (n * s.channels + group * cg) * run.planeStep;
      const vOffset = group * 16 * cg * columns + (n - first) * plan.tilesPerImage;
      winogradTiles(x, xOffset, padded, v, vOffset, run);
    }
  }
}

/**
 * Y = A^T M A + bias for every tile of every output channel of images [first, first + count),
 * M read from the 16 product matrices as `transformTiles` numbers them. One run per image and group.
 */
function transformOutputs(m: FloatArray, bias: FloatArray | undefined, y: FloatArray, s: ConvolutionShape, plan: WinogradPlan, first: number, count: number): void {
  const og = plan.outputsPerGroup;
  const columns = count * plan.tilesPerImage;
  const run: WinogradOutput = {
    channels: og, rowStep: columns, stride: og * columns, tilesH: plan.tilesH, tilesW: plan.tilesW,
    planeStep: plan.outH * plan.outW, outH: plan.outH, outW: plan.outW,
  };
  for (let n = first; n < first + count; n++) {
    for (let group = 0; group < s.group; group++) {
      const mOffset = group * 16 * og * columns + (n - first) * plan.tilesPerImage;
      const yOffset = (n * s.numOutput + group * og) * run.planeStep;
      winogradOutputs(m, mOffset, y, yOffset, bias, group * og, run);
    }
  }
}
