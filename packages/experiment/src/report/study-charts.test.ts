import { describe, expect, it } from 'vitest';
import { learningCurveChart, rocChart } from './study-charts.js';

describe('learning-curve chart', () => {
  const points = [
    { studies_per_class: 2, transfer: { accuracy: 0.6, ci95: [0.4, 0.8] as [number, number] }, scratch: { accuracy: 0.3, ci95: [0.2, 0.4] as [number, number] } },
    { studies_per_class: 'all' as const, transfer: { accuracy: 0.8, ci95: [0.7, 0.9] as [number, number] }, scratch: { accuracy: 0.7, ci95: [0.6, 0.8] as [number, number] } },
  ];

  it('puts each amount on a category axis, all labelled with its count, and draws a band for each side', () => {
    const svg = learningCurveChart(points, 7);
    expect(svg).toContain('>2</text>');
    expect(svg).toContain('>all (up to 7)</text>');
    expect(svg.match(/fill-opacity="0.15"/g)).toHaveLength(2);
    expect(svg).toContain('from scratch');
  });

  it('leaves the baseline out when a point has none', () => {
    const svg = learningCurveChart(points.map(({ scratch: _scratch, ...rest }) => rest), 7);
    expect(svg).not.toContain('from scratch');
    expect(svg.match(/fill-opacity="0.15"/g)).toHaveLength(1);
  });
});

describe('ROC chart', () => {
  it('names each class with its AUC and draws the chance diagonal', () => {
    const svg = rocChart([{ fpr: [0, 0, 1], tpr: [0, 1, 1], auc: 1 }, { fpr: [0, 1], tpr: [0, 1], auc: NaN }], ['kidney', 'liver']);
    expect(svg).toContain('kidney (AUC 1.000)');
    expect(svg).toContain('liver (AUC n/a)');
    expect(svg).toContain('chance');
  });
});
