import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, parseCsv, splitByStudy } from '@cnn/experiment/data';
import { readReaderLabels } from '@cnn/experiment';
import { LabelStore, READER_COLUMNS, seededShuffle, startLabelling, type LabelRun } from '@cnn/experiment/label';
import { grayPng, makeSandbox, rawGet, rawRequest } from './helpers.js';

/**
 * The labeller's server over HTTP, in process: what the page is sent in each mode, the write
 * endpoint's checks, and requests that try to leave the data folder. Requests that must reach
 * the server unaltered (`..`, odd encodings, wrong Host) go over a raw socket.
 */

const box = makeSandbox('cnn-label-server-');
afterAll(() => rmSync(box.dir, { recursive: true, force: true }));

interface StateItem {
  index: number;
  image: string;
  label: string | null;
  name?: string;
  study?: string;
  sourceLabel?: string;
  seconds?: number | null;
  review?: { a: { label: string }; b: { label: string } };
}
interface State {
  mode: string;
  classes: string[];
  keys: (string | null)[];
  items: StateItem[];
}

const base = (run: LabelRun): string => `http://127.0.0.1:${run.server.port}`;
/** A read target with the run's token as a query parameter (as the page sends it for images). */
const authed = (run: LabelRun, target: string): string => `${target}?token=${encodeURIComponent(run.server.token)}`;
const read = (run: LabelRun, target: string): Promise<Response> => fetch(`${base(run)}${target}`, { headers: { 'X-Label-Token': run.server.token } });
const state = async (run: LabelRun): Promise<State> => (await (await read(run, '/api/state')).json()) as State;
function postLabel(run: LabelRun, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base(run)}/api/label`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Label-Token': run.server.token, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('a labelling run over a folder', () => {
  let run: LabelRun;
  const out = path.join(box.dir, 'out', 'labels.csv');
  beforeAll(async () => {
    run = await startLabelling({ data: box.data, classes: 'liver,kidney,spleen', out, labeller: 'ann' });
  });
  afterAll(() => run.close());

  it('lists every PNG, JPEG and DICOM image below the folder, grouped by study folder, with shortcut keys', async () => {
    const s = await state(run);
    expect(s.mode).toBe('label');
    expect(s.keys).toEqual(['1', '2', '3']);
    expect(s.items.map((item) => item.name)).toEqual(['scan.dcm', 'study1/a.png', 'study1/b.png', 'study2/c.png', 'study2/d.png', 'study3/e.png']);
    expect(s.items.map((item) => item.study)).toEqual(['scan.dcm', 'study1', 'study1', 'study2', 'study2', 'study3']);
    expect(s.items[1]!.image).toBe('/images/study1/a.png');
  });

  it('serves a PNG as stored and a DICOM file as a PNG of its pixels', async () => {
    const png = await fetch(`${base(run)}${authed(run, '/images/study1/a.png')}`);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer()).equals(readFileSync(path.join(box.data, 'study1/a.png')))).toBe(true);
    const dicom = await read(run, '/images/scan.dcm');
    expect(dicom.headers.get('content-type')).toBe('image/png');
    const decoded = pngjs.PNG.sync.read(Buffer.from(await dicom.arrayBuffer()));
    expect([decoded.width, decoded.height]).toEqual([4, 4]);
  });

  it('saves a label at once as path relative to the label file, labeller and time, and clears it on undo', async () => {
    const saved = await postLabel(run, { index: 1, label: 'kidney' });
    expect(saved.status).toBe(200);
    const rows = parseCsv(readFileSync(out, 'utf8'), out);
    expect(rows[0]!.fields).toEqual(['path', 'label', 'labeller', 'timestamp']);
    expect(rows[1]!.fields.slice(0, 3)).toEqual(['../data/study1/a.png', 'kidney', 'ann']);
    expect(Date.parse(rows[1]!.fields[3]!)).toBeGreaterThan(Date.now() - 60_000);
    expect((await state(run)).items[1]!.label).toBe('kidney');
    await postLabel(run, { index: 1, label: null });
    expect(readFileSync(out, 'utf8')).toBe('path,label,labeller,timestamp\n');
  });

  const refusedWrites: [string, () => Promise<Response>, number][] = [
    ['no token', () => postLabel(run, { index: 0, label: 'liver' }, { 'X-Label-Token': '' }), 403],
    ['a wrong token', () => postLabel(run, { index: 0, label: 'liver' }, { 'X-Label-Token': 'x'.repeat(32) }), 403],
    ['a form post', () => postLabel(run, 'index=0&label=liver', { 'Content-Type': 'application/x-www-form-urlencoded' }), 415],
    ['broken JSON', () => postLabel(run, '{"index": 0,'), 400],
    ['a JSON array', () => postLabel(run, [0, 'liver']), 400],
    ['an unknown class', () => postLabel(run, { index: 0, label: 'brain' }), 400],
    ['an index past the end', () => postLabel(run, { index: 6, label: 'liver' }), 400],
    ['a fractional index', () => postLabel(run, { index: 0.5, label: 'liver' }), 400],
    ['a body over 16 KiB', () => postLabel(run, { index: 0, label: 'liver', pad: 'x'.repeat(20_000) }), 413],
    ['GET on the write endpoint', () => fetch(`${base(run)}/api/label`), 405],
  ];
  it.each(refusedWrites)('refuses a write with %s (%i) and writes nothing', async (_what, send, status) => {
    const answer = await send();
    expect(answer.status).toBe(status);
    expect(((await answer.json()) as { error: string }).error).toBeTruthy();
    expect(run.store.size).toBe(0);
  });

  it('refuses a write from another origin even with the token', async () => {
    const body = JSON.stringify({ index: 0, label: 'liver' });
    const answer = await rawRequest(
      run.server.port,
      `POST /api/label HTTP/1.1\r\nHost: 127.0.0.1:${run.server.port}\r\nOrigin: http://evil.example\r\nX-Label-Token: ${run.server.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(answer.status).toBe(403);
    expect(run.store.size).toBe(0);
  });

  const traversal: [string, number][] = [
    ['/images/../secret.txt', 400],
    ['/images/study1/../../secret.txt', 400],
    ['/images/%2e%2e/secret.txt', 400],
    ['/images/%2E%2E/outside.png', 400],
    ['/images/..%2fsecret.txt', 400],
    ['/images/..%5csecret.txt', 400],
    ['/images/%252e%252e/secret.txt', 400],
    ['/images//etc/passwd', 400],
    ['/images/%2fetc%2fpasswd', 400],
    ['/images/study1/a.png%00.txt', 400],
    ['/images/.links/secret.png', 403],
    ['/images/.links/outside.png', 403],
    ['/images/.links/up/secret.txt', 403],
    ['/images/notes.txt', 415],
    ['/images/study1/missing.png', 404],
    ['/../secret.txt', 404],
    ['/images', 404],
    [`http://127.0.0.1/images/study1/a.png`, 400],
  ];
  it.each(traversal)('refuses GET %s with %i', async (target, status) => {
    const answer = await rawGet(run.server.port, target.startsWith('/') ? authed(run, target) : target);
    expect(answer.status).toBe(status);
    expect(answer.body).not.toContain('secret');
  });

  it('accepts a symlink that stays inside the folder', async () => {
    expect((await rawGet(run.server.port, authed(run, '/images/.links/inside.png'))).status).toBe(200);
  });

  it('refuses a wrong or missing Host header (DNS rebinding) and accepts localhost', async () => {
    const port = run.server.port;
    const target = authed(run, '/api/state');
    expect((await rawGet(port, target, `evil.example:${port}`)).status).toBe(403);
    expect((await rawGet(port, target, '127.0.0.1')).status).toBe(403);
    expect((await rawRequest(port, `GET ${target} HTTP/1.1\r\nConnection: close\r\n\r\n`)).status).toBe(400);
    expect((await rawGet(port, target, `localhost:${port}`)).status).toBe(200);
  });

  it('answers garbage with 400 and keeps serving', async () => {
    expect((await rawRequest(run.server.port, 'HELLO THERE\r\n\r\n')).status).toBe(400);
    expect((await rawRequest(run.server.port, `GET /images/study1/a.png HTTP/1.1\r\nHost: 127.0.0.1:${run.server.port}\r\nContent-Length: -5\r\n\r\n`)).status).toBe(400);
    expect((await read(run, '/api/state')).status).toBe(200);
  });

  it('answers every route but the page only with the token: no labels, names or images without it', async () => {
    const wrong = 'x'.repeat(run.server.token.length);
    for (const target of ['/api/state', '/images/study1/a.png', '/images/scan.dcm']) {
      for (const answer of [await fetch(`${base(run)}${target}`), await fetch(`${base(run)}${target}?token=${wrong}`), await fetch(`${base(run)}${target}`, { headers: { 'X-Label-Token': wrong } })]) {
        expect(answer.status).toBe(403);
        const body = await answer.text();
        expect(body).not.toContain('study1');
        expect(body).not.toContain('PNG');
      }
      expect((await read(run, target)).status).toBe(200);
      expect((await fetch(`${base(run)}${authed(run, target)}`)).status).toBe(200);
    }
    for (const target of ['/', '/app.js', '/app.css']) expect((await fetch(`${base(run)}${target}`)).status).toBe(200);
  });

  it('sends the page with a policy that allows only its own script, style and images', async () => {
    const page = await fetch(`${base(run)}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script src="/app.js"');
  });
});

describe('a reader study', () => {
  let run: LabelRun;
  const out = path.join(box.dir, 'reader', 'reader.csv');
  beforeAll(async () => {
    run = await startLabelling({ data: box.data, classes: 'liver,kidney,spleen', out, readerStudy: true, orderSeed: 5, labeller: 'rad' });
  });
  afterAll(() => run.close());

  it('sends positions and images only: no names, studies, source labels or paths', async () => {
    const s = await state(run);
    expect(s.mode).toBe('reader');
    for (const item of s.items) {
      expect(Object.keys(item).sort()).toEqual(['image', 'index', 'label', 'seconds']);
      expect(item.image).toBe(`/items/${item.index}/image`);
    }
  });

  it('shows the images in the order the seed fixes', async () => {
    const names = ['scan.dcm', 'study1/a.png', 'study1/b.png', 'study2/c.png', 'study2/d.png', 'study3/e.png'];
    expect(run.items.map((item) => item.name)).toEqual(seededShuffle(names, 5));
  });

  it('serves images re-encoded by position, and none by path', async () => {
    const first = await fetch(`${base(run)}${authed(run, '/items/0/image')}`);
    expect(first.headers.get('content-type')).toBe('image/png');
    expect((await rawGet(run.server.port, authed(run, '/images/study1/a.png'))).status).toBe(404);
    expect((await rawGet(run.server.port, authed(run, '/items/99/image'))).status).toBe(404);
    expect((await fetch(`${base(run)}/items/0/image`)).status).toBe(403);
  });

  it('records the seconds on each image with the label, and refuses nonsense times', async () => {
    expect((await postLabel(run, { index: 0, label: 'spleen', seconds: 3.25 })).status).toBe(200);
    for (const seconds of [-1, 'x', 1e9]) expect((await postLabel(run, { index: 1, label: 'liver', seconds })).status).toBe(400);
    const rows = parseCsv(readFileSync(out, 'utf8'), out);
    expect(rows[0]!.fields).toEqual([...READER_COLUMNS]);
    expect(rows[1]!.fields[0]).toBe(run.items[0]!.name);
    expect(rows[1]!.fields[4]).toBe('3.250');
    expect((await state(run)).items[0]).toMatchObject({ label: 'spleen', seconds: 3.25 });
  });
});

describe('a reader study of an experiment\'s test split', () => {
  const dir = path.join(box.dir, 'split');
  const manifest = path.join(dir, 'manifest.csv');
  beforeAll(() => {
    // Two classes, twelve studies of two images each: enough for every split to get both classes.
    const lines = ['path,label,study'];
    for (let s = 0; s < 12; s++) {
      for (let k = 0; k < 2; k++) {
        const name = `img/s${s}-${k}.png`;
        mkdirSync(path.join(dir, 'img'), { recursive: true });
        writeFileSync(path.join(dir, name), grayPng(8, s * 2 + k));
        lines.push(`${name},${s % 2 === 0 ? 'liver' : 'kidney'},study${s}`);
      }
    }
    writeFileSync(manifest, `${lines.join('\n')}\n`);
  });

  /** The test images of `cnn experiment --data manifest --seed seed`, as the experiment computes them. */
  async function experimentTest(seed: number) {
    const dataset = await loadDataset(manifest);
    const split = splitByStudy(dataset.items, { seed });
    const testIndices = split.items.flatMap((item, i) => (item.split === 'test' ? [i] : []));
    return { dataset, items: split.items, testIndices };
  }

  it('shows exactly the test images, and its output matches every one of them in cnn experiment --reader-labels', async () => {
    const out = path.join(dir, 'reader-split.csv');
    const run = await startLabelling({ data: manifest, out, readerStudy: true, split: 'test', seed: 4 });
    try {
      const { dataset, items, testIndices } = await experimentTest(4);
      expect(run.classes).toEqual(dataset.classes);
      expect(run.items.map((item) => item.file).sort()).toEqual(testIndices.map((i) => items[i]!.path).sort());
      for (let i = 0; i < run.items.length; i++) expect((await postLabel(run, { index: i, label: 'liver', seconds: 1 })).status).toBe(200);
      await run.store.flush();
      const reader = readReaderLabels(out, dataset.classes, items, testIndices);
      expect(reader.unmatched).toEqual([]);
      expect(reader.byItem.size).toBe(testIndices.length);
    } finally {
      await run.close();
    }
  });

  it('takes data, seed, split and classes from a report.json, leaving out the images the run excluded', async () => {
    const { items, testIndices } = await experimentTest(9);
    const excluded = items[testIndices[0]!]!.path;
    const report = path.join(dir, 'report.json');
    writeFileSync(
      report,
      JSON.stringify({ config: { data: manifest, seed: 9, split: { train: 0.6, val: 0.2, test: 0.2 } }, classes: ['liver', 'kidney'], dataset: { excluded: [{ path: excluded, reason: 'colour' }] } }),
    );
    const run = await startLabelling({ experiment: report, out: path.join(dir, 'reader-report.csv'), readerStudy: true });
    try {
      expect(run.classes).toEqual(['liver', 'kidney']);
      expect(run.items.map((item) => item.file).sort()).toEqual(testIndices.map((i) => items[i]!.path).filter((p) => p !== excluded).sort());
    } finally {
      await run.close();
    }
  });
});

describe('a review of two label files', () => {
  it('steps through the images the files label differently, shows both labels, and writes the settled label', async () => {
    const dir = path.join(box.dir, 'review');
    mkdirSync(dir);
    const write = async (file: string, labels: Record<string, string>) => {
      const store = await LabelStore.open(file);
      for (const [name, label] of Object.entries(labels)) await store.set({ path: `../data/${name}`, label, labeller: path.basename(file, '.csv'), timestamp: 't' });
      await store.close();
    };
    const a = path.join(dir, 'ann.csv');
    const b = path.join(dir, 'bob.csv');
    await write(a, { 'study1/a.png': 'liver', 'study1/b.png': 'kidney', 'study2/c.png': 'spleen', 'study3/e.png': 'liver' });
    await write(b, { 'study1/a.png': 'liver', 'study1/b.png': 'spleen', 'study2/c.png': 'liver', 'study2/d.png': 'liver' });
    const out = path.join(dir, 'final.csv');
    const run = await startLabelling({ review: [a, b], data: box.data, out });
    try {
      const s = await state(run);
      expect(s.mode).toBe('review');
      expect(s.classes).toEqual(['kidney', 'liver', 'spleen']);
      expect(s.items.map((item) => [item.name, item.review?.a.label, item.review?.b.label])).toEqual([
        ['study1/b.png', 'kidney', 'spleen'],
        ['study2/c.png', 'spleen', 'liver'],
      ]);
      expect((await postLabel(run, { index: 0, label: 'spleen' })).status).toBe(200);
      expect(readFileSync(out, 'utf8').split('\n')[1]).toMatch(/^\.\.\/data\/study1\/b\.png,spleen,/);
    } finally {
      await run.close();
    }
  });
});
