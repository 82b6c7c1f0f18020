import { describe, expect, it } from 'vitest';
import { Rng, col2im, convOutputSize, im2col, type ConvGeometry } from '../index.js';

/** im2col straight from its definition, one element at a time. */
function im2colByDefinition(x: Float64Array, g: ConvGeometry): Float64Array {
  const [outH, outW] = convOutputSize(g);
  const col = new Float64Array(g.channels * g.kernelH * g.kernelW * outH * outW);
  for (let c = 0; c < g.channels; c++) {
    for (let ky = 0; ky < g.kernelH; ky++) {
      for (let kx = 0; kx < g.kernelW; kx++) {
        const row = (c * g.kernelH + ky) * g.kernelW + kx;
        for (let oy = 0; oy < outH; oy++) {
          for (let ox = 0; ox < outW; ox++) {
            const y = oy * g.strideH - g.padH + ky * g.dilationH;
            const xx = ox * g.strideW - g.padW + kx * g.dilationW;
            const inside = y >= 0 && y < g.height && xx >= 0 && xx < g.width;
            col[(row * outH + oy) * outW + ox] = inside ? x[(c * g.height + y) * g.width + xx]! : 0;
          }
        }
      }
    }
  }
  return col;
}

function random(n: number, rng: Rng): Float64Array {
  return Float64Array.from({ length: n }, () => rng.uniform(-1, 1));
}

const geometries: ConvGeometry[] = [];
for (const [kernelH, kernelW] of [[1, 1], [3, 3], [5, 2]]) {
  for (const stride of [1, 2]) {
    for (const pad of [0, 1, 2]) {
      for (const dilation of [1, 2]) {
        const g: ConvGeometry = {
          channels: 3, height: 9, width: 7, kernelH: kernelH!, kernelW: kernelW!,
          strideH: stride, strideW: 3 - stride, padH: pad, padW: Math.max(0, pad - 1), dilationH: dilation, dilationW: 1,
        };
        if (g.height + 2 * g.padH >= g.dilationH * (g.kernelH - 1) + 1 && g.width + 2 * g.padW >= g.kernelW) geometries.push(g);
      }
    }
  }
}

const label = (g: ConvGeometry): string =>
  `x=[${g.channels},${g.height},${g.width}] k=${g.kernelH}x${g.kernelW} s=${g.strideH}x${g.strideW} p=${g.padH}x${g.padW} d=${g.dilationH}x${g.dilationW}`;

describe('im2col', () => {
  it.each(geometries.map((g) => [label(g), g] as const))('matches its definition: %s', (_, g) => {
    const x = random(g.channels * g.height * g.width, new Rng(1));
    const expected = im2colByDefinition(x, g);
    const col = new Float64Array(expected.length).fill(NaN);
    im2col(x, 0, g, col);
    expect(col).toEqual(expected);
  });

  it.each(geometries.map((g) => [label(g), g] as const))('col2im is its adjoint, <im2col(x), y> = <x, col2im(y)>: %s', (_, g) => {
    const rng = new Rng(2);
    const x = random(g.channels * g.height * g.width, rng);
    const col = new Float64Array(im2colByDefinition(x, g).length);
    const y = random(col.length, rng);
    im2col(x, 0, g, col);
    const back = new Float64Array(x.length).fill(NaN);
    col2im(y, 0, g, back);
    let left = 0;
    let right = 0;
    for (let i = 0; i < col.length; i++) left += col[i]! * y[i]!;
    for (let i = 0; i < x.length; i++) right += x[i]! * back[i]!;
    expect(Math.abs(left - right)).toBeLessThan(1e-12 * Math.max(1, Math.abs(left)));
  });

  it('handles groups as channel blocks addressed by offset', () => {
    // Two groups of 2 channels: group 1's columns are im2col of channels 2..3 alone.
    const g: ConvGeometry = { channels: 2, height: 5, width: 5, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1 };
    const x = random(4 * 25, new Rng(3));
    const col = new Float64Array(2 * 9 * 25);
    im2col(x, 2 * 25, g, col);
    expect(col).toEqual(im2colByDefinition(x.subarray(50), g));
  });

  it('computes the output size with Caffe floor rounding and refuses kernels that do not fit', () => {
    const conv1 = { channels: 3, height: 227, width: 227, kernelH: 11, kernelW: 11, strideH: 4, strideW: 4, padH: 0, padW: 0, dilationH: 1, dilationW: 1 };
    expect(convOutputSize(conv1)).toEqual([55, 55]);
    expect(() => convOutputSize({ ...conv1, height: 5 })).toThrow(/11 x 11 kernel .* does not fit a 5 x 227 input/);
  });
});
