import { describe, expect, it } from 'vitest';
import { Rng, col2imReference, convOutputSize, im2colReference, type ConvGeometry } from '../index.js';
import { allocateOnHeap } from '../wasm/heap.js';
import { col2imWasm, im2colWasm } from './wasm.js';

/** `n` floats in [-1, 1) on the wasm heap, seeded. */
function onHeap(n: number, seed: number): Float32Array {
  const array = allocateOnHeap(n)!;
  const rng = new Rng(seed);
  for (let i = 0; i < n; i++) array[i] = rng.uniform(-1, 1);
  return array;
}

/** Every geometry of the TypeScript im2col's grid, plus CaffeNet's conv1 shape cut down (stride 4, 11 x 11). */
const geometries: ConvGeometry[] = [
  { channels: 2, height: 23, width: 23, kernelH: 11, kernelW: 11, strideH: 4, strideW: 4, padH: 0, padW: 0, dilationH: 1, dilationW: 1 },
  { channels: 3, height: 6, width: 13, kernelH: 5, kernelW: 5, strideH: 1, strideW: 1, padH: 2, padW: 2, dilationH: 1, dilationW: 1 },
];
for (const [kernelH, kernelW] of [[1, 1], [3, 3], [5, 2]] as const) {
  for (const stride of [1, 2, 3]) {
    for (const pad of [0, 1, 2]) {
      for (const dilation of [1, 2]) {
        const g: ConvGeometry = {
          channels: 3, height: 9, width: 7, kernelH, kernelW,
          strideH: stride, strideW: 4 - stride, padH: pad, padW: Math.max(0, pad - 1), dilationH: dilation, dilationW: 3 - dilation,
        };
        if (g.height + 2 * g.padH >= g.dilationH * (g.kernelH - 1) + 1 && g.width + 2 * g.padW >= g.dilationW * (g.kernelW - 1) + 1) geometries.push(g);
      }
    }
  }
}

describe('wasm im2col', () => {
  it.each(geometries.map((g) => [JSON.stringify(g), g] as const))('gives the TypeScript im2col bit for bit: %s', (_, g) => {
    const [outH, outW] = convOutputSize(g);
    const rows = g.channels * g.kernelH * g.kernelW;
    const imageSize = g.channels * g.height * g.width;
    // The image sits after another one, and the columns after some padding: offsets are honoured.
    const x = onHeap(2 * imageSize, 1);
    const expected = new Float32Array(5 + rows * outH * outW).fill(NaN);
    im2colReference(x, imageSize, g, expected, 5);
    const col = allocateOnHeap(5 + rows * outH * outW)!.fill(NaN);
    im2colWasm(x, imageSize, g, col, 5);
    expect(col).toEqual(expected);
  });

  it.each(geometries.map((g) => [JSON.stringify(g), g] as const))('col2im: the TypeScript col2im, up to float32 summation order: %s', (_, g) => {
    const [outH, outW] = convOutputSize(g);
    const colSize = g.channels * g.kernelH * g.kernelW * outH * outW;
    const imageSize = g.channels * g.height * g.width;
    const col = onHeap(3 + colSize, 6);
    const expected = new Float32Array(2 * imageSize).fill(NaN);
    col2imReference(col, 3, g, expected, imageSize);
    const x = allocateOnHeap(2 * imageSize)!.fill(NaN);
    col2imWasm(col, 3, g, x, imageSize);
    for (let i = 0; i < imageSize; i++) expect(x[i]).toBeNaN(); // the other image is left alone
    for (let i = imageSize; i < 2 * imageSize; i++) expect(Math.abs(x[i]! - expected[i]!)).toBeLessThanOrEqual(1e-6);
  });

  it('runs the TypeScript loops for arrays off the heap', () => {
    const g = geometries[0]!;
    const [outH, outW] = convOutputSize(g);
    const colSize = g.channels * g.kernelH * g.kernelW * outH * outW;
    const imageSize = g.channels * g.height * g.width;
    const expected = new Float32Array(colSize);
    const x = onHeap(imageSize, 3);
    im2colReference(x, 0, g, expected, 0);
    const offHeap = new Float32Array(new SharedArrayBuffer(4 * colSize));
    im2colWasm(x, 0, g, offHeap, 0);
    expect(offHeap).toEqual(expected);
    const back = new Float32Array(imageSize);
    col2imWasm(offHeap, 0, g, back, 0);
    const backExpected = new Float32Array(imageSize);
    col2imReference(expected, 0, g, backExpected, 0);
    expect(back).toEqual(backExpected);
  });
});
