import { ArgumentError, Rng } from '@cnn/tensor';
import { listSome, type Split } from './dataset.js';
import { DatasetError } from './errors.js';

export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

/** Fractions of each class's images wanted in each split; they sum to 1. */
export interface SplitFractions {
  train: number;
  val: number;
  test: number;
}

/** 60 / 20 / 20. The study split 74 / 26 train/test with no validation part; a run needs one for tuning. */
export const DEFAULT_FRACTIONS: SplitFractions = { train: 0.6, val: 0.2, test: 0.2 };

/** What splitByStudy needs of an item. */
export interface SplitInput {
  label: number;
  study: string;
  /** A split fixed in advance (the manifest's split column). */
  split?: Split;
}

/** Options of splitByStudy. */
export interface SplitOptions {
  seed: number;
  fractions?: SplitFractions;
  /** Class names, for messages. */
  classes?: readonly string[];
  /**
   * When the given splits have train and test but no val (as most published splits), draw the
   * validation studies from the given train studies instead of leaving val empty, so the test set
   * is still only used once. Default true.
   */
  valFromGivenTrain?: boolean;
}

/** The items with their splits (in input order), and what the caller should know. */
export interface SplitResult<T> {
  items: (T & { split: Split })[];
  warnings: string[];
}

interface Study {
  name: string;
  size: number;
  /** label -> image count */
  counts: Map<number, number>;
  allowed: Split[];
}

/**
 * Splits items into train / val / test, **grouped** by study (all images of a study land in one
 * split) and **stratified** (each class's image counts per split come close to the fractions).
 *
 * Targets: `t[c][s] = fraction[s] * (images of class c)`. Studies with a given split are placed
 * first. The others, in an order shuffled by `seed` and then sorted by size (largest first, so
 * small studies fill the gaps), each go to the allowed split that most lowers the stratification
 * cost `sum_c sum_s ((n[c][s] - t[c][s]) / t[c][s])^2`, except that a split where more of the
 * study's classes have no image yet comes first (coverage), so every class reaches every split
 * when it has enough studies (a warning names those that cannot). Relative errors matter for the
 * small val and test targets: absolute ones would let a class of three equal studies put two in
 * train and leave test empty.
 * A study with images under several labels counts towards each of them.
 *
 * Deterministic for a seed (and independent of item order); another seed gives another split.
 *
 * @throws DatasetError when the items of one study are given different splits (listing them)
 * @throws ArgumentError for fractions that are negative or do not sum to 1
 */
export function splitByStudy<T extends SplitInput>(items: readonly T[], options: SplitOptions): SplitResult<T> {
  const fractions = options.fractions ?? DEFAULT_FRACTIONS;
  checkFractions(fractions);
  const className = (c: number): string => options.classes?.[c] ?? `class ${c}`;
  const warnings: string[] = [];

  const given = new Map<string, Map<Split, number>>();
  const studies = new Map<string, Study>();
  for (const item of items) {
    const study = studies.get(item.study) ?? { name: item.study, size: 0, counts: new Map(), allowed: [] };
    study.size++;
    study.counts.set(item.label, (study.counts.get(item.label) ?? 0) + 1);
    studies.set(item.study, study);
    if (item.split !== undefined) {
      const splits = given.get(item.study) ?? new Map<Split, number>();
      splits.set(item.split, (splits.get(item.split) ?? 0) + 1);
      given.set(item.study, splits);
    }
  }
  const conflicts = [...given].filter(([, splits]) => splits.size > 1);
  if (conflicts.length > 0) {
    const list = conflicts.map(([name, splits]) => `'${name}' (${[...splits].map(([s, n]) => `${s} ${n}`).join(', ')})`);
    throw new DatasetError(
      `${conflicts.length} stud${conflicts.length === 1 ? 'y has' : 'ies have'} images given different splits: ${listSome(list)}. ` +
        'A study must be on one side only (its images are correlated); fix the split column or split without it.',
    );
  }

  const free = SPLITS.filter((s) => fractions[s] > 0);
  const anyGivenVal = [...given.values()].some((splits) => splits.has('val'));
  const carve = (options.valFromGivenTrain ?? true) && fractions.val > 0 && !anyGivenVal;
  let carved = 0;
  for (const study of studies.values()) {
    const fixed = given.get(study.name)?.keys().next().value;
    if (fixed === undefined) study.allowed = free;
    else if (fixed === 'train' && carve) {
      study.allowed = ['train', 'val'];
      carved++;
    } else study.allowed = [fixed];
  }
  if (carved > 0) {
    warnings.push(
      `the given split has no validation part: validation studies are drawn from the ${carved} given train studies (given test studies stay as they are)`,
    );
  }

  // Targets and counts per class and split.
  const classCount = Math.max(0, ...items.map((i) => i.label + 1));
  const total = new Array<number>(classCount).fill(0);
  for (const item of items) total[item.label]!++;
  const target = total.map((n) => SPLITS.map((s) => fractions[s] * n));
  const placed = total.map(() => SPLITS.map(() => 0));
  const choice = new Map<string, Split>();
  const place = (study: Study, split: Split): void => {
    const s = SPLITS.indexOf(split);
    for (const [c, n] of study.counts) placed[c]![s]! += n;
    choice.set(study.name, split);
  };

  const names = [...studies.keys()].sort();
  for (const name of names) {
    const study = studies.get(name)!;
    if (study.allowed.length === 1) place(study, study.allowed[0]!);
  }
  const rng = new Rng(options.seed);
  const open = rng.shuffle(names.map((n) => studies.get(n)!).filter((st) => st.allowed.length > 1));
  open.sort((a, b) => b.size - a.size); // stable: equal sizes keep the seeded order
  for (const study of open) {
    let best = study.allowed[0]!;
    let bestUncovered = -1;
    let bestDelta = Infinity;
    for (const split of study.allowed) {
      const s = SPLITS.indexOf(split);
      let delta = 0;
      let uncovered = 0;
      for (const [c, n] of study.counts) {
        const t = target[c]![s]!;
        if (placed[c]![s] === 0) uncovered++;
        const before = (placed[c]![s]! - t) / t;
        const after = (placed[c]![s]! + n - t) / t;
        delta += after * after - before * before;
      }
      // Coverage first: a split where some of the study's classes have no image yet wins, so a
      // class with only two or three studies still reaches the splits; then the lower cost.
      if (uncovered > bestUncovered || (uncovered === bestUncovered && delta < bestDelta)) {
        bestUncovered = uncovered;
        bestDelta = delta;
        best = split;
      }
    }
    place(study, best);
  }

  for (let c = 0; c < classCount; c++) {
    if (total[c] === 0) continue;
    const missing = SPLITS.filter((s, i) => fractions[s] > 0 && placed[c]![i] === 0);
    if (missing.length > 0) {
      const studyCount = [...studies.values()].filter((st) => st.counts.has(c)).length;
      warnings.push(`${className(c)} has no images in ${missing.join(' and ')} (it has only ${studyCount} stud${studyCount === 1 ? 'y' : 'ies'})`);
    }
  }
  return { items: items.map((item) => ({ ...item, split: choice.get(item.study)! })), warnings };
}

function checkFractions(f: SplitFractions): void {
  const values = SPLITS.map((s) => f[s]);
  if (values.some((v) => !(v >= 0)) || Math.abs(values.reduce((a, b) => a + b, 0) - 1) > 1e-6 || !(f.train > 0)) {
    throw new ArgumentError(`split fractions train ${f.train}, val ${f.val}, test ${f.test} must be >= 0, train > 0, and sum to 1`);
  }
}

/** One row of the split table: image counts of a class per split. */
export interface SplitRow {
  name: string;
  train: number;
  val: number;
  test: number;
  total: number;
}

/** The study's per-class table, with a total row and the number of studies per split. */
export interface SplitTable {
  rows: SplitRow[];
  total: SplitRow;
  studies: SplitRow;
}

/** Counts images per class and split (the study's table), plus totals and studies per split. */
export function splitTable(items: readonly (SplitInput & { split: Split })[], classes: readonly string[]): SplitTable {
  const row = (name: string): SplitRow => ({ name, train: 0, val: 0, test: 0, total: 0 });
  const rows = classes.map(row);
  const total = row('total');
  const studies = row('studies');
  const seen = new Set<string>();
  for (const item of items) {
    for (const r of [rows[item.label], total]) {
      if (r === undefined) throw new ArgumentError(`label ${item.label} has no class name (${classes.length} classes)`);
      r[item.split]++;
      r.total++;
    }
    if (!seen.has(item.study)) {
      seen.add(item.study);
      studies[item.split]++;
      studies.total++;
    }
  }
  return { rows, total, studies };
}

/** The split table in Markdown, numbers with thousands separators like the study's table. */
export function splitTableMarkdown(table: SplitTable): string {
  const n = (v: number): string => v.toLocaleString('en-US');
  const line = (r: SplitRow): string => `| ${r.name} | ${n(r.train)} | ${n(r.val)} | ${n(r.test)} | ${n(r.total)} |`;
  return [
    '| class | train | val | test | total |',
    '|---|---:|---:|---:|---:|',
    ...table.rows.map(line),
    line(table.total),
    line({ ...table.studies, name: '(studies)' }),
  ].join('\n');
}
