/*
 * The Winograd minimal filtering algorithms the fast convolution knows, as data: for F(m x m,
 * r x r), each alpha x alpha tile d of the padded input (alpha = m + r - 1) gives an m x m tile
 * of the output,
 *
 *   Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
 *
 * with B^T alpha x alpha, G alpha x r and A^T m x alpha. The matrices come from the Cook-Toom
 * construction (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
 * pick alpha - 1 distinct points p_k and the point at infinity; then A^T[i][k] = p_k^i,
 * G[k][j] = p_k^j / N_k with N_k = prod over l != k of (p_k - p_l), the point at infinity
 * giving A^T's last column and G's last row (0, .., 0, 1), and B^T is what makes the product
 * the correlation y_i = sum over j of d_(i+j) g_j, that is the solution of
 *
 *   sum over k of A^T[i][k] G[k][j] B^T[k][l] = (1 if l = i + j else 0)      for all i, j, l.
 *
 * The points set the float32 error: their powers and the N_k grow the transformed values
 * apart, and the final sums cancel them out again.
 */

/** One F(2 x 2, r x r): its sizes and its three transform matrices, rows of numbers. */
export interface WinogradTile {
  /** Outputs a tile side. */
  m: 2;
  /** Filter taps a side. */
  r: number;
  /** Inputs a tile side: m + r - 1. */
  alpha: number;
  /** The input transform B^T, alpha x alpha. */
  bT: readonly (readonly number[])[];
  /** The filter transform G, alpha x r. */
  g: readonly (readonly number[])[];
  /** The output transform A^T, m x alpha. */
  aT: readonly (readonly number[])[];
}

/**
 * F(2x2, 3x3) over the points 0, 1, -1 and infinity, with G's and B^T's first rows
 * multiplied by -1 so that every entry of B^T and A^T is 0 or +-1 and G's are 0, 1 or +-1/2:
 * 16 multiplies per 4 outputs against 36.
 *
 *         | 1  0 -1  0 |         | 1    0    0  |
 *   B^T = | 0  1  1  0 |     G = | 1/2  1/2  1/2 |     A^T = | 1  1  1  0 |
 *         | 0 -1  1  0 |         | 1/2 -1/2  1/2 |           | 0  1 -1 -1 |
 *         | 0  1  0 -1 |         | 0    0    1  |
 */
export const F2X2_3X3: WinogradTile = {
  m: 2,
  r: 3,
  alpha: 4,
  bT: [
    [1, 0, -1, 0],
    [0, 1, 1, 0],
    [0, -1, 1, 0],
    [0, 1, 0, -1],
  ],
  g: [
    [1, 0, 0],
    [1 / 2, 1 / 2, 1 / 2],
    [1 / 2, -1 / 2, 1 / 2],
    [0, 0, 1],
  ],
  aT: [
    [1, 1, 1, 0],
    [0, 1, -1, -1],
  ],
};

/**
 * F(2x2, 5x5) over the points 0, 1, -1, 2, -1/2 and infinity: 36 multiplies per 4 outputs
 * against 100.
 *
 *         | 1  3/2  -2   -3/2  1    0 |         |  1     0     0     0     0   |
 *         | 0  -1   -5/2 -1/2  1    0 |         | -1/3  -1/3  -1/3  -1/3  -1/3 |
 *   B^T = | 0   1    1/2 -5/2  1    0 |     G = |  1/3  -1/3   1/3  -1/3   1/3 |
 *         | 0  -1/2 -1    1/2  1    0 |         |  1/15  2/15  4/15  8/15 16/15 |
 *         | 0   2   -1   -2    1    0 |         |-16/15  8/15 -4/15  2/15 -1/15 |
 *         | 0   1    3/2 -2   -3/2  1 |         |  0     0     0     0     1   |
 *
 *   A^T = | 1  1  1  1  1    0 |
 *         | 0  1 -1  2 -1/2  1 |
 *
 * Why these points: with 4 finite points beside 0, the symmetric choices 0, +-1, +-2 and
 * 0, +-1, +-1/2 both pair a large point with its negative, whose products then cancel in the
 * output sums; one large and one small point of opposite signs keeps the transformed values
 * closer in size. Simulated in float32 against float64 on tiles shaped like CaffeNet's conv2
 * (48 input channels a group, inputs in [0, 1), weights of spread 0.01), the largest error
 * relative to the largest output was 1.2e-6-1.9e-6 for 0, +-1, 2, -1/2, against 2.5e-6-3.3e-6
 * for 0, +-1, +-2 and 2.5e-6-3.7e-6 for 0, +-1, +-1/2 (the direct sum's: 0.55e-6). All but the
 * thirds and fifteenths are exact in binary; those enter only the filters, transformed once.
 */
export const F2X2_5X5: WinogradTile = {
  m: 2,
  r: 5,
  alpha: 6,
  bT: [
    [1, 3 / 2, -2, -3 / 2, 1, 0],
    [0, -1, -5 / 2, -1 / 2, 1, 0],
    [0, 1, 1 / 2, -5 / 2, 1, 0],
    [0, -1 / 2, -1, 1 / 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 1, 3 / 2, -2, -3 / 2, 1],
  ],
  g: [
    [1, 0, 0, 0, 0],
    [-1 / 3, -1 / 3, -1 / 3, -1 / 3, -1 / 3],
    [1 / 3, -1 / 3, 1 / 3, -1 / 3, 1 / 3],
    [1 / 15, 2 / 15, 4 / 15, 8 / 15, 16 / 15],
    [-16 / 15, 8 / 15, -4 / 15, 2 / 15, -1 / 15],
    [0, 0, 0, 0, 1],
  ],
  aT: [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -1 / 2, 1],
  ],
};

/** The tile that computes a square r x r kernel, if there is one. */
export function winogradTileOf(r: number): WinogradTile | undefined {
  return r === 3 ? F2X2_3X3 : r === 5 ? F2X2_5X5 : undefined;
}

/** One row of a matrix as its nonzero terms: [column, coefficient]. */
export type Terms = readonly (readonly [number, number])[];

/** The nonzero terms of each row of `matrix` (multiplying by a zero coefficient would turn an infinite input into NaN). */
export function termsOf(matrix: readonly (readonly number[])[]): Terms[] {
  return matrix.map((row) => row.flatMap((coefficient, column) => (coefficient === 0 ? [] : [[column, coefficient] as const])));
}
