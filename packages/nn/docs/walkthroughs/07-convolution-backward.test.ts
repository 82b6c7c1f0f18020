/*
 * Walkthrough 7: the convolution backward by hand.
 *
 * Walkthrough 5 trained a net of inner products; a convolutional network needs one more
 * thing, the gradient of a convolution. Forward, every output is a sum of products of
 * filter weights and the pixels under them (walkthrough 2):
 *
 *   y[oy][ox] = sum over ky, kx of w[ky][kx] * x[oy + ky][ox + kx]
 *
 * Backward, we are handed dy = dL/dy, how much the loss L changes per unit change of each
 * output, and want dL/dw (to learn the filter) and dL/dx (to pass on to the layer below).
 * The chain rule, applied to each product w[ky][kx] * x[oy + ky][ox + kx] of the sum, says
 * that this product sends dy[oy][ox] * x[oy + ky][ox + kx] to the weight and
 * dy[oy][ox] * w[ky][kx] to the pixel. Adding up what every product sends gives two
 * formulas that turn out to be convolutions themselves:
 *
 *   dW[ky][kx] = sum over oy, ox of x[oy + ky][ox + kx] * dy[oy][ox]
 *              = the correlation of the image x with dy, as if dy were an 11 x 10 filter;
 *
 *   dx[iy][ix] = sum over ky, kx of w[2 - ky][2 - kx] * dy[iy - 2 + ky][ix - 2 + kx]   (dy = 0 outside)
 *              = the correlation of dy, padded by 2, with the filter turned by 180 degrees.
 *
 * The second one is why a textbook says "the gradient of a convolution is a convolution
 * with the flipped kernel": an output pixel read the input through the filter, so an input
 * pixel hears back from the outputs through the same filter, seen from the other side.
 *
 * We start with a dy that picks out the two edges of walkthrough 2, compute both gradients
 * as explicit sums, check them against central finite differences (the definition of a
 * derivative), and against the library's Convolution layer. The library's kernels for this
 * are `convolutionBackwardReference` (the chain rule, term by term, as above),
 * `convolutionBackwardFast` (dW as a GEMM of dy with the unfolded image, dx as a GEMM
 * folded back by col2im) and `convolutionInputGradientWinograd` (dx as the correlation of
 * dy with the turned filters, exactly the second formula) in packages/nn/src/kernels/.
 */
import { Blob, ConvolutionLayer } from '@cnn/nn';
import { Rng, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { KIDNEY_PATCH } from './kidney-patch.js';

/** Sobel filter for vertical edges (walkthrough 2). */
const SOBEL_VERTICAL = [
  [-1, 0, 1],
  [-2, 0, 2],
  [-1, 0, 1],
];

type Grid = number[][];

const [HEIGHT, WIDTH, OUT_H, OUT_W] = [13, 12, 11, 10];

/** A grid of zeros. */
function zeros(rows: number, cols: number): Grid {
  return Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
}

/** The forward of walkthrough 2: y[oy][ox] = sum over ky, kx of w[ky][kx] * x[oy + ky][ox + kx]. */
function forward(x: readonly (readonly number[])[], w: Grid): Grid {
  const y = zeros(OUT_H, OUT_W);
  for (let oy = 0; oy < OUT_H; oy++) {
    for (let ox = 0; ox < OUT_W; ox++) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) y[oy]![ox]! += w[ky]![kx]! * x[oy + ky]![ox + kx]!;
      }
    }
  }
  return y;
}

/** The loss whose dL/dy is `dy`: L = sum over oy, ox of dy[oy][ox] * y[oy][ox]. */
function loss(x: readonly (readonly number[])[], w: Grid, dy: Grid): number {
  const y = forward(x, w);
  let sum = 0;
  for (let oy = 0; oy < OUT_H; oy++) for (let ox = 0; ox < OUT_W; ox++) sum += dy[oy]![ox]! * y[oy]![ox]!;
  return sum;
}

/** dW as the correlation of the image with dy: dW[ky][kx] = sum over oy, ox of x[oy + ky][ox + kx] * dy[oy][ox]. */
function weightGradient(x: readonly (readonly number[])[], dy: Grid): Grid {
  const dW = zeros(3, 3);
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) {
      for (let oy = 0; oy < OUT_H; oy++) {
        for (let ox = 0; ox < OUT_W; ox++) dW[ky]![kx]! += x[oy + ky]![ox + kx]! * dy[oy]![ox]!;
      }
    }
  }
  return dW;
}

/** The filter turned by 180 degrees: turned[ky][kx] = w[2 - ky][2 - kx]. */
function turn(w: Grid): Grid {
  return [0, 1, 2].map((ky) => [0, 1, 2].map((kx) => w[2 - ky]![2 - kx]!));
}

/**
 * dx as the correlation of dy, padded by 2 on every side (kernel size - 1, so that every
 * input pixel is reached), with the turned filter: a "full" correlation, 13 x 12 like x.
 */
function inputGradient(w: Grid, dy: Grid): Grid {
  const turned = turn(w);
  const padded = zeros(OUT_H + 4, OUT_W + 4);
  for (let oy = 0; oy < OUT_H; oy++) for (let ox = 0; ox < OUT_W; ox++) padded[oy + 2]![ox + 2] = dy[oy]![ox]!;
  const dx = zeros(HEIGHT, WIDTH);
  for (let iy = 0; iy < HEIGHT; iy++) {
    for (let ix = 0; ix < WIDTH; ix++) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) dx[iy]![ix]! += turned[ky]![kx]! * padded[iy + ky]![ix + kx]!;
      }
    }
  }
  return dx;
}

/** dx the other way round: every output sends dy[oy][ox] * w[ky][kx] back to each pixel it read. */
function inputGradientByScatter(w: Grid, dy: Grid): Grid {
  const dx = zeros(HEIGHT, WIDTH);
  for (let oy = 0; oy < OUT_H; oy++) {
    for (let ox = 0; ox < OUT_W; ox++) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) dx[oy + ky]![ox + kx]! += w[ky]![kx]! * dy[oy]![ox]!;
      }
    }
  }
  return dx;
}

/** dy = +1 at the dark-to-bright edge (row 2, column 2), -1 at the bright-to-dark one (row 4, column 8). */
function twoEdges(): Grid {
  const dy = zeros(OUT_H, OUT_W);
  dy[2]![2] = 1;
  dy[4]![8] = -1;
  return dy;
}

/** A dy of small whole numbers everywhere, from a seeded generator: a general upstream gradient. */
function everywhere(): Grid {
  const rng = new Rng(7);
  return Array.from({ length: OUT_H }, () => Array.from({ length: OUT_W }, () => Math.round(rng.uniform(-3, 3))));
}

/** The central difference (L(v + h) - L(v - h)) / 2h of the loss in one entry of `grid`. */
function centralDifference(grid: Grid, row: number, col: number, lossOf: () => number, h = 0.5): number {
  const kept = grid[row]![col]!;
  grid[row]![col] = kept + h;
  const up = lossOf();
  grid[row]![col] = kept - h;
  const down = lossOf();
  grid[row]![col] = kept;
  return (up - down) / (2 * h);
}

describe('Walkthrough 7: the convolution backward by hand', () => {
  it('starts from a loss that rewards the filter for telling the two edges of walkthrough 2 apart', () => {
    // L = y[2][2] - y[4][8] = 272 - (-169): dL/dy is +1 at the first edge, -1 at the second, 0 elsewhere.
    const y = forward(KIDNEY_PATCH, SOBEL_VERTICAL);
    expect([y[2]![2], y[4]![8]]).toEqual([272, -169]);
    expect(loss(KIDNEY_PATCH, SOBEL_VERTICAL, twoEdges())).toBe(441);
  });

  it('gives each weight the pixels it multiplied, times dy: dW = the window at (2, 2) minus the window at (4, 8)', () => {
    // Only two outputs have a non-zero dy, so the sum for dW has two terms: the 3 x 3 window
    // under output (2, 2), and minus the window under output (4, 8).
    const first = [
      [71, 115, 128],
      [84, 138, 156],
      [77, 127, 148],
    ];
    const second = [
      [118, 95, 76],
      [118, 94, 72],
      [122, 109, 87],
    ];
    const byHand = first.map((row, ky) => row.map((value, kx) => value - second[ky]![kx]!));
    expect(byHand).toEqual([
      [-47, 20, 52],
      [-34, 44, 84],
      [-45, 18, 61],
    ]);
    expect(weightGradient(KIDNEY_PATCH, twoEdges())).toEqual(byHand);
    // Here L is a reward, so learning would climb it, w + rate * dW: the left column's weights go
    // down (the first edge is darker there than the second: 71 against 118) and the right column's
    // go up (brighter: 128 against 76). dW has the Sobel filter's own pattern, negative on the
    // left and positive on the right: the gradient tells the filter to become more of what it is.
  });

  it('gives each pixel the weights it was multiplied by, times dy: the filter stamped at each of the two outputs', () => {
    const dx = inputGradientByScatter(SOBEL_VERTICAL, twoEdges());
    // Output (2, 2) read rows 2-4, columns 2-4, each through one weight: dx there is the filter itself.
    expect([dx[2]!.slice(2, 5), dx[3]!.slice(2, 5), dx[4]!.slice(2, 5)]).toEqual(SOBEL_VERTICAL);
    // Output (4, 8) read rows 4-6, columns 8-10 with dy = -1: the filter with its signs changed.
    expect([dx[4]!.slice(8, 11), dx[5]!.slice(8, 11), dx[6]!.slice(8, 11)]).toEqual([
      [1, 0, -1],
      [2, 0, -2],
      [1, 0, -1],
    ]);
    // No other pixel was read by either output.
    expect(dx.flat().filter((value) => value !== 0).length).toBe(12);
  });

  it('writes dx as a convolution: dy padded by 2, correlated with the filter turned by 180 degrees', () => {
    expect(turn(SOBEL_VERTICAL)).toEqual([
      [1, 0, -1],
      [2, 0, -2],
      [1, 0, -1],
    ]);
    // Why turned: pixel (3, 4) was read by output (2, 2) through w[1][2] = 2 (one row down, two
    // columns right of the window's corner). Seen from the pixel, that output sits up and to the
    // left, where the turned filter keeps w[1][2]: turned[1][0] = w[2 - 1][2 - 0] = 2.
    expect(inputGradient(SOBEL_VERTICAL, twoEdges())[3]![4]).toBe(2);
    // The gather (a convolution) and the scatter (each output sending back) agree everywhere, for any dy.
    for (const dy of [twoEdges(), everywhere()]) expect(inputGradient(SOBEL_VERTICAL, dy)).toEqual(inputGradientByScatter(SOBEL_VERTICAL, dy));
  });

  it('agrees with central finite differences for every weight and every pixel', () => {
    // The loss is linear in each weight and in each pixel, so the central difference is exact
    // (up to rounding): a finite step of 0.5 gives the derivative itself.
    const dy = everywhere();
    const w = SOBEL_VERTICAL.map((row) => [...row]);
    const x = KIDNEY_PATCH.map((row) => [...row]);
    const dW = weightGradient(x, dy);
    for (let ky = 0; ky < 3; ky++) {
      for (let kx = 0; kx < 3; kx++) expect(centralDifference(w, ky, kx, () => loss(x, w, dy))).toBeCloseTo(dW[ky]![kx]!, 9);
    }
    const dx = inputGradient(w, dy);
    for (let iy = 0; iy < HEIGHT; iy++) {
      for (let ix = 0; ix < WIDTH; ix++) expect(centralDifference(x, iy, ix, () => loss(x, w, dy))).toBeCloseTo(dx[iy]![ix]!, 9);
    }
  });

  it("gives exactly the library's Convolution layer backward: dW, dx and the bias gradient, the sum of dy", () => {
    const dy = everywhere();
    const layer = new ConvolutionLayer('edges', { numOutput: 1, kernelSize: 3 });
    const bottom = new Blob('image', [1, 1, HEIGHT, WIDTH], 'float64');
    const top = new Blob('edges', [], 'float64');
    layer.setup([bottom], [top], { dtype: 'float64', rng: new Rng(1) });
    layer.reshape([bottom], [top]);
    const [weight, bias] = layer.params;
    weight!.data.data.set(SOBEL_VERTICAL.flat());
    bias!.data.data.fill(0);
    bottom.data.data.set(KIDNEY_PATCH.flat());
    layer.forward([bottom], [top]);
    expect(top.data.toFlatArray()).toEqual(forward(KIDNEY_PATCH, SOBEL_VERTICAL).flat());

    top.diff.data.set(dy.flat());
    layer.backward([top], [true], [bottom]);
    expect([...weight!.diff.data]).toEqual(weightGradient(KIDNEY_PATCH, dy).flat());
    expect(bottom.diff.toFlatArray()).toEqual(inputGradient(SOBEL_VERTICAL, dy).flat());
    // The bias is added to every output, so its gradient is the sum of dy.
    expect(bias!.diff.data[0]).toBe(dy.flat().reduce((sum, value) => sum + value, 0));
  });

  it('turns every filter of a layer and swaps its inputs and outputs: dx of a 2-filter, 2-channel layer', () => {
    // With C input channels and O filters, dx of channel c sums over the filters o of dy[o]
    // correlated with filter (o, c) turned: the backward is a convolution from O channels to C.
    const rng = new Rng(3);
    const layer = new ConvolutionLayer('pair', { numOutput: 2, kernelSize: 3, biasTerm: false });
    const bottom = new Blob('x', [1, 2, HEIGHT, WIDTH], 'float64');
    const top = new Blob('y', [], 'float64');
    layer.setup([bottom], [top], { dtype: 'float64', rng });
    layer.reshape([bottom], [top]);
    const filters = [0, 1].map((o) => [0, 1].map((c) => [0, 1, 2].map(() => [0, 1, 2].map(() => Math.round(rng.uniform(-2, 2))))));
    layer.params[0]!.data.data.set(filters.flat(3));
    // Whole-number pixels keep every sum exact, so the comparison can be exact too.
    bottom.data.data.set(Tensor.uniform([2 * HEIGHT * WIDTH], 5, 0, 255).data.map(Math.round));
    layer.forward([bottom], [top]);
    const dys = [everywhere(), twoEdges()];
    top.diff.data.set(dys.flat(2));
    layer.backward([top], [true], [bottom]);
    for (let c = 0; c < 2; c++) {
      const expected = zeros(HEIGHT, WIDTH);
      for (let o = 0; o < 2; o++) {
        const part = inputGradient(filters[o]![c]!, dys[o]!);
        for (let iy = 0; iy < HEIGHT; iy++) for (let ix = 0; ix < WIDTH; ix++) expected[iy]![ix]! += part[iy]![ix]!;
      }
      expect(bottom.diff.toFlatArray().slice(c * HEIGHT * WIDTH, (c + 1) * HEIGHT * WIDTH)).toEqual(expected.flat());
    }
  });
});
