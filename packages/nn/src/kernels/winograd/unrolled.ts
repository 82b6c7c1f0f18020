import type { FloatArray } from '@cnn/tensor';
import { copyIntoPadded, filterRun, outputRun, tileRun, type WinogradInput, type WinogradOutput } from './transforms.js';
import { F2X2_3X3 } from './tiles.js';

/*
 * The js backend's transforms: F(2x2, 3x3)'s written out value by value, as the matrices of
 * tiles.ts say, and any other tile's by the general loops of transforms.ts. In TypeScript the
 * general loops over each matrix row's terms cost several times the written-out sums: on
 * CaffeNet's conv3-conv5 at batch 16, 1 thread, 1.6-2.0 times the whole convolution's time.
 */

/** `filterRun` on the js backend. */
export const filterRunJs: typeof filterRun = (tile, ...args) => (tile === F2X2_3X3 ? filterRun3x3(...args) : filterRun(tile, ...args));

/** `tileRun` on the js backend. */
export const tileRunJs: typeof tileRun = (tile, ...args) => (tile === F2X2_3X3 ? tileRun3x3(...args) : tileRun(tile, ...args));

/** `outputRun` on the js backend. */
export const outputRunJs: typeof outputRun = (tile, ...args) => (tile === F2X2_3X3 ? outputRun3x3(...args) : outputRun(tile, ...args));

/** `filterRun` of F(2x2, 3x3), written out. */
function filterRun3x3(weight: FloatArray, weightOffset: number, u: FloatArray, uOffset: number, count: number, stride: number): void {
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

/** `tileRun` of F(2x2, 3x3), written out: tile (ty, tx) reads padded rows 2 ty .. 2 ty + 3 and columns 2 tx .. 2 tx + 3. */
function tileRun3x3(x: FloatArray, xOffset: number, padded: FloatArray, v: FloatArray, vOffset: number, run: WinogradInput): void {
  const { paddedW: pw, stride } = run;
  for (let c = 0; c < run.channels; c++) {
    copyIntoPadded(x, xOffset + c * run.planeStep, padded, run);
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

/** `outputRun` of F(2x2, 3x3), written out. */
function outputRun3x3(m: FloatArray, mOffset: number, y: FloatArray, yOffset: number, bias: FloatArray | undefined, biasOffset: number, run: WinogradOutput): void {
  const { outH, outW, stride, low, high } = run;
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
        y[top] = Math.min(Math.max(r00 + r01 + r02 + b, low), high);
        if (right) y[top + 1] = Math.min(Math.max(r01 - r02 - r03 + b, low), high);
        if (oy + 1 < outH) {
          y[top + outW] = Math.min(Math.max(r10 + r11 + r12 + b, low), high);
          if (right) y[top + outW + 1] = Math.min(Math.max(r11 - r12 - r13 + b, low), high);
        }
      }
    }
  }
}
