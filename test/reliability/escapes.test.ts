import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers/shared.js';
import { grayPng } from '../label/helpers.js';
import { cnn } from './cnn.js';

// Issue 12, defect 16: control characters from input files reached the terminal raw.
const work = mkdtempSync(path.join(tmpdir(), 'cnn-escapes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const CLEAR_SCREEN = '\u001b[2J';
const CLIPBOARD = '\u001b]52;c;cm0gLXJmIH4=\u0007';
// Any C0 control but tab and line feed, DEL, or a C1 control (the one-byte CSI U+009B among them).
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('control characters from files are shown escaped', () => {
  it('in an error line: a CSV header cell holding an escape sequence and a line feed stays one visible line', async () => {
    const csv = path.join(work, 'manifest.csv');
    writeFileSync(csv, `"fi${CLEAR_SCREEN}le\nforged: all fine",label\na.png,x\n`);
    const lenet = (file: string): string => fixture('caffe/real/lenet', file);
    const run = await cnn('experiment', '--data', csv, '--prototxt', lenet('deploy.prototxt'), '--weights', lenet('model.caffemodel'), '--quiet');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('fi\\x1b[2Jle\\x0aforged: all fine');
    expect(run.stderr).not.toMatch(RAW_CONTROL);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('in normal output: class labels of cnn classify holding terminal commands', async () => {
    const labels = path.join(work, 'labels.txt');
    writeFileSync(labels, Array.from({ length: 10 }, (_, i) => (i % 2 ? `digit ${i}${CLIPBOARD}` : `digit ${i}\r${CLEAR_SCREEN}`)).join('\n'));
    const image = path.join(work, 'digit.png');
    writeFileSync(image, grayPng(28, 1));
    const lenet = (file: string): string => fixture('caffe/real/lenet', file);
    const run = await cnn('classify', '--prototxt', lenet('deploy.prototxt'), '--weights', lenet('model.caffemodel'), '--labels', labels, image);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/digit \d(\\x1b\]52;c;cm0gLXJmIH4=\\x07|\\x0d\\x1b\[2J)/);
    expect(run.stdout).not.toMatch(RAW_CONTROL);
  });
});
