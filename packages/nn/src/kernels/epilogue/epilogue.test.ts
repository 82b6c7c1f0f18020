import { allocate, getBackend, isOnWasmHeap, setBackend, type DType } from '@cnn/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { biasClampPlanes } from './index.js';

const initialBackend = getBackend().name;
afterEach(() => setBackend(initialBackend));

/** planes x planeSize values from y[start] (the rest NaN): plane o's value i is (o - 1) * 1.5 + i * 0.25 - 1. */
function planes(dtype: DType, start: number, count: number, planeSize: number): Float32Array | Float64Array {
  const y = allocate(start + count * planeSize + 3, { dtype, shared: true }).fill(NaN);
  for (let o = 0; o < count; o++) for (let i = 0; i < planeSize; i++) y[start + o * planeSize + i] = (o - 1) * 1.5 + i * 0.25 - 1;
  return y;
}

describe('convolution epilogue: y = min(max(y + bias[o], min), max) per plane', () => {
  // 7-float planes (a vector of four and three floats each), from an odd offset.
  for (const [backend, dtype] of [['wasm', 'float32'], ['js', 'float32'], ['wasm', 'float64']] as const) {
    it.each([
      { bias: true, min: 0, max: 6, what: 'ReLU6' },
      { bias: true, min: 0, max: Infinity, what: 'ReLU' },
      { bias: true, min: -Infinity, max: Infinity, what: 'bias only' },
      { bias: false, min: 0, max: 0.5, what: 'Clip without bias' },
    ])(`$what, ${backend} backend, ${dtype}: by hand, leaving the floats around the planes alone`, ({ bias, min, max }) => {
      setBackend(backend);
      const [start, count, planeSize] = [5, 3, 7];
      const y = planes(dtype, start, count, planeSize);
      const b = allocate(count, { dtype, shared: true });
      b.set([0.5, -2, 3]);
      if (backend === 'wasm' && dtype === 'float32') expect(isOnWasmHeap(y)).toBe(true);
      biasClampPlanes(y, start, count, planeSize, bias ? b : undefined, min, max);
      for (let i = 0; i < y.length; i++) {
        const o = Math.floor((i - start) / planeSize);
        if (i < start || o >= count) {
          expect(y[i]).toBeNaN();
          continue;
        }
        const value = (o - 1) * 1.5 + ((i - start) % planeSize) * 0.25 - 1 + (bias ? [0.5, -2, 3][o]! : 0);
        expect(y[i], `index ${i}`).toBe(Math.min(Math.max(value, min), max));
      }
    });
  }
});
