import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset, type DatasetItem, type Split } from './dataset.js';
import { DatasetError } from './errors.js';
import { dataReportMarkdown } from './report.js';
import { SPLITS, splitByStudy, splitTable, splitTableMarkdown, type SplitFractions } from './split.js';
import { sharedDataDir } from './testing/shared.js';

const SHARED_DATA = sharedDataDir();
const busi = await loadDataset(path.join(SHARED_DATA, 'busi/manifest.csv'));
const usanotai = await loadDataset(path.join(SHARED_DATA, 'usanotai/manifest.csv'));
const usanotaiGiven = await loadDataset(path.join(SHARED_DATA, 'usanotai/manifest.csv'), { splitColumn: 'source_split' });

/** study -> the set of splits its images went to. */
function sidesOfStudies(items: readonly { study: string; split: Split }[]): Map<string, Set<Split>> {
  const sides = new Map<string, Set<Split>>();
  for (const i of items) sides.set(i.study, (sides.get(i.study) ?? new Set()).add(i.split));
  return sides;
}

const assignment = (items: readonly { path?: string; split: Split }[]): string => items.map((i) => i.split[0]).join('');

describe.each([
  ['busi', busi, 2],
  ['usanotai', usanotai, 10],
] as const)('splitByStudy on the shared %s manifest', (_name, data, tolerance) => {
  const fractions: SplitFractions = { train: 0.6, val: 0.2, test: 0.2 };
  const { items, warnings } = splitByStudy(data.items, { seed: 1, fractions, classes: data.classes });

  it('never puts one study on two sides', () => {
    for (const [study, sides] of sidesOfStudies(items)) expect([study, sides.size]).toEqual([study, 1]);
  });

  it('puts every class in every split, close to 60/20/20 of its images', () => {
    const table = splitTable(items, data.classes);
    for (const row of table.rows) {
      for (const s of SPLITS) {
        expect(row[s]).toBeGreaterThan(0);
        expect(Math.abs(row[s] - fractions[s] * row.total)).toBeLessThanOrEqual(tolerance);
      }
    }
    expect(warnings).toEqual([]);
  });

  it('is deterministic for a seed, independent of item order, and different for another seed', () => {
    expect(assignment(splitByStudy(data.items, { seed: 1 }).items)).toBe(assignment(items));
    const reversed = splitByStudy([...data.items].reverse(), { seed: 1 }).items.reverse();
    expect(assignment(reversed)).toBe(assignment(items));
    expect(assignment(splitByStudy(data.items, { seed: 2 }).items)).not.toBe(assignment(items));
  });

  it('keeps the input order and every field', () => {
    expect(items.map((i) => i.path)).toEqual(data.items.map((i) => i.path));
    expect(items[0]).toMatchObject(data.items[0]!);
  });
});

describe('splitByStudy with given splits', () => {
  it("refuses the usanotai authors' split: each clip05 has 1 train and the rest test images", () => {
    let error: unknown;
    try {
      splitByStudy(usanotaiGiven.items, { seed: 1 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toMatch(/^6 studies have images given different splits: 'bladder-clip05' \(train 1, test 9\)/);
    expect((error as Error).message).toMatch(/'spleen-clip05' \(train 1, test 10\)/);
  });

  it('keeps a consistent given split; items without one are assigned around it', () => {
    // Fix every clip00 as test and every clip01 as val; the rest are free.
    const given: DatasetItem[] = usanotai.items.map((i) => {
      const fixed = i.study.endsWith('clip00') ? 'test' : i.study.endsWith('clip01') ? 'val' : undefined;
      const { split: _drop, ...rest } = i;
      return fixed === undefined ? rest : { ...rest, split: fixed };
    });
    const { items } = splitByStudy(given, { seed: 4 });
    items.forEach((item, k) => {
      if (given[k]!.split !== undefined) expect(item.split).toBe(given[k]!.split);
    });
    for (const sides of sidesOfStudies(items).values()) expect(sides.size).toBe(1);
    expect(new Set(items.filter((i) => given[items.indexOf(i)]!.split === undefined).map((i) => i.split)).size).toBeGreaterThan(1);
  });

  it('a given train/test split gets its validation studies from the given train part, test untouched', () => {
    // The authors' split, made consistent by moving each clip05 whole to test.
    const consistent = usanotaiGiven.items.map((i) => (i.study.endsWith('clip05') ? { ...i, split: 'test' as const } : i));
    const { items, warnings } = splitByStudy(consistent, { seed: 1, classes: usanotai.classes });
    items.forEach((item, k) => {
      if (consistent[k]!.split === 'test') expect(item.split).toBe('test');
      else expect(['train', 'val']).toContain(item.split);
    });
    const table = splitTable(items, usanotai.classes);
    for (const row of table.rows) expect(row.val).toBeGreaterThan(0);
    expect(warnings.join('\n')).toMatch(/no validation part: validation studies are drawn from the \d+ given train studies/);
    const kept = splitByStudy(consistent, { seed: 1, valFromGivenTrain: false });
    expect(kept.items.map((i) => i.split)).toEqual(consistent.map((i) => i.split));
  });
});

describe('splitByStudy edge cases', () => {
  it('a class with two studies cannot reach three splits: warned, by name', () => {
    const items = [
      ...['a1', 'a2', 'a3', 'a4', 'a5'].map((study) => ({ label: 0, study })),
      { label: 1, study: 'b1' },
      { label: 1, study: 'b2' },
    ];
    const { warnings } = splitByStudy(items, { seed: 1, classes: ['A', 'B'] });
    expect(warnings).toEqual([expect.stringMatching(/^B has no images in (val|test) \(it has only 2 studies\)$/)]);
  });

  it('with 3 equal studies per class each split gets one (relative errors, not absolute)', () => {
    const items = ['x', 'y', 'z'].flatMap((s) => Array.from({ length: 10 }, () => ({ label: 0, study: s })));
    const table = splitTable(splitByStudy(items, { seed: 9 }).items, ['only']);
    expect([table.rows[0]!.train, table.rows[0]!.val, table.rows[0]!.test]).toEqual([10, 10, 10]);
  });

  it('bad fractions are refused', () => {
    expect(() => splitByStudy([], { seed: 1, fractions: { train: 0.5, val: 0.2, test: 0.2 } })).toThrow(/must be >= 0, train > 0, and sum to 1/);
  });

  it('a zero val fraction gives train/test only', () => {
    const { items } = splitByStudy(busi.items, { seed: 1, fractions: { train: 0.75, val: 0, test: 0.25 } });
    expect(items.some((i) => i.split === 'val')).toBe(false);
  });
});

describe('splitTable', () => {
  it('counts per class and split with a total row and the studies per split, as in the study', () => {
    const items = [
      { label: 0, study: 's1', split: 'train' as const },
      { label: 0, study: 's1', split: 'train' as const },
      { label: 1, study: 's2', split: 'test' as const },
      { label: 1, study: 's3', split: 'val' as const },
    ];
    const table = splitTable(items, ['liver', 'kidney']);
    expect(table.rows).toEqual([
      { name: 'liver', train: 2, val: 0, test: 0, total: 2 },
      { name: 'kidney', train: 0, val: 1, test: 1, total: 2 },
    ]);
    expect(table.total).toEqual({ name: 'total', train: 2, val: 1, test: 1, total: 4 });
    expect(table.studies).toEqual({ name: 'studies', train: 1, val: 1, test: 1, total: 3 });
    expect(splitTableMarkdown(table)).toBe(
      [
        '| class | train | val | test | total |',
        '|---|---:|---:|---:|---:|',
        '| liver | 2 | 0 | 0 | 2 |',
        '| kidney | 0 | 1 | 1 | 2 |',
        '| total | 2 | 1 | 1 | 4 |',
        '| (studies) | 1 | 1 | 1 | 3 |',
      ].join('\n'),
    );
  });

  it('writes thousands like the study (4,095)', () => {
    const items = Array.from({ length: 4095 }, (_, k) => ({ label: 0, study: `s${k}`, split: 'train' as const }));
    expect(splitTableMarkdown(splitTable(items, ['a']))).toContain('| a | 4,095 | 0 | 0 | 4,095 |');
  });

  it('the data report shows the table, the warnings and the notes of busi', () => {
    const { items, warnings } = splitByStudy(busi.items, { seed: 1 });
    const md = dataReportMarkdown({ dataset: busi, table: splitTable(items, busi.classes), warnings });
    expect(md).toMatch(/^Data: .*busi\/manifest\.csv \(CSV manifest\), 3 classes\./);
    expect(md).toMatch(/\| total \| \d+ \| \d+ \| \d+ \| 780 \|/);
    expect(md).toMatch(/Warnings \(1\):\n- 3 of 748 studies/);
    expect(md).toMatch(/Notes \(1\):\n- ignored CSV column/);
  });
});
