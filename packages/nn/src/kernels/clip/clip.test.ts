import { Rng, allocateFloat32, backendNames, getBackend, isOnWasmHeap, setBackend } from '@cnn/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { clipBackward, clipBackwardReference } from './index.js';

describe("Clip's backward from its output", () => {
  const initial = getBackend().name;
  afterAll(() => setBackend(initial));

  it('the reference, by hand: the gradient passes strictly inside the bounds only', () => {
    const y = Float32Array.from([0, 0.5, 6, 3, 6.5, -1]);
    const dy = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const dx = new Float32Array(6);
    clipBackwardReference(y, dy, dx, 6, 0, 6);
    expect(Array.from(dx)).toEqual([0, 2, 0, 4, 0, 0]);
  });

  // Counts around the four-lane groups; outputs of a ReLU6 (many exactly 0 or 6) and bounds [-0.5, 0.25].
  const cases = [0, 1, 3, 4, 5, 8, 11, 1001].flatMap((count) => [[0, 6], [-0.5, 0.25]].map(([min, max]) => ({ count, min: min!, max: max! })));

  it.each(backendNames.flatMap((backend) => cases.map((c) => ({ ...c, backend }))))(
    '$backend: $count elements in [$min, $max] as the reference, nothing written past them',
    ({ backend, count, min, max }) => {
      setBackend(backend);
      const onHeap = backend === 'wasm';
      const rng = new Rng(count + 7);
      const y = allocateFloat32(count + 1, onHeap);
      const dy = allocateFloat32(count + 1, onHeap);
      expect(isOnWasmHeap(y)).toBe(onHeap);
      for (let i = 0; i <= count; i++) {
        y[i] = Math.min(Math.max(rng.uniform(-2, 8), min), max);
        dy[i] = rng.uniform(-1, 1);
      }
      const expected = new Float32Array(count + 1).fill(9);
      clipBackwardReference(y, dy, expected, count, min, max);
      const dx = allocateFloat32(count + 1, onHeap).fill(9);
      clipBackward(y, dy, dx, count, min, max);
      for (let i = 0; i < count; i++) expect(dx[i]! + 0, `index ${i}`).toBe(expected[i]! + 0);
      expect(dx[count]).toBe(9);
    },
  );
});
