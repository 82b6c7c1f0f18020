import { Rng, Tensor, allclose, allocate, convOutputSize, getBackend, setBackend, setThreads, shutdownPool, type FloatArray } from '@cnn/tensor';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { convolutionForwardReference } from '../convolution/reference.js';
import type { ConvolutionShape } from '../convolution/shape.js';
import { directForward, directOrigin, directPackedSize, packDirectWeights } from './fast.js';

const initialBackend = getBackend().name;
afterEach(() => {
  setBackend(initialBackend);
  setThreads(1);
});
afterAll(() => shutdownPool());

function shape(num: number, channels: number, numOutput: number, height: number, width: number, kernel: number, stride: number, pad: number): ConvolutionShape {
  return {
    num, channels, height, width, numOutput, group: 1,
    kernelH: kernel, kernelW: kernel, strideH: stride, strideW: stride, padH: pad, padW: pad, dilationH: 1, dilationW: 1,
  };
}

const label = (s: ConvolutionShape) => `x=[${s.num},${s.channels},${s.height},${s.width}] o=${s.numOutput} k=${s.kernelH} s=${s.strideH} p=${s.padH}`;

/** Random float32 operands on the heap (allocate under the wasm backend); a 4 x 4 filter gets a zero first row and column. */
function operands(s: ConvolutionShape, seed: number): { x: FloatArray; weight: FloatArray; bias: FloatArray } {
  const rng = new Rng(seed);
  const random = (length: number) => {
    const a = allocate(length, { dtype: 'float32', shared: true });
    for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
    return a;
  };
  const weight = random(s.numOutput * s.channels * s.kernelH * s.kernelW);
  if (s.kernelH === 4) {
    for (let filter = 0; filter < s.numOutput * s.channels; filter++) {
      for (let k = 0; k < 4; k++) weight[filter * 16 + k] = weight[filter * 16 + k * 4] = 0;
    }
  }
  return { x: random(s.num * s.channels * s.height * s.width), weight, bias: random(s.numOutput) };
}

// MobileNet's conv1 (3 channels, 4 x 4 stride 2 pad 1 with a zero first row and column) and
// 3 x 3 at stride 1 and 2 with pads 0 to 2; rows of 1 to 13 outputs (two vectors, one, and
// the rest one at a time); 1, 3 and 4 channels; one and two panels of outputs.
const cases: ConvolutionShape[] = [];
for (const [kernel, stride, pad] of [[4, 2, 1], [3, 1, 1], [3, 2, 1], [3, 1, 0], [3, 2, 2]] as const) {
  for (const [height, width] of [[7, 7], [9, 26], [3, 5], [16, 10]] as const) {
    for (const [channels, numOutput] of [[3, 8], [1, 4], [4, 4]] as const) {
      if (height + 2 * pad < kernel || width + 2 * pad < kernel) continue;
      cases.push(shape(2, channels, numOutput, height, width, kernel, stride, pad));
    }
  }
}
// Large enough to be shared out on 2 threads (panels.ts): batch 1 cut between its two output
// panels, and 3 images x 2 panels cut inside the second image.
cases.push(shape(1, 3, 8, 96, 96, 3, 1, 1), shape(3, 3, 8, 40, 40, 3, 1, 1));

function reference(s: ConvolutionShape, o: ReturnType<typeof operands>, withBias: boolean, min: number, max: number): Float64Array {
  const [outH, outW] = convOutputSize(s);
  const y = new Float64Array(s.num * s.numOutput * outH * outW);
  convolutionForwardReference(Float64Array.from(o.x), Float64Array.from(o.weight), withBias ? Float64Array.from(o.bias) : undefined, y, s);
  return y.map((v) => Math.min(Math.max(v, min), max));
}

function expectClose(actual: FloatArray, expected: FloatArray): void {
  const t = (a: FloatArray) => Tensor.fromArray(a, [a.length], { dtype: 'float64' });
  const result = allclose(t(actual), t(expected), { atol: 2e-5, rtol: 2e-5 });
  expect(result.ok, result.message).toBe(true);
}

describe('direct 3 x 3 convolution over few channels (wasm SIMD) against the reference', () => {
  for (const threads of [1, 2]) {
    it.each(cases.map((s) => [label(s), s] as const))(`${threads} thread(s), with and without bias, clamped and not, a guard float left alone: %s`, (_, s) => {
      setBackend('wasm');
      setThreads(threads);
      const o = operands(s, s.height * 7 + s.channels);
      const [outH, outW] = convOutputSize(s);
      const count = s.num * s.numOutput * outH * outW;
      for (const [withBias, min, max] of [[true, 0, 6], [false, -Infinity, Infinity], [true, -0.25, 0.5]] as const) {
        const y = allocate(count + 1, { dtype: 'float32', shared: true }).fill(NaN);
        expect(directForward(o.x, o.weight, withBias ? o.bias : undefined, y, s, min, max)).toBe(true);
        expectClose(y.subarray(0, count), reference(s, o, withBias, min, max));
        expect(y[count]).toBeNaN();
      }
    });
  }

  it('packs each panel of four outputs tap by tap, the four side by side', () => {
    setBackend('wasm');
    const s = shape(1, 2, 8, 5, 5, 4, 2, 1);
    const o = operands(s, 3);
    const packed = new Float32Array(directPackedSize(s));
    packDirectWeights(o.weight, s, 1, packed);
    // Output 6 (panel 1, row 2), channel 1, tap (ky 2, kx 0) of the 3 x 3 from (1, 1): weight[6][1][3][1].
    expect(packed[(((1 * 2 + 1) * 3 + 2) * 3 + 0) * 4 + 2]).toBe(o.weight[((6 * 2 + 1) * 4 + 3) * 4 + 1]);
  });

  it('refuses what it does not compute: a 4 x 4 filter with a non-zero first column, 5 channels, groups, 6 outputs, dilation, stride 3, float64, the js backend', () => {
    setBackend('wasm');
    const s = shape(1, 3, 8, 9, 9, 4, 2, 1);
    const o = operands(s, 4);
    expect(directOrigin(s, o.weight)).toBe(1);
    const three = shape(1, 3, 8, 9, 9, 3, 1, 1);
    expect(directOrigin(three, o.weight)).toBe(0);
    expect(directOrigin({ ...three, channels: 5 }, o.weight)).toBe(-1);
    expect(directOrigin({ ...three, group: 2, channels: 4 }, o.weight)).toBe(-1);
    expect(directOrigin({ ...three, numOutput: 6 }, o.weight)).toBe(-1);
    expect(directOrigin({ ...three, dilationH: 2, dilationW: 2 }, o.weight)).toBe(-1);
    expect(directOrigin({ ...three, strideH: 3, strideW: 3 }, o.weight)).toBe(-1);
    const y64 = new Float64Array(8 * 81);
    expect(directForward(Float64Array.from(o.x), Float64Array.from(o.weight), undefined, y64, three, -Infinity, Infinity)).toBe(false);
    o.weight[5 * 16 + 2 * 4] = 0.5; // filter 5 (output 1, channel 2), row 2, column 0
    expect(directOrigin(s, o.weight)).toBe(-1);
    setBackend('js');
    expect(directOrigin(three, o.weight)).toBe(-1);
  });
});
