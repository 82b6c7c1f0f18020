/*
 * Walkthrough 2: a convolution by hand, and the same convolution by the library.
 *
 * A convolution slides one small grid of weights, the filter (or kernel), over the
 * image. At every position it multiplies the filter's weights with the pixels under
 * them and adds up the products; that sum is one pixel of the output, the feature
 * map. The same weights are used at every position. That is the whole idea, and it
 * is why convolutional networks suit images: an edge is an edge wherever it appears,
 * so one detector with 9 weights can look for it everywhere, instead of a separate
 * set of weights for every location.
 *
 * We use the Sobel filter for vertical edges:
 *
 *     -1  0  +1
 *     -2  0  +2
 *     -1  0  +1
 *
 * It subtracts the column on the left from the column on the right (counting the
 * middle row twice). On flat tissue left and right are alike and the answer is near
 * 0; where the image turns from dark to bright going right it is large and positive;
 * from bright to dark it is large and negative. In a trained network nobody writes
 * these weights: the first layer learns filters much like this one from examples.
 *
 * A 3 x 3 filter fits into a 13 x 12 image at 13 - 3 + 1 = 11 vertical and
 * 12 - 3 + 1 = 10 horizontal positions (without padding), so the feature map is
 * 11 x 10.
 *
 * One detail trips up everyone who compares libraries. In mathematics and signal
 * processing a convolution flips the filter (top-bottom and left-right) before
 * sliding it. Caffe, and this library, do not flip: what they compute is strictly a
 * cross-correlation, though everybody calls it convolution. For a learned filter the
 * difference does not matter (the network simply learns the flipped weights), but it
 * matters the moment you bring in a filter from somewhere else. The last steps show
 * it with numbers.
 */
import { Net, type NetDef } from '@cnn/nn';
import { describe, expect, it } from 'vitest';
import { KIDNEY_PATCH } from './kidney-patch.js';

/** Sobel filter for vertical edges: right column minus left column. */
const SOBEL_VERTICAL = [
  [-1, 0, 1],
  [-2, 0, 2],
  [-1, 0, 1],
];

/** Sobel filter for horizontal edges: bottom row minus top row. */
const SOBEL_HORIZONTAL = [
  [-1, -2, -1],
  [0, 0, 0],
  [1, 2, 1],
];

/**
 * The convolution as Caffe defines it, written out: no padding, stride 1, no flip.
 * out[oy][ox] = sum over ky, kx of kernel[ky][kx] * image[oy + ky][ox + kx].
 */
function convolveByHand(image: readonly (readonly number[])[], kernel: readonly (readonly number[])[]): number[][] {
  const height = image.length;
  const width = image[0]!.length;
  const kernelH = kernel.length;
  const kernelW = kernel[0]!.length;
  const outH = height - kernelH + 1;
  const outW = width - kernelW + 1;
  const out: number[][] = [];
  for (let oy = 0; oy < outH; oy++) {
    const outRow: number[] = [];
    for (let ox = 0; ox < outW; ox++) {
      let sum = 0;
      for (let ky = 0; ky < kernelH; ky++) {
        for (let kx = 0; kx < kernelW; kx++) {
          sum += kernel[ky]![kx]! * image[oy + ky]![ox + kx]!;
        }
      }
      outRow.push(sum);
    }
    out.push(outRow);
  }
  return out;
}

/** A net with one input image [1, 1, 13, 12] and one convolution of 3 x 3 filters, no bias. */
function edgeNet(filters: number): Net {
  const def: NetDef = {
    layers: [
      { name: 'image', type: 'Input', top: ['image'], input: { shape: [{ dim: [1, 1, 13, 12] }] } },
      { name: 'edges', type: 'Convolution', bottom: ['image'], top: ['edges'], convolution: { numOutput: filters, kernelSize: 3, biasTerm: false } },
    ],
  };
  return new Net(def, { dtype: 'float64' });
}

describe('Walkthrough 2: convolution by hand and by the library', () => {
  it('computes one output pixel as nine products: at row 2, column 2 the filter sees the dark-to-bright boundary', () => {
    // The 3 x 3 window under the filter: rows 2..4, columns 2..4 of the patch.
    expect([KIDNEY_PATCH[2]!.slice(2, 5), KIDNEY_PATCH[3]!.slice(2, 5), KIDNEY_PATCH[4]!.slice(2, 5)]).toEqual([
      [71, 115, 128],
      [84, 138, 156],
      [77, 127, 148],
    ]);
    const response =
      (-1 * 71) + (0 * 115) + (1 * 128) +
      (-2 * 84) + (0 * 138) + (2 * 156) +
      (-1 * 77) + (0 * 127) + (1 * 148);
    // 57 + 144 + 71: the right column is much brighter than the left one.
    expect(response).toBe(272);
  });

  it('gives a negative response where the image turns from bright to dark (row 4, column 8)', () => {
    // Window rows 4..6, columns 8..10: the bright region fading out to the right.
    const response =
      (-1 * 118) + (0 * 95) + (1 * 76) +
      (-2 * 118) + (0 * 94) + (2 * 72) +
      (-1 * 122) + (0 * 109) + (1 * 87);
    expect(response).toBe(-169);
  });

  it('slides the same nine weights over every position, giving an 11 x 10 feature map', () => {
    const byHand = convolveByHand(KIDNEY_PATCH, SOBEL_VERTICAL);
    expect(byHand.length).toBe(11);
    expect(byHand.every((row) => row.length === 10)).toBe(true);
    expect(byHand[2]![2]).toBe(272);
    expect(byHand[4]![8]).toBe(-169);
    // The strongest dark-to-bright edge in the whole patch is the one we computed first.
    expect(Math.max(...byHand.flat())).toBe(272);
  });

  it("gives exactly the hand-computed feature map with the library's Convolution layer, at all 110 positions", () => {
    const net = edgeNet(1);
    // Caffe's weight layout is [outputs, channels, kernelH, kernelW]: here [1, 1, 3, 3], row by row.
    net.layer('edges').params[0]!.data.data.set(SOBEL_VERTICAL.flat());
    net.blob('image').data.data.set(KIDNEY_PATCH.flat());
    net.forward();

    const edges = net.blob('edges').data;
    expect(edges.shape).toEqual([1, 1, 11, 10]);
    const byHand = convolveByHand(KIDNEY_PATCH, SOBEL_VERTICAL);
    for (let oy = 0; oy < 11; oy++) {
      for (let ox = 0; ox < 10; ox++) expect(edges.get(0, 0, oy, ox)).toBe(byHand[oy]![ox]);
    }
  });

  it('uses only 9 weights for those 110 outputs: 990 multiply-adds, one per weight per position', () => {
    const net = edgeNet(1);
    const [row] = net.summary().filter((layer) => layer.name === 'edges');
    expect(row!.parameters).toBe(3 * 3);
    expect(row!.multiplyAdds).toBe(11 * 10 * 3 * 3);
  });

  it('does not flip the filter: Caffe convolution is cross-correlation', () => {
    // A textbook convolution would use the filter turned by 180 degrees, kernel[2 - ky][2 - kx].
    // Turning the vertical Sobel filter swaps its left and right columns, which flips every sign
    // (it also swaps the top and bottom rows, but those are equal).
    const flipped = [0, 1, 2].map((ky) => [0, 1, 2].map((kx) => SOBEL_VERTICAL[2 - ky]![2 - kx]!));
    expect(flipped).toEqual([
      [1, 0, -1],
      [2, 0, -2],
      [1, 0, -1],
    ]);
    const textbook =
      (1 * 71) + (0 * 115) + (-1 * 128) +
      (2 * 84) + (0 * 138) + (-2 * 156) +
      (1 * 77) + (0 * 127) + (-1 * 148);
    expect(textbook).toBe(-272);

    const net = edgeNet(1);
    net.layer('edges').params[0]!.data.data.set(SOBEL_VERTICAL.flat());
    net.blob('image').data.data.set(KIDNEY_PATCH.flat());
    net.forward();
    // The library gives +272, the unflipped sum: with a filter copied from a textbook, flip it first.
    expect(net.blob('edges').data.get(0, 0, 2, 2)).toBe(272);
  });

  it('stacks several filters into a volume: two Sobel filters give a [1, 2, 11, 10] output', () => {
    // Each output channel is one feature map from its own filter; the next layer reads all of them
    // together, as a volume. CaffeNet's first layer does the same with 96 learned 11 x 11 filters.
    const net = edgeNet(2);
    net.layer('edges').params[0]!.data.data.set([...SOBEL_VERTICAL.flat(), ...SOBEL_HORIZONTAL.flat()]);
    net.blob('image').data.data.set(KIDNEY_PATCH.flat());
    net.forward();

    const edges = net.blob('edges').data;
    expect(edges.shape).toEqual([1, 2, 11, 10]);
    // The horizontal filter at row 2, column 2: bottom row of the window minus top row.
    const horizontal =
      (-1 * 71) + (-2 * 115) + (-1 * 128) +
      (0 * 84) + (0 * 138) + (0 * 156) +
      (1 * 77) + (2 * 127) + (1 * 148);
    expect(horizontal).toBe(50);
    expect(edges.get(0, 1, 2, 2)).toBe(horizontal);

    const vertical = convolveByHand(KIDNEY_PATCH, SOBEL_VERTICAL);
    const horizontalMap = convolveByHand(KIDNEY_PATCH, SOBEL_HORIZONTAL);
    for (let oy = 0; oy < 11; oy++) {
      for (let ox = 0; ox < 10; ox++) {
        expect(edges.get(0, 0, oy, ox)).toBe(vertical[oy]![ox]);
        expect(edges.get(0, 1, oy, ox)).toBe(horizontalMap[oy]![ox]);
      }
    }
  });
});
