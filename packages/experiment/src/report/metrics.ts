import { ArgumentError, Rng } from '@cnn/tensor';

/**
 * Classification metrics for the report: confusion matrix, per-class precision /
 * recall / F1, accuracy with a cluster-bootstrap interval, and the two-reader
 * comparison. Labels are class indices `0 .. numClasses-1`.
 */

/**
 * `C[t][p]` = number of items of true class `t` predicted as class `p`
 * (rows = true class, columns = predicted class, as in the study's figure).
 */
export function confusionMatrix(trueLabels: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new ArgumentError(`confusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
  sameLength('confusionMatrix', trueLabels.length, predicted.length);
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < trueLabels.length; i++) {
    const t = trueLabels[i]!;
    const p = predicted[i]!;
    checkLabel('confusionMatrix', 'true label', i, t, numClasses);
    checkLabel('confusionMatrix', 'predicted label', i, p, numClasses);
    confusion[t]![p]!++;
  }
  return confusion;
}

/** Precision, recall, F1 and support of one class. */
export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/**
 * Per-class scores from a confusion matrix `C` (rows = true class):
 *
 *   precision_k = C[k][k] / sum_t C[t][k]      (of the items called k, the share that are k)
 *   recall_k    = C[k][k] / sum_p C[k][p]      (of the items that are k, the share called k)
 *   F1_k        = 2 precision_k recall_k / (precision_k + recall_k)
 *   support_k   = sum_p C[k][p]
 *
 * A 0/0 is defined as 0 (as scikit-learn's `zero_division=0`): a class never
 * predicted has precision 0, a class absent from the test set has recall 0, and
 * F1 is 0 when precision + recall is 0. The report shows the support beside each
 * row so a 0 from an empty class is recognisable.
 */
export function perClassMetrics(confusion: readonly (readonly number[])[]): ClassScores[] {
  const k = confusion.length;
  for (const row of confusion) {
    if (row.length !== k) throw new ArgumentError(`perClassMetrics: the confusion matrix must be square, got ${k} rows and a row of ${row.length}`);
  }
  const scores: ClassScores[] = [];
  for (let c = 0; c < k; c++) {
    let rowSum = 0;
    let colSum = 0;
    for (let j = 0; j < k; j++) {
      rowSum += confusion[c]![j]!;
      colSum += confusion[j]![c]!;
    }
    const hit = confusion[c]![c]!;
    const precision = safeDivide(hit, colSum);
    const recall = safeDivide(hit, rowSum);
    const f1 = safeDivide(2 * precision * recall, precision + recall);
    scores.push({ precision, recall, f1, support: rowSum });
  }
  return scores;
}

/** Unweighted means over classes (macro averages) of precision, recall and F1. */
export function macroAverage(scores: readonly ClassScores[]): { precision: number; recall: number; f1: number } {
  const n = scores.length;
  if (n === 0) return { precision: 0, recall: 0, f1: 0 };
  const sum = (key: 'precision' | 'recall' | 'f1'): number => scores.reduce((s, x) => s + x[key], 0) / n;
  return { precision: sum('precision'), recall: sum('recall'), f1: sum('f1') };
}

/** Fraction of items with `predicted[i] === trueLabels[i]`. Throws on no items: an accuracy of nothing is not 0. */
export function accuracy(trueLabels: ArrayLike<number>, predicted: ArrayLike<number>): number {
  sameLength('accuracy', trueLabels.length, predicted.length);
  if (trueLabels.length === 0) throw new ArgumentError('accuracy: no items');
  let right = 0;
  for (let i = 0; i < trueLabels.length; i++) if (trueLabels[i] === predicted[i]) right++;
  return right / trueLabels.length;
}

/** Accuracy from a confusion matrix: trace / total. */
export function accuracyFromConfusion(confusion: readonly (readonly number[])[]): number {
  let trace = 0;
  let total = 0;
  confusion.forEach((row, t) => row.forEach((count, p) => {
    total += count;
    if (t === p) trace += count;
  }));
  if (total === 0) throw new ArgumentError('accuracyFromConfusion: the confusion matrix is empty');
  return trace / total;
}

export interface BootstrapOptions {
  seed: number;
  /** Number of bootstrap resamples, 2000 by default. */
  resamples?: number;
  /** Coverage of the interval, 0.95 by default. */
  level?: number;
}

export interface BootstrapInterval {
  /** The accuracy on the data as given. */
  estimate: number;
  low: number;
  high: number;
  level: number;
  resamples: number;
  /** Number of distinct studies (clusters) resampled. */
  studies: number;
}

/**
 * Percentile interval of the accuracy by a cluster bootstrap over studies.
 *
 * Images of one study are correlated (same patient, same machine), so resampling
 * single images would treat them as independent and give too narrow an interval.
 * Each resample draws S of the S studies with replacement and takes
 *
 *   acc* = sum_{s drawn} right_s / sum_{s drawn} n_s        (a ratio: big studies weigh more)
 *
 * and the interval is the (1-level)/2 and (1+level)/2 quantiles of the resampled
 * values (linear interpolation between order statistics, R's type 7). With one
 * study, or every study equally right, all resamples agree and the interval is
 * a single point.
 */
export function bootstrapAccuracyCI(correct: readonly boolean[], studies: readonly string[], options: BootstrapOptions): BootstrapInterval {
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  sameLength('bootstrapAccuracyCI', correct.length, studies.length);
  if (correct.length === 0) throw new ArgumentError('bootstrapAccuracyCI: no items');
  if (!Number.isInteger(resamples) || resamples < 1) throw new ArgumentError(`bootstrapAccuracyCI: resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new ArgumentError(`bootstrapAccuracyCI: level must be in (0, 1), got ${level}`);

  const { values, studies: numStudies } = resampledAccuracies(correct, studies, resamples, new Rng(options.seed));
  const allRight = correct.filter(Boolean).length;
  values.sort();
  const alpha = (1 - level) / 2;
  return {
    estimate: allRight / correct.length,
    low: quantileSorted(values, alpha),
    high: quantileSorted(values, 1 - alpha),
    level,
    resamples,
    studies: numStudies,
  };
}

/**
 * The accuracies of `resamples` cluster-bootstrap resamples over studies (see
 * `bootstrapAccuracyCI`), unsorted, drawn from `rng`; and the number of studies.
 */
export function resampledAccuracies(correct: readonly boolean[], studies: readonly string[], resamples: number, rng: Rng): { values: Float64Array; studies: number } {
  const index = new Map<string, number>();
  const right: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < correct.length; i++) {
    let s = index.get(studies[i]!);
    if (s === undefined) {
      s = right.length;
      index.set(studies[i]!, s);
      right.push(0);
      total.push(0);
    }
    total[s]!++;
    if (correct[i]) right[s]!++;
  }
  const numStudies = right.length;
  const values = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sumRight = 0;
    let sumTotal = 0;
    for (let k = 0; k < numStudies; k++) {
      const s = rng.int(numStudies);
      sumRight += right[s]!;
      sumTotal += total[s]!;
    }
    values[r] = sumRight / sumTotal;
  }
  return { values, studies: numStudies };
}

/**
 * The interval of an accuracy measured over several seeded draws of the training data
 * on one test split: each draw's cluster-bootstrap resamples (`resamples` in all, shared
 * out evenly) are pooled and the interval is their quantiles, so it holds both the
 * spread between draws and the test split's own sampling error.
 */
export function pooledBootstrapAccuracyCI(draws: readonly (readonly boolean[])[], studies: readonly string[], options: BootstrapOptions): { estimate: number; low: number; high: number } {
  if (draws.length === 0) throw new ArgumentError('pooledBootstrapAccuracyCI: no draws');
  const level = options.level ?? 0.95;
  const per = Math.max(1, Math.round((options.resamples ?? 2000) / draws.length));
  const rng = new Rng(options.seed);
  const pooled = new Float64Array(per * draws.length);
  draws.forEach((correct, d) => {
    sameLength('pooledBootstrapAccuracyCI', correct.length, studies.length);
    pooled.set(resampledAccuracies(correct, studies, per, rng).values, d * per);
  });
  pooled.sort();
  const alpha = (1 - level) / 2;
  const estimate = draws.reduce((sum, correct) => sum + correct.filter(Boolean).length / correct.length, 0) / draws.length;
  return { estimate, low: quantileSorted(pooled, alpha), high: quantileSorted(pooled, 1 - alpha) };
}

/** Quantile `q` of sorted values by linear interpolation between order statistics (type 7). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new ArgumentError('quantileSorted: no values');
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Counts of the two-reader Venn diagram of correctly classified cases. */
export interface ReaderComparison {
  bothRight: number;
  networkOnly: number;
  readerOnly: number;
  neither: number;
  readerAccuracy: number;
  networkAccuracy: number;
  /**
   * Exact two-sided McNemar p-value: under "both readers are equally accurate"
   * each discordant case (networkOnly + readerOnly = m of them) is equally likely
   * to fall either way, so p = min(1, 2 P[Binomial(m, 1/2) <= min(b, c)]).
   */
  mcnemarP: number;
}

/**
 * Compares two readers (the network and a person) case by case on the same images:
 * `netCorrect[i]` and `readerCorrect[i]` say whether each got image `i` right.
 */
export function readerComparison(netCorrect: readonly boolean[], readerCorrect: readonly boolean[]): ReaderComparison {
  sameLength('readerComparison', netCorrect.length, readerCorrect.length);
  if (netCorrect.length === 0) throw new ArgumentError('readerComparison: no items');
  let bothRight = 0;
  let networkOnly = 0;
  let readerOnly = 0;
  let neither = 0;
  for (let i = 0; i < netCorrect.length; i++) {
    if (netCorrect[i] && readerCorrect[i]) bothRight++;
    else if (netCorrect[i]) networkOnly++;
    else if (readerCorrect[i]) readerOnly++;
    else neither++;
  }
  const n = netCorrect.length;
  return {
    bothRight,
    networkOnly,
    readerOnly,
    neither,
    readerAccuracy: (bothRight + readerOnly) / n,
    networkAccuracy: (bothRight + networkOnly) / n,
    mcnemarP: mcnemarExactP(networkOnly, readerOnly),
  };
}

/** Exact two-sided McNemar p-value for `b` and `c` discordant cases (see `ReaderComparison.mcnemarP`). */
export function mcnemarExactP(b: number, c: number): number {
  const m = b + c;
  if (m === 0) return 1;
  const k = Math.min(b, c);
  // The pmf is walked in log space: 0.5^m underflows for m > 1074.
  let logPmf = -m * Math.LN2;
  let tail = Math.exp(logPmf);
  for (let i = 0; i < k; i++) {
    logPmf += Math.log(m - i) - Math.log(i + 1);
    tail += Math.exp(logPmf);
  }
  return Math.min(1, 2 * tail);
}

function safeDivide(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

function sameLength(where: string, a: number, b: number): void {
  if (a !== b) throw new ArgumentError(`${where}: the two arrays differ in length (${a} and ${b})`);
}

function checkLabel(where: string, what: string, i: number, label: number, numClasses: number): void {
  if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
    throw new ArgumentError(`${where}: ${what} ${label} at index ${i} is not a class index in [0, ${numClasses})`);
  }
}
