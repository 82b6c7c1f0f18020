import { describe, expect, it } from 'vitest';
import { bootstrapAucCI, macroAuc, oneVsRestRoc, rocCurve, sensitivitySpecificity } from './roc.js';

describe('rocCurve', () => {
  it('scores 0.9 0.8 0.7 0.6 for + - + -: the curve by hand and AUC = 3 of 4 positive-negative pairs ordered right', () => {
    const curve = rocCurve([0.9, 0.8, 0.7, 0.6], [true, false, true, false]);
    expect(curve.fpr).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(curve.tpr).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(curve.auc).toBe(0.75);
  });

  it('counts a tie between a positive and a negative as one half (the Mann-Whitney statistic)', () => {
    // Pairs: (0.5+, 0.5-) tie = 1/2, (0.5+, 0.2-) = 1, (0.9+, both) = 2: 3.5 of 4.
    expect(rocCurve([0.9, 0.5, 0.5, 0.2], [true, true, false, false]).auc).toBe(0.875);
    expect(rocCurve([1, 1, 1, 1], [true, false, true, false]).auc).toBe(0.5);
  });

  it('has no AUC without positives or without negatives', () => {
    expect(rocCurve([0.1, 0.2], [false, false]).auc).toBeNaN();
    expect(macroAuc([{ auc: NaN }, { auc: 0.5 }, { auc: 1 }])).toBe(0.75);
  });
});

describe('one class against the rest', () => {
  // 3 images x 3 classes; rows sum to 1.
  const probabilities = [0.7, 0.2, 0.1, 0.3, 0.4, 0.3, 0.5, 0.1, 0.4];
  const labels = [0, 1, 2];

  it('gives each class the AUC of its own column', () => {
    const curves = oneVsRestRoc(probabilities, labels, 3);
    // class 0: positive 0.7 above negatives 0.3 and 0.5; class 1: 0.4 above 0.2 and 0.1; class 2: 0.4 above 0.1 and 0.3.
    expect(curves.map((c) => c.auc)).toEqual([1, 1, 1]);
    expect(oneVsRestRoc(probabilities, [2, 1, 0], 3).map((c) => c.auc)).toEqual([0.5, 1, 0]);
  });

  it('bootstraps the macro AUC over studies: one study per image, all classes perfect, a point interval at 1', () => {
    expect(bootstrapAucCI(probabilities, labels, 3, ['a', 'b', 'c'], { seed: 1, resamples: 200 })).toEqual([1, 1]);
  });

  it('sensitivity and specificity from a confusion matrix, by hand', () => {
    // rows true, columns predicted
    const rates = sensitivitySpecificity([
      [8, 2],
      [1, 9],
    ]);
    expect(rates[0]).toEqual({ sensitivity: 0.8, specificity: 0.9 });
    expect(rates[1]).toEqual({ sensitivity: 0.9, specificity: 0.8 });
  });
});
