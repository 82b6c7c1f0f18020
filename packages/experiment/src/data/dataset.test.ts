import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCsv } from './csv.js';
import { loadDataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { writeDicom } from './testing/dicom.js';
import { writePng } from './testing/png.js';
import { sharedDataDir } from './testing/shared.js';

const SHARED_DATA = sharedDataDir();
const PNG = writePng({ width: 2, height: 2, colorType: 0, depth: 8, samples: [0, 50, 100, 150] });
const DCM = writeDicom({ rows: 1, columns: 2, bitsAllocated: 8, pixels: [0, 9] });

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A temporary folder holding `files` (relative path -> contents; a trailing '/' makes an empty folder). */
function tree(files: Record<string, string | Uint8Array>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'cnn-data-'));
  dirs.push(root);
  for (const [name, contents] of Object.entries(files)) {
    const full = path.join(root, name);
    if (name.endsWith('/')) {
      mkdirSync(full, { recursive: true });
      continue;
    }
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, contents);
  }
  return root;
}

describe('parseCsv', () => {
  it('quoted fields hold commas, doubled quotes and line breaks; lines are counted', () => {
    const text = '\ufeffpath,label\r\n"a, b.png","say ""hi"""\r\n"multi\nline.png",x\n\nlast.png,y';
    expect(parseCsv(text, 'm.csv')).toEqual([
      { fields: ['path', 'label'], line: 1 },
      { fields: ['a, b.png', 'say "hi"'], line: 2 },
      { fields: ['multi\nline.png', 'x'], line: 3 },
      { fields: ['last.png', 'y'], line: 6 },
    ]);
  });

  it('keeps empty fields: a,,c and a trailing comma', () => {
    expect(parseCsv('a,,c\nd,\n', 'm.csv').map((r) => r.fields)).toEqual([
      ['a', '', 'c'],
      ['d', ''],
    ]);
  });

  it('an unterminated quote names the line it opened on', () => {
    expect(() => parseCsv('path,label\nx.png,ok\n"y.png,bad\n', 'm.csv')).toThrow(/^m\.csv:3: unterminated quoted field/);
  });

  it('text after a closing quote is an error', () => {
    expect(() => parseCsv('"a"b,c', 'm.csv')).toThrow(/m\.csv:1: text after a closing quote/);
  });
});

describe('loadDataset from class folders', () => {
  it('classes are the sorted folder names; non-images are noted; a fake .png is a problem; DICOM needs no extension', async () => {
    const root = tree({
      'liver/a.png': PNG,
      'liver/notes.txt': 'hello',
      'liver/.DS_Store': 'x',
      'kidney/b.png': PNG,
      'kidney/IM0001': DCM,
      'kidney/broken.png': 'not a png at all',
      'README.md': '# data',
    });
    const ds = await loadDataset(root);
    expect(ds.kind).toBe('folder');
    expect(ds.classes).toEqual(['kidney', 'liver']);
    expect(ds.items.map((i) => [i.name, i.label])).toEqual([
      ['kidney/IM0001', 0],
      ['kidney/b.png', 0],
      ['liver/a.png', 1],
    ]);
    expect(ds.items[0]!.path).toBe(path.join(root, 'kidney/IM0001'));
    expect(ds.problems).toEqual([{ path: path.join(root, 'kidney/broken.png'), reason: expect.stringMatching(/not a PNG, JPEG or DICOM/) }]);
    expect(ds.notes.join('\n')).toMatch(/ignored 1 file\(s\) at the top level.*README\.md/);
    expect(ds.notes.join('\n')).toMatch(/ignored 1 non-image file\(s\): liver\/notes\.txt/);
    expect(ds.notes.join('\n')).toMatch(/3 image\(s\) directly in class folders are each their own study/);
  });

  it('a subfolder inside a class folder is a study, shared across classes', async () => {
    const root = tree({ 'liver/exam01/a.png': PNG, 'liver/exam02/b.png': PNG, 'kidney/exam01/c.png': PNG, 'kidney/d.png': PNG });
    const ds = await loadDataset(root);
    expect(Object.fromEntries(ds.items.map((i) => [i.name, i.study]))).toEqual({
      'kidney/d.png': 'kidney/d.png',
      'kidney/exam01/c.png': 'exam01',
      'liver/exam01/a.png': 'exam01',
      'liver/exam02/b.png': 'exam02',
    });
    expect(ds.warnings.join('\n')).toMatch(/1 of 3 studies have images under two or more labels: 'exam01' \(kidney, liver\)/);
    const flat = await loadDataset(root, { studyFromSubfolder: false });
    expect(flat.items.every((i) => i.study === i.name)).toBe(true);
  });

  it('an empty class folder is an error naming it', async () => {
    const root = tree({ 'liver/a.png': PNG, 'kidney/b.png': PNG, 'spleen/': '' });
    await expect(loadDataset(root)).rejects.toThrow(/class folder .*spleen/);
  });

  it('a class whose only file is corrupt is an error too (and the file is not silently dropped)', async () => {
    const root = tree({ 'liver/a.png': PNG, 'kidney/b.png': PNG, 'spleen/x.png': 'garbage' });
    await expect(loadDataset(root)).rejects.toThrow(/1 class\(es\) have no readable images: class folder .*spleen/);
  });

  it('a single class is an error', async () => {
    const root = tree({ 'liver/a.png': PNG, 'liver/b.png': PNG });
    await expect(loadDataset(root)).rejects.toThrow(/only one class \('liver'\): a classifier needs at least two/);
  });

  it('a missing source names it', async () => {
    await expect(loadDataset('/nonexistent/data')).rejects.toThrow(DatasetError);
    await expect(loadDataset('/nonexistent/data')).rejects.toThrow(/^\/nonexistent\/data: data source not found/);
  });

  it('options.classes sets the order', async () => {
    const root = tree({ 'liver/a.png': PNG, 'kidney/b.png': PNG });
    const ds = await loadDataset(root, { classes: ['liver', 'kidney'] });
    expect(ds.items.map((i) => [i.name, i.label])).toEqual([
      ['kidney/b.png', 1],
      ['liver/a.png', 0],
    ]);
  });
});

describe('loadDataset from a CSV manifest', () => {
  it('reads quoted paths relative to the CSV, lists missing files with their line, warns on a study under two labels', async () => {
    const root = tree({
      'imgs/a, 1.png': PNG,
      'imgs/b.png': PNG,
      'imgs/c.png': PNG,
      'manifest.csv': [
        'path,label,study,split',
        '"imgs/a, 1.png",benign,p1,train',
        'imgs/b.png,malignant,p1,',
        'imgs/missing.png,benign,p2,test',
        'imgs/c.png,"malignant",p3,TEST',
      ].join('\n'),
    });
    const ds = await loadDataset(path.join(root, 'manifest.csv'));
    expect(ds.kind).toBe('csv');
    expect(ds.classes).toEqual(['benign', 'malignant']);
    expect(ds.items.map((i) => [i.name, i.label, i.study, i.split, i.line])).toEqual([
      ['imgs/a, 1.png', 0, 'p1', 'train', 2],
      ['imgs/b.png', 1, 'p1', undefined, 3],
      ['imgs/c.png', 1, 'p3', 'test', 5],
    ]);
    expect(ds.problems).toEqual([{ path: path.join(root, 'imgs/missing.png'), line: 4, reason: 'line 4: file not found' }]);
    expect(ds.warnings).toHaveLength(1);
    expect(ds.warnings[0]).toMatch(/'p1' \(benign, malignant\)/);
  });

  it('accepts header aliases (filename, class), notes the missing study column', async () => {
    const root = tree({ 'x.png': PNG, 'y.png': PNG, 'm.csv': 'Filename,Class\r\nx.png,a\r\ny.png,b\r\n' });
    const ds = await loadDataset(path.join(root, 'm.csv'));
    expect(ds.items.map((i) => [i.name, i.study])).toEqual([
      ['x.png', 'x.png'],
      ['y.png', 'y.png'],
    ]);
    expect(ds.notes.join('\n')).toMatch(/no study column: each image is its own study/);
  });

  it('a header without path or label columns is an error naming the line and the accepted names', async () => {
    const root = tree({ 'm.csv': 'image_name,diagnosis\nx.png,a\n' });
    await expect(loadDataset(path.join(root, 'm.csv'))).rejects.toThrow(/m\.csv:1: the header row \(image_name,diagnosis\) needs a path column \(path\/file/);
  });

  it('an unknown split value is an error with its line', async () => {
    const root = tree({ 'x.png': PNG, 'y.png': PNG, 'm.csv': 'path,label,split\nx.png,a,train\ny.png,b,holdout\n' });
    await expect(loadDataset(path.join(root, 'm.csv'))).rejects.toThrow(/m\.csv:3: split 'holdout' is not train, val or test/);
  });

  it('a label whose rows all point at missing files is an error naming it and its first line', async () => {
    const root = tree({ 'x.png': PNG, 'y.png': PNG, 'm.csv': 'path,label\nx.png,a\ny.png,b\ngone1.png,c\ngone2.png,c\n' });
    await expect(loadDataset(path.join(root, 'm.csv'))).rejects.toThrow(/no readable images: label 'c' \(first on line 4 .*their rows point at missing files/);
  });

  it('rows with the wrong number of fields, empty cells or a repeated file are problems, not crashes', async () => {
    const root = tree({ 'x.png': PNG, 'y.png': PNG, 'm.csv': 'path,label\nx.png,a\ny.png,b,extra\n,b\ny.png,b\nx.png,b\n' });
    const ds = await loadDataset(path.join(root, 'm.csv'));
    expect(ds.items.map((i) => i.line)).toEqual([2, 5]);
    expect(ds.problems.map((p) => p.reason)).toEqual([
      'line 3 has 3 fields, the header has 2',
      'line 4: empty path',
      'line 6 repeats the file of line 2; the first is kept',
    ]);
  });

  it('the shared manifests load with their own columns (path,label,study,source_split)', async () => {
    const busi = await loadDataset(path.join(SHARED_DATA, 'busi/manifest.csv'));
    expect(busi.classes).toEqual(['benign', 'malignant', 'normal']);
    expect(busi.items).toHaveLength(780);
    expect(busi.problems).toEqual([]);
    expect(busi.items.every((i) => i.split === undefined)).toBe(true);
    // The README's three studies holding one image under two labels.
    expect(busi.warnings).toHaveLength(1);
    expect(busi.warnings[0]).toMatch(/^3 of 748 studies .*'benign-042' \(benign, malignant\)/);
    expect(busi.notes.join('\n')).toMatch(/ignored CSV column\(s\): source_split \(source_split is the original authors' split/);

    const usa = await loadDataset(path.join(SHARED_DATA, 'usanotai/manifest.csv'));
    expect(usa.classes).toEqual(['bladder', 'bowel', 'gallbladder', 'kidney', 'liver', 'spleen']);
    expect(usa.items).toHaveLength(366);
    expect(usa.warnings).toEqual([]);
    const given = await loadDataset(path.join(SHARED_DATA, 'usanotai/manifest.csv'), { splitColumn: 'source_split' });
    expect(given.items.filter((i) => i.split === 'test')).toHaveLength(60);
  });

  it('a split column named in options but absent is an error', async () => {
    await expect(loadDataset(path.join(SHARED_DATA, 'busi/manifest.csv'), { splitColumn: 'fold' })).rejects.toThrow(/no column 'fold'/);
  });
});
