import { Rng, Tensor, allclose, allocate, convOutputSize, dtypeOf, getBackend, im2colWasmKernels, isShared, setBackend, setThreads, shutdownPool, type DType, type FloatArray } from '@cnn/tensor';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  convolutionBackwardFast,
  convolutionBackwardReference,
  convolutionForwardFast,
  convolutionForwardReference,
  convolutionMultiplyAdds,
  type ConvolutionGradients,
  type ConvolutionShape,
} from './index.js';
import { winogradPaysBackward } from '../winograd/fast.js';

afterAll(() => shutdownPool());

interface Case {
  x: [number, number, number, number];
  numOutput: number;
  group: number;
  kernel: [number, number];
  stride: [number, number];
  pad: [number, number];
  dilation: [number, number];
}

function shapeOf(c: Case): ConvolutionShape {
  const [num, channels, height, width] = c.x;
  return {
    num, channels, height, width, numOutput: c.numOutput, group: c.group,
    kernelH: c.kernel[0], kernelW: c.kernel[1], strideH: c.stride[0], strideW: c.stride[1],
    padH: c.pad[0], padW: c.pad[1], dilationH: c.dilation[0], dilationW: c.dilation[1],
  };
}

const axes = (p: [number, number]): string => (p[0] === p[1] ? `${p[0]}` : `${p[0]}x${p[1]}`);
const label = (c: Case): string =>
  `x=[${c.x.join(',')}] o=${c.numOutput} k=${axes(c.kernel)} s=${axes(c.stride)} p=${axes(c.pad)} d=${axes(c.dilation)} g=${c.group}`;

const cases: Case[] = [];
for (const kernel of [1, 3]) {
  for (const stride of [1, 2]) {
    for (const pad of [0, 1, 2]) {
      for (const group of [1, 2]) {
        for (const dilation of kernel === 1 ? [1] : [1, 2]) {
          cases.push({ x: [2, 4, 7, 7], numOutput: 6, group, kernel: [kernel, kernel], stride: [stride, stride], pad: [pad, pad], dilation: [dilation, dilation] });
        }
      }
    }
  }
}
cases.push(
  { x: [1, 3, 9, 6], numOutput: 2, group: 1, kernel: [5, 2], stride: [2, 1], pad: [1, 0], dilation: [1, 2] },
  { x: [3, 6, 8, 5], numOutput: 9, group: 3, kernel: [2, 3], stride: [1, 2], pad: [0, 2], dilation: [2, 1] },
  { x: [2, 4, 6, 6], numOutput: 4, group: 4, kernel: [3, 3], stride: [1, 1], pad: [1, 1], dilation: [1, 1] },
  { x: [1, 2, 11, 11], numOutput: 3, group: 1, kernel: [11, 11], stride: [4, 4], pad: [0, 0], dilation: [1, 1] },
  { x: [2, 5, 4, 3], numOutput: 2, group: 1, kernel: [1, 1], stride: [2, 1], pad: [0, 0], dilation: [1, 1] },
  // Batches large enough for the forward and dx to take Winograd's F(2x2, 3x3) on 1 and 2 threads.
  { x: [8, 4, 7, 7], numOutput: 6, group: 2, kernel: [3, 3], stride: [1, 1], pad: [1, 1], dilation: [1, 1] },
  { x: [9, 3, 6, 5], numOutput: 4, group: 1, kernel: [3, 3], stride: [1, 1], pad: [2, 0], dilation: [1, 1] },
  { x: [8, 2, 5, 6], numOutput: 3, group: 1, kernel: [3, 3], stride: [1, 1], pad: [0, 0], dilation: [1, 1] },
  // Depthwise (MobileNet): one input channel per group, one or two outputs per channel.
  { x: [2, 4, 9, 8], numOutput: 8, group: 4, kernel: [3, 3], stride: [2, 2], pad: [1, 1], dilation: [1, 1] },
  { x: [1, 6, 7, 7], numOutput: 6, group: 6, kernel: [4, 4], stride: [2, 2], pad: [1, 2], dilation: [1, 1] },
);

function random(length: number, rng: Rng, dtype: DType, shared = false): FloatArray {
  const a = allocate(length, { dtype, shared });
  for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

interface Operands {
  s: ConvolutionShape;
  x: FloatArray;
  weight: FloatArray;
  bias: FloatArray;
  dy: FloatArray;
  /** Initial parameter gradients, to show both kernels add into them. */
  dWeight0: FloatArray;
  dBias0: FloatArray;
  ySize: number;
}

function operands(c: Case, dtype: DType, seed: number, shared = false): Operands {
  const s = shapeOf(c);
  const [outH, outW] = convOutputSize(s);
  const rng = new Rng(seed);
  const weightSize = s.numOutput * (s.channels / s.group) * s.kernelH * s.kernelW;
  const ySize = s.num * s.numOutput * outH * outW;
  return {
    s,
    x: random(s.num * s.channels * s.height * s.width, rng, dtype, shared),
    weight: random(weightSize, rng, dtype, shared),
    bias: random(s.numOutput, rng, dtype, shared),
    dy: random(ySize, rng, dtype, shared),
    dWeight0: random(weightSize, rng, dtype, shared),
    dBias0: random(s.numOutput, rng, dtype, shared),
    ySize,
  };
}

type Forward = typeof convolutionForwardReference;
type Backward = typeof convolutionBackwardReference;

function runForward(kernel: Forward, o: Operands, withBias = true): FloatArray {
  const y = allocate(o.ySize, { dtype: o.x instanceof Float64Array ? 'float64' : 'float32', shared: true }).fill(NaN);
  kernel(o.x, o.weight, withBias ? o.bias : undefined, y, o.s);
  return y;
}

/** A copy on the same kind of memory (shared ones on the backend's shared storage). */
function copyOf(a: FloatArray): FloatArray {
  const copy = allocate(a.length, { dtype: dtypeOf(a), shared: isShared(a) });
  copy.set(a);
  return copy;
}

function runBackward(kernel: Backward, o: Operands, want: { dx: boolean; dWeight: boolean; dBias: boolean }): ConvolutionGradients {
  const grads: ConvolutionGradients = {
    // dx starts as NaN: it must be overwritten, never added into.
    dx: want.dx ? copyOf(o.x).fill(NaN) : undefined,
    dWeight: want.dWeight ? copyOf(o.dWeight0) : undefined,
    dBias: want.dBias ? copyOf(o.dBias0) : undefined,
  };
  kernel(o.x, o.weight, o.dy, grads, o.s);
  return grads;
}

function expectClose(actual: FloatArray | undefined, expected: FloatArray | undefined, tolerance: number): void {
  expect(actual === undefined).toBe(expected === undefined);
  if (!actual || !expected) return;
  const result = allclose(Tensor.fromArray(actual, [actual.length], { dtype: 'float64' }), Tensor.fromArray(expected, [expected.length], { dtype: 'float64' }), {
    atol: tolerance,
    rtol: tolerance,
  });
  expect(result.ok, result.message).toBe(true);
}

describe('convolution kernels: fast (im2col + sgemm) against the reference loops', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const tolerance = dtype === 'float64' ? 1e-12 : 1e-5;

    it.each(cases.map((c) => [label(c), c] as const))(`forward ${dtype} %s`, (_, c) => {
      const o = operands(c, dtype, 11);
      expectClose(runForward(convolutionForwardFast, o), runForward(convolutionForwardReference, o), tolerance);
    });

    it.each(cases.map((c) => [label(c), c] as const))(`backward ${dtype} (dx written, dW and db added into) %s`, (_, c) => {
      const o = operands(c, dtype, 12);
      const all = { dx: true, dWeight: true, dBias: true };
      const fast = runBackward(convolutionBackwardFast, o, all);
      const reference = runBackward(convolutionBackwardReference, o, all);
      expectClose(fast.dx, reference.dx, tolerance);
      expectClose(fast.dWeight, reference.dWeight, tolerance);
      expectClose(fast.dBias, reference.dBias, tolerance);
    });
  }

  // Shared float32 operands are where each backend's own kernels run: with wasm, on its heap (SIMD im2col and GEMM).
  for (const backend of ['js', 'wasm'] as const) {
    it.each(cases.map((c) => [label(c), c] as const))(`forward and backward, ${backend} backend, shared float32 on 2 threads %s`, (_, c) => {
      const initial = getBackend().name;
      setBackend(backend);
      setThreads(2);
      const im2col = vi.spyOn(im2colWasmKernels.im2col, 'run');
      const col2im = vi.spyOn(im2colWasmKernels.col2im, 'run');
      try {
        const o = operands(c, 'float32', 17, true);
        expectClose(runForward(convolutionForwardFast, o), runForward(convolutionForwardReference, o), 1e-5);
        const all = { dx: true, dWeight: true, dBias: true };
        const fast = runBackward(convolutionBackwardFast, o, all);
        const reference = runBackward(convolutionBackwardReference, o, all);
        expectClose(fast.dx, reference.dx, 1e-5);
        expectClose(fast.dWeight, reference.dWeight, 1e-5);
        expectClose(fast.dBias, reference.dBias, 1e-5);
        const unfolds = !(c.kernel[0] === 1 && c.kernel[1] === 1 && c.stride[0] === 1 && c.stride[1] === 1 && c.pad[0] === 0 && c.pad[1] === 0);
        const depthwise = c.group === c.x[1] && c.group > 1;
        if (backend === 'wasm' && unfolds && !depthwise) {
          expect(im2col.mock.results.some((result) => result.value === true)).toBe(true);
          // Where dx comes from Winograd (a convolution of dy), nothing is folded back.
          expect(col2im.mock.results.some((result) => result.value === true)).toBe(!winogradPaysBackward(shapeOf(c)));
        }
      } finally {
        im2col.mockRestore();
        col2im.mockRestore();
        setBackend(initial);
      }
    });
  }

  it('without a bias term, the forward is the bias-free sum: x=[2,4,7,7] k=3 s=2 p=1 g=2', () => {
    const o = operands(cases.find((c) => c.kernel[0] === 3 && c.stride[0] === 2 && c.pad[0] === 1 && c.group === 2)!, 'float64', 13);
    expectClose(runForward(convolutionForwardFast, o, false), runForward(convolutionForwardReference, o, false), 1e-12);
  });

  it.each([
    { dx: true, dWeight: false, dBias: false },
    { dx: false, dWeight: true, dBias: false },
    { dx: false, dWeight: false, dBias: true },
  ])('computes only the gradients asked for (dx=$dx dW=$dWeight db=$dBias), x=[2,4,7,7] k=3 p=1 g=2', (want) => {
    const c: Case = { x: [2, 4, 7, 7], numOutput: 6, group: 2, kernel: [3, 3], stride: [1, 1], pad: [1, 1], dilation: [1, 1] };
    const o = operands(c, 'float64', 14);
    const fast = runBackward(convolutionBackwardFast, o, want);
    const reference = runBackward(convolutionBackwardReference, o, want);
    expectClose(fast.dx, reference.dx, 1e-12);
    expectClose(fast.dWeight, reference.dWeight, 1e-12);
    expectClose(fast.dBias, reference.dBias, 1e-12);
  });

  it('matches the reference on 2 threads with shared operands used in place: x=[2,32,20,20] o=32 k=3 p=1 g=1', () => {
    setThreads(2);
    const c: Case = { x: [2, 32, 20, 20], numOutput: 32, group: 1, kernel: [3, 3], stride: [1, 1], pad: [1, 1], dilation: [1, 1] };
    const o = operands(c, 'float32', 15, true);
    expectClose(runForward(convolutionForwardFast, o), runForward(convolutionForwardReference, o), 1e-5);
    const all = { dx: true, dWeight: true, dBias: true };
    const fast = runBackward(convolutionBackwardFast, o, all);
    const reference = runBackward(convolutionBackwardReference, o, all);
    expectClose(fast.dx, reference.dx, 1e-5);
    expectClose(fast.dWeight, reference.dWeight, 1e-4);
    expectClose(fast.dBias, reference.dBias, 1e-5);
  });

  it('shares a batch of 3 images out over 2 threads, with and without bias: x=[3,4,9,9] o=6 k=3 s=2 p=1 g=2 (float64)', () => {
    setThreads(2);
    const c: Case = { x: [3, 4, 9, 9], numOutput: 6, group: 2, kernel: [3, 3], stride: [2, 2], pad: [1, 1], dilation: [1, 1] };
    const o = operands(c, 'float64', 16, true);
    expectClose(runForward(convolutionForwardFast, o), runForward(convolutionForwardReference, o), 1e-12);
    expectClose(runForward(convolutionForwardFast, o, false), runForward(convolutionForwardReference, o, false), 1e-12);
  });

  it('counts N * O * outH * outW * (C/g) * kh * kw multiply-adds: CaffeNet conv2 x=[1,96,27,27] o=256 k=5 p=2 g=2 is 223,948,800', () => {
    const s = shapeOf({ x: [1, 96, 27, 27], numOutput: 256, group: 2, kernel: [5, 5], stride: [1, 1], pad: [2, 2], dilation: [1, 1] });
    expect(convolutionMultiplyAdds(s)).toBe(256 * 27 * 27 * 48 * 25);
    expect(convolutionMultiplyAdds(s)).toBe(223_948_800);
  });
});
