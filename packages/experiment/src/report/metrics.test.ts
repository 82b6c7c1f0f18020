import { describe, expect, it } from 'vitest';
import {
  accuracy,
  accuracyFromConfusion,
  bootstrapAccuracyCI,
  confusionMatrix,
  macroAverage,
  mcnemarExactP,
  perClassMetrics,
  quantileSorted,
  readerComparison,
} from './metrics.js';

// true  0 0 1 1 2 2
// pred  0 1 1 1 0 0
const TRUE = [0, 0, 1, 1, 2, 2];
const PRED = [0, 1, 1, 1, 0, 0];

describe('confusionMatrix', () => {
  it('counts rows = true class, columns = predicted class (6 items, 3 classes, by hand)', () => {
    expect(confusionMatrix(TRUE, PRED, 3)).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [2, 0, 0],
    ]);
  });

  it('rejects labels outside the classes and arrays of different length', () => {
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(/true label 3 at index 1/);
    expect(() => confusionMatrix([0], [1.5], 3)).toThrow(/predicted label 1.5/);
    expect(() => confusionMatrix([0, 1], [0], 3)).toThrow(/differ in length/);
  });
});

describe('perClassMetrics', () => {
  it('gives precision, recall, F1 and support by hand, 0/0 as 0 for a never-predicted class', () => {
    const scores = perClassMetrics(confusionMatrix(TRUE, PRED, 3));
    // class 0: 1 right of 3 predicted, of 2 true; F1 = 2 (1/3)(1/2) / (5/6) = 2/5
    expect(scores[0]!.precision).toBeCloseTo(1 / 3, 12);
    expect(scores[0]!.recall).toBeCloseTo(1 / 2, 12);
    expect(scores[0]!.f1).toBeCloseTo(2 / 5, 12);
    // class 1: 2 right of 3 predicted, of 2 true; F1 = 2 (2/3)(1) / (5/3) = 4/5
    expect(scores[1]!.precision).toBeCloseTo(2 / 3, 12);
    expect(scores[1]!.recall).toBe(1);
    expect(scores[1]!.f1).toBeCloseTo(4 / 5, 12);
    // class 2: never predicted -> precision 0/0 = 0; recall 0/2; F1 with P + R = 0 -> 0
    expect(scores[2]).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
    expect(scores.map((s) => s.support)).toEqual([2, 2, 2]);
  });

  it('gives a class absent from the test set recall 0/0 = 0 and support 0', () => {
    const scores = perClassMetrics(confusionMatrix([0, 1], [0, 1], 3));
    expect(scores[2]).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(scores[0]).toEqual({ precision: 1, recall: 1, f1: 1, support: 1 });
  });

  it('macro-averages over classes without weighting', () => {
    const macro = macroAverage(perClassMetrics(confusionMatrix(TRUE, PRED, 3)));
    expect(macro.precision).toBeCloseTo((1 / 3 + 2 / 3 + 0) / 3, 12);
    expect(macro.recall).toBeCloseTo((1 / 2 + 1 + 0) / 3, 12);
    expect(macro.f1).toBeCloseTo((2 / 5 + 4 / 5 + 0) / 3, 12);
  });

  it('rejects a non-square matrix', () => {
    expect(() => perClassMetrics([[1, 2], [3]])).toThrow(/square/);
  });
});

describe('accuracy', () => {
  it('is the share of matching labels, and trace / total of the confusion matrix', () => {
    expect(accuracy(TRUE, PRED)).toBe(0.5);
    expect(accuracyFromConfusion(confusionMatrix(TRUE, PRED, 3))).toBe(0.5);
  });

  it('refuses to define the accuracy of nothing', () => {
    expect(() => accuracy([], [])).toThrow(/no items/);
    expect(() => accuracyFromConfusion([[0]])).toThrow(/empty/);
  });
});

describe('quantileSorted', () => {
  it('interpolates linearly between order statistics (type 7)', () => {
    expect(quantileSorted([1, 2, 3, 4], 0)).toBe(1);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([10, 20], 0.25)).toBe(12.5);
  });
});

/** `perStudy[s]` = [right, total] of study s, expanded to per-image arrays. */
function expand(perStudy: [number, number][]): { correct: boolean[]; studies: string[] } {
  const correct: boolean[] = [];
  const studies: string[] = [];
  perStudy.forEach(([right, total], s) => {
    for (let i = 0; i < total; i++) {
      correct.push(i < right);
      studies.push(`study-${s}`);
    }
  });
  return { correct, studies };
}

describe('bootstrapAccuracyCI', () => {
  const accuracies = [0.5, 0.9, 0.7, 0.8, 1.0, 0.6];

  it('is deterministic for a seed and changes with the seed', () => {
    // Studies of different sizes, so the resampled accuracies take many values.
    const { correct, studies } = expand(Array.from({ length: 25 }, (_, s) => [(s * 7) % 11, 11 + (s % 5)] as [number, number]));
    const a = bootstrapAccuracyCI(correct, studies, { seed: 7 });
    const b = bootstrapAccuracyCI(correct, studies, { seed: 7 });
    const c = bootstrapAccuracyCI(correct, studies, { seed: 8 });
    expect(a).toEqual(b);
    expect([c.low, c.high]).not.toEqual([a.low, a.high]);
  });

  it('contains the point estimate, which is right / total', () => {
    const { correct, studies } = expand(accuracies.map((a) => [Math.round(a * 20), 20]));
    const ci = bootstrapAccuracyCI(correct, studies, { seed: 1 });
    expect(ci.estimate).toBeCloseTo((10 + 18 + 14 + 16 + 20 + 12) / 120, 12);
    expect(ci.low).toBeLessThan(ci.estimate);
    expect(ci.high).toBeGreaterThan(ci.estimate);
    expect(ci.studies).toBe(6);
    expect(ci.resamples).toBe(2000);
    expect(ci.level).toBe(0.95);
  });

  it('gives [1, 1] when every image is right, and a point for a single study', () => {
    const all = bootstrapAccuracyCI(new Array(50).fill(true), Array.from({ length: 50 }, (_, i) => `s${i % 7}`), { seed: 3 });
    expect([all.low, all.high]).toEqual([1, 1]);
    const one = bootstrapAccuracyCI([true, false, true, true], ['a', 'a', 'a', 'a'], { seed: 3 });
    expect([one.low, one.high]).toEqual([0.75, 0.75]);
  });

  it('is wider with fewer studies for the same images and the same per-study spread', () => {
    // 600 images either way: 6 studies of 100, or 60 studies of 10, with the same accuracies repeating.
    const few = expand(accuracies.map((a) => [Math.round(a * 100), 100]));
    const many = expand(Array.from({ length: 60 }, (_, s) => [Math.round(accuracies[s % 6]! * 10), 10] as [number, number]));
    const a = bootstrapAccuracyCI(few.correct, few.studies, { seed: 11 });
    const b = bootstrapAccuracyCI(many.correct, many.studies, { seed: 11 });
    expect(a.estimate).toBeCloseTo(b.estimate, 2);
    expect(a.high - a.low).toBeGreaterThan(2 * (b.high - b.low));
  });

  it('matches the normal approximation of a binomial when every image is its own study', () => {
    // 320 of 400 right: sqrt(0.8 * 0.2 / 400) = 0.02, so about 0.8 -/+ 1.96 * 0.02.
    const correct = Array.from({ length: 400 }, (_, i) => i % 5 !== 0);
    const ci = bootstrapAccuracyCI(correct, correct.map((_, i) => `s${i}`), { seed: 5, resamples: 4000 });
    expect(ci.low).toBeCloseTo(0.8 - 1.96 * 0.02, 2);
    expect(ci.high).toBeCloseTo(0.8 + 1.96 * 0.02, 2);
  });

  it('narrows with a lower level', () => {
    const { correct, studies } = expand(accuracies.map((a) => [Math.round(a * 20), 20]));
    const wide = bootstrapAccuracyCI(correct, studies, { seed: 2, level: 0.95 });
    const narrow = bootstrapAccuracyCI(correct, studies, { seed: 2, level: 0.5 });
    expect(narrow.high - narrow.low).toBeLessThan(wide.high - wide.low);
  });

  it('rejects bad arguments', () => {
    expect(() => bootstrapAccuracyCI([], [], { seed: 1 })).toThrow(/no items/);
    expect(() => bootstrapAccuracyCI([true], ['a', 'b'], { seed: 1 })).toThrow(/differ in length/);
    expect(() => bootstrapAccuracyCI([true], ['a'], { seed: 1, level: 95 })).toThrow(/level/);
  });
});

describe('readerComparison', () => {
  it('counts the four Venn cells and both accuracies by hand', () => {
    const net = [true, true, false, false, true];
    const reader = [true, false, true, false, false];
    expect(readerComparison(net, reader)).toEqual({
      bothRight: 1,
      networkOnly: 2,
      readerOnly: 1,
      neither: 1,
      readerAccuracy: 2 / 5,
      networkAccuracy: 3 / 5,
      mcnemarP: 1, // 2 P[Bin(3, 1/2) <= 1] = 2 * 4/8
    });
  });

  it('gives the exact McNemar p-value', () => {
    expect(mcnemarExactP(0, 0)).toBe(1);
    expect(mcnemarExactP(10, 0)).toBeCloseTo(2 / 1024, 15);
    // 2 * (1 + 12 + 66) / 4096 for 12 discordant cases split 2 / 10
    expect(mcnemarExactP(2, 10)).toBeCloseTo((2 * 79) / 4096, 15);
    expect(mcnemarExactP(10, 2)).toBeCloseTo((2 * 79) / 4096, 15);
    // Large counts stay finite (0.5^m underflows past m = 1074).
    expect(mcnemarExactP(600, 600)).toBeGreaterThan(0.9);
  });
});
