import { Rng, Tensor, allclose, allocate, convOutputSize, getBackend, setBackend, setThreads, shutdownPool, ThreadPool, type DType, type FloatArray } from '@cnn/tensor';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Blob } from '../../blob.js';
import { ConvolutionLayer } from '../../layers/convolution.js';
import { checkGradients, randomBlob } from '../../testing/gradient-check.js';
import { convolutionBackwardReference, convolutionForwardReference, type ConvolutionGradients } from '../convolution/reference.js';
import type { ConvolutionShape } from '../convolution/shape.js';
import { depthwiseBackward, depthwiseForward } from './index.js';
import { depthwiseBackwardFast, tapRange } from './fast.js';
import { depthwiseBackwardReference, depthwiseForwardReference } from './reference.js';
import { backwardChannelsWasm, forwardChannelsWasm } from './wasm.js';

const initialBackend = getBackend().name;
afterEach(() => {
  setBackend(initialBackend);
  setThreads(1);
});
afterAll(() => shutdownPool());

/** A depthwise shape: channels = group, numOutput = multiplier * channels, square kernel, stride, pad. */
function shape(num: number, channels: number, height: number, width: number, kernel: number, stride: number, pad: number, multiplier = 1, dilation = 1): ConvolutionShape {
  return {
    num, channels, height, width, numOutput: channels * multiplier, group: channels,
    kernelH: kernel, kernelW: kernel, strideH: stride, strideW: stride, padH: pad, padW: pad, dilationH: dilation, dilationW: dilation,
  };
}

const label = (s: ConvolutionShape): string =>
  `x=[${s.num},${s.channels},${s.height},${s.width}] o=${s.numOutput} k=${s.kernelH}x${s.kernelW} s=${s.strideH}x${s.strideW} p=${s.padH}x${s.padW} d=${s.dilationH}`;

// MobileNet's shapes (3 x 3 stride 1 pad 1, 4 x 4 stride 2 pad 1), odd sizes where the last
// window hangs over the edge, no padding, wide padding, a depth multiplier, dilation, a 1 x 1 filter,
// rows narrower than the filter, and uneven axes.
const cases: ConvolutionShape[] = [];
for (const [kernel, stride, pad] of [[3, 1, 1], [3, 2, 1], [4, 2, 1], [3, 1, 0], [3, 2, 2], [5, 1, 2], [1, 1, 0], [2, 2, 0]] as const) {
  for (const [height, width] of [[7, 7], [8, 5], [2, 9]] as const) {
    if ((height + 2 * pad - kernel) < 0 || (width + 2 * pad - kernel) < 0) continue;
    cases.push(shape(2, 3, height, width, kernel, stride, pad));
  }
}
cases.push(
  shape(1, 4, 6, 6, 3, 1, 1, 2),
  shape(2, 2, 9, 8, 3, 2, 1, 3),
  shape(1, 3, 9, 9, 3, 1, 2, 1, 2),
  { ...shape(2, 5, 7, 10, 3, 1, 1), kernelW: 2, strideW: 2, padW: 0 },
  // Large enough to be shared out over the pool's threads (see 'shares the channels out' below), at batch 1 and 2.
  shape(1, 32, 48, 48, 3, 1, 1),
  shape(4, 16, 48, 48, 4, 2, 1),
);

function random(length: number, rng: Rng, dtype: DType, shared: boolean): FloatArray {
  const a = allocate(length, { dtype, shared });
  for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

interface Operands {
  x: FloatArray;
  weight: FloatArray;
  bias: FloatArray;
  dy: FloatArray;
  dWeight0: FloatArray;
  dBias0: FloatArray;
  ySize: number;
}

function operands(s: ConvolutionShape, dtype: DType, shared: boolean, seed: number): Operands {
  const [outH, outW] = convOutputSize(s);
  const rng = new Rng(seed);
  const ySize = s.num * s.numOutput * outH * outW;
  const weightSize = s.numOutput * s.kernelH * s.kernelW;
  return {
    x: random(s.num * s.channels * s.height * s.width, rng, dtype, shared),
    weight: random(weightSize, rng, dtype, shared),
    bias: random(s.numOutput, rng, dtype, shared),
    dy: random(ySize, rng, dtype, shared),
    dWeight0: random(weightSize, rng, dtype, shared),
    dBias0: random(s.numOutput, rng, dtype, shared),
    ySize,
  };
}

function forward(kernel: typeof depthwiseForwardReference, o: Operands, s: ConvolutionShape, withBias: boolean, dtype: DType, shared: boolean): FloatArray {
  const y = allocate(o.ySize, { dtype, shared }).fill(NaN);
  kernel(o.x, o.weight, withBias ? o.bias : undefined, y, s);
  return y;
}

function copy(a: FloatArray, shared: boolean, fill?: number): FloatArray {
  const b = allocate(a.length, { dtype: a instanceof Float64Array ? 'float64' : 'float32', shared });
  if (fill === undefined) b.set(a);
  else b.fill(fill);
  return b;
}

function backward(kernel: typeof depthwiseBackwardReference, o: Operands, s: ConvolutionShape, shared: boolean): ConvolutionGradients {
  // dx starts as NaN: it must be overwritten, never added into; dW and db start random: they are added into.
  const grads = { dx: copy(o.x, shared, NaN), dWeight: copy(o.dWeight0, shared), dBias: copy(o.dBias0, shared) };
  kernel(o.x, o.weight, o.dy, grads, s);
  return grads;
}

const unclamped = { min: -Infinity, max: Infinity };

/** The activation a fused ReLU or Clip applies: each value clamped to [min, max]. */
function clamped(y: FloatArray, { min, max }: { min: number; max: number }): FloatArray {
  return y.map((v) => Math.min(Math.max(v, min), max));
}

function expectClose(actual: FloatArray | undefined, expected: FloatArray | undefined, tolerance: number, what: string): void {
  const t = (a: FloatArray) => Tensor.fromArray(a, [a.length], { dtype: 'float64' });
  const result = allclose(t(actual!), t(expected!), { atol: tolerance, rtol: tolerance });
  expect(result.ok, `${what}: ${result.message}`).toBe(true);
}

describe('depthwise reference kernels against the general convolution reference', () => {
  it.each(cases.map((s) => [label(s), s] as const))('%s', (_, s) => {
    const o = operands(s, 'float64', false, 1);
    expectClose(forward(depthwiseForwardReference, o, s, true, 'float64', false), forward(convolutionForwardReference, o, s, true, 'float64', false), 1e-12, 'y');
    const depthwise = backward(depthwiseBackwardReference, o, s, false);
    const general = backward(convolutionBackwardReference, o, s, false);
    expectClose(depthwise.dx, general.dx, 1e-12, 'dx');
    expectClose(depthwise.dWeight, general.dWeight, 1e-12, 'dWeight');
    expectClose(depthwise.dBias, general.dBias, 1e-12, 'dBias');
  });
});

describe('depthwise fast kernels against the reference', () => {
  // The backend's kernel from the family's table: float64 always runs the TypeScript loops;
  // shared float32 runs each backend's own kernel (wasm SIMD on its heap).
  const settings = [
    { dtype: 'float64', backend: 'js', threads: 1, shared: false, tolerance: 1e-12 },
    { dtype: 'float64', backend: 'js', threads: 2, shared: true, tolerance: 1e-12 },
    { dtype: 'float32', backend: 'js', threads: 1, shared: true, tolerance: 2e-5 },
    { dtype: 'float32', backend: 'wasm', threads: 1, shared: true, tolerance: 2e-5 },
    { dtype: 'float32', backend: 'wasm', threads: 2, shared: true, tolerance: 2e-5 },
  ] as const;
  for (const { dtype, backend, threads, shared, tolerance } of settings) {
    describe(`${dtype}, ${backend} backend, ${threads} thread(s)`, () => {
      it.each(cases.map((s) => [label(s), s] as const))('forward (with and without bias, clamped) and backward (dx written, dW and db added into) %s', (_, s) => {
        setBackend(backend);
        setThreads(threads);
        const o = operands(s, dtype, shared, 2);
        for (const withBias of [true, false]) {
          expectClose(forward(depthwiseForward, o, s, withBias, dtype, shared), forward(depthwiseForwardReference, o, s, withBias, dtype, false), tolerance, 'y');
        }
        const clamp = { min: 0, max: 0.5 };
        const y = allocate(o.ySize, { dtype, shared }).fill(NaN);
        depthwiseForward(o.x, o.weight, o.bias, y, s, clamp);
        expectClose(y, clamped(forward(depthwiseForwardReference, o, s, true, dtype, false), clamp), tolerance, 'clamped y');
        const fast = backward(depthwiseBackward, o, s, shared);
        const reference = backward(depthwiseBackwardReference, o, s, false);
        expectClose(fast.dx, reference.dx, tolerance, 'dx');
        expectClose(fast.dWeight, reference.dWeight, tolerance * 10, 'dWeight');
        expectClose(fast.dBias, reference.dBias, tolerance, 'dBias');
      });
    });
  }

  it.each([
    { dx: true, dWeight: false, dBias: false },
    { dx: false, dWeight: true, dBias: false },
    { dx: false, dWeight: false, dBias: true },
  ])('computes only the gradients asked for (dx=$dx dW=$dWeight db=$dBias), x=[2,16,48,48] k=3 p=1 on 2 threads', (want) => {
    setThreads(2);
    const s = shape(2, 16, 48, 48, 3, 1, 1);
    const o = operands(s, 'float64', true, 3);
    const given = (a: FloatArray, on: boolean, fill?: number) => (on ? copy(a, true, fill) : undefined);
    const fast = { dx: given(o.x, want.dx, NaN), dWeight: given(o.dWeight0, want.dWeight), dBias: given(o.dBias0, want.dBias) };
    depthwiseBackwardFast(o.x, o.weight, o.dy, fast, s);
    const reference = backward(depthwiseBackwardReference, o, s, false);
    if (want.dx) expectClose(fast.dx, reference.dx, 1e-12, 'dx');
    if (want.dWeight) expectClose(fast.dWeight, reference.dWeight, 1e-12, 'dWeight');
    if (want.dBias) expectClose(fast.dBias, reference.dBias, 1e-12, 'dBias');
  });
});

describe('wasm SIMD depthwise kernels, called directly on every channel', () => {
  it.each(cases.map((s) => [label(s), s] as const))('take float32 arrays on the heap and match the reference: %s', (_, s) => {
    setBackend('wasm');
    const o = operands(s, 'float32', true, 5);
    const y = allocate(o.ySize, { dtype: 'float32', shared: true }).fill(NaN);
    const clamp = { min: -0.5, max: 0.75 };
    expect(forwardChannelsWasm(o.x, o.weight, o.bias, y, s, clamp, 0, s.channels)).toBe(true);
    expectClose(y, clamped(forward(depthwiseForwardReference, o, s, true, 'float32', false), clamp), 2e-5, 'y');
    const grads = { dx: copy(o.x, true, NaN), dWeight: copy(o.dWeight0, true), dBias: copy(o.dBias0, true) };
    expect(backwardChannelsWasm(o.x, o.weight, o.dy, grads, s, 0, s.channels)).toBe(true);
    const reference = backward(depthwiseBackwardReference, o, s, false);
    expectClose(grads.dx, reference.dx, 2e-5, 'dx');
    expectClose(grads.dWeight, reference.dWeight, 2e-4, 'dWeight');
    expectClose(grads.dBias, reference.dBias, 2e-5, 'dBias');
  });

  it('leave float64 arrays, arrays off the heap and the js backend to the TypeScript loops', () => {
    const s = shape(1, 2, 5, 5, 3, 1, 1);
    setBackend('wasm');
    const f64 = operands(s, 'float64', true, 6);
    expect(forwardChannelsWasm(f64.x, f64.weight, undefined, copy(f64.x, true), s, unclamped, 0, 2)).toBe(false);
    const offHeap = operands(s, 'float32', false, 6);
    expect(forwardChannelsWasm(offHeap.x, offHeap.weight, undefined, copy(offHeap.x, false), s, unclamped, 0, 2)).toBe(false);
    setBackend('js');
    const onJs = operands(s, 'float32', true, 6);
    expect(backwardChannelsWasm(onJs.x, onJs.weight, onJs.x, { dx: copy(onJs.x, true) }, s, 0, 2)).toBe(false);
  });
});

describe('depthwise threading', () => {
  it('shares the channels of a batch-1 layer out over 2 threads, forward and backward: x=[1,32,48,48] k=3 p=1', () => {
    setThreads(2);
    const run = vi.spyOn(ThreadPool.prototype, 'run');
    try {
      const s = shape(1, 32, 48, 48, 3, 1, 1);
      const o = operands(s, 'float32', true, 4);
      forward(depthwiseForward, o, s, true, 'float32', true);
      backward(depthwiseBackward, o, s, true);
      expect(run.mock.calls.map((call) => call[4])).toEqual([2, 2]);
    } finally {
      run.mockRestore();
    }
  });
});

describe('tapRange: the outputs whose tap lands inside the row', () => {
  it.each([
    // width 7, stride 1, outW 7 (pad 1, 3 x 3): tap kx = 0 has shift -1 and misses ox = 0; kx = 2 (shift 1) misses ox = 6.
    { shift: -1, stride: 1, width: 7, outW: 7, range: [1, 7] },
    { shift: 1, stride: 1, width: 7, outW: 7, range: [0, 6] },
    // width 8, stride 2, pad 1, 4 x 4: outW 4; shift -1 needs 2 ox - 1 >= 0, so ox >= 1; shift 2 needs 2 ox + 2 <= 7, so ox <= 2.
    { shift: -1, stride: 2, width: 8, outW: 4, range: [1, 4] },
    { shift: 2, stride: 2, width: 8, outW: 4, range: [0, 3] },
    // A tap that never lands: shift 5 on a row of 2.
    { shift: 5, stride: 1, width: 2, outW: 4, range: [0, 0] },
  ])('shift $shift stride $stride width $width -> $range', ({ shift, stride, width, outW, range }) => {
    expect(tapRange(shift, stride, width, outW)).toEqual(range);
  });
});

describe('Convolution layer, depthwise (group = channels): float64 gradient check of input, weight and bias', () => {
  it.each([
    { kernelSize: 3, stride: 1, pad: 1, numOutput: 3 },
    { kernelSize: 4, stride: 2, pad: 1, numOutput: 3 },
    { kernelSize: 3, stride: 2, pad: 0, numOutput: 6 },
  ])('x=[2,3,6,5] k=$kernelSize s=$stride p=$pad o=$numOutput g=3', (params) => {
    const layer = new ConvolutionLayer('dw', {
      ...params, group: 3,
      weightFiller: { type: 'uniform', min: -1, max: 1 }, biasFiller: { type: 'uniform', min: -1, max: 1 },
    });
    const x = randomBlob('x', [2, 3, 6, 5], 5);
    const y = new Blob('y', [], 'float64');
    layer.setup([x], [y], { dtype: 'float64', rng: new Rng(6) });
    layer.reshape([x], [y]);
    const result = checkGradients(layer, [x], [y]);
    expect(result.mismatches, result.report).toEqual([]);
    expect(result.checked).toBe(x.count + layer.params[0]!.count + layer.params[1]!.count);
  });
});
