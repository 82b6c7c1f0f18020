import { Rng, Tensor, allclose, allocate, setThreads, shutdownPool, type DType, type FloatArray } from '@cnn/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import {
  innerProductBackwardFast,
  innerProductBackwardReference,
  innerProductForwardFast,
  innerProductForwardReference,
  type InnerProductGradients,
  type InnerProductShape,
} from './index.js';

afterAll(() => shutdownPool());

const cases: InnerProductShape[] = [];
for (const [m, k, numOutput] of [
  [1, 1, 1],
  [2, 3, 4],
  [5, 17, 3],
  [3, 36, 10],
  [7, 9, 13],
] as const) {
  for (const transpose of [false, true]) cases.push({ m, k, numOutput, transpose });
}
const label = (s: InnerProductShape): string => `x=[${s.m},${s.k}] o=${s.numOutput} transpose=${s.transpose}`;

function random(length: number, rng: Rng, dtype: DType, shared = false): FloatArray {
  const a = allocate(length, { dtype, shared });
  for (let i = 0; i < length; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

function operands(s: InnerProductShape, dtype: DType, seed: number, shared = false) {
  const rng = new Rng(seed);
  return {
    x: random(s.m * s.k, rng, dtype, shared),
    weight: random(s.numOutput * s.k, rng, dtype, shared),
    bias: random(s.numOutput, rng, dtype, shared),
    dy: random(s.m * s.numOutput, rng, dtype, shared),
    dWeight0: random(s.numOutput * s.k, rng, dtype, shared),
    dBias0: random(s.numOutput, rng, dtype, shared),
  };
}
type Operands = ReturnType<typeof operands>;

function runForward(kernel: typeof innerProductForwardReference, o: Operands, s: InnerProductShape, withBias = true): FloatArray {
  const y = allocate(s.m * s.numOutput, { dtype: o.x instanceof Float64Array ? 'float64' : 'float32', shared: true }).fill(NaN);
  kernel(o.x, o.weight, withBias ? o.bias : undefined, y, s);
  return y;
}

function runBackward(
  kernel: typeof innerProductBackwardReference,
  o: Operands,
  s: InnerProductShape,
  want = { dx: true, dWeight: true, dBias: true },
): InnerProductGradients {
  const grads: InnerProductGradients = {
    dx: want.dx ? o.x.slice().fill(NaN) : undefined,
    dWeight: want.dWeight ? o.dWeight0.slice() : undefined,
    dBias: want.dBias ? o.dBias0.slice() : undefined,
  };
  kernel(o.x, o.weight, o.dy, grads, s);
  return grads;
}

function expectClose(actual: FloatArray | undefined, expected: FloatArray | undefined, tolerance: number): void {
  expect(actual === undefined).toBe(expected === undefined);
  if (!actual || !expected) return;
  const asTensor = (a: FloatArray): Tensor => Tensor.fromArray(a, [a.length], { dtype: 'float64' });
  const result = allclose(asTensor(actual), asTensor(expected), { atol: tolerance, rtol: tolerance });
  expect(result.ok, result.message).toBe(true);
}

describe('inner product kernels: fast (sgemm) against the reference loops', () => {
  it('computes y = x W^T + b and its gradients by hand, x=[2,3] o=2, both weight layouts', () => {
    // x = [[1,2,3],[4,5,6]], W = [[1,0,-1],[0.5,0.5,0.5]], b = [1,-1]
    // y[0] = [1 - 3 + 1, 0.5 * 6 - 1] = [-1, 2];  y[1] = [4 - 6 + 1, 0.5 * 15 - 1] = [-1, 6.5]
    // with dy = [[1,0],[0,1]]: dW = dy^T x = [[1,2,3],[4,5,6]], db = [1,1], dx = dy W = W
    const x = Float64Array.of(1, 2, 3, 4, 5, 6);
    const weights = { false: Float64Array.of(1, 0, -1, 0.5, 0.5, 0.5), true: Float64Array.of(1, 0.5, 0, 0.5, -1, 0.5) };
    for (const transpose of [false, true]) {
      const s: InnerProductShape = { m: 2, k: 3, numOutput: 2, transpose };
      const weight = weights[`${transpose}`];
      for (const [forward, backward] of [
        [innerProductForwardReference, innerProductBackwardReference],
        [innerProductForwardFast, innerProductBackwardFast],
      ] as const) {
        const y = new Float64Array(4);
        forward(x, weight, Float64Array.of(1, -1), y, s);
        expect([...y]).toEqual([-1, 2, -1, 6.5]);
        const grads = { dx: new Float64Array(6), dWeight: new Float64Array(6), dBias: new Float64Array(2) };
        backward(x, weight, Float64Array.of(1, 0, 0, 1), grads, s);
        expect([...grads.dWeight]).toEqual(transpose ? [1, 4, 2, 5, 3, 6] : [1, 2, 3, 4, 5, 6]);
        expect([...grads.dBias]).toEqual([1, 1]);
        expect([...grads.dx]).toEqual([1, 0, -1, 0.5, 0.5, 0.5]);
      }
    }
  });

  for (const dtype of ['float64', 'float32'] as const) {
    const tolerance = dtype === 'float64' ? 1e-12 : 1e-5;

    it.each(cases.map((s) => [label(s), s] as const))(`forward ${dtype} %s`, (_, s) => {
      const o = operands(s, dtype, 21);
      expectClose(runForward(innerProductForwardFast, o, s), runForward(innerProductForwardReference, o, s), tolerance);
      expectClose(runForward(innerProductForwardFast, o, s, false), runForward(innerProductForwardReference, o, s, false), tolerance);
    });

    it.each(cases.map((s) => [label(s), s] as const))(`backward ${dtype} (dx written, dW and db added into) %s`, (_, s) => {
      const o = operands(s, dtype, 22);
      const fast = runBackward(innerProductBackwardFast, o, s);
      const reference = runBackward(innerProductBackwardReference, o, s);
      expectClose(fast.dx, reference.dx, tolerance);
      expectClose(fast.dWeight, reference.dWeight, tolerance);
      expectClose(fast.dBias, reference.dBias, tolerance);
    });
  }

  it('computes only the gradients asked for, x=[5,17] o=3', () => {
    const s: InnerProductShape = { m: 5, k: 17, numOutput: 3, transpose: false };
    const o = operands(s, 'float64', 23);
    for (const want of [
      { dx: true, dWeight: false, dBias: false },
      { dx: false, dWeight: true, dBias: false },
      { dx: false, dWeight: false, dBias: true },
    ]) {
      const fast = runBackward(innerProductBackwardFast, o, s, want);
      const reference = runBackward(innerProductBackwardReference, o, s, want);
      expectClose(fast.dx, reference.dx, 1e-12);
      expectClose(fast.dWeight, reference.dWeight, 1e-12);
      expectClose(fast.dBias, reference.dBias, 1e-12);
    }
  });

  it.each([false, true])('matches the reference on 2 threads with shared operands: x=[64,300] o=200 transpose=%s', (transpose) => {
    setThreads(2);
    const s: InnerProductShape = { m: 64, k: 300, numOutput: 200, transpose };
    const o = operands(s, 'float32', 24, true);
    expectClose(runForward(innerProductForwardFast, o, s), runForward(innerProductForwardReference, o, s), 1e-5);
    const fast = runBackward(innerProductBackwardFast, o, s);
    const reference = runBackward(innerProductBackwardReference, o, s);
    expectClose(fast.dx, reference.dx, 1e-5);
    expectClose(fast.dWeight, reference.dWeight, 1e-5);
    expectClose(fast.dBias, reference.dBias, 1e-5);
  });
});
