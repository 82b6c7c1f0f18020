import { describe, expect, it } from 'vitest';
import { Rng } from '@cnn/tensor';
import { conditionalProbabilities, tsne } from './tsne.js';
import { jacobiEigen, pcaScores, topEigen } from './pca.js';

/** `perCluster` points around each of `k` centres in `d` dimensions, centres `separation` apart in scale, unit noise. */
function clusters(k: number, perCluster: number, d: number, separation: number, seed: number): { data: Float64Array; labels: number[] } {
  const rng = new Rng(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => rng.normal(0, separation)));
  const data = new Float64Array(k * perCluster * d);
  const labels: number[] = [];
  for (let i = 0; i < k * perCluster; i++) {
    const c = i % k; // interleaved, so no test passes by input order alone
    labels.push(c);
    for (let t = 0; t < d; t++) data[i * d + t] = centres[c]![t]! + rng.normal();
  }
  return { data, labels };
}

/** Share of points whose nearest other point in the 2-D map has the same class. */
function nearestNeighbourAgreement(embedding: Float64Array, labels: number[]): number {
  const n = labels.length;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestDist = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dist = (embedding[2 * i]! - embedding[2 * j]!) ** 2 + (embedding[2 * i + 1]! - embedding[2 * j + 1]!) ** 2;
      if (dist < bestDist) {
        bestDist = dist;
        best = j;
      }
    }
    if (labels[best] === labels[i]) agree++;
  }
  return agree / n;
}

describe('conditionalProbabilities', () => {
  it('calibrates a row to the perplexity: entropy = ln(perplexity), probabilities sum to 1 and fall with distance', () => {
    const rng = new Rng(4);
    const distances = Array.from({ length: 200 }, () => rng.uniform(0, 50));
    for (const perplexity of [5, 30, 60]) {
      const p = conditionalProbabilities(distances, perplexity);
      const sum = p.reduce((a, b) => a + b, 0);
      const entropy = -p.reduce((h, v) => (v > 0 ? h + v * Math.log(v) : h), 0);
      expect(sum).toBeCloseTo(1, 12);
      expect(entropy).toBeCloseTo(Math.log(perplexity), 4);
      const nearest = distances.indexOf(Math.min(...distances));
      const farthest = distances.indexOf(Math.max(...distances));
      expect(p[nearest]!).toBeGreaterThan(p[farthest]!);
    }
  });

  it('copes with huge distances (4096-d features) that would underflow exp without the shift', () => {
    const distances = [1e6, 1e6 + 10, 1e6 + 20, 1e6 + 40, 1e6 + 80, 1e6 + 160, 1e6 + 320];
    const p = conditionalProbabilities(distances, 2);
    expect(p.every((v) => Number.isFinite(v))).toBe(true);
    const entropy = -p.reduce((h, v) => (v > 0 ? h + v * Math.log(v) : h), 0);
    expect(entropy).toBeCloseTo(Math.log(2), 4);
  });
});

describe('tsne', () => {
  it('separates 3 well-separated Gaussian clusters in 50-D (nearest-neighbour class agreement > 0.95)', () => {
    const { data, labels } = clusters(3, 40, 50, 3, 1);
    const result = tsne(data, 120, 50, { seed: 1 });
    expect(result.embedding).toHaveLength(240);
    expect(result.inputDims).toBe(50);
    expect(result.perplexity).toBe(30);
    expect(nearestNeighbourAgreement(result.embedding, labels)).toBeGreaterThan(0.95);
    expect(result.klDivergence).toBeGreaterThan(0);
    expect(result.klDivergence).toBeLessThan(2);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const { data } = clusters(3, 15, 10, 3, 2);
    const options = { seed: 5, iterations: 300 };
    const a = tsne(data, 45, 10, options);
    const b = tsne(data, 45, 10, options);
    const c = tsne(data, 45, 10, { ...options, seed: 6 });
    expect(Array.from(a.embedding)).toEqual(Array.from(b.embedding));
    expect(Array.from(c.embedding)).not.toEqual(Array.from(a.embedding));
  });

  it('reduces high-dimensional input by PCA to 50 dimensions first and still separates the clusters', () => {
    const { data, labels } = clusters(4, 25, 300, 2, 3);
    const result = tsne(data, 100, 300, { seed: 2 });
    expect(result.inputDims).toBe(50);
    expect(nearestNeighbourAgreement(result.embedding, labels)).toBeGreaterThan(0.95);
    const raw = tsne(data, 100, 300, { seed: 2, pcaDims: null, iterations: 500 });
    expect(raw.inputDims).toBe(300);
    expect(nearestNeighbourAgreement(raw.embedding, labels)).toBeGreaterThan(0.95);
  });

  it('caps the perplexity at (n - 1) / 3 for few points and handles n = 1 and 2', () => {
    const { data } = clusters(2, 5, 4, 3, 4);
    expect(tsne(data, 10, 4, { seed: 1, iterations: 50 }).perplexity).toBe(3);
    expect(Array.from(tsne([1, 2, 3], 1, 3, { seed: 1 }).embedding)).toEqual([0, 0]);
    const two = tsne([0, 0, 1, 1], 2, 2, { seed: 1, iterations: 50 }).embedding;
    expect(two.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('reports progress and rejects bad input', () => {
    const calls: number[] = [];
    tsne(new Float64Array(20 * 3).map((_, i) => i % 7), 20, 3, { seed: 1, iterations: 120, onProgress: (i) => calls.push(i) });
    expect(calls).toEqual([50, 100, 120]);
    expect(() => tsne([1, 2, 3], 2, 2, { seed: 1 })).toThrow(/expected n \* d/);
    expect(() => tsne([1, Number.NaN], 1, 2, { seed: 1 })).toThrow(/not finite/);
  });
});

describe('PCA helpers', () => {
  it('jacobiEigen finds the eigenpairs of a 3 x 3 matrix by hand: [[2,1,0],[1,2,0],[0,0,5]] -> 5, 3, 1', () => {
    const { values, vectors } = jacobiEigen(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]), 3);
    expect(Array.from(values).sort((a, b) => b - a).map((v) => Number(v.toFixed(10)))).toEqual([5, 3, 1]);
    // Each column v satisfies A v = lambda v.
    const a = [[2, 1, 0], [1, 2, 0], [0, 0, 5]];
    for (let c = 0; c < 3; c++) {
      for (let r = 0; r < 3; r++) {
        const av = a[r]!.reduce((s, arj, j) => s + arj * vectors[j * 3 + c]!, 0);
        expect(av).toBeCloseTo(values[c]! * vectors[r * 3 + c]!, 10);
      }
    }
  });

  it('topEigen returns the largest eigenvalues of a diagonal matrix in order', () => {
    const m = 30;
    const a = new Float64Array(m * m);
    for (let i = 0; i < m; i++) a[i * m + i] = (i * 7) % m; // a permutation of 0..29 on the diagonal
    const { values } = topEigen(a, m, 4, 1, 100);
    expect(Array.from(values).map((v) => Number(v.toFixed(6)))).toEqual([29, 28, 27, 26]);
  });

  it('pcaScores recovers the dominant directions on both paths (n <= d via X X^T, n > d via X^T X)', () => {
    for (const [n, d] of [[60, 200], [300, 12]] as const) {
      const rng = new Rng(n);
      const u1 = Array.from({ length: d }, () => rng.normal());
      const u2 = Array.from({ length: d }, () => rng.normal());
      const a = Array.from({ length: n }, () => rng.normal(0, 10));
      const b = Array.from({ length: n }, () => rng.normal(0, 3));
      const data = new Float64Array(n * d);
      for (let i = 0; i < n; i++) for (let t = 0; t < d; t++) data[i * d + t] = a[i]! * u1[t]! + b[i]! * u2[t]! + rng.normal(0, 0.01) + 5;
      const scores = pcaScores(data, n, d, 2);
      expect(Math.abs(correlation(Array.from({ length: n }, (_, i) => scores[2 * i]!), a))).toBeGreaterThan(0.99);
      const first = Array.from({ length: n }, (_, i) => scores[2 * i]!);
      const second = Array.from({ length: n }, (_, i) => scores[2 * i + 1]!);
      // Scores are centred and the first component carries more variance.
      expect(Math.abs(first.reduce((s, v) => s + v, 0) / n)).toBeLessThan(1e-8 * Math.max(...first.map(Math.abs)));
      expect(variance(first)).toBeGreaterThan(variance(second));
    }
  });
});

function variance(x: number[]): number {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  return x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
}

function correlation(x: number[], y: number[]): number {
  const mx = x.reduce((s, v) => s + v, 0) / x.length;
  const my = y.reduce((s, v) => s + v, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}
