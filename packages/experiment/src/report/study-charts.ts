import { lineChart } from './line-chart.js';
import type { RocCurve } from './roc.js';
import type { LearningCurvePoint } from './types.js';

/**
 * Test accuracy against labelled training studies per class, transfer and from scratch,
 * each with its 95% band, one category per amount (they grow geometrically; `all` is
 * labelled with `allStudies`, the most studies any class has).
 */
export function learningCurveChart(points: readonly LearningCurvePoint[], allStudies: number): string {
  const x = points.map((_, i) => i);
  const categories = points.map((p) => (p.studies_per_class === 'all' ? `all (up to ${allStudies})` : String(p.studies_per_class)));
  const series = (key: 'transfer' | 'scratch', name: string, color: string) => {
    const values = points.map((p) => p[key]);
    if (values.some((v) => v === undefined)) return [];
    return [{ name, x, y: values.map((v) => v!.accuracy), band: { low: values.map((v) => v!.ci95[0]), high: values.map((v) => v!.ci95[1]) }, color, markers: true, strokeWidth: 2 }];
  };
  return lineChart(
    [{ yLabel: 'test accuracy', yFormat: 'percent', yMin: 0, yMax: 1, series: [...series('transfer', 'transfer (frozen ImageNet base)', '#1f77b4'), ...series('scratch', 'from scratch', '#d62728')] }],
    { title: 'Learning curve', xLabel: 'labelled training studies per class', xCategories: categories },
  );
}

/** One-vs-rest ROC curves of every class on the test split, with the chance diagonal. */
export function rocChart(curves: readonly RocCurve[], classes: readonly string[]): string {
  const series = curves.map((curve, k) => ({ name: `${classes[k]} (AUC ${Number.isFinite(curve.auc) ? curve.auc.toFixed(3) : 'n/a'})`, x: curve.fpr, y: curve.tpr }));
  return lineChart(
    [{ yLabel: 'true-positive rate (sensitivity)', yMin: 0, yMax: 1, series: [...series, { name: 'chance', x: [0, 1], y: [0, 1], color: '#999999', strokeWidth: 1 }] }],
    { title: 'ROC curves, one class against the rest, test set', xLabel: 'false-positive rate (1 - specificity)', panelHeight: 360, width: 560 },
  );
}
