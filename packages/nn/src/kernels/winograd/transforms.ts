import type { FloatArray } from '@cnn/tensor';
import { termsOf, type WinogradTile } from './tiles.js';

/*
 * The three transforms of a Winograd tile (tiles.ts; the algorithm around them is fast.ts)
 * in TypeScript, each over a run of consecutive filters, input planes or output planes, each
 * a product of matrices written as sums over their nonzero entries: the reference the wasm
 * kernels (wasm.ts) and the js backend's written-out F(2x2, 3x3) (unrolled.ts) are tested
 * against, and the js backend's kernels for the other tiles.
 */

/**
 * A run of Winograd transforms over consecutive channels of one image (see fast.ts): the
 * alpha^2 transformed matrices are `stride` floats apart, and each
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

/** The output side of a run: planes of outH x outW, `planeStep` floats apart, each output clamped to [low, high]. */
export interface WinogradOutput extends WinogradRun {
  planeStep: number;
  outH: number;
  outW: number;
  low: number;
  high: number;
}

/**
 * U = G g G^T of `count` consecutive r x r filters g from weight[weightOffset] into consecutive
 * floats from u[uOffset], position xi = alpha i + j of U at + xi * stride.
 */
export function filterRun(tile: WinogradTile, weight: FloatArray, weightOffset: number, u: FloatArray, uOffset: number, count: number, stride: number): void {
  const { alpha, r } = tile;
  const g = termsOf(tile.g);
  const gg = new Float64Array(alpha * r);
  for (let c = 0; c < count; c++) {
    const filter = weightOffset + c * r * r;
    // G g: gg[i][j] = sum over k of G[i][k] g[k][j].
    for (let i = 0; i < alpha; i++) {
      for (let j = 0; j < r; j++) {
        let sum = 0;
        for (const [k, coefficient] of g[i]!) sum += coefficient * weight[filter + k * r + j]!;
        gg[i * r + j] = sum;
      }
    }
    // (G g) G^T: U[i][j] = sum over k of gg[i][k] G[j][k].
    for (let i = 0; i < alpha; i++) {
      for (let j = 0; j < alpha; j++) {
        let sum = 0;
        for (const [k, coefficient] of g[j]!) sum += coefficient * gg[i * r + k]!;
        u[uOffset + c + (i * alpha + j) * stride] = sum;
      }
    }
  }
}

/**
 * The tiles of `run.channels` planes from x[xOffset] into v[vOffset ..]: each plane is copied
 * into the inside of `padded` (its border is zero), then V = B^T d B of each alpha x alpha
 * tile d, tile (ty, tx) reading padded rows m ty .. m ty + alpha - 1 and the same columns
 * from m tx.
 */
export function tileRun(tile: WinogradTile, x: FloatArray, xOffset: number, padded: FloatArray, v: FloatArray, vOffset: number, run: WinogradInput): void {
  const { alpha, m } = tile;
  const bT = termsOf(tile.bT);
  const { paddedW: pw, stride } = run;
  const e = new Float64Array(alpha * alpha);
  for (let c = 0; c < run.channels; c++) {
    copyIntoPadded(x, xOffset + c * run.planeStep, padded, run);
    let at = vOffset + c * run.rowStep;
    for (let ty = 0; ty < run.tilesH; ty++) {
      for (let tx = 0; tx < run.tilesW; tx++, at++) {
        const top = m * ty * pw + m * tx;
        // B^T d: e[i][l] = sum over k of B^T[i][k] d[k][l].
        for (let i = 0; i < alpha; i++) {
          for (let l = 0; l < alpha; l++) {
            let sum = 0;
            for (const [k, coefficient] of bT[i]!) sum += coefficient * padded[top + k * pw + l]!;
            e[i * alpha + l] = sum;
          }
        }
        // (B^T d) B: V[i][j] = sum over l of e[i][l] B^T[j][l].
        for (let i = 0; i < alpha; i++) {
          for (let j = 0; j < alpha; j++) {
            let sum = 0;
            for (const [l, coefficient] of bT[j]!) sum += coefficient * e[i * alpha + l]!;
            v[at + (i * alpha + j) * stride] = sum;
          }
        }
      }
    }
  }
}

/** Copies the input plane at x[plane] into the inside of `padded`, leaving its border as it is. */
export function copyIntoPadded(x: FloatArray, plane: number, padded: FloatArray, run: WinogradInput): void {
  for (let iy = 0; iy < run.height; iy++) {
    const from = plane + iy * run.width;
    const to = (iy + run.padH) * run.paddedW + run.padW;
    for (let ix = 0; ix < run.width; ix++) padded[to + ix] = x[from + ix]!;
  }
}

/**
 * Y = A^T M A + bias of every tile of `run.channels` output planes, M's alpha^2 values from
 * products[mOffset ..], clamped to [run.low, run.high] (the fused ReLU or Clip, or
 * +-Infinity), into y[yOffset ..]. A tile that overhangs the plane (an output size that m does
 * not divide) writes only its inside.
 */
export function outputRun(
  tile: WinogradTile,
  products: FloatArray,
  mOffset: number,
  y: FloatArray,
  yOffset: number,
  bias: FloatArray | undefined,
  biasOffset: number,
  run: WinogradOutput,
): void {
  const { alpha, m } = tile;
  const aT = termsOf(tile.aT);
  const { outH, outW, stride, low, high } = run;
  const rows = new Float64Array(m * alpha);
  for (let c = 0; c < run.channels; c++) {
    const b = bias ? bias[biasOffset + c]! : 0;
    const plane = yOffset + c * run.planeStep;
    let at = mOffset + c * run.rowStep;
    for (let ty = 0; ty < run.tilesH; ty++) {
      for (let tx = 0; tx < run.tilesW; tx++, at++) {
        // A^T M: rows[i][l] = sum over k of A^T[i][k] M[k][l].
        for (let i = 0; i < m; i++) {
          for (let l = 0; l < alpha; l++) {
            let sum = 0;
            for (const [k, coefficient] of aT[i]!) sum += coefficient * products[at + (k * alpha + l) * stride]!;
            rows[i * alpha + l] = sum;
          }
        }
        // (A^T M) A: Y[i][j] = sum over l of rows[i][l] A^T[j][l].
        for (let i = 0; i < m && m * ty + i < outH; i++) {
          for (let j = 0; j < m && m * tx + j < outW; j++) {
            let sum = 0;
            for (const [l, coefficient] of aT[j]!) sum += coefficient * rows[i * alpha + l]!;
            y[plane + (m * ty + i) * outW + m * tx + j] = Math.min(Math.max(sum + b, low), high);
          }
        }
      }
    }
  }
}
