import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from '@cnn/experiment/data';
import { listImages } from '@cnn/experiment/label';
import { grayPng } from '../label/helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'cnn-data-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A data folder `name` with class folders of `count` small PNGs each. */
function folder(name: string, classes: Record<string, number>): string {
  const root = path.join(work, name);
  for (const [label, count] of Object.entries(classes)) {
    mkdirSync(path.join(root, label), { recursive: true });
    for (let i = 0; i < count; i++) writeFileSync(path.join(root, label, `${label}-${i}.png`), grayPng(8, i));
  }
  return root;
}

const byClass = (items: { label: number }[], classes: string[]): Record<string, number> =>
  Object.fromEntries(classes.map((name, c) => [name, items.filter((item) => item.label === c).length]));

// Issue 12, defect 3: symlinked images and class folders were dropped without a word.
describe('symlinks in a data folder', () => {
  it('a symlinked class folder and symlinked images inside the data set are followed', async () => {
    // The images live in a hidden store inside the data folder; the classes link to them.
    const root = folder('links', { a: 2 });
    const store = folder('links/.store', { b: 3, c: 3 });
    symlinkSync(path.join(store, 'b'), path.join(root, 'b'));
    mkdirSync(path.join(root, 'c'));
    for (let i = 0; i < 3; i++) symlinkSync(path.join(store, 'c', `c-${i}.png`), path.join(root, 'c', `c-${i}.png`));
    const dataset = await loadDataset(root);
    expect(dataset.classes).toEqual(['a', 'b', 'c']);
    expect(byClass(dataset.items, dataset.classes)).toEqual({ a: 2, b: 3, c: 3 });
    expect(dataset.problems).toEqual([]);
  });

  it('a second path to an image already found is listed, and the image counted once', async () => {
    const root = folder('twice', { a: 2, b: 2 });
    symlinkSync(path.join(root, 'a', 'a-0.png'), path.join(root, 'b', 'copy.png'));
    const dataset = await loadDataset(root);
    expect(byClass(dataset.items, dataset.classes)).toEqual({ a: 2, b: 2 });
    expect(dataset.problems.map((p) => [path.relative(root, p.path), p.reason])).toEqual([['b/copy.png', `the same file as ${path.join(root, 'a', 'a-0.png')}; skipped so nothing is counted twice`]]);
  });

  it('a loop, a broken link and a link leading outside are listed as problems with the reason', async () => {
    const root = folder('bad-links', { a: 2, b: 2 });
    symlinkSync(root, path.join(root, 'a', 'loop'));
    symlinkSync(path.join(work, 'nowhere.png'), path.join(root, 'a', 'broken.png'));
    const outside = folder('outside', { x: 1 });
    symlinkSync(path.join(outside, 'x', 'x-0.png'), path.join(root, 'b', 'secret.png'));
    const dataset = await loadDataset(root);
    expect(byClass(dataset.items, dataset.classes)).toEqual({ a: 2, b: 2 });
    const reasons = Object.fromEntries(dataset.problems.map((p) => [path.relative(root, p.path), p.reason]));
    expect(reasons['a/loop']).toMatch(/^a symlink loop back to .*bad-links; skipped/);
    expect(reasons['a/broken.png']).toMatch(/^broken symlink \(to .*nowhere\.png\)/);
    expect(reasons['b/secret.png']).toMatch(/^symlink leads outside the data folder, to .*outside\/x\/x-0\.png; refused \(--allow-outside-data follows it\)/);
    const allowed = await loadDataset(root, { allowOutside: true });
    expect(byClass(allowed.items, allowed.classes)).toEqual({ a: 2, b: 3 });
  });
});

// Issue 12, defect 12: manifest paths leading out of the data folder were opened without a word.
describe('manifest paths outside the data folder', () => {
  it('are refused with the line and the reason unless allowed', async () => {
    const root = folder('manifest-out', { a: 2, b: 2 });
    const outside = folder('elsewhere', { x: 2 });
    const csv = path.join(root, 'list.csv');
    const rows = ['a/a-0.png,a', 'a/a-1.png,a', 'b/b-0.png,b', 'b/b-1.png,b', '../elsewhere/x/x-0.png,b', `${path.join(outside, 'x', 'x-1.png')},a`];
    writeFileSync(csv, `path,label\n${rows.join('\n')}\n`);
    const dataset = await loadDataset(csv);
    expect(dataset.items).toHaveLength(4);
    expect(dataset.problems.map((p) => [p.line, p.reason.replace(/: .*refused/, ': ... refused')])).toEqual([
      [6, 'line 6: ... refused (--allow-outside-data uses it)'],
      [7, 'line 7: ... refused (--allow-outside-data uses it)'],
    ]);
    expect(dataset.problems[0]!.reason).toContain("../elsewhere/x/x-0.png lies outside the manifest's folder");
    expect((await loadDataset(csv, { allowOutside: true })).items).toHaveLength(6);
  });
});

// Issue 12, "Also": a folder holding manifest.csv was read as class folders, each image its own study.
describe('a data folder holding manifest.csv', () => {
  it('is read through the manifest (its studies), and a note says so', async () => {
    const root = folder('with-manifest', { a: 4, b: 4 });
    const rows = [0, 1, 2, 3].flatMap((i) => [`a/a-${i}.png,a,clip-a${i >> 1}`, `b/b-${i}.png,b,clip-b${i >> 1}`]);
    writeFileSync(path.join(root, 'manifest.csv'), `path,label,study\n${rows.join('\n')}\n`);
    const dataset = await loadDataset(root);
    expect(dataset.kind).toBe('csv');
    expect(new Set(dataset.items.map((item) => item.study))).toEqual(new Set(['clip-a0', 'clip-a1', 'clip-b0', 'clip-b1']));
    expect(dataset.notes[0]).toMatch(/holds manifest\.csv: its labels, studies and splits are used, not the class folders/);
  });
});

// Issue 12, defect 17: an --out inside a class folder made the report's own figures training images.
describe("the run's own folders inside the data folder", () => {
  it('are not scanned, and a note says so', async () => {
    const root = folder('out-inside', { a: 2, b: 2 });
    const out = path.join(root, 'a', 'results');
    mkdirSync(out);
    writeFileSync(path.join(out, 'conv1-filters.png'), grayPng(8, 5));
    const dataset = await loadDataset(root, { exclude: [out] });
    expect(byClass(dataset.items, dataset.classes)).toEqual({ a: 2, b: 2 });
    expect(dataset.notes.join('\n')).toContain(`did not scan ${out} (the run's own output or cache folder)`);
  });
});

describe("the labeller's image list", () => {
  it('follows the same symlinks and lists the same refusals as an experiment', async () => {
    const root = folder('label-links', { a: 2 });
    const store = folder('label-links/.store', { b: 2 });
    symlinkSync(path.join(store, 'b'), path.join(root, 'b'));
    const outside = folder('label-outside', { x: 1 });
    symlinkSync(path.join(outside, 'x', 'x-0.png'), path.join(root, 'a', 'secret.png'));
    const list = await listImages(root);
    expect(list.images.map((image) => image.name)).toEqual(['a/a-0.png', 'a/a-1.png', 'b/b-0.png', 'b/b-1.png']);
    expect(list.problems).toEqual([`${path.join(root, 'a', 'secret.png')}: symlink leads outside the data folder, to ${path.join(outside, 'x', 'x-0.png')}; refused (--allow-outside-data follows it)`]);
  });
});
