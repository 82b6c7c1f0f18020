import { Rng, Tensor, allclose, allocate, getBackend, setBackend, setThreads, shutdownPool, type FloatArray } from '@cnn/tensor';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { convolutionForwardReference } from '../convolution/reference.js';
import { convolutionForwardFast } from '../convolution/fast.js';
import type { ConvolutionShape } from '../convolution/shape.js';
import { pointwiseForward, pointwisePackedSize, pointwisePays } from './fast.js';
import { packWeightsWasm } from './wasm.js';

const initialBackend = getBackend().name;
afterEach(() => {
  setBackend(initialBackend);
  setThreads(1);
});
afterAll(() => shutdownPool());

function shape(num: number, channels: number, numOutput: number, height: number, width: number): ConvolutionShape {
  return { num, channels, height, width, numOutput, group: 1, kernelH: 1, kernelW: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, dilationH: 1, dilationW: 1 };
}

function random(length: number, rng: Rng): FloatArray {
  const a = allocate(length, { dtype: 'float32', shared: true });
  for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

// Planes of 1, 3 (the one-at-a-time loop only), 4 (one 4-wide tile), 12 (8 + 4), 15 (8 + 4 + 3),
// 16 (one block), 25 (16 + 8 + 1), 36 (2 blocks + 4) and 49 (3 blocks + 1) positions; 1, 3, 16,
// and 64 input channels; one, two and five panels of outputs.
const cases: ConvolutionShape[] = [];
for (const [height, width] of [[1, 1], [1, 3], [2, 2], [3, 4], [3, 5], [4, 4], [5, 5], [6, 6], [7, 7]] as const) {
  for (const [channels, numOutput] of [[1, 4], [3, 8], [16, 20], [64, 4]] as const) {
    // Batch 1 reads the planes in place; batches of more copy them by blocks of 16 positions (wasm.ts).
    for (const num of [1, 2]) cases.push(shape(num, channels, numOutput, height, width));
  }
}
// Large enough to be shared out on 2 threads (panels.ts): batch 1 cut between output panels,
// and 3 images x 5 panels cut inside the second image; 96 channels over a plane of 1056 positions.
cases.push(shape(1, 64, 64, 16, 16), shape(3, 32, 20, 24, 24), shape(1, 96, 8, 32, 33));
const flat = (a: FloatArray) => new Tensor(a, [a.length]);
const label = (s: ConvolutionShape) => `x=[${s.num},${s.channels},${s.height},${s.width}] o=${s.numOutput}`;

describe('pointwise (1 x 1) convolution kernel, wasm backend, against the reference convolution', () => {
  it('takes a layer or not by the shape of one image, whatever the batch (the features of an image must not depend on its batch)', () => {
    setBackend('wasm');
    for (const [channels, height] of [[16, 80], [64, 40], [96, 48], [96, 24], [128, 5], [256, 10], [512, 5], [1024, 3]] as const) {
      const taken = [1, 3, 16, 64].map((num) => pointwisePays(shape(num, channels, 32, height, height)));
      expect(new Set(taken).size, `${channels} channels over ${height} x ${height}`).toBe(1);
    }
  });

  for (const threads of [1, 2]) {
    for (const [bias, clamp] of [[true, { min: 0, max: 6 }], [false, undefined], [true, { min: 0, max: Infinity }]] as const) {
      it.each(cases.map((s) => ({ s, name: label(s) })))(
        `$name, ${threads} thread(s), bias ${bias}, clamp ${clamp ? `[${clamp.min}, ${clamp.max}]` : 'none'}`,
        ({ s }) => {
          setBackend('wasm');
          setThreads(threads);
          expect(pointwisePays(s)).toBe(true);
          const rng = new Rng(s.channels * 31 + s.numOutput + s.height * s.width);
          const x = random(s.num * s.channels * s.height * s.width, rng);
          const weight = random(s.numOutput * s.channels, rng);
          const b = bias ? random(s.numOutput, rng) : undefined;
          const ySize = s.num * s.numOutput * s.height * s.width;
          const expected = new Float64Array(ySize);
          convolutionForwardReference(Float64Array.from(x), Float64Array.from(weight), b && Float64Array.from(b), expected, s);
          if (clamp) for (let i = 0; i < ySize; i++) expected[i] = Math.min(Math.max(expected[i]!, clamp.min), clamp.max);
          // A guard float past the outputs, which the kernel must leave alone.
          const y = allocate(ySize + 1, { dtype: 'float32', shared: true }).fill(NaN);
          expect(pointwiseForward(x, weight, b, y, s, clamp?.min ?? -Infinity, clamp?.max ?? Infinity)).toBe(true);
          expect(y[ySize]).toBeNaN();
          // float32 sums of `channels` products of values in [-1, 1]: rounding grows with the channels.
          const result = allclose(flat(y.subarray(0, ySize)), flat(expected), { rtol: 1e-5, atol: 2e-6 * Math.max(8, s.channels) });
          expect(result.ok, result.message).toBe(true);
        },
      );
    }
  }

  // Every 1 x 1 layer, whichever kernel convolutionForwardFast gives it (the direct one or the
  // GEMM, by `pointwisePays`): MobileNet's widths at batch 1 and 3, planes of odd sizes.
  const wide = [1, 3].flatMap((num) =>
    ([[128, 128, 5, 5], [128, 256, 7, 3], [256, 256, 5, 5], [512, 512, 3, 3], [1024, 8, 7, 7], [96, 192, 9, 9]] as const).map(([c, o, h, w]) => shape(num, c, o, h, w)),
  );
  for (const threads of [1, 2]) {
    it.each(wide.map((s) => ({ s, name: label(s) })))(`convolutionForwardFast, $name, ${threads} thread(s), bias, clamp [0, 6]`, ({ s }) => {
      setBackend('wasm');
      setThreads(threads);
      const rng = new Rng(s.channels + s.numOutput * 7 + s.num);
      const x = random(s.num * s.channels * s.height * s.width, rng);
      const weight = random(s.numOutput * s.channels, rng);
      const b = random(s.numOutput, rng);
      const ySize = s.num * s.numOutput * s.height * s.width;
      const expected = new Float64Array(ySize);
      convolutionForwardReference(Float64Array.from(x), Float64Array.from(weight), Float64Array.from(b), expected, s);
      for (let i = 0; i < ySize; i++) expected[i] = Math.min(Math.max(expected[i]!, 0), 6);
      const y = allocate(ySize, { dtype: 'float32', shared: true }).fill(NaN);
      convolutionForwardFast(x, weight, b, y, s, { min: 0, max: 6 });
      const result = allclose(flat(y), flat(expected), { rtol: 1e-5, atol: 2e-6 * s.channels });
      expect(result.ok, result.message).toBe(true);
    });
  }

  it('packs the weights in panels of four outputs: packed[(t * C + c) * 4 + r] = weight[(4t + r) * C + c]', () => {
    setBackend('wasm');
    const s = shape(1, 5, 12, 1, 1);
    const weight = allocate(60, { dtype: 'float32', shared: true });
    for (let i = 0; i < 60; i++) weight[i] = i;
    const packed = allocate(pointwisePackedSize(s) + 1, { dtype: 'float32', shared: true }).fill(NaN);
    expect(packWeightsWasm({ weight, packed, panels: 3, channels: 5 })).toBe(true);
    // Weight row o = 4t + r, channel c holds 5 o + c.
    const expected = Array.from({ length: 60 }, (_, i) => {
      const [t, c, r] = [Math.floor(i / 20), Math.floor(i / 4) % 5, i % 4];
      return 5 * (4 * t + r) + c;
    });
    expect(Array.from(packed.subarray(0, 60))).toEqual(expected);
    expect(packed[60]).toBeNaN();
  });

  it('runs on the wasm heap only: a float64 batch is refused, and convolutionForwardFast still answers it through the GEMM', () => {
    setBackend('wasm');
    const s = shape(1, 3, 4, 2, 2);
    const rng = new Rng(5);
    const weight = random(12, rng);
    const x64 = new Float64Array(12).map((_, i) => i / 7 - 0.5);
    const y64 = new Float64Array(16);
    expect(pointwiseForward(x64, Float64Array.from(weight), undefined, y64, s, -Infinity, Infinity)).toBe(false);
    const w64 = Float64Array.from(weight);
    convolutionForwardFast(x64, w64, undefined, y64, s);
    const expected = new Float64Array(16);
    convolutionForwardReference(x64, w64, undefined, expected, s);
    expect(allclose(flat(y64), flat(expected), { rtol: 1e-12, atol: 1e-12 }).ok).toBe(true);
  });
});
