import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig, runExperiment, openOutFolder } from '@cnn/experiment';
import { fixture } from '../helpers/shared.js';
import { grayPng } from '../label/helpers.js';
import { cnn } from './cnn.js';

const work = mkdtempSync(path.join(tmpdir(), 'cnn-out-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Two classes of `perClass` small PNGs, each image its own study. */
function data(name: string, perClass = 4): string {
  const root = path.join(work, name);
  for (const label of ['a', 'b']) {
    mkdirSync(path.join(root, label), { recursive: true });
    for (let i = 0; i < perClass; i++) writeFileSync(path.join(root, label, `${i}.png`), grayPng(16, i + (label === 'a' ? 0 : 50)));
  }
  return root;
}

const tiny = (file: string): string => fixture('caffe/caffenet_tiny', file);
const settings = (name: string) => ({ data: data(name), prototxt: tiny('deploy.prototxt'), weights: tiny('caffenet_tiny_v1.caffemodel'), preset: 'caffenet' as const, maxIter: 2, quiet: true, cacheDir: path.join(work, 'cache'), split: { train: 0.5, val: 0, test: 0.5 } });

// Issue 12, defect 8: a rerun into the same --out silently replaced the earlier report.
describe('a rerun into the --out of a finished run', () => {
  it('is refused, naming the folder and --force; with --force the earlier run is replaced whole, and the console says so', async () => {
    const out = path.join(work, 'rerun');
    const lines: string[] = [];
    const first = await runExperiment(resolveConfig({ ...settings('rerun-data'), out }), (line) => lines.push(line));
    const firstReport = readFileSync(path.join(out, 'report.json'), 'utf8');
    await expect(runExperiment(resolveConfig({ ...settings('rerun-data'), out, seed: 2 }), () => undefined)).rejects.toThrow(
      `--out ${out}: already holds a finished run (report.json); give --force to replace it, or choose another --out`,
    );
    expect(readFileSync(path.join(out, 'report.json'), 'utf8')).toBe(firstReport);
    const second = await runExperiment(resolveConfig({ ...settings('rerun-data'), out, seed: 2, force: true }), (line) => lines.push(line));
    expect(second.report.run_id).not.toBe(first.report.run_id);
    expect(JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'))).toMatchObject({ run_id: second.report.run_id });
    expect(lines).toContain(`replaced the earlier run in ${out} (--force)`);
    // Nothing is left beside the folder: no staging, no earlier copy.
    expect(readdirSync(work).filter((name) => name.startsWith('.rerun'))).toEqual([]);
  }, 120_000);

  it('through the command line too: one line on stderr, exit code 1', async () => {
    const out = path.join(work, 'cli-rerun');
    mkdirSync(out);
    writeFileSync(path.join(out, 'report.json'), '{}\n');
    const run = await cnn('experiment', '--data', data('cli-data'), '--prototxt', tiny('deploy.prototxt'), '--weights', tiny('caffenet_tiny_v1.caffemodel'), '--out', out, '--quiet');
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`cnn: OutFolderError: --out ${out}: already holds a finished run (report.json); give --force to replace it, or choose another --out\n`);
  });

  it('a folder holding other files is refused even with --force (nothing of the user is deleted)', () => {
    const out = path.join(work, 'home');
    mkdirSync(out);
    writeFileSync(path.join(out, 'thesis.tex'), '\\begin{document}');
    expect(() => openOutFolder(out, { marker: 'report.json', force: true })).toThrow(`--out ${out}: holds files that are not a finished run's output (thesis.tex); choose an empty or new folder`);
    expect(readdirSync(out)).toEqual(['thesis.tex']);
  });
});

// Issue 12, defect 7 (second half): a run that failed left a partial --out folder.
describe('a run that fails', () => {
  it('leaves no --out folder, only its staging folder beside it for --resume', async () => {
    const out = path.join(work, 'failed');
    const readerLabels = path.join(work, 'no-header.csv');
    writeFileSync(readerLabels, 'a/0.png,a\n');
    await expect(runExperiment(resolveConfig({ ...settings('failed-data'), out, readerLabels }), () => undefined)).rejects.toThrow(/--reader-labels/);
    expect(existsSync(out)).toBe(false);
    // A later run clears the leftover (and says so) unless --resume, then succeeds.
    const lines: string[] = [];
    await runExperiment(resolveConfig({ ...settings('failed-data'), out }), (line) => lines.push(line));
    expect(lines[0]).toBe(`cleared ${path.join(work, '.failed.partial')}, the partial output of an interrupted run (--resume would have continued it)`);
    expect(existsSync(path.join(out, 'report.json'))).toBe(true);
  }, 120_000);

  it('cnn forward: a rerun replaces the earlier output whole (no stale layer files), built beside it', async () => {
    const out = path.join(work, 'forward');
    const input = path.join(work, 'input.f32');
    writeFileSync(input, Buffer.alloc(3 * 227 * 227 * 4));
    const args = ['forward', '--prototxt', tiny('deploy.prototxt'), '--weights', tiny('caffenet_tiny_v1.caffemodel'), '--input', input, '--shape', '1,3,227,227', '--out', out];
    expect((await cnn(...args)).code).toBe(0);
    expect(readdirSync(out)).toContain('fc8.f32');
    const rerun = await cnn(...args, '--outputs', 'conv1');
    expect(rerun.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['conv1.f32', 'index.json', 'input.f32']);
    expect(rerun.stderr).toBe(`replaced the earlier run in ${out} (--force)\n`);
  });
});

describe('two runs writing one --out at once', () => {
  it('the second is refused while the first is alive; a dead run\'s lock is taken over', () => {
    const out = path.join(work, 'busy');
    const first = openOutFolder(out, { marker: 'report.json' });
    expect(() => openOutFolder(out, { marker: 'report.json' })).toThrow(`--out ${out}: another run (process ${process.pid}) is writing it right now (in ${path.join(work, '.busy.partial')})`);
    // A process that died without unlocking: a pid that cannot be alive.
    writeFileSync(path.join(first.dir, '.lock'), '2147483646\n');
    writeFileSync(path.join(first.dir, 'checkpoint'), 'iteration 20');
    const resumed = openOutFolder(out, { marker: 'report.json', resume: true });
    expect(readFileSync(path.join(resumed.dir, 'checkpoint'), 'utf8')).toBe('iteration 20');
    resumed.commit();
    expect(readdirSync(out)).toEqual(['checkpoint']);
  });
});
