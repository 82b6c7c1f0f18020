import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig, runExperiment, type Report } from '@cnn/experiment';
import { mobilenet, shared } from './paths.js';

/**
 * The frozen-base transfer on the shared real ultrasound sets, with the same default
 * configuration for both (ImageNet MobileNet base, features at its global pool), and
 * the from-scratch baseline on the same grouped split.
 */
async function run(data: string): Promise<Report> {
  const out = mkdtempSync(join(tmpdir(), 'cnn-real-'));
  const { report } = await runExperiment(
    resolveConfig({ data, ...mobilenet(), preset: 'mobilenet', out, fromScratch: true, quiet: true, cacheDir: join(out, 'cache') }),
    () => undefined,
  );
  const written = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
  expect(written.test.accuracy).toBe(report.test.accuracy);
  return report;
}

function checkReport(report: Report, classes: number): void {
  const confusion = report.test.confusion;
  const total = confusion.flat().reduce((a, b) => a + b, 0);
  const diagonal = confusion.reduce((sum, row, k) => sum + row[k]!, 0);
  expect(report.classes).toHaveLength(classes);
  expect(total).toBe(report.test.count);
  expect(report.test.accuracy).toBeCloseTo(diagonal / total, 12);
  expect(report.test.ci95[0]).toBeLessThanOrEqual(report.test.accuracy);
  expect(report.test.ci95[1]).toBeGreaterThanOrEqual(report.test.accuracy);
  expect(report.timing.features_per_second).toBeGreaterThan(0);
  expect(report.timing.total_seconds).toBeGreaterThan(0);
  // No study on two sides: every split's studies are disjoint by construction; the counts add up.
  const counts = report.dataset.counts;
  expect(counts.train.studies + counts.validation.studies + counts.test.studies).toBe(counts.total.studies);
}

describe('transfer on the shared ultrasound sets (MobileNet v1 0.5 base, default configuration)', () => {
  it('usanotai (6 organs, 366 frames in clips): far above chance, with the from-scratch baseline', async () => {
    const started = performance.now();
    const report = await run(shared('data/usanotai/manifest.csv'));
    checkReport(report, 6);
    expect(report.test.accuracy).toBeGreaterThan(0.8); // chance is 1/6
    expect(report.baseline!.accuracy).toBeGreaterThan(0.5);
    expect((performance.now() - started) / 1000).toBeLessThan(120);
  }, 180_000);

  it('busi (3 classes, 780 images, imbalanced): pretrained features beat always answering the majority class', async () => {
    const started = performance.now();
    const report = await run(shared('data/busi/manifest.csv'));
    checkReport(report, 3);
    const majority = Math.max(...report.test.confusion.map((row) => row.reduce((a, b) => a + b, 0))) / report.test.count;
    expect(report.test.accuracy).toBeGreaterThan(majority + 0.1);
    expect((performance.now() - started) / 1000).toBeLessThan(240);
  }, 300_000);
});
