import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from '@cnn/experiment/data';
import { LabelError, LabelStore, READER_COLUMNS, csvField } from '@cnn/experiment/label';
import { REPO_ROOT } from '../helpers/shared.js';
import { expectedFile } from './store-rows.js';

const work = mkdtempSync(path.join(tmpdir(), 'cnn-label-store-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let count = 0;
const fresh = (): string => {
  const dir = path.join(work, `case${count++}`);
  mkdirSync(dir);
  return path.join(dir, 'labels.csv');
};
const row = (p: string, label: string) => ({ path: p, label, labeller: 'ann', timestamp: '2024-05-01T10:00:00.000Z' });

describe('LabelStore', () => {
  it('writes path,label,labeller,timestamp and reads it back, quoting commas, quotes and line breaks', async () => {
    const file = fresh();
    const store = await LabelStore.open(file);
    await store.set(row('plain/a.png', 'liver'));
    await store.set(row('with, comma/"quoted"\nname.png', 'kidney left'));
    await store.close();
    expect(readFileSync(file, 'utf8')).toBe(
      'path,label,labeller,timestamp\nplain/a.png,liver,ann,2024-05-01T10:00:00.000Z\n"with, comma/""quoted""\nname.png",kidney left,ann,2024-05-01T10:00:00.000Z\n',
    );
    const again = await LabelStore.open(file);
    expect(again.get('with, comma/"quoted"\nname.png')?.label).toBe('kidney left');
    expect(again.size).toBe(2);
    await again.close();
  });

  it('keeps the last label of a path, on relabelling and when reading a file with repeated rows', async () => {
    const file = fresh();
    writeFileSync(file, 'path,label,labeller,timestamp\na.png,liver,ann,t1\nb.png,spleen,ann,t2\na.png,kidney,bob,t3\n');
    const store = await LabelStore.open(file);
    expect(store.get('a.png')).toMatchObject({ label: 'kidney', labeller: 'bob' });
    await store.set(row('b.png', 'pancreas'));
    await store.close();
    const rows = parseCsv(readFileSync(file, 'utf8'), file).map((r) => r.fields.slice(0, 2));
    expect(rows).toEqual([['path', 'label'], ['a.png', 'kidney'], ['b.png', 'pancreas']]);
  });

  it('keeps columns it does not know when it rewrites a file', async () => {
    const file = fresh();
    writeFileSync(file, 'path,label,labeller,timestamp,comment\na.png,liver,ann,t1,faint\n');
    const store = await LabelStore.open(file);
    await store.set(row('a.png', 'spleen'));
    await store.set(row('b.png', 'liver'));
    await store.close();
    expect(readFileSync(file, 'utf8')).toBe(
      'path,label,labeller,timestamp,comment\na.png,spleen,ann,2024-05-01T10:00:00.000Z,faint\nb.png,liver,ann,2024-05-01T10:00:00.000Z,\n',
    );
  });

  it('writes the seconds column of a reader study with millisecond precision', async () => {
    const file = fresh();
    const store = await LabelStore.open(file, { columns: READER_COLUMNS });
    await store.set({ ...row('a.png', 'liver'), seconds: 2.34567 });
    await store.close();
    expect(readFileSync(file, 'utf8').split('\n')[1]).toBe('a.png,liver,ann,2024-05-01T10:00:00.000Z,2.346');
  });

  it('deletes a label (the undo of a first label)', async () => {
    const file = fresh();
    const store = await LabelStore.open(file);
    await store.set(row('a.png', 'liver'));
    await store.delete('a.png');
    await store.close();
    expect(readFileSync(file, 'utf8')).toBe('path,label,labeller,timestamp\n');
  });

  it('loses no label when many arrive at once (two tabs): saves queue, and the file ends with all of them', async () => {
    const file = fresh();
    const store = await LabelStore.open(file);
    await Promise.all(Array.from({ length: 60 }, (_, i) => store.set(row(`img${i}.png`, i % 2 === 0 ? 'liver' : 'spleen'))));
    const rows = parseCsv(readFileSync(file, 'utf8'), file);
    expect(rows.length).toBe(61);
    expect(new Set(rows.slice(1).map((r) => r.fields[0])).size).toBe(60);
    await store.close();
  });

  it('reports a failed save to its caller and saves the label with the next change', async () => {
    const file = fresh();
    const store = await LabelStore.open(file);
    // A folder where the file should go makes the rename fail.
    mkdirSync(file);
    await expect(store.set(row('a.png', 'liver'))).rejects.toThrow();
    rmdirSync(file);
    await store.set(row('b.png', 'spleen'));
    await store.close();
    expect(parseCsv(readFileSync(file, 'utf8'), file).map((r) => r.fields[0])).toEqual(['path', 'a.png', 'b.png']);
  });

  it('refuses a second writer on the same file while the first holds it, and takes over the lock of a dead process', async () => {
    const file = fresh();
    const first = await LabelStore.open(file);
    await expect(LabelStore.open(file)).rejects.toThrow(LabelError);
    await first.close();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(`${file}.lock`, `${dead}\n`);
    const second = await LabelStore.open(file);
    expect(readFileSync(`${file}.lock`, 'utf8').trim()).toBe(String(process.pid));
    await second.close();
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('refuses to take over a CSV that is not a label file', async () => {
    const file = fresh();
    writeFileSync(file, 'name,score\nx,1\n');
    await expect(LabelStore.open(file)).rejects.toThrow(/not a label file/);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('quotes exactly the fields that need it', () => {
    expect(csvField('a b')).toBe('a b');
    expect(csvField(' lead')).toBe('" lead"');
    expect(csvField('x,y')).toBe('"x,y"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
  });
});

describe('LabelStore under kill -9', () => {
  const ROWS = 20_000;
  const versions = new Map<string, string>();
  const expected = (label: string): string => {
    if (!versions.has(label)) versions.set(label, expectedFile(ROWS, label));
    return versions.get(label)!;
  };

  /**
   * Starts a writer process on `file` (see store-writer.ts) and kills it with SIGKILL when its
   * output matches `when`, after `delay` ms. Returns the last round it completed and its pid.
   */
  function writeAndKill(file: string, mode: 'halt' | 'free', when: RegExp, delay: number): Promise<{ last: number; pid: number }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'test/label/store-writer.ts', file, String(ROWS), mode], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let last = 0;
      let output = '';
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        const before = output;
        output += chunk.toString();
        for (const match of output.matchAll(/wrote (\d+)/g)) last = Number(match[1]);
        if (!when.test(before) && when.test(output)) setTimeout(() => child.kill('SIGKILL'), delay);
      });
      child.on('exit', (code, signal) => {
        if (signal === 'SIGKILL') resolve({ last, pid: child.pid! });
        else reject(new Error(`the writer exited with ${code}: ${stderr}`));
      });
    });
  }

  const temps = (dir: string, pid: number): string[] => readdirSync(dir).filter((name) => name.startsWith(`.labels.csv.tmp-${pid}-`));

  it('killed halfway through a save, leaves the previous complete file; the next run removes the torn temporary and resumes', async () => {
    const dir = path.join(work, 'kill-halfway');
    mkdirSync(dir);
    const file = path.join(dir, 'labels.csv');
    const { last, pid } = await writeAndKill(file, 'halt', /halfway 2/, 0);
    expect(last).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe(expected('v1'));
    // The torn half of round 2 is there, under its temporary name only.
    const [temp] = temps(dir, pid);
    expect(temp).toBeDefined();
    const torn = readFileSync(path.join(dir, temp!), 'utf8');
    expect(torn.length).toBeGreaterThan(0);
    expect(torn.length).toBeLessThan(expected('v2').length);
    const store = await LabelStore.open(file);
    expect(store.size).toBe(ROWS);
    expect(store.get(store.all()[0]!.path)?.label).toBe('v1');
    await store.close();
    expect(readdirSync(dir)).toEqual(['labels.csv']);
  });

  it('killed at arbitrary moments while saving as fast as it can, always leaves one complete file', async () => {
    const dir = path.join(work, 'kill-free');
    mkdirSync(dir);
    const file = path.join(dir, 'labels.csv');
    writeFileSync(file, expected('old'));
    for (const delay of [0, 150]) {
      const { last } = await writeAndKill(file, 'free', /wrote 1/, delay);
      // The last completed round, or the one whose rename had already happened when the kill came.
      expect([expected(`v${last}`), expected(`v${last + 1}`)]).toContain(readFileSync(file, 'utf8'));
      const store = await LabelStore.open(file);
      expect(store.size).toBe(ROWS);
      await store.close();
      expect(readdirSync(dir)).toEqual(['labels.csv']);
    }
  });
});
