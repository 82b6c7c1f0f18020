import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LabelError, LabelStore, startLabelling } from '@cnn/experiment/label';
import { grayPng } from './helpers.js';

/**
 * Where `cnn label --out` may point: the lock is taken on the file's real path (a symlink or
 * another spelling reaches the same lock), and the data set's own manifest is never written over.
 */

const work = mkdtempSync(path.join(tmpdir(), 'cnn-label-out-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A folder holding two PNGs and manifest.csv (path,label) listing them. */
function dataset(name: string): { dir: string; manifest: string; text: string } {
  const dir = path.join(work, name);
  const manifest = path.join(dir, 'manifest.csv');
  const text = 'path,label\na.png,liver\nb.png,kidney\n';
  mkdirSync(dir);
  ['a.png', 'b.png'].forEach((file, i) => writeFileSync(path.join(dir, file), grayPng(8, i)));
  writeFileSync(manifest, text);
  return { dir, manifest, text };
}

describe('the label file behind a symlink', () => {
  it('is locked on its real path: a second writer through a symlink is refused', async () => {
    const real = path.join(work, 'real.csv');
    const link = path.join(work, 'link.csv');
    symlinkSync(real, link);
    const first = await LabelStore.open(real);
    await expect(LabelStore.open(link)).rejects.toThrow(`${real} is in use by another labeller (process ${process.pid})`);
    await first.close();
  });

  it('is written through the symlink into the real file, leaving the symlink in place', async () => {
    const real = path.join(work, 'target.csv');
    const link = path.join(work, 'pointer.csv');
    symlinkSync(real, link);
    const store = await LabelStore.open(link);
    expect(store.file).toBe(real);
    await store.set({ path: 'a.png', label: 'liver', labeller: 'ann', timestamp: '2024-05-01T10:00:00.000Z' });
    await store.close();
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe('path,label,labeller,timestamp\na.png,liver,ann,2024-05-01T10:00:00.000Z\n');
  });
});

describe("the data set's own manifest as --out", () => {
  const cases: [string, (d: ReturnType<typeof dataset>) => { data: string; out: string }][] = [
    ['the CSV given as --data', (d) => ({ data: d.manifest, out: d.manifest })],
    ['the same CSV spelt another way', (d) => ({ data: d.manifest, out: path.join(d.dir, '..', path.basename(d.dir), '.', 'manifest.csv') })],
    ['the same CSV through a symlink', (d) => {
      const link = path.join(work, `${path.basename(d.dir)}-link.csv`);
      symlinkSync(d.manifest, link);
      return { data: d.manifest, out: link };
    }],
    ['the manifest.csv of the --data folder', (d) => ({ data: d.dir, out: d.manifest })],
  ];
  it.each(cases)('is refused when --out is %s, and the manifest is left as it was', async (_what, pick) => {
    const d = dataset(`set-${Math.random().toString(36).slice(2)}`);
    const { data, out } = pick(d);
    const attempt = startLabelling({ data, classes: 'liver,kidney', out, labeller: 'ann' });
    await expect(attempt).rejects.toBeInstanceOf(LabelError);
    await expect(attempt).rejects.toThrow(`--out ${out} is the data set's own manifest (${d.manifest}): labels written there would replace the ground truth; give another file`);
    expect(readFileSync(d.manifest, 'utf8')).toBe(d.text);
  });
});
