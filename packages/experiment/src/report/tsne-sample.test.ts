import { describe, expect, it } from 'vitest';
import { sampleIndices, TSNE_MAX_POINTS } from './tsne.js';

describe('sampleIndices (the t-SNE sample of a large training set)', () => {
  it('keeps every row, in order, up to the cap', () => {
    expect(sampleIndices(5, 5, 1)).toEqual([0, 1, 2, 3, 4]);
    expect(sampleIndices(3, TSNE_MAX_POINTS, 1)).toEqual([0, 1, 2]);
  });

  it('draws count distinct rows in increasing order, the same for a seed and another for another seed', () => {
    const a = sampleIndices(30_000, 1000, 7);
    expect(a).toHaveLength(1000);
    expect(new Set(a).size).toBe(1000);
    expect(a.every((row, i) => row >= 0 && row < 30_000 && (i === 0 || row > a[i - 1]!))).toBe(true);
    expect(sampleIndices(30_000, 1000, 7)).toEqual(a);
    expect(sampleIndices(30_000, 1000, 8)).not.toEqual(a);
    // Spread over the whole range, not the first rows: about a third of the sample in each third.
    const thirds = [0, 1, 2].map((t) => a.filter((row) => Math.floor(row / 10_000) === t).length);
    expect(Math.min(...thirds)).toBeGreaterThan(250);
  });
});
