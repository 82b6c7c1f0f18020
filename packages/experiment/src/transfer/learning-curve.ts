import { Rng } from '@cnn/tensor';
import { ExperimentError } from '../errors.js';
import { pooledBootstrapAccuracyCI, type LearningCurvePoint } from '../report/index.js';
import type { ScratchResult } from '../scratch.js';

/** The amounts of labelled data of a learning curve: training studies per class, or all of them. */
export type CurveAmount = number | 'all';

/** `"2,4,8,16,all"` -> `[2, 4, 8, 16, 'all']`: positive integers, increasing, `all` allowed last. */
export function parseLearningCurve(text: string): CurveAmount[] {
  const parts = text.split(',').map((part) => part.trim()).filter(Boolean);
  const amounts = parts.map((part): CurveAmount => {
    if (part === 'all') return 'all';
    const n = Number(part);
    if (!Number.isInteger(n) || n < 1) throw new ExperimentError(`--learning-curve '${text}': '${part}' is not a number of studies per class (a positive integer) or 'all'`);
    return n;
  });
  const numbers = amounts.filter((a): a is number => a !== 'all');
  if (amounts.length === 0 || numbers.some((n, i) => i > 0 && n <= numbers[i - 1]!) || amounts.slice(0, -1).includes('all')) {
    throw new ExperimentError(`--learning-curve '${text}': give increasing numbers of studies per class, optionally ending with 'all' (e.g. 2,4,8,16,all)`);
  }
  return amounts;
}

/**
 * The training rows of one draw: `amount` studies of each class picked at random (a study
 * counts for the class most of its images have), all of their images kept. A class with
 * fewer studies gives all it has.
 */
export function drawStudies(rows: readonly number[], labelOf: (row: number) => number, studyOf: (row: number) => string, amount: CurveAmount, rng: Rng): number[] {
  if (amount === 'all') return [...rows];
  const byStudy = new Map<string, number[]>();
  for (const row of rows) byStudy.set(studyOf(row), [...(byStudy.get(studyOf(row)) ?? []), row]);
  const byClass = new Map<number, string[]>();
  for (const [study, members] of [...byStudy].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const counts = new Map<number, number>();
    for (const row of members) counts.set(labelOf(row), (counts.get(labelOf(row)) ?? 0) + 1);
    const majority = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
    byClass.set(majority, [...(byClass.get(majority) ?? []), study]);
  }
  const chosen = [...byClass.keys()].sort((a, b) => a - b).flatMap((label) => rng.shuffle([...byClass.get(label)!]).slice(0, amount));
  return chosen.flatMap((study) => byStudy.get(study)!);
}

/** What one draw of one point trains: the transfer head and, optionally, the baseline. */
export interface CurveTrainers {
  /** Trains the head on these training rows; returns whether each test image came out right. */
  transfer(rows: readonly number[], seed: number): boolean[];
  /** Trains the from-scratch baseline on these rows (absent: no baseline). */
  scratch?(rows: readonly number[], seed: number): ScratchResult;
}

/**
 * The learning curve: for each amount of labelled training studies per class, `draws`
 * seeded subsamples of the training studies, each training the head (and the baseline)
 * and testing on the same test split. A point's accuracy is the mean over its draws and
 * its interval pools the draws' cluster bootstraps over test studies
 * (`pooledBootstrapAccuracyCI`). Amounts that already take every study of every class
 * are the same as `all` and are left out (`all` is kept once).
 */
export function learningCurve(
  amounts: readonly CurveAmount[],
  trainRows: readonly number[],
  testStudies: readonly string[],
  row: { label: (row: number) => number; study: (row: number) => string },
  trainers: CurveTrainers,
  options: { draws: number; seed: number; log?: (line: string) => void },
): LearningCurvePoint[] {
  const perClass = new Map<number, Set<string>>();
  for (const r of trainRows) perClass.set(row.label(r), (perClass.get(row.label(r)) ?? new Set()).add(row.study(r)));
  const most = Math.max(...[...perClass.values()].map((studies) => studies.size));
  const kept = amounts.filter((amount) => amount === 'all' || amount < most);
  if (!kept.includes('all') && kept.length < amounts.length) kept.push('all');
  return kept.map((amount) => {
    const transfer: boolean[][] = [];
    const scratch: boolean[][] = [];
    let images = 0;
    for (let draw = 0; draw < options.draws; draw++) {
      const seed = options.seed * 1009 + draw * 31 + (amount === 'all' ? 0 : amount);
      const rows = drawStudies(trainRows, row.label, row.study, amount, new Rng(seed));
      images += rows.length / options.draws;
      transfer.push(trainers.transfer(rows, seed));
      if (trainers.scratch) scratch.push(trainers.scratch(rows, seed).correct);
    }
    const interval = (draws: boolean[][]) => {
      const ci = pooledBootstrapAccuracyCI(draws, testStudies, { seed: options.seed });
      return { accuracy: ci.estimate, ci95: [ci.low, ci.high] as [number, number] };
    };
    const point: LearningCurvePoint = { studies_per_class: amount, transfer: interval(transfer), ...(trainers.scratch ? { scratch: interval(scratch) } : {}) };
    options.log?.(
      `learning curve: ${amount} stud${amount === 1 ? 'y' : 'ies'} per class (${Math.round(images)} images): transfer ${(point.transfer.accuracy * 100).toFixed(1)}%` +
        (point.scratch ? `, from scratch ${(point.scratch.accuracy * 100).toFixed(1)}%` : ''),
    );
    return point;
  });
}
