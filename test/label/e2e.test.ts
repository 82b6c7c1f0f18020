import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '@cnn/experiment/data';
import { startLabelling, type LabelRun } from '@cnn/experiment/label';
import { REPO_ROOT, screenshotPath } from '../helpers/shared.js';

/**
 * The labeller in a real browser: Debian's headless Chromium (`apt-get install chromium`, done
 * by .ci/run) driven by playwright-core. Labels real ultrasound frames of the shared usanotai
 * set by keyboard, undoes, reloads and resumes; runs a reader study; tries to leave the data
 * folder from the page. Also takes the README's screenshot, docs/labeller.png.
 */

const CHROMIUM = '/usr/bin/chromium';
const USANOTAI = path.resolve(REPO_ROOT, '../shared/data/usanotai');
const CLASSES = ['bladder', 'bowel', 'gallbladder', 'kidney', 'liver', 'spleen'];
/** Three frames of each of four studies, copied to `<study>/<file>` so the labeller groups them by folder. */
const STUDIES = ['gallbladder-clip00', 'kidney-clip00', 'liver-clip00', 'spleen-clip00'];

const work = mkdtempSync(path.join(tmpdir(), 'cnn-label-e2e-'));
const data = path.join(work, 'data');
/** Image name (as the labeller shows it) -> its true class, from the manifest. */
const truth = new Map<string, string>();
let context: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  if (!existsSync(path.join(USANOTAI, 'manifest.csv'))) throw new Error(`the shared usanotai images are missing: expected ${USANOTAI}`);
  const rows = parseCsv(readFileSync(path.join(USANOTAI, 'manifest.csv'), 'utf8'), 'manifest.csv').slice(1);
  for (const study of STUDIES) {
    for (const [file, label] of rows.filter((r) => r.fields[2] === study).slice(0, 3).map((r) => [r.fields[0]!, r.fields[1]!] as const)) {
      const name = `${study}/${path.basename(file)}`;
      mkdirSync(path.join(data, study), { recursive: true });
      copyFileSync(path.join(USANOTAI, file), path.join(data, name));
      truth.set(name, label);
    }
  }
  writeFileSync(path.join(work, 'secret.txt'), 'secret\n');
  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 760 },
  });
});

afterAll(async () => {
  await context?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Waits until the page shows image `index` and has drawn it. */
async function shown(page: Page, index: number): Promise<void> {
  await page.waitForSelector(`body[data-shown="${index}"]`, { timeout: 10_000 });
}

/** Waits until every label the page sent is acknowledged as saved. */
async function saved(page: Page): Promise<void> {
  await page.waitForSelector('body[data-pending="0"]', { timeout: 10_000 });
}

function csvRows(file: string): string[][] {
  return parseCsv(readFileSync(file, 'utf8'), file).map((r) => r.fields);
}

describe('the labeller in Chromium', () => {
  let run: LabelRun;
  const out = path.join(work, 'labels.csv');
  beforeAll(async () => {
    run = await startLabelling({ data, classes: CLASSES.join(','), out, labeller: 'ann' });
  });
  afterAll(() => run?.close());

  /** The key of an image's true class (the digit on its button). */
  const keyOf = (index: number): string => String(CLASSES.indexOf(truth.get(run.items[index]!.name)!) + 1);

  it('labels 5 images by keyboard, undoes one, resumes after a reload, and the CSV holds exactly the labels given', async () => {
    const page = await context.newPage();
    await page.goto(run.server.url);
    await shown(page, 0);
    expect(await page.locator('#classes button').allTextContents()).toEqual(CLASSES.map((name, i) => `${i + 1}${name}`));
    expect(await page.textContent('#name')).toBe(run.items[0]!.name);
    expect(await page.textContent('#study')).toContain(`study ${STUDIES[0]} · image 1 of 3`);

    for (let i = 0; i < 5; i++) {
      await shown(page, i);
      await page.keyboard.press(keyOf(i));
    }
    await shown(page, 5);
    await page.keyboard.press('Backspace');
    await shown(page, 4);
    await saved(page);
    expect(await page.textContent('#done')).toBe(`4 / ${run.items.length} done`);

    const rows = csvRows(out);
    expect(rows[0]).toEqual(['path', 'label', 'labeller', 'timestamp']);
    expect(rows.slice(1).map((r) => [r[0], r[1], r[2]])).toEqual(run.items.slice(0, 4).map((item) => [`data/${item.name}`, truth.get(item.name), 'ann']));

    // The README's picture: mid-run, with a label chosen and the per-class tallies filled in.
    await page.keyboard.press('ArrowLeft');
    await shown(page, 3);
    await page.screenshot({ path: screenshotPath('labeller.png') });

    await page.reload();
    await shown(page, 4);
    expect(await page.textContent('#done')).toBe(`4 / ${run.items.length} done`);
    await page.keyboard.press(keyOf(4));
    await shown(page, 5);
    await saved(page);
    expect(csvRows(out).slice(1).map((r) => r[1])).toEqual(run.items.slice(0, 5).map((item) => truth.get(item.name)));
    await page.close();
  });

  it('keeps the labels of two tabs labelling at the same time', async () => {
    const [tabA, tabB] = [await context.newPage(), await context.newPage()];
    await Promise.all([tabA.goto(run.server.url), tabB.goto(run.server.url)]);
    await Promise.all([shown(tabA, 5), shown(tabB, 5)]);
    // Both start at the first unlabelled image; tab B moves one on, then both label at once.
    await tabB.keyboard.press('ArrowRight');
    await shown(tabB, 6);
    await Promise.all([tabA.keyboard.press(keyOf(5)), tabB.keyboard.press(keyOf(6))]);
    await Promise.all([saved(tabA), saved(tabB)]);
    const labels = new Map(csvRows(out).slice(1).map((r) => [r[0], r[1]]));
    expect(labels.size).toBe(7);
    for (const item of run.items.slice(0, 7)) expect(labels.get(`data/${item.name}`)).toBe(truth.get(item.name));
    await Promise.all([tabA.close(), tabB.close()]);
  });

  it('refuses, from the page, reads outside the data folder and writes without the token', async () => {
    const page = await context.newPage();
    await page.goto(run.server.url);
    await shown(page, 7);
    const statuses = await page.evaluate(async () => {
      const token = new URLSearchParams(location.search).get('token')!;
      const get = async (url: string) => (await fetch(url, { headers: { 'X-Label-Token': token } })).status;
      const write = await fetch('/api/label', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ index: 0, label: 'liver' }) });
      return {
        // Chromium resolves plain and encoded dot segments before sending (WHATWG URL), so these arrive
        // as /secret.txt or /labels.csv, which is no route; server.test.ts sends them unresolved.
        dots: await get('/images/%2e%2e/secret.txt'),
        slash: await get('/images/..%2fsecret.txt'),
        doubled: await get('/images/%252e%252e%252fsecret.txt'),
        normalised: await get('/images/../../labels.csv'),
        write: write.status,
      };
    });
    expect(statuses).toEqual({ dots: 404, slash: 400, doubled: 400, normalised: 404, write: 403 });
    await page.close();
  });
});

describe('a reader study in Chromium', () => {
  let run: LabelRun;
  const out = path.join(work, 'reader.csv');
  beforeAll(async () => {
    run = await startLabelling({ data, classes: CLASSES.join(','), out, readerStudy: true, orderSeed: 3, labeller: 'rad' });
  });
  afterAll(() => run?.close());

  it('hides names, studies and tallies, and records the time spent on each image', async () => {
    const page = await context.newPage();
    await page.goto(run.server.url);
    await shown(page, 0);
    expect(await page.textContent('#name')).toBe(`Image 1 of ${run.items.length}`);
    expect(await page.textContent('#study')).toBe('');
    expect(await page.textContent('#hint')).toBe('');
    expect(await page.textContent('#counts')).toBe('');
    // Neither the page nor the data it fetched names a file or a study (folder names here are classes).
    const everything =
      (await page.content()) +
      (await page.evaluate(async () => JSON.stringify(await (await fetch('/api/state', { headers: { 'X-Label-Token': new URLSearchParams(location.search).get('token')! } })).json())));
    for (const item of run.items) {
      expect(everything).not.toContain(path.basename(item.name));
      expect(everything).not.toContain(item.study);
    }

    const waits = [600, 300];
    for (let i = 0; i < waits.length; i++) {
      await shown(page, i);
      await page.waitForTimeout(waits[i]!);
      await page.keyboard.press(String(i + 1));
    }
    await shown(page, 2);
    await saved(page);
    const rows = csvRows(out);
    expect(rows[0]).toEqual(['path', 'label', 'labeller', 'timestamp', 'seconds']);
    expect(rows.slice(1).map((r) => [r[0], r[1]])).toEqual([
      [run.items[0]!.name, CLASSES[0]],
      [run.items[1]!.name, CLASSES[1]],
    ]);
    rows.slice(1).forEach((r, i) => {
      const seconds = Number(r[4]);
      expect(seconds).toBeGreaterThanOrEqual(waits[i]! / 1000);
      expect(seconds).toBeLessThan(waits[i]! / 1000 + 5);
    });
    await page.close();
  });
});
