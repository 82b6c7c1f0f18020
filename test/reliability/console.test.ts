import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig, runExperiment, type Report } from '@cnn/experiment';
import { fixture } from '../helpers/shared.js';
import { grayPng } from '../label/helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'cnn-console-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A manifest with every kind of data problem: 8 rows naming missing files, a study whose two
 * images carry two labels, and a class whose single study cannot reach the test split.
 */
function troubledManifest(): string {
  const root = path.join(work, 'data');
  mkdirSync(root, { recursive: true });
  const rows: string[] = [];
  let n = 0;
  const image = (label: string, study: string): void => {
    const name = `${label}-${n}.png`;
    writeFileSync(path.join(root, name), grayPng(16, n++));
    rows.push(`${name},${label},${study}`);
  };
  for (const label of ['a', 'b']) for (let s = 0; s < 5; s++) for (let i = 0; i < 2; i++) image(label, `${label}${s}`);
  image('c', 'c0');
  image('c', 'c0');
  image('a', 'mixed');
  image('b', 'mixed');
  for (let i = 0; i < 8; i++) rows.push(`missing-${i}.png,a,gone${i}`);
  const csv = path.join(root, 'manifest.csv');
  writeFileSync(csv, `path,label,study\n${rows.join('\n')}\n`);
  return csv;
}

// Issue 12, defect 10: 8 manifest rows were dropped and the console said 1; split and label warnings reached only the report.
describe('the console shows the data summary the report holds', () => {
  it('every dropped row counted, the class missing from test, the study under two labels', async () => {
    const lines: string[] = [];
    const tiny = (file: string): string => fixture('caffe/caffenet_tiny', file);
    const out = path.join(work, 'out');
    const { report } = await runExperiment(
      resolveConfig({ data: troubledManifest(), prototxt: tiny('deploy.prototxt'), weights: tiny('caffenet_tiny_v1.caffemodel'), preset: 'caffenet', out, maxIter: 2, quiet: true, cacheDir: path.join(work, 'cache') }),
      (line) => lines.push(line),
    );
    const console = lines.join('\n');
    expect(console).toContain('left out: 8 (8 manifest row(s) or file(s) dropped while reading the data set):');
    for (let i = 0; i < 8; i++) expect(console).toContain(`  missing-${i}.png: line ${i + 26}: file not found`);
    const saved = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
    expect(saved.dataset.counts.excluded).toBe(8);
    expect(saved.dataset.excluded).toHaveLength(8);
    // Each warning and note of the report, word for word, on the console.
    expect(report.dataset.problems.some((p) => /^c has no images in val and test \(it has only 1 study\)/.test(p))).toBe(true);
    expect(report.dataset.problems.some((p) => /studies have images under two or more labels: 'mixed' \(a, b\)/.test(p))).toBe(true);
    for (const problem of report.dataset.problems) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^(warning|note): ${problem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)));
  }, 120_000);
});
