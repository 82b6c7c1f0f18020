import { ArgumentError, Rng } from '@cnn/tensor';
import { quantileSorted, type BootstrapOptions } from './metrics.js';

/** A receiver operating characteristic curve: points (false-positive rate, true-positive rate) from (0, 0) to (1, 1). */
export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** Area under the curve (trapezoids; ties between a positive and a negative count one half). */
  auc: number;
}

/**
 * The ROC curve of `scores` for telling `positive` items from the rest: the threshold
 * sweeps down through the distinct scores, and each step adds the items at that score
 * (tied scores move the curve diagonally, which is where the half-credit for ties in the
 * AUC comes from). The area equals the Mann-Whitney probability
 * P(score of a random positive > score of a random negative) + P(tie) / 2.
 * NaN AUC when there are no positives or no negatives.
 */
export function rocCurve(scores: ArrayLike<number>, positive: readonly boolean[]): RocCurve {
  if (scores.length !== positive.length) throw new ArgumentError(`rocCurve: ${scores.length} scores but ${positive.length} labels`);
  const order = Array.from({ length: positive.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const positives = positive.filter(Boolean).length;
  const negatives = positive.length - positives;
  const fpr = [0];
  const tpr = [0];
  let tp = 0;
  let fp = 0;
  let auc = 0;
  for (let k = 0; k < order.length; ) {
    const score = scores[order[k]!]!;
    const before = { tp, fp };
    while (k < order.length && scores[order[k]!] === score) {
      if (positive[order[k]!]) tp++;
      else fp++;
      k++;
    }
    auc += ((fp - before.fp) * (tp + before.tp)) / 2;
    fpr.push(negatives === 0 ? 0 : fp / negatives);
    tpr.push(positives === 0 ? 0 : tp / positives);
  }
  return { fpr, tpr, auc: positives === 0 || negatives === 0 ? NaN : auc / (positives * negatives) };
}

/** One-vs-rest ROC curve of each class, from `probabilities` (`count x classes`, row-major) and true labels. */
export function oneVsRestRoc(probabilities: ArrayLike<number>, labels: readonly number[], classes: number): RocCurve[] {
  return Array.from({ length: classes }, (_, c) =>
    rocCurve(
      labels.map((_, i) => probabilities[i * classes + c]!),
      labels.map((label) => label === c),
    ),
  );
}

/** The mean of the classes' AUCs that are defined (a class with no test images, or all of them, has none). */
export function macroAuc(curves: readonly { auc: number }[]): number {
  const defined = curves.filter((curve) => Number.isFinite(curve.auc));
  return defined.length === 0 ? NaN : defined.reduce((sum, curve) => sum + curve.auc, 0) / defined.length;
}

/**
 * Percentile interval of the macro one-vs-rest AUC by a cluster bootstrap over studies,
 * as `bootstrapAccuracyCI` does for the accuracy: each resample draws the studies with
 * replacement, keeps all their images, and recomputes every class's AUC; the macro mean
 * is taken over the classes defined in that resample. [NaN, NaN] when no resample had
 * a defined AUC.
 */
export function bootstrapAucCI(
  probabilities: ArrayLike<number>,
  labels: readonly number[],
  classes: number,
  studies: readonly string[],
  options: BootstrapOptions,
): [number, number] {
  if (labels.length !== studies.length) throw new ArgumentError(`bootstrapAucCI: ${labels.length} labels but ${studies.length} studies`);
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  const members = new Map<string, number[]>();
  studies.forEach((study, i) => members.set(study, [...(members.get(study) ?? []), i]));
  const groups = [...members.values()];
  const rng = new Rng(options.seed);
  const values: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const drawn: number[] = [];
    for (let k = 0; k < groups.length; k++) drawn.push(...groups[rng.int(groups.length)]!);
    const value = macroAuc(
      Array.from({ length: classes }, (_, c) =>
        rocCurve(
          drawn.map((i) => probabilities[i * classes + c]!),
          drawn.map((i) => labels[i] === c),
        ),
      ),
    );
    if (Number.isFinite(value)) values.push(value);
  }
  if (values.length === 0) return [NaN, NaN];
  values.sort((a, b) => a - b);
  const alpha = (1 - level) / 2;
  return [quantileSorted(values, alpha), quantileSorted(values, 1 - alpha)];
}

/**
 * Sensitivity (recall of the class) and specificity (the share of the other classes'
 * images not called this class) of each class, from a confusion matrix with rows as true classes.
 */
export function sensitivitySpecificity(confusion: readonly (readonly number[])[]): { sensitivity: number; specificity: number }[] {
  const total = confusion.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  return confusion.map((row, c) => {
    const positives = row.reduce((a, b) => a + b, 0);
    const calledC = confusion.reduce((sum, r) => sum + r[c]!, 0);
    const negatives = total - positives;
    const falsePositives = calledC - row[c]!;
    return { sensitivity: positives === 0 ? 0 : row[c]! / positives, specificity: negatives === 0 ? 0 : (negatives - falsePositives) / negatives };
  });
}
