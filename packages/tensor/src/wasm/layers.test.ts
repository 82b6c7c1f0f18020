import { describe, expect, it } from 'vitest';
import { Rng, col2im, convOutputSize, im2col, type ConvGeometry } from '../index.js';
import { allocateOnHeap } from './heap.js';
import { wasmCol2im, wasmIm2col, wasmLrnAcross, wasmLrnAcrossBackward, wasmMaxPool, wasmReluBackward, wasmReluForward, type PoolPlanes } from './layers.js';

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
    im2col(x, imageSize, g, expected, 5);
    const col = allocateOnHeap(5 + rows * outH * outW)!.fill(NaN);
    expect(wasmIm2col(x, imageSize, g, col, 5)).toBe(true);
    expect(col).toEqual(expected);
  });

  it.each(geometries.map((g) => [JSON.stringify(g), g] as const))('col2im: the TypeScript col2im, up to float32 summation order: %s', (_, g) => {
    const [outH, outW] = convOutputSize(g);
    const colSize = g.channels * g.kernelH * g.kernelW * outH * outW;
    const imageSize = g.channels * g.height * g.width;
    const col = onHeap(3 + colSize, 6);
    const expected = new Float32Array(2 * imageSize).fill(NaN);
    col2im(col, 3, g, expected, imageSize);
    const x = allocateOnHeap(2 * imageSize)!.fill(NaN);
    expect(wasmCol2im(col, 3, g, x, imageSize)).toBe(true);
    for (let i = 0; i < imageSize; i++) expect(x[i]).toBeNaN(); // the other image is left alone
    for (let i = imageSize; i < 2 * imageSize; i++) expect(Math.abs(x[i]! - expected[i]!)).toBeLessThanOrEqual(1e-6);
  });

  it('declines arrays off the heap', () => {
    const g = geometries[0]!;
    expect(wasmIm2col(new Float32Array(1000), 0, g, allocateOnHeap(1000)!, 0)).toBe(false);
    expect(wasmIm2col(allocateOnHeap(1000)!, 0, g, new Float32Array(new SharedArrayBuffer(4000)), 0)).toBe(false);
  });
});

describe('wasm ReLU', () => {
  // Counts around the four-lane groups; slopes exactly representable in float32, so results are exact.
  it.each([0, 1, 3, 4, 5, 8, 11, 1001].flatMap((count) => [0, 0.25].map((slope) => ({ count, slope }))))(
    'forward and backward over $count elements, slope $slope, in place or not',
    ({ count, slope }) => {
      const x = onHeap(count + 1, 2);
      x[0] = -0;
      const y = allocateOnHeap(count + 1)!.fill(9);
      expect(wasmReluForward(x, y, count, slope)).toBe(true);
      for (let i = 0; i < count; i++) expect(y[i]).toBe(x[i]! > 0 ? x[i] : Math.fround(slope * x[i]!) + 0);
      expect(y[count]).toBe(9); // nothing written past the end

      const dy = onHeap(count + 1, 3);
      const dx = allocateOnHeap(count + 1)!.fill(9);
      expect(wasmReluBackward(y, dy, dx, count, slope)).toBe(true);
      for (let i = 0; i < count; i++) expect(dx[i]).toBe(y[i]! > 0 ? dy[i] : Math.fround(slope * dy[i]!));
      expect(dx[count]).toBe(9);

      const inPlace = Float32Array.from(x);
      expect(wasmReluForward(x, x, count, slope)).toBe(true);
      for (let i = 0; i < count; i++) expect(x[i]).toBe(y[i]);
      expect(x[count]).toBe(inPlace[count]);
    },
  );

  it('declines arrays off the heap', () => {
    expect(wasmReluForward(new Float32Array(4), allocateOnHeap(4)!, 4, 0)).toBe(false);
    expect(wasmReluBackward(allocateOnHeap(4)!, allocateOnHeap(4)!, new Float32Array(4), 4, 0)).toBe(false);
  });
});

describe('wasm max pooling', () => {
  /** The maximum over each clipped window by definition, with its first position. */
  function byDefinition(x: Float32Array, p: PoolPlanes): { y: number[]; mask: number[] } {
    const y: number[] = [];
    const mask: number[] = [];
    for (let plane = 0; plane < p.planes; plane++) {
      for (let ph = 0; ph < p.pooledH; ph++) {
        for (let pw = 0; pw < p.pooledW; pw++) {
          let best = -Infinity;
          let at = -1;
          for (let h = Math.max(ph * p.strideH - p.padH, 0); h < Math.min(ph * p.strideH - p.padH + p.kernelH, p.height); h++) {
            for (let w = Math.max(pw * p.strideW - p.padW, 0); w < Math.min(pw * p.strideW - p.padW + p.kernelW, p.width); w++) {
              const value = x[plane * p.height * p.width + h * p.width + w]!;
              if (value > best) [best, at] = [value, h * p.width + w];
            }
          }
          y.push(best);
          mask.push(at);
        }
      }
    }
    return { y, mask };
  }

  it.each([
    { planes: 3, height: 7, width: 7, pooledH: 3, pooledW: 3, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padH: 0, padW: 0 },
    // ceil rounding with padding: the last windows are clipped at the bottom and right
    { planes: 2, height: 7, width: 6, pooledH: 4, pooledW: 4, kernelH: 3, kernelW: 2, strideH: 2, strideW: 2, padH: 1, padW: 1 },
    { planes: 4, height: 5, width: 5, pooledH: 1, pooledW: 1, kernelH: 5, kernelW: 5, strideH: 1, strideW: 1, padH: 0, padW: 0 },
    { planes: 2, height: 55, width: 55, pooledH: 27, pooledW: 27, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padH: 0, padW: 0 },
    // stride 2 with padding: clipped windows at both ends of a row, four-at-a-time ones between
    { planes: 3, height: 9, width: 21, pooledH: 5, pooledW: 11, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padH: 1, padW: 1 },
    { planes: 2, height: 4, width: 19, pooledH: 2, pooledW: 10, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padH: 0, padW: 0 },
  ])('gives each window its maximum and first position: $planes x $height x $width, k $kernelH x $kernelW, s $strideH, p $padH', (p) => {
    const x = onHeap(p.planes * p.height * p.width, 4);
    // Ties: the first position must win, as in Caffe (over whole rows, so vector lanes see them too).
    x.fill(0.5, 0, Math.min(x.length, 9));
    x.fill(0.25, p.height * p.width, p.height * p.width + 3 * p.width);
    const outputs = p.planes * p.pooledH * p.pooledW;
    const y = allocateOnHeap(outputs)!;
    const maskBits = allocateOnHeap(outputs)!;
    expect(wasmMaxPool(x, y, maskBits, p)).toBe(true);
    const expected = byDefinition(x, p);
    expect([...y]).toEqual(expected.y);
    expect([...new Int32Array(maskBits.buffer, maskBits.byteOffset, outputs)]).toEqual(expected.mask);
  });
});

describe('wasm cross-channel LRN', () => {
  it.each([
    { channels: 7, localSize: 5, count: 9 },
    { channels: 3, localSize: 5, count: 4 },
    { channels: 96, localSize: 5, count: 12 },
    { channels: 5, localSize: 1, count: 8 },
  ])('takes whole groups of four pixels, with Caffe\'s formula ($channels channels, n = $localSize, $count pixels)', ({ channels, localSize, count }) => {
    const planeSize = count + 3; // the run is part of a larger plane
    const [alpha, beta, k] = [0.5, 0.75, 2];
    const x = onHeap(channels * planeSize, 5);
    const scale = allocateOnHeap(channels * planeSize)!.fill(NaN);
    const y = allocateOnHeap(channels * planeSize)!.fill(NaN);
    const done = wasmLrnAcross(x, scale, y, { count, planeSize, channels, localSize, alpha, beta, k });
    expect(done).toBe(Math.floor(count / 4) * 4);
    const half = (localSize - 1) / 2;
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < planeSize; p++) {
        const i = c * planeSize + p;
        if (p >= done) {
          expect(scale[i]).toBeNaN();
          continue;
        }
        let sum = 0;
        for (let j = Math.max(0, c - half); j <= Math.min(channels - 1, c + half); j++) sum += x[j * planeSize + p]! ** 2;
        const expectedScale = k + (alpha / localSize) * sum;
        expect(scale[i]).toBeCloseTo(expectedScale, 5);
        expect(y[i]).toBeCloseTo(x[i]! * expectedScale ** -beta, 5);
      }
    }
  });

  it.each([
    { channels: 7, localSize: 5, count: 9 },
    { channels: 96, localSize: 5, count: 12 },
    { channels: 3, localSize: 7, count: 8 },
  ])('backward: dx = dy scale^-0.75 - (2 alpha beta / n) x sum(dy y / scale) ($channels channels, n = $localSize)', ({ channels, localSize, count }) => {
    const planeSize = count + 1;
    const run = { count, planeSize, channels, localSize, alpha: 0.5, beta: 0.75, k: 2 };
    const x = onHeap(channels * planeSize, 7);
    const dy = onHeap(channels * planeSize, 8);
    const scale = allocateOnHeap(channels * planeSize)!;
    const y = allocateOnHeap(channels * planeSize)!;
    expect(wasmLrnAcross(x, scale, y, run)).toBe(Math.floor(count / 4) * 4);
    const dx = allocateOnHeap(channels * planeSize)!.fill(NaN);
    const done = wasmLrnAcrossBackward(x, y, scale, dy, dx, run);
    expect(done).toBe(Math.floor(count / 4) * 4);
    const half = (localSize - 1) / 2;
    const factor = (2 * run.alpha * run.beta) / localSize;
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < planeSize; p++) {
        const i = c * planeSize + p;
        if (p >= done) {
          expect(dx[i]).toBeNaN();
          continue;
        }
        let sum = 0;
        for (let j = Math.max(0, c - half); j <= Math.min(channels - 1, c + half); j++) {
          const at = j * planeSize + p;
          sum += (dy[at]! * y[at]!) / scale[at]!;
        }
        expect(dx[i]).toBeCloseTo(dy[i]! * scale[i]! ** -0.75 - factor * x[i]! * sum, 5);
      }
    }
  });

  it('declines other betas and arrays off the heap', () => {
    const run = { count: 8, planeSize: 8, channels: 2, localSize: 3, alpha: 1, beta: 0.5, k: 1 };
    expect(wasmLrnAcross(onHeap(16, 1), allocateOnHeap(16)!, allocateOnHeap(16)!, run)).toBe(0);
    expect(wasmLrnAcross(new Float32Array(16), allocateOnHeap(16)!, allocateOnHeap(16)!, { ...run, beta: 0.75 })).toBe(0);
  });
});
