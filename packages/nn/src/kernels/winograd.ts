import {
  convOutputSize,
  getBackend,
  getPool,
  getThreads,
  isShared,
  partRange,
  sgemm,
  type FloatArray,
  type KernelRef,
  type PartKernel,
  type WinogradInput,
  type WinogradOutput,
} from '@cnn/tensor';
import { convolutionScratch, shapeOfScalars, shapeScalars, type ConvolutionShape } from './convolution-shape.js';

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
    getPool().run(winogradPartRef, winogradForwardPart, [x, u, bias ?? u, y, bands], [...shapeScalars(s), bias ? 1 : 0], threads);
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

const winogradPartRef: KernelRef = { module: import.meta.url, name: 'winogradForwardPart' };

/**
 * The pool's part of a batch forward: a band of the batch's images, on one thread
 * (arrays: x, the transformed filters U, bias or a placeholder, y, the scratch bands).
 */
export const winogradForwardPart: PartKernel = ([x, u, bias, y, bands], scalars, part, parts) => {
  const s = shapeOfScalars(scalars);
  const plan = planOf(s, parts);
  const [first, end] = partRange(s.num, part, parts);
  const band = bands!.subarray(part * plan.bandSize, (part + 1) * plan.bandSize);
  forwardImages(x!, u!, scalars[14] ? bias : undefined, y!, s, plan, first, end, band);
};

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
  const layers = getBackend().layers;
  for (let o = 0; o < s.numOutput; o++) {
    const group = Math.floor(o / og);
    const uOffset = (group * 16 * og + (o - group * og)) * cg;
    if (!layers.winogradFilters(weight, o * cg * 9, u, uOffset, cg, stride)) filterRun(weight, o * cg * 9, u, uOffset, cg, stride);
  }
}

/** `count` consecutive filters from weight[weightOffset] into u[uOffset ..], position xi at + xi * stride (the TypeScript kernel). */
function filterRun(weight: FloatArray, weightOffset: number, u: FloatArray, uOffset: number, count: number, stride: number): void {
  const gg = new Float64Array(12);
  for (let c = 0; c < count; c++) {
    const w = weightOffset + c * 9;
    // G g, column by column: rows [g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2] of each of the 3 columns.
    for (let j = 0; j < 3; j++) {
      const g0 = weight[w + j]!, g1 = weight[w + 3 + j]!, g2 = weight[w + 6 + j]!;
      gg[j] = g0;
      gg[3 + j] = (g0 + g1 + g2) / 2;
      gg[6 + j] = (g0 - g1 + g2) / 2;
      gg[9 + j] = g2;
    }
    // (G g) G^T, row by row: the same combination of each row's 3 entries.
    let at = uOffset + c;
    for (let i = 0; i < 4; i++) {
      const h0 = gg[3 * i]!, h1 = gg[3 * i + 1]!, h2 = gg[3 * i + 2]!;
      u[at] = h0;
      u[at + stride] = (h0 + h1 + h2) / 2;
      u[at + 2 * stride] = (h0 - h1 + h2) / 2;
      u[at + 3 * stride] = h2;
      at += 4 * stride;
    }
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
  const layers = getBackend().layers;
  for (let n = first; n < first + count; n++) {
    for (let group = 0; group < s.group; group++) {
      const xOffset = (n * s.channels + group * cg) * run.planeStep;
      const vOffset = group * 16 * cg * columns + (n - first) * plan.tilesPerImage;
      if (!layers.winogradTiles(x, xOffset, padded, v, vOffset, run)) tileRun(x, xOffset, padded, v, vOffset, run);
    }
  }
}

/**
 * The tiles of `run.channels` planes from x[xOffset] into v[vOffset ..] (the TypeScript kernel):
 * each plane is copied into the inside of `padded` (its border is zero), then tile (ty, tx)
 * reads padded rows 2 ty .. 2 ty + 3 and columns 2 tx .. 2 tx + 3.
 */
function tileRun(x: FloatArray, xOffset: number, padded: FloatArray, v: FloatArray, vOffset: number, run: WinogradInput): void {
  const { paddedW: pw, stride } = run;
  for (let c = 0; c < run.channels; c++) {
    const plane = xOffset + c * run.planeStep;
    for (let iy = 0; iy < run.height; iy++) {
      const from = plane + iy * run.width;
      const to = (iy + run.padH) * pw + run.padW;
      for (let ix = 0; ix < run.width; ix++) padded[to + ix] = x[from + ix]!;
    }
    let tile = vOffset + c * run.rowStep;
    for (let ty = 0; ty < run.tilesH; ty++) {
      for (let tx = 0; tx < run.tilesW; tx++, tile++) {
        const r0 = 2 * ty * pw + 2 * tx, r1 = r0 + pw, r2 = r1 + pw, r3 = r2 + pw;
        const d00 = padded[r0]!, d01 = padded[r0 + 1]!, d02 = padded[r0 + 2]!, d03 = padded[r0 + 3]!;
        const d10 = padded[r1]!, d11 = padded[r1 + 1]!, d12 = padded[r1 + 2]!, d13 = padded[r1 + 3]!;
        const d20 = padded[r2]!, d21 = padded[r2 + 1]!, d22 = padded[r2 + 2]!, d23 = padded[r2 + 3]!;
        const d30 = padded[r3]!, d31 = padded[r3 + 1]!, d32 = padded[r3 + 2]!, d33 = padded[r3 + 3]!;
        // B^T d: row i of the result combines rows of d as B^T's row i says.
        const e00 = d00 - d20, e01 = d01 - d21, e02 = d02 - d22, e03 = d03 - d23;
        const e10 = d10 + d20, e11 = d11 + d21, e12 = d12 + d22, e13 = d13 + d23;
        const e20 = d20 - d10, e21 = d21 - d11, e22 = d22 - d12, e23 = d23 - d13;
        const e30 = d10 - d30, e31 = d11 - d31, e32 = d12 - d32, e33 = d13 - d33;
        // (B^T d) B: the same combination of the columns of each row; xi = 4 * row + column.
        let at = tile;
        v[at] = e00 - e02; v[(at += stride)] = e01 + e02; v[(at += stride)] = e02 - e01; v[(at += stride)] = e01 - e03;
        v[(at += stride)] = e10 - e12; v[(at += stride)] = e11 + e12; v[(at += stride)] = e12 - e11; v[(at += stride)] = e11 - e13;
        v[(at += stride)] = e20 - e22; v[(at += stride)] = e21 + e22; v[(at += stride)] = e22 - e21; v[(at += stride)] = e21 - e23;
        v[(at += stride)] = e30 - e32; v[(at += stride)] = e31 + e32; v[(at += stride)] = e32 - e31; v[(at += stride)] = e31 - e33;
      }
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
  const layers = getBackend().layers;
  for (let n = first; n < first + count; n++) {
    for (let group = 0; group < s.group; group++) {
      const mOffset = group * 16 * og * columns + (n - first) * plan.tilesPerImage;
      const yOffset = (n * s.numOutput + group * og) * run.planeStep;
      if (!layers.winogradOutputs(m, mOffset, y, yOffset, bias, group * og, run)) outputRun(m, mOffset, y, yOffset, bias, group * og, run);
    }
  }
}

/**
 * The outputs of `run.channels` planes from m[mOffset ..] into y[yOffset ..] (the TypeScript
 * kernel). A tile that overhangs an odd-sized output writes only its inside.
 */
function outputRun(m: FloatArray, mOffset: number, y: FloatArray, yOffset: number, bias: FloatArray | undefined, biasOffset: number, run: WinogradOutput): void {
  const { outH, outW, stride } = run;
  for (let c = 0; c < run.channels; c++) {
    const b = bias ? bias[biasOffset + c]! : 0;
    const plane = yOffset + c * run.planeStep;
    let tile = mOffset + c * run.rowStep;
    for (let ty = 0; ty < run.tilesH; ty++) {
      for (let tx = 0; tx < run.tilesW; tx++, tile++) {
        let at = tile;
        const m00 = m[at]!, m01 = m[(at += stride)]!, m02 = m[(at += stride)]!, m03 = m[(at += stride)]!;
        const m10 = m[(at += stride)]!, m11 = m[(at += stride)]!, m12 = m[(at += stride)]!, m13 = m[(at += stride)]!;
        const m20 = m[(at += stride)]!, m21 = m[(at += stride)]!, m22 = m[(at += stride)]!, m23 = m[(at += stride)]!;
        const m30 = m[(at += stride)]!, m31 = m[(at += stride)]!, m32 = m[(at += stride)]!, m33 = m[(at += stride)]!;
        // A^T M: rows m0 + m1 + m2 and m1 - m2 - m3.
        const r00 = m00 + m10 + m20, r01 = m01 + m11 + m21, r02 = m02 + m12 + m22, r03 = m03 + m13 + m23;
        const r10 = m10 - m20 - m30, r11 = m11 - m21 - m31, r12 = m12 - m22 - m32, r13 = m13 - m23 - m33;
        // (A^T M) A: the same for the columns of each row.
        const oy = 2 * ty, ox = 2 * tx;
        const top = plane + oy * outW + ox;
        const right = ox + 1 < outW;
        y[top] = r00 + r01 + r02 + b;
        if (right) y[top + 1] = r01 - r02 - r03 + b;
        if (oy + 1 < outH) {
          y[top + outW] = r10 + r11 + r12 + b;
          if (right) y[top + outW + 1] = r11 - r12 - r13 + b;
        }
      }
    }
  }
}
