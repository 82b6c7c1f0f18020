import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareImages } from '@cnn/experiment/data';
import { pngBomb } from '@cnn/experiment/testing';
import { startLabelling } from '@cnn/experiment/label';
import { fixture } from '../helpers/shared.js';
import { grayPng } from '../label/helpers.js';
import { cnn } from './cnn.js';

// Issue 12, defect 1: a 64 KB PNG declaring 8000 x 8000 pixels (64 megapixels) among good images.
const work = mkdtempSync(path.join(tmpdir(), 'cnn-bombs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const data = path.join(work, 'data');
for (const name of ['a', 'b']) {
  mkdirSync(path.join(data, name), { recursive: true });
  for (let i = 0; i < 2; i++) writeFileSync(path.join(data, name, `${i}.png`), grayPng(28, i));
}
const bomb = path.join(data, 'a', 'bomb.png');
writeFileSync(bomb, pngBomb(8000, 8000));
const refusal = /declares 8000 x 8000 pixels \(64 megapixels\), more than the limit of 50 megapixels/;

describe('a decompression bomb', () => {
  it('is skipped by an experiment and listed with the reason; the other images are used', async () => {
    const items = ['a/0.png', 'a/1.png', 'a/bomb.png', 'b/0.png', 'b/1.png'].map((name) => ({ path: path.join(data, name), label: name.startsWith('a') ? 0 : 1 }));
    const prepared = await prepareImages(items, ['a', 'b']);
    expect(prepared.images).toHaveLength(4);
    expect(prepared.problems).toHaveLength(1);
    expect(prepared.problems[0]!.path).toBe(bomb);
    expect(prepared.problems[0]!.reason).toMatch(refusal);
  });

  it('is refused by cnn classify with the limit, and the other images are still classified (exit code 1 at the end)', async () => {
    const lenet = (file: string): string => fixture('caffe/real/lenet', file);
    const good = path.join(data, 'b', '0.png');
    const run = await cnn('classify', '--prototxt', lenet('deploy.prototxt'), '--weights', lenet('model.caffemodel'), '--scale', '0.00390625', bomb, good);
    expect(run.code).toBe(1);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(bomb);
    expect(lines[1]).toMatch(refusal);
    expect(lines[2]).toBe(good);
    expect(lines[3]).toMatch(/^ {2}1\. \d\.\d{4} {2}class \d$/);
    expect(run.stderr).toBe(`cnn: CommandError: 1 of 2 image(s) could not be classified: ${bomb}\n`);
  });

  it('follows the limit set by --max-megapixels', async () => {
    const run = await cnn('classify', '--prototxt', fixture('caffe/real/lenet', 'deploy.prototxt'), '--weights', fixture('caffe/real/lenet', 'model.caffemodel'), '--max-megapixels', '0.0001', path.join(data, 'b', '0.png'));
    expect(run.stdout).toMatch(/declares 28 x 28 pixels \(0\.000784 megapixels\), more than the limit of 0\.0001 megapixels/);
  });

  it("is refused by the labeller's image route and the reader study's with 413 and the reason, at once", async () => {
    for (const readerStudy of [false, true]) {
      const run = await startLabelling({ data, classes: 'a,b', out: path.join(work, `labels-${readerStudy}.csv`), readerStudy });
      try {
        const state = (await (await fetch(`${run.server.url.split('?')[0]}api/state`, { headers: { 'X-Label-Token': run.server.token } })).json()) as { items: { image: string }[] };
        const index = readerStudy ? run.items.findIndex((item) => item.file.endsWith('bomb.png')) : -1;
        const target = readerStudy ? state.items[index]!.image : '/images/a/bomb.png';
        const started = performance.now();
        const answer = await fetch(`http://127.0.0.1:${run.server.port}${target}`, { headers: { 'X-Label-Token': run.server.token } });
        expect(performance.now() - started).toBeLessThan(1000);
        expect(answer.status).toBe(413);
        expect(((await answer.json()) as { error: string }).error).toMatch(refusal);
      } finally {
        await run.close();
      }
    }
  });
});
