import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeReport } from './write.js';
import { renderAndWriteReport } from './figures.js';
import { sampleReport } from './testing/fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnn-report-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A producer that yields some data and then fails, as a crash midway through writing would. */
async function* failingMidway(): AsyncGenerator<string> {
  yield 'the first half of a new file, ';
  throw new Error('producer failed');
}

const tempsIn = async (folder: string): Promise<string[]> => (await readdir(folder)).filter((n) => n.includes('.tmp-'));

describe('writeFileAtomic', () => {
  it('writes strings, bytes and chunk streams, replacing the old file', async () => {
    const path = join(dir, 'a.txt');
    await writeFileAtomic(path, 'old');
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    await writeFileAtomic(path, Uint8Array.from([104, 105]));
    expect(await readFile(path, 'utf8')).toBe('hi');
    await writeFileAtomic(path, ['x', Uint8Array.from([121]), 'z']);
    expect(await readFile(path, 'utf8')).toBe('xyz');
    expect(await tempsIn(dir)).toEqual([]);
  });

  it('leaves the old file intact and no temporary file when the data producer fails midway', async () => {
    const path = join(dir, 'report.json');
    await writeFileAtomic(path, '{"complete":true}');
    await expect(writeFileAtomic(path, failingMidway())).rejects.toThrow('producer failed');
    expect(await readFile(path, 'utf8')).toBe('{"complete":true}');
    expect(await tempsIn(dir)).toEqual([]);
  });

  it('fails cleanly when the rename target is a folder', async () => {
    const path = join(dir, 'taken');
    await mkdir(path);
    await writeFile(join(path, 'inside.txt'), 'keep');
    await expect(writeFileAtomic(path, 'data')).rejects.toThrow();
    expect(await readFile(join(path, 'inside.txt'), 'utf8')).toBe('keep');
    expect(await tempsIn(dir)).toEqual([]);
  });
});

describe('writeReport', () => {
  const first = { reportJson: sampleReport(), html: '<html>first</html>', figures: { 'confusion.svg': '<svg>1</svg>', 'venn.svg': '<svg>v</svg>', 'conv1-filters.png': Uint8Array.from([1, 2, 3]) } };

  /** Every file in the folder (sub-folders skipped) with its bytes. */
  async function snapshot(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isFile()) out[entry.name] = await readFile(join(dir, entry.name), 'latin1');
    }
    return out;
  }

  it('writes every file, report.json last, with the keys scripts read', async () => {
    const written = await writeReport(dir, first);
    expect(written.map((p) => p.slice(dir.length + 1))).toEqual(['confusion.svg', 'venn.svg', 'conv1-filters.png', 'report.html', 'report.json']);
    const json = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'));
    expect(json.test.accuracy).toBe(0.5);
    expect(json.test.ci95).toEqual([0.25, 0.75]);
    expect(json.test.confusion[0]).toEqual([1, 1, 0]);
    expect(json.classes).toHaveLength(3);
    expect(json.timing.features_per_second).toBe(12.5);
    expect(json.timing.total_seconds).toBe(42.25);
    expect(await readFile(join(dir, 'report.html'), 'utf8')).toBe('<html>first</html>');
    expect(Array.from(await readFile(join(dir, 'conv1-filters.png')))).toEqual([1, 2, 3]);
  });

  it('keeps the whole previous report when writing a new one fails midway (a figure producer throws)', async () => {
    await writeReport(dir, first);
    const before = await snapshot();
    await expect(
      writeReport(dir, { reportJson: sampleReport({ title: 'second' }), html: '<html>second</html>', figures: { 'confusion.svg': '<svg>2</svg>', 'tsne.svg': failingMidway() } }),
    ).rejects.toThrow('producer failed');
    expect(await snapshot()).toEqual(before);
  });

  it('keeps the whole previous report when a target name is taken by a folder', async () => {
    await writeReport(dir, first);
    await mkdir(join(dir, 'tsne.svg'));
    const before = await snapshot();
    await expect(writeReport(dir, { reportJson: '{}', html: 'x', figures: { 'confusion.svg': 'new', 'tsne.svg': '<svg/>' } })).rejects.toThrow(/a folder has that name/);
    expect(await snapshot()).toEqual(before);
  });

  it('removes figures the previous report wrote and this one does not, and leaves other files alone', async () => {
    await writeReport(dir, first);
    await writeFile(join(dir, 'notes.txt'), 'mine');
    await writeReport(dir, { reportJson: sampleReport({ reader: undefined }), html: '<html>no reader</html>', figures: { 'confusion.svg': '<svg>2</svg>' } });
    const names = await readdir(dir);
    expect(names).not.toContain('venn.svg');
    expect(names).not.toContain('conv1-filters.png');
    expect(names).toContain('notes.txt');
    expect(names).toContain('confusion.svg');
  });

  it('cleans up temporaries a crashed writer left behind, but not a live one', async () => {
    await mkdir(dir, { recursive: true });
    const dead = '.report.json.tmp-2147483646-0123abcd';
    const live = `.report.html.tmp-${process.pid}-89abcdef`;
    await writeFile(join(dir, dead), 'half');
    await writeFile(join(dir, live), 'in progress');
    await writeReport(dir, first);
    const names = await readdir(dir);
    expect(names).not.toContain(dead);
    expect(names).toContain(live);
  });

  it('rejects figure names that are paths or would replace the report itself', async () => {
    await expect(writeReport(dir, { reportJson: '{}', html: '', figures: { '../x.svg': '' } })).rejects.toThrow(/plain file name/);
    await expect(writeReport(dir, { reportJson: '{}', html: '', figures: { 'report.json': '' } })).rejects.toThrow(/plain file name/);
  });

  it('renders and writes a full report into a new folder', async () => {
    const out = join(dir, 'nested', 'out');
    await renderAndWriteReport(out, sampleReport(), { conv1: { weights: new Float32Array(2 * 3 * 2 * 2).map((_, i) => i), shape: [2, 3, 2, 2], channelOrder: 'BGR' } });
    expect((await readdir(out)).sort()).toEqual(['.report-files.json', 'confusion.svg', 'conv1-filters.png', 'report.html', 'report.json', 'training-curves.svg', 'venn.svg']);
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('data:image/png;base64,');
  });
});
