import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '@cnn/experiment/data';
import { writePng } from '@cnn/experiment/testing';
import { startLabelling, type LabelRun } from '@cnn/experiment/label';
import { fixture, readF32, screenshotPath } from '../helpers/shared.js';

/**
 * `cnn label --model` in Chromium: LeNet (an experiment's output folder around the shared
 * fixture) suggests a digit for each image with its confidence, `--order uncertainty` puts the
 * least confident first, and the label file records whether each label is the suggestion.
 * The fixture's OpenCV probabilities are the reference. Takes docs/labeller-assisted.png.
 */

const CHROMIUM = '/usr/bin/chromium';
const LENET = 'caffe/real/lenet';

interface DigitCase {
  id: string;
  input: { file: string };
  top1: { class: number; prob: number };
}

const work = mkdtempSync(path.join(tmpdir(), 'cnn-label-assisted-'));
const data = path.join(work, 'digits');
const modelDir = path.join(work, 'lenet-run');
const digits = (JSON.parse(readFileSync(fixture(LENET, 'index.json'), 'utf8')) as { cases: DigitCase[] }).cases;
const classes = readFileSync(fixture(LENET, 'labels.txt'), 'utf8').trim().split('\n').map((line) => line.trim());
let browser: Browser;

/** A fixture input (gray x 1/256) back as its 28 x 28 gray samples. */
function digitSamples(digit: DigitCase): number[] {
  return Array.from(readF32(fixture(LENET, digit.input.file)), (v) => Math.round(v * 256));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  mkdirSync(modelDir);
  writeFileSync(path.join(modelDir, 'deploy.prototxt'), readFileSync(fixture(LENET, 'deploy.prototxt')));
  symlinkSync(fixture(LENET, 'model.caffemodel'), path.join(modelDir, 'retrained.caffemodel'));
  writeFileSync(path.join(modelDir, 'classes.txt'), `${classes.join('\n')}\n`);
  // LeNet's recipe: gray pixels x 1/256, as cnn classify --scale 0.00390625 feeds it.
  writeFileSync(path.join(modelDir, 'experiment.json'), JSON.stringify({ scale: 0.00390625 }));
  mkdirSync(data);
  for (const digit of digits) writeFileSync(path.join(data, `${digit.id}.png`), writePng({ width: 28, height: 28, colorType: 0, depth: 8, samples: digitSamples(digit) }));
  // Two digits laid over each other: something the model should be far less sure of.
  const [a, b] = [digitSamples(digits[0]!), digitSamples(digits[1]!)];
  writeFileSync(path.join(data, 'blend.png'), writePng({ width: 28, height: 28, colorType: 0, depth: 8, samples: a.map((v, i) => Math.round((v + b[i]!) / 2)) }));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
});

afterAll(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('cnn label --model', () => {
  let run: LabelRun;
  const out = path.join(work, 'labels.csv');
  beforeAll(async () => {
    run = await startLabelling({ data, out, model: modelDir, order: 'uncertainty', labeller: 'ann' });
  });
  afterAll(() => run?.close());

  it("suggests each digit with the fixture's probability, least confident first", () => {
    expect(run.classes).toEqual(classes);
    const byName = new Map(run.items.map((item) => [item.name, item.suggestion!]));
    for (const digit of digits) {
      expect(byName.get(`${digit.id}.png`)!.label).toBe(classes[digit.top1.class]);
      expect(Math.abs(byName.get(`${digit.id}.png`)!.confidence - digit.top1.prob)).toBeLessThan(1e-5);
    }
    const byFixture = [...digits].sort((x, y) => x.top1.prob - y.top1.prob).map((digit) => `${digit.id}.png`);
    expect(run.items.map((item) => item.name)).toEqual(['blend.png', ...byFixture]);
    expect(byName.get('blend.png')!.confidence).toBeLessThan(Math.min(...digits.map((digit) => digit.top1.prob)));
  });

  it('shows the suggestion in the page, takes it with Enter, and records whether each label is the suggestion', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    await page.goto(run.server.url);
    await page.waitForSelector('body[data-shown="0"]', { timeout: 10_000 });
    const first = run.items[0]!.suggestion!;
    expect(await page.textContent('#suggestion')).toBe(`model suggests: ${first.label} (${(100 * first.confidence).toFixed(1)}%) · Enter takes it`);
    expect(await page.locator('#classes button.suggested').allTextContents()).toEqual([expect.stringContaining(first.label)]);
    // The blend: a class other than the suggestion, by its key.
    const other = classes.findIndex((name) => name !== first.label);
    await page.keyboard.press(String(other + 1));
    await page.waitForSelector('body[data-shown="1"]', { timeout: 10_000 });
    await page.screenshot({ path: screenshotPath('labeller-assisted.png') });
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-shown="2"]', { timeout: 10_000 });
    await page.waitForSelector('body[data-pending="0"]', { timeout: 10_000 });
    const rows = parseCsv(readFileSync(out, 'utf8'), out).map((r) => r.fields);
    expect(rows[0]).toEqual(['path', 'label', 'labeller', 'timestamp', 'suggestion', 'suggestion_taken']);
    const second = run.items[1]!.suggestion!;
    expect(rows.slice(1).map((r) => [path.basename(r[0]!), r[1], r[4], r[5]])).toEqual([
      ['blend.png', classes[other], first.label, 'no'],
      [run.items[1]!.name, second.label, second.label, 'yes'],
    ]);
    await page.close();
  });

  it('never suggests in a reader study or a review, and orders by uncertainty only with a model', async () => {
    await expect(startLabelling({ data, out: path.join(work, 'reader.csv'), model: modelDir, readerStudy: true })).rejects.toThrow(/never in a reader study/);
    await expect(startLabelling({ data, out: path.join(work, 'plain.csv'), order: 'uncertainty', classes: 'a,b' })).rejects.toThrow(/--order uncertainty needs --model/);
  });
});
