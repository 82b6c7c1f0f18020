import { convOutputSize, definePoolJob, getBackend, getThreads, isShared, partRange, sgemm, type FloatArray } from '@cnn/tensor';
import { convolutionScratch, shapeScalars, type ConvolutionShape } from '../convolution/shape.js';
import { winogradFilters, winogradOutputs, winogradPhases, winogradTiles } from './index.js';
import type { WinogradInput, WinogradOutput } from './transforms.js';
import { F2X2_3X3, winogradTileOf, type WinogradTile } from './tiles.js';
import { phaseFilters, phaseShape } from './phases.js';

/*
 * Winograd's minimal filtering F(2x2, r x r) (Lavin and Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): an r x r convolution with stride 1 computed tile by
 * tile, each alpha x alpha patch d of the (padded) input (alpha = r + 1) giving a 2 x 2 patch
 * of the output,
 *
 *   Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
 *
 * with the matrices of tiles.ts: F(2x2, 3x3) for 3 x 3 kernels, F(2x2, 5x5) for 5 x 5 ones.
 * The elementwise product ⊙ takes alpha^2 multiplies where the direct sum takes 4 r^2 (2 x 2
 * outputs of r^2 taps): 16 against 36, 36 against 100. Summed over input channels, it becomes
 * alpha^2 independent matrix products, one per position xi of the transformed tile:
 *
 *   M_xi (O/g x tiles) = U_xi (O/g x C/g) * V_xi (C/g x tiles)
 *
 * with U = G g G^T for every filter and V = B^T d B for every tile of every channel. On a
 * 13 x 13 output (CaffeNet's conv3-conv5, 3 x 3) that is 49 tiles x 16 = 784 products per
 * filter and channel against 169 x 9 = 1521, 1.94 times fewer; on 27 x 27 (conv2, 5 x 5),
 * 196 x 36 = 7056 against 729 x 25 = 18225, 2.58 times fewer; for the cost of the transforms,
 * which grow with the channels but not with their product.
 */

/** The stride-1 convolution the tiles compute for `s`: `s` itself, or for a stride S > 1 the one over its phases (phases.ts). */
function tiledShape(s: ConvolutionShape): ConvolutionShape {
  return s.strideH === 1 && s.strideW === 1 ? s : (phaseShape(s) ?? s);
}

/** The tile that computes this convolution, if one does (see `winogradApplies`). */
function tileFor(s: ConvolutionShape): WinogradTile | undefined {
  const t = tiledShape(s);
  const stride1 = t.strideH === 1 && t.strideW === 1 && t.dilationH === 1 && t.dilationW === 1;
  return stride1 && t.kernelH === t.kernelW ? winogradTileOf(t.kernelH) : undefined;
}

/**
 * Whether Winograd's F(2x2, r x r) computes this convolution: a 3 x 3 or 5 x 5 kernel with
 * stride 1 and no dilation, or a square kernel with equal strides S whose phases have such a
 * kernel, ceil(K / S) = 3 or 5 (CaffeNet's conv1: 11 x 11, stride 4, phases of 3 x 3).
 */
export function winogradApplies(s: ConvolutionShape): boolean {
  return tileFor(s) !== undefined;
}

/**
 * Images per thread from which Winograd is faster than im2col + GEMM, by filter size r.
 *
 * F(2x2, 3x3): transforming the filters, once per call, costs about as much as convolving one
 * image directly, and one image's tiles (49 on 13 x 13) make GEMMs too narrow to run at full
 * speed; measured on CaffeNet's conv3-conv5 with both backends, the two ways are level at 2
 * images per thread.
 *
 * F(2x2, 5x5) saves more multiplies, and on 27 x 27 one image already makes 196 tiles: on
 * CaffeNet's conv2, wasm, 1 thread, CPU ms (medians of 7, the two ways interleaved), 8.7
 * against 11.3 for one image, 17.5 against 21.1 for two, 29.5 against 43.7 for four. At one
 * image a thread, though, a batch smaller than the threads leaves some idle, where im2col's
 * one large GEMM splits over them all: hence at least one image per thread.
 *
 * A strided convolution over its phases (CaffeNet's conv1, 3 x 3 over 48 phase planes) pays
 * from about as many as F(2x2, 3x3) itself: 1 thread, CPU ms, 8.7 against 7.7 (im2col + GEMM)
 * for one image, 16.7 against 23.6 for four.
 *
 * Those are the wasm backend's. The js backend has only F(2x2, 3x3)'s transforms written out
 * (unrolled.ts); F(2x2, 5x5)'s general loops (transforms.ts) cost it more than the multiplies
 * they save (conv2 at batch 16, 1 thread: 1.83 s against 1.51 s), so it never takes that one.
 */
const MIN_IMAGES_PER_THREAD = { 3: 4, 5: 1 };

/** Whether the fast convolution should take Winograd: it applies, and the batch is large enough to repay it. */
export function winogradPays(s: ConvolutionShape): boolean {
  const tile = tileFor(s);
  if (tile === undefined || (tile !== F2X2_3X3 && getBackend().name !== 'wasm')) return false;
  return s.num >= MIN_IMAGES_PER_THREAD[tile.r as 3 | 5] * getThreads();
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
  /** The stride-1 convolution the tiles compute: the convolution itself, or the one over its phases. */
  shape: ConvolutionShape;
  /** Floats of one image's phase planes for a strided convolution, else 0. */
  phaseImage: number;
  tile: WinogradTile;
  /** alpha^2: the transformed matrices, one per position of a tile. */
  positions: number;
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
  /** One input plane with its zero border, as the tiles read it: (2 tilesH + alpha - 2) x (2 tilesW + alpha - 2). */
  paddedH: number;
  paddedW: number;
  /** U: alpha^2 x O x C/g. */
  weightSize: number;
  /**
   * One thread's scratch: a padded plane, the phase planes of a chunk's images (strided
   * convolutions), then one group's V (alpha^2 x C/g x columns) and M (alpha^2 x O/g x
   * columns); C counts the phase planes.
   */
  bandSize: number;
}

function planOf(original: ConvolutionShape, threads: number): WinogradPlan {
  const s = tiledShape(original);
  const tile = tileFor(s)!;
  const phaseImage = s === original ? 0 : s.channels * s.height * s.width;
  const positions = tile.alpha * tile.alpha;
  const [outH, outW] = convOutputSize(s);
  const tilesH = Math.ceil(outH / 2);
  const tilesW = Math.ceil(outW / 2);
  const tilesPerImage = tilesH * tilesW;
  const chunkImages = Math.max(1, Math.min(Math.round(TARGET_COLUMNS / tilesPerImage), Math.ceil(s.num / threads)));
  const columns = chunkImages * tilesPerImage;
  const paddedH = 2 * tilesH + tile.alpha - 2;
  const paddedW = 2 * tilesW + tile.alpha - 2;
  const channelsPerGroup = s.channels / s.group;
  return {
    shape: s, phaseImage, tile, positions, outH, outW, tilesH, tilesW, tilesPerImage, chunkImages, channelsPerGroup,
    outputsPerGroup: s.numOutput / s.group,
    paddedH, paddedW,
    weightSize: positions * s.numOutput * channelsPerGroup,
    bandSize: paddedH * paddedW + chunkImages * phaseImage + positions * (s.channels + s.numOutput) / s.group * columns,
  };
}

/**
 * The forward of a convolution by F(2x2, r x r) (see `winogradApplies`; a strided one over its phases),
 * with the same arguments and result as `convolutionForwardReference` (a clamp given as its
 * bounds low and high, +-Infinity for none). The filters are transformed once per call; the
 * batch is shared out over the thread pool, whole images to each thread, each with its own
 * band of one scratch buffer.
 */
export function convolutionForwardWinograd(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  low = -Infinity,
  high = Infinity,
): void {
  const threads = Math.min(getThreads(), s.num);
  const plan = planOf(s, threads);
  const u = convolutionScratch('filters', plan.weightSize, x);
  let filters = weight;
  if (plan.phaseImage > 0) {
    filters = convolutionScratch('phase filters', plan.weightSize, x);
    phaseFilters(weight, s, filters);
  }
  transformFilters(filters, plan.shape, plan, u);
  const bands = convolutionScratch('bands', threads * plan.bandSize, x);
  if (threads > 1 && [x, y, ...(bias ? [bias] : [])].every(isShared)) {
    getBackend().prepareGemms(threads, plan.outputsPerGroup, plan.chunkImages * plan.tilesPerImage, plan.channelsPerGroup);
    winogradForwardJob.run({ x, u, y, bands, bias }, { ...s, clampMin: low, clampMax: high }, threads);
    return;
  }
  forwardImages(x, u, bias, y, s, plan, 0, s.num, bands.subarray(0, plan.bandSize), low, high);
}

/**
 * The input gradient of a 3 x 3 or 5 x 5, stride-1 convolution by F(2x2, r x r). It is itself
 * such a convolution: of dy, by the filters turned by 180 degrees with inputs and outputs
 * swapped, padded by r - 1 - pad (which maps the outH x outW gradient back onto height x width):
 *
 *   dx[n][c][iy][ix] = sum over o, ky, kx of weight[o][c][r-1 - ky][r-1 - kx] * dy[n][o][iy - (r-1 - pad) + ky][ix - (r-1 - pad) + kx]
 *
 * with dy zero outside its plane and o running over the outputs of c's group. `dx` is
 * overwritten. Needs pad <= r - 1 on both axes (see `winogradPaysBackward`).
 */
export function convolutionInputGradientWinograd(weight: FloatArray, dy: FloatArray, dx: FloatArray, s: ConvolutionShape): void {
  const [outH, outW] = convOutputSize(s);
  const r = s.kernelH;
  const turned = convolutionScratch('turned filters', weight.length, weight);
  turnFilters(weight, s, turned);
  const gradientShape: ConvolutionShape = {
    num: s.num, channels: s.numOutput, height: outH, width: outW, numOutput: s.channels, group: s.group,
    kernelH: r, kernelW: r, strideH: 1, strideW: 1, padH: r - 1 - s.padH, padW: r - 1 - s.padW, dilationH: 1, dilationW: 1,
  };
  convolutionForwardWinograd(dy, turned, undefined, dx, gradientShape);
}

/** Whether the fast backward should take `convolutionInputGradientWinograd` for dx: as the forward would, with stride 1 and pads of at most r - 1. */
export function winogradPaysBackward(s: ConvolutionShape): boolean {
  return winogradPays(s) && s.strideH === 1 && s.strideW === 1 && s.padH < s.kernelH && s.padW < s.kernelW;
}

/**
 * The filters of the gradient convolution: turned[(c * O/g + o') * r^2 + (r-1 - ky) * r + (r-1 - kx)] =
 * weight[(o * C/g + c') * r^2 + ky * r + kx], for output o = group * O/g + o' and input channel
 * c = group * C/g + c'. Turning a square filter by 180 degrees reverses its r^2 taps.
 */
function turnFilters(weight: FloatArray, s: ConvolutionShape, turned: FloatArray): void {
  const cg = s.channels / s.group;
  const og = s.numOutput / s.group;
  const taps = s.kernelH * s.kernelW;
  for (let o = 0; o < s.numOutput; o++) {
    const group = Math.floor(o / og);
    for (let c = 0; c < cg; c++) {
      const from = (o * cg + c) * taps;
      const to = ((group * cg + c) * og + (o - group * og)) * taps;
      for (let tap = 0; tap < taps; tap++) turned[to + taps - 1 - tap] = weight[from + tap]!;
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
  scalars: [...shapeScalars, 'clampMin', 'clampMax'],
  part: ({ x, u, y, bands, bias }, s, part, parts) => {
    const plan = planOf(s, parts);
    const [first, end] = partRange(s.num, part, parts);
    const band = bands.subarray(part * plan.bandSize, (part + 1) * plan.bandSize);
    forwardImages(x, u, bias, y, s, plan, first, end, band, s.clampMin, s.clampMax);
  },
});

/**
 * Images [first, end) of the batch (shape `s`), a chunk at a time: split a strided
 * convolution's images into their phases, transform the tiles, alpha^2 GEMMs per group,
 * transform back.
 */
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
  low: number,
  high: number,
): void {
  const t = plan.shape;
  const planeSize = plan.paddedH * plan.paddedW;
  const padded = band.subarray(0, planeSize);
  // The border of the padded plane stays zero: each plane copies only its interior.
  padded.fill(0);
  const phases = band.subarray(planeSize, planeSize + plan.chunkImages * plan.phaseImage);
  const start = planeSize + phases.length;
  const { channelsPerGroup: cg, outputsPerGroup: og, positions } = plan;
  for (let chunk = first; chunk < end; chunk += plan.chunkImages) {
    const count = Math.min(plan.chunkImages, end - chunk);
    const columns = count * plan.tilesPerImage;
    const v = band.subarray(start, start + positions * cg * columns);
    const m = band.subarray(start + v.length, start + v.length + positions * og * columns);
    if (plan.phaseImage > 0) {
      for (let n = chunk; n < chunk + count; n++) winogradPhases(x, s, n, t, phases, (n - chunk) * plan.phaseImage);
    }
    // A group at a time, so that its V and M are all the band holds (and more of them stays in cache).
    for (let g = 0; g < t.group; g++) {
      if (plan.phaseImage > 0) transformTiles(phases, 0, t, plan, count, g, padded, v);
      else transformTiles(x, chunk, t, plan, count, g, padded, v);
      for (let xi = 0; xi < positions; xi++) {
        sgemm(false, false, og, columns, cg, 1, u, cg, v, columns, 0, m, columns, {
          a: (g * positions + xi) * og * cg,
          b: xi * cg * columns,
          c: xi * og * columns,
        });
      }
      transformOutputs(m, bias, y, t, plan, chunk, count, g, low, high);
    }
  }
}

/**
 * U = G g G^T for every r x r filter g (output o, input channel c of its group), stored as
 * alpha^2 matrices, one per position xi of the alpha x alpha result:
 * u[((group * alpha^2 + xi) * O/g + o') * C/g + c].
 * One run per output: its C/g filters go to consecutive floats of each matrix.
 */
function transformFilters(weight: FloatArray, s: ConvolutionShape, plan: WinogradPlan, u: FloatArray): void {
  const { tile, channelsPerGroup: cg, outputsPerGroup: og, positions } = plan;
  const stride = og * cg;
  for (let o = 0; o < s.numOutput; o++) {
    const group = Math.floor(o / og);
    const uOffset = (group * positions * og + (o - group * og)) * cg;
    winogradFilters(tile, weight, o * cg * tile.r * tile.r, u, uOffset, cg, stride);
  }
}

/**
 * V = B^T d B for every alpha x alpha tile d of every channel of `group` of images
 * [first, first + count) of x, stored as alpha^2 matrices of C/g rows and
 * `count * tilesPerImage` columns: v[(xi * C/g + c) * columns + tile], tiles numbered image by
 * image, row by row. One run per image.
 */
function transformTiles(
  x: FloatArray,
  first: number,
  s: ConvolutionShape,
  plan: WinogradPlan,
  count: number,
  group: number,
  padded: FloatArray,
  v: FloatArray,
): void {
  const cg = plan.channelsPerGroup;
  const columns = count * plan.tilesPerImage;
  const run: WinogradInput = {
    channels: cg, rowStep: columns, stride: cg * columns, tilesH: plan.tilesH, tilesW: plan.tilesW,
    planeStep: s.height * s.width, height: s.height, width: s.width, padH: s.padH, padW: s.padW, paddedW: plan.paddedW,
  };
  for (let n = first; n < first + count; n++) {
    const xOffset = (n * s.channels + group * cg) * run.planeStep;
    winogradTiles(plan.tile, x, xOffset, padded, v, (n - first) * plan.tilesPerImage, run);
  }
}

/**
 * Y = A^T M A + bias, clamped to [low, high], for every tile of every output channel of `group`
 * of images [first, first + count), M read from the alpha^2 product matrices of the group as
 * `transformTiles` numbers them. One run per image.
 */
function transformOutputs(
  m: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  plan: WinogradPlan,
  first: number,
  count: number,
  group: number,
  low: number,
  high: number,
): void {
  const og = plan.outputsPerGroup;
  const columns = count * plan.tilesPerImage;
  const run: WinogradOutput = {
    channels: og, rowStep: columns, stride: og * columns, tilesH: plan.tilesH, tilesW: plan.tilesW,
    planeStep: plan.outH * plan.outW, outH: plan.outH, outW: plan.outW, low, high,
  };
  for (let n = first; n < first + count; n++) {
    const yOffset = (n * s.numOutput + group * og) * run.planeStep;
    winogradOutputs(plan.tile, m, (n - first) * plan.tilesPerImage, y, yOffset, bias, group * og, run);
  }
}
