import { describe, expect, it } from 'vitest';
import { Rng, Tensor, fanNumber, fill, setThreads } from './index.js';

function stats(data: ArrayLike<number>): { mean: number; variance: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    sum += data[i]!;
    min = Math.min(min, data[i]!);
    max = Math.max(max, data[i]!);
  }
  const mean = sum / data.length;
  let squares = 0;
  for (let i = 0; i < data.length; i++) squares += (data[i]! - mean) ** 2;
  return { mean, variance: squares / data.length, min, max };
}

describe('Rng', () => {
  it('repeats for a seed and differs between seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const first = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(first);
    expect(c.next()).not.toBe(first[0]);
  });

  it('draws uniform and normal numbers with the right moments', () => {
    const rng = new Rng(1);
    const uniform = Array.from({ length: 100_000 }, () => rng.next());
    const u = stats(uniform);
    expect(u.min).toBeGreaterThanOrEqual(0);
    expect(u.max).toBeLessThan(1);
    expect(u.mean).toBeCloseTo(0.5, 2);
    expect(u.variance).toBeCloseTo(1 / 12, 2);
    const normal = Array.from({ length: 100_000 }, () => rng.normal(3, 2));
    const n = stats(normal);
    expect(n.mean).toBeCloseTo(3, 1);
    expect(Math.sqrt(n.variance)).toBeCloseTo(2, 1);
  });
});

describe('Caffe fillers', () => {
  const convWeight = [96, 3, 11, 11];

  it('takes fan-in as count / shape[0] and fan-out as count / shape[1], as Caffe does', () => {
    expect(fanNumber(convWeight, 'FAN_IN')).toBe(3 * 11 * 11);
    expect(fanNumber(convWeight, 'FAN_OUT')).toBe(96 * 11 * 11);
    expect(fanNumber(convWeight, 'AVERAGE')).toBe((363 + 11616) / 2);
    expect(fanNumber([4096, 9216], 'FAN_IN')).toBe(9216);
  });

  it('xavier draws U(-sqrt(3/n), sqrt(3/n))', () => {
    const w = Tensor.zeros(convWeight);
    fill(w, { type: 'xavier' }, new Rng(3));
    const scale = Math.sqrt(3 / 363);
    const s = stats(w.data);
    expect(s.min).toBeGreaterThanOrEqual(-scale);
    expect(s.max).toBeLessThanOrEqual(scale);
    expect(s.max).toBeGreaterThan(0.99 * scale);
    expect(s.variance).toBeCloseTo(scale * scale / 3, 4);
  });

  it('msra draws N(0, 2/n), here with n = fan-out', () => {
    const w = Tensor.zeros(convWeight);
    fill(w, { type: 'msra', varianceNorm: 'FAN_OUT' }, new Rng(3));
    const s = stats(w.data);
    expect(s.mean).toBeCloseTo(0, 3);
    expect(s.variance / (2 / 11616)).toBeCloseTo(1, 1);
  });

  it('gaussian, uniform and constant follow their parameters', () => {
    const g = Tensor.zeros([200, 100]);
    fill(g, { type: 'gaussian', std: 0.01 }, new Rng(5));
    expect(Math.sqrt(stats(g.data).variance)).toBeCloseTo(0.01, 3);
    const u = Tensor.zeros([1000]);
    fill(u, { type: 'uniform', min: 2, max: 4 }, new Rng(5));
    expect(stats(u.data).min).toBeGreaterThanOrEqual(2);
    expect(stats(u.data).max).toBeLessThan(4);
    const c = Tensor.zeros([3]);
    fill(c, { type: 'constant', value: 0.1 }, new Rng(5));
    expect([...c.data]).toEqual([0.1, 0.1, 0.1].map(Math.fround));
  });

  it('gives the same numbers for the same seed whatever the thread count', () => {
    const draw = (threads: number): number[] => {
      setThreads(threads);
      const w = Tensor.zeros([16, 8, 3, 3]);
      fill(w, { type: 'msra' }, new Rng(11));
      return [...w.data];
    };
    expect(draw(1)).toEqual(draw(2));
  });
});
