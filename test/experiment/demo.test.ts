import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePhantomDataset, type Report } from '@cnn/experiment';
import { REPO_ROOT } from './paths.js';

describe('npm run experiment (the synthetic demo, no external files)', () => {
  it('writes the same phantom data for the same seed', () => {
    const a = writePhantomDataset(mkdtempSync(join(tmpdir(), 'cnn-phantom-')), 3);
    const b = writePhantomDataset(mkdtempSync(join(tmpdir(), 'cnn-phantom-')), 3);
    const file = join('kidney', 'study-kidney-02', 'frame-3.png');
    expect(readFileSync(join(a.dir, file))).toEqual(readFileSync(join(b.dir, file)));
    expect(readFileSync(a.readerLabels, 'utf8')).toBe(readFileSync(b.readerLabels, 'utf8'));
    expect(readdirSync(a.dir).sort()).toEqual(['gallbladder', 'kidney', 'liver', 'spleen']);
  });

  it('runs end to end on the shipped base in under 5 minutes and prints the path of report.html last', () => {
    const out = mkdtempSync(join(tmpdir(), 'cnn-demo-'));
    const started = performance.now();
    const stdout = execFileSync('npm', ['run', '--silent', 'experiment', '--', '--out', out, '--cache-dir', join(out, 'cache'), '--quiet'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const seconds = (performance.now() - started) / 1000;
    const lines = stdout.trim().split('\n');
    expect(lines.at(-1)).toBe(join(out, 'report.html'));
    expect(seconds).toBeLessThan(300);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(report.synthetic).toBe(true);
    expect(report.classes).toEqual(['gallbladder', 'kidney', 'liver', 'spleen']);
    // The colour Doppler images and the truncated file are left out and listed with their reasons.
    expect(report.dataset.excluded.filter((e) => /colour/.test(e.reason))).toHaveLength(3);
    expect(report.dataset.excluded.some((e) => e.path.endsWith('truncated.png'))).toBe(true);
    expect(report.reader?.venn).toBeDefined();
    expect(report.baseline?.architecture).toMatch(/conv 16/);
    // The real ImageNet base, and the study's open questions answered.
    expect(report.config.base).toBe('MobileNet v1 0.75 192 (ImageNet)');
    expect(report.learning_curve!.length).toBeGreaterThanOrEqual(2);
    expect(report.learning_curve!.at(-1)!.studies_per_class).toBe('all');
    for (const point of report.learning_curve!) expect(point.scratch).toBeDefined();
    expect(report.fine_tune!.from).toBe('conv6/dw');
    expect(report.test.auc).toBeGreaterThan(0.5);
    expect(report.saliency!.length).toBeGreaterThan(0);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/SYNTHETIC DEMO/);
    for (const file of ['deploy.prototxt', 'retrained.caffemodel', 'training-curves.svg', 'confusion.svg', 'tsne.svg', 'venn.svg', 'conv1-filters.png', 'roc.svg', 'learning-curve.svg', report.saliency![0]!.file]) {
      expect(readdirSync(out)).toContain(file);
    }
  }, 360_000);
});
