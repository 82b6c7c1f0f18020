/*
 * Walkthrough 6: the same convolution with fewer multiplications (Winograd's trick).
 *
 * Walkthrough 2 computed every output pixel as nine products. Most of a network's time
 * goes into such products, so it pays to need fewer of them. In 1980 Shmuel Winograd
 * showed how many multiplications a filter needs at least, and in 2016 Andrew Lavin and
 * Scott Gray used his construction for the 3 x 3 filters of convolutional networks.
 *
 * The idea in one dimension: two neighbouring outputs of a 3-tap filter g over the pixels
 * d0 d1 d2 d3,
 *
 *     y0 = g0 d0 + g1 d1 + g2 d2
 *     y1 = g0 d1 + g1 d2 + g2 d3        (six multiplications),
 *
 * can be computed from four products of sums,
 *
 *     m0 = (d0 - d2) g0                  m2 = (d2 - d1) (g0 - g1 + g2) / 2
 *     m1 = (d1 + d2) (g0 + g1 + g2) / 2  m3 = (d1 - d3) g2
 *
 *     y0 = m0 + m1 + m2        y1 = m1 - m2 - m3.
 *
 * The sums of filter weights are worked out once per filter and reused at every position;
 * the pixels only need additions. Doing the same along rows and along columns turns a 4 x 4
 * patch into a 2 x 2 block of outputs with 4 x 4 = 16 products instead of 2 x 2 x 9 = 36.
 * In matrix form, with d the patch and g the filter:
 *
 *     Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
 *
 * where ⊙ multiplies element by element (the only multiplications that depend on the
 * image), and B^T, G and A^T hold nothing but 0, ±1 and ±1/2. The library uses this for
 * 3 x 3 convolutions with stride 1 when a batch is large enough, which makes CaffeNet's
 * conv3-conv5 about twice as fast. The price is a little rounding (the sums are rounded
 * before they are multiplied), far below what a network notices.
 */
import { convolutionForwardReference, convolutionForwardWinograd, type ConvolutionShape } from '@cnn/nn';
import { describe, expect, it } from 'vitest';
import { KIDNEY_PATCH } from './kidney-patch.js';

/** Sobel filter for vertical edges (walkthrough 2). */
const SOBEL_VERTICAL = [
  [-1, 0, 1],
  [-2, 0, 2],
  [-1, 0, 1],
];

type Matrix = number[][];

/** The matrix product a b: entry (i, j) is row i of a times column j of b. */
function times(a: Matrix, b: Matrix): Matrix {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((sum, value, k) => sum + value * b[k]![j]!, 0)));
}

function transpose(a: Matrix): Matrix {
  return a[0]!.map((_, j) => a.map((row) => row[j]!));
}

const B_T: Matrix = [
  [1, 0, -1, 0],
  [0, 1, 1, 0],
  [0, -1, 1, 0],
  [0, 1, 0, -1],
];
const G: Matrix = [
  [1, 0, 0],
  [1 / 2, 1 / 2, 1 / 2],
  [1 / 2, -1 / 2, 1 / 2],
  [0, 0, 1],
];
const A_T: Matrix = [
  [1, 1, 1, 0],
  [0, 1, -1, -1],
];

describe('Walkthrough 6: fewer multiplications with Winograd F(2x2, 3x3)', () => {
  it('computes two outputs of a 3-tap filter with four products instead of six', () => {
    // Row 3 of the patch, columns 2..5, under the smoothing filter [1, 2, 1].
    const [d0, d1, d2, d3] = KIDNEY_PATCH[3]!.slice(2, 6) as [number, number, number, number];
    expect([d0, d1, d2, d3]).toEqual([84, 138, 156, 162]);
    const [g0, g1, g2] = [1, 2, 1];
    // Directly: six products.
    const y0 = g0 * d0 + g1 * d1 + g2 * d2;
    const y1 = g0 * d1 + g1 * d2 + g2 * d3;
    expect([y0, y1]).toEqual([516, 612]);

    // Once per filter: [g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2] = [1, 2, 0, 1].
    const filterSide = [g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2];
    expect(filterSide).toEqual([1, 2, 0, 1]);
    // Per position, only additions: [d0 - d2, d1 + d2, d2 - d1, d1 - d3].
    const pixelSide = [d0 - d2, d1 + d2, d2 - d1, d1 - d3];
    expect(pixelSide).toEqual([-72, 294, 18, -24]);
    // Four products, then additions again.
    const [m0, m1, m2, m3] = pixelSide.map((value, i) => value * filterSide[i]!) as [number, number, number, number];
    expect([m0, m1, m2, m3]).toEqual([-72, 588, 0, -24]);
    expect([m0 + m1 + m2, m1 - m2 - m3]).toEqual([516, 612]);
  });

  it('turns a 4 x 4 patch into 2 x 2 outputs with 16 products instead of 36, equal to the nine-product sums', () => {
    // Rows 2..5, columns 2..5: the patch around walkthrough 2's strongest edge (272 at row 2, column 2).
    const d = [2, 3, 4, 5].map((row) => KIDNEY_PATCH[row]!.slice(2, 6));
    const direct = [0, 1].map((oy) =>
      [0, 1].map((ox) => {
        let sum = 0;
        for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) sum += SOBEL_VERTICAL[ky]![kx]! * d[oy + ky]![ox + kx]!;
        return sum;
      }),
    );
    expect(direct).toEqual([
      [272, 97],
      [263, 113],
    ]);

    const U = times(times(G, SOBEL_VERTICAL), transpose(G)); // 4 x 4, once per filter
    const V = times(times(B_T, d), transpose(B_T)); // 4 x 4, additions only
    const M = U.map((row, i) => row.map((value, j) => value * V[i]![j]!)); // the 16 products
    const Y = times(times(A_T, M), transpose(A_T)); // 2 x 2, additions only
    expect(Y).toEqual(direct);
  });

  it("gives the library's Winograd kernel the same 110 outputs as the nine-product loop, with 480 products instead of 990", () => {
    const s: ConvolutionShape = {
      num: 1, channels: 1, height: 13, width: 12, numOutput: 1, group: 1,
      kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 0, padW: 0, dilationH: 1, dilationW: 1,
    };
    const image = Float64Array.from(KIDNEY_PATCH.flat());
    const weight = Float64Array.from(SOBEL_VERTICAL.flat());
    const winograd = new Float64Array(11 * 10);
    const direct = new Float64Array(11 * 10);
    convolutionForwardWinograd(image, weight, undefined, winograd, s);
    convolutionForwardReference(image, weight, undefined, direct, s);
    // Whole numbers and halves are exact in float64, so here not even the rounding differs.
    expect([...winograd]).toEqual([...direct]);
    expect(winograd[2 * 10 + 2]).toBe(272);
    // The 11 x 10 map is covered by 6 x 5 tiles of 2 x 2 (the last row of tiles half outside it), 16 products each.
    expect(Math.ceil(11 / 2) * Math.ceil(10 / 2) * 16).toBe(480);
  });
});
