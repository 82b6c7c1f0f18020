import { Rng, allocateFloat32, backendNames, getBackend, isOnWasmHeap, setBackend } from '@cnn/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { reluBackward, reluBackwardFast, reluBackwardReference, reluForward, reluForwardFast, reluForwardReference } from './index.js';

/** `n` floats in [-1, 1), seeded, on shared memory (the wasm heap, with the wasm backend) or not. */
function values(n: number, seed: number, shared: boolean): Float32Array {
  const array = allocateFloat32(n, shared);
  const rng = new Rng(seed);
  for (let i = 0; i < n; i++) array[i] = rng.uniform(-1, 1);
  return array;
}

describe('ReLU kernels', () => {
  const initial = getBackend().name;
  afterAll(() => setBackend(initial));

  // Counts around the four-lane groups; slopes exactly representable in float32, so every kernel gives the same bits.
  const cases = [0, 1, 3, 4, 5, 8, 11, 1001].flatMap((count) => [0, 0.25].map((slope) => ({ count, slope })));

  it.each(backendNames.flatMap((backend) => cases.map((c) => ({ ...c, backend }))))(
    '$backend: forward and backward over $count elements, slope $slope, as the reference, in place or not',
    ({ backend, count, slope }) => {
      setBackend(backend);
      const onHeap = backend === 'wasm';
      const x = values(count + 1, 2, onHeap);
      expect(isOnWasmHeap(x)).toBe(onHeap);
      x[0] = -0;
      const expectedY = new Float32Array(count + 1).fill(9);
      reluForwardReference(x, expectedY, count, slope);
      const y = (onHeap ? allocateFloat32(count + 1, true) : new Float32Array(count + 1)).fill(9);
      reluForward(x, y, count, slope);
      // Signed zeros aside (the branch-free kernels give +0 where the reference gives slope * -x = -0).
      for (let i = 0; i < count; i++) expect(y[i]! + 0).toBe(expectedY[i]! + 0);
      expect(y[count]).toBe(9); // nothing written past the end

      const dy = values(count + 1, 3, onHeap);
      const expectedDx = new Float32Array(count + 1).fill(9);
      reluBackwardReference(y, dy, expectedDx, count, slope);
      const dx = (onHeap ? allocateFloat32(count + 1, true) : new Float32Array(count + 1)).fill(9);
      reluBackward(y, dy, dx, count, slope);
      for (let i = 0; i <= count; i++) expect(dx[i]! + 0).toBe(expectedDx[i]! + 0);

      const last = x[count];
      reluForward(x, x, count, slope);
      for (let i = 0; i < count; i++) expect(x[i]).toBe(y[i]);
      expect(x[count]).toBe(last);
    },
  );

  it('wasm: arrays off the heap get the TypeScript kernel', () => {
    setBackend('wasm');
    const x = values(9, 4, false);
    const y = new Float32Array(9);
    reluForward(x, y, 9, 0.25);
    const expected = new Float32Array(9);
    reluForwardFast(x, expected, 9, 0.25);
    expect(y).toEqual(expected);
    const dx = new Float32Array(9);
    reluBackward(y, x, dx, 9, 0.25);
    const expectedDx = new Float32Array(9);
    reluBackwardFast(y, x, expectedDx, 9, 0.25);
    expect(dx).toEqual(expectedDx);
  });
});
