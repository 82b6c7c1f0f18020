import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig, runExperiment } from '@cnn/experiment';
import { fixture } from '../helpers/shared.js';
import { grayPng } from '../label/helpers.js';
import { cnn } from './cnn.js';

// Issue 12, defect 17: the smaller findings.
const work = mkdtempSync(path.join(tmpdir(), 'cnn-small-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the smaller findings', () => {
  it('a 1-byte model is named by its size, not called "a text file (starts with "")"', async () => {
    const model = path.join(work, 'one.caffemodel');
    writeFileSync(model, '\n');
    const run = await cnn('inspect', model);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`cnn: CaffeFormatError: ${model}: is only 1 byte long: too short for a .caffemodel (a truncated or placeholder file?) (byte offset 0)\n`);
  });

  it('cnn inspect on a folder names it', async () => {
    const run = await cnn('inspect', work);
    expect(run.stderr).toBe(`cnn: CaffeFormatError: ${work}: is a folder, not a .caffemodel file\n`);
  });

  it('cnn label --out <folder> names the folder and what to give instead, not EISDIR', async () => {
    const data = path.join(work, 'label-data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'a.png'), grayPng(8, 1));
    const out = path.join(work, 'labels-folder');
    mkdirSync(out);
    const run = await cnn('label', '--data', data, '--classes', 'x,y', '--out', out);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`cnn: LabelError: --out ${out} is a folder; give the label file to write, such as ${path.join(out, 'labels.csv')}\n`);
  });

  it('--reader-labels that match no test image fail before the model is loaded', async () => {
    const data = path.join(work, 'reader-data');
    for (const label of ['a', 'b']) {
      mkdirSync(path.join(data, label), { recursive: true });
      for (let i = 0; i < 4; i++) writeFileSync(path.join(data, label, `${i}.png`), grayPng(16, i));
    }
    const readerLabels = path.join(work, 'reader.csv');
    writeFileSync(readerLabels, 'path,label\nother/x1.png,a\nother/x2.png,b\n');
    const tiny = (file: string): string => fixture('caffe/caffenet_tiny', file);
    const lines: string[] = [];
    const config = resolveConfig({ data, prototxt: tiny('deploy.prototxt'), weights: tiny('caffenet_tiny_v1.caffemodel'), preset: 'caffenet', out: path.join(work, 'reader-out'), maxIter: 2, quiet: true, cacheDir: path.join(work, 'cache'), readerLabels, split: { train: 0.5, val: 0, test: 0.5 } });
    await expect(runExperiment(config, (line) => lines.push(line))).rejects.toThrow(
      new RegExp(`--reader-labels ${readerLabels}: none of its 2 row\\(s\\) labels a test image of this run with a known class \\(test images are named like [ab]/\\d\\.png\\): 2: other/x1\\.png \\(not a test image\\); 3: other/x2\\.png \\(not a test image\\)`),
    );
    expect(lines.some((line) => line.startsWith('model:'))).toBe(false);
  });
});
