import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClassify, gradCam, lastConvolution, overlaySaliency } from '@cnn/experiment';
import { loadModel } from '@cnn/caffe-import';
import { decodeImage, mobilenetRecipe, toNetInput } from '@cnn/experiment/data';
import { encodePng } from '@cnn/experiment/report';
import { readServedModel, startServeServer, type ServeServer } from '@cnn/experiment/serve';
import { bundleWeb } from '../../packages/experiment/web/build.mjs';
import { fixture, screenshotPath } from '../helpers/shared.js';

/**
 * `cnn serve`'s pages in Debian's headless Chromium (playwright-core), bundled from the current
 * sources: cross-origin isolation, /classify against `cnn classify` on the same PNG, /learn's
 * loss falling on both backends, and no request leaving loopback. Also takes the README's
 * screenshots, docs/serve-learn.png and docs/serve-classify.png.
 */

const CHROMIUM = '/usr/bin/chromium';
const MOBILENET = 'imagenet/mobilenet_v1_0.5_160';

const work = mkdtempSync(path.join(tmpdir(), 'cnn-serve-e2e-'));
const bundle = path.join(work, 'bundle');
const modelDir = path.join(work, 'mobilenet-run');
const image = path.join(work, 'cat.png');
let context: BrowserContext;
let server: ServeServer;
/** Every address the pages asked for that is not this server. */
const foreign: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  await bundleWeb(bundle);
  // An experiment's output folder, as cnn experiment writes it: MobileNet (RGB, (x - 128) / 128) as the retrained model.
  mkdirSync(modelDir);
  writeFileSync(path.join(modelDir, 'deploy.prototxt'), readFileSync(fixture(MOBILENET, 'deploy.prototxt')));
  symlinkSync(fixture(MOBILENET, 'mobilenet_v1_0.5_160.caffemodel'), path.join(modelDir, 'retrained.caffemodel'));
  writeFileSync(path.join(modelDir, 'classes.txt'), readFileSync(fixture(MOBILENET, 'labels.txt')));
  writeFileSync(path.join(modelDir, 'experiment.json'), JSON.stringify({ preset: 'mobilenet' }));
  // The fixture's cat, 160 x 160 RGB, as a PNG both the page and cnn classify read.
  const rgb = readFileSync(fixture(MOBILENET, 'inputs/cat.rgb'));
  const rgba = new Uint8Array(160 * 160 * 4);
  for (let p = 0; p < 160 * 160; p++) rgba.set([rgb[3 * p]!, rgb[3 * p + 1]!, rgb[3 * p + 2]!, 255], 4 * p);
  writeFileSync(image, encodePng(rgba, 160, 160));

  server = await startServeServer({ model: readServedModel(modelDir), bundle });
  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === `127.0.0.1:${server.port}`) return route.continue();
    foreign.push(url.href);
    return route.abort();
  });
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

/** A page of the server with the given settings, token included. */
async function open(route: string, settings: string): Promise<Page> {
  const page = await context.newPage();
  // Records every value /learn's loss element shows, as it changes.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { shownLosses: string[] }).shownLosses = seen;
    new MutationObserver(() => {
      const text = document.querySelector('[data-testid=loss]')?.textContent ?? '-';
      if (text !== '-' && text !== seen.at(-1)) seen.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`http://127.0.0.1:${server.port}${route}?token=${server.token}&${settings}`);
  await page.waitForSelector('body[data-isolated]', { timeout: 20_000 });
  expect(errors).toEqual([]);
  return page;
}

describe('cnn serve in Chromium', () => {
  it('/classify, opened at its plain address as the contract says, is cross-origin isolated, gives cnn classify\'s top class and probability for a chosen PNG, and the library\'s Grad-CAM overlay', async () => {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/classify`);
    await page.waitForSelector('body[data-isolated]', { timeout: 20_000 });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // The default: the wasm backend on every core up to 4 (2 on CI's machine, so the pool's Web Workers run).
    const threads = Math.min(4, availableParallelism());
    expect(await page.textContent('[data-testid=engine]')).toContain(`backend wasm (SIMD), ${threads} thread${threads === 1 ? '' : 's'}`);
    await page.waitForSelector('body[data-model=open]', { timeout: 30_000 });
    // The contract: the page's one file input takes the image.
    await page.locator('input[type=file]').setInputFiles(image);
    await page.waitForSelector('body[data-classified="1"]', { timeout: 30_000 });
    expect(await page.locator('.result.error').count(), (await page.textContent('#results')) ?? '').toBe(0);
    const cli = runClassify([image], { prototxt: path.join(modelDir, 'deploy.prototxt'), weights: path.join(modelDir, 'retrained.caffemodel'), labels: path.join(modelDir, 'classes.txt'), preset: 'mobilenet' });
    const best = cli.results[0]!.top[0]!;
    expect(await page.textContent('[data-testid=top1]')).toBe(best.label);
    expect(Number(await page.textContent('#top1-probability'))).toBeCloseTo(best.probability, 3);
    // The Grad-CAM overlay drawn is the library's (gradCam at the last convolution, overlaySaliency) in Node.
    const { net } = loadModel({ prototxt: path.join(modelDir, 'deploy.prototxt'), weights: path.join(modelDir, 'retrained.caffemodel') });
    const decoded = decodeImage(readFileSync(image), image);
    const cam = gradCam(net, toNetInput(decoded, mobilenetRecipe(160)), lastConvolution(net), best.index);
    const expected = overlaySaliency(decoded, cam).rgba;
    const drawn = await page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('canvas.saliency')!;
      return Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data);
    });
    expect(drawn).toHaveLength(expected.length);
    const differences = drawn.map((v, i) => Math.abs(v - expected[i]!));
    expect(Math.max(...differences)).toBeLessThanOrEqual(3);
    expect(differences.filter((d) => d > 0).length).toBeLessThan(0.01 * drawn.length);
    await page.screenshot({ path: screenshotPath('serve-classify.png') });
    await page.close();
  });

  it('/classify shows the importer\'s error for a broken caffemodel chosen from disk', async () => {
    const page = await open('/classify', 'backend=js&threads=1');
    const broken = path.join(work, 'broken.caffemodel');
    writeFileSync(broken, readFileSync(fixture(MOBILENET, 'mobilenet_v1_0.5_160.caffemodel')).subarray(0, 5000));
    const chooser = page.waitForEvent('filechooser');
    await page.click('#open-disk');
    await (await chooser).setFiles([fixture(MOBILENET, 'deploy.prototxt'), broken]);
    await page.waitForFunction(() => (document.querySelector('[data-testid=model-error]')?.textContent ?? '') !== '', undefined, { timeout: 20_000 });
    const error = await page.textContent('[data-testid=model-error]');
    expect(error).toMatch(/^CaffeFormatError: .*broken\.caffemodel/);
    await page.close();
  });

  for (const settings of ['backend=js&threads=1', 'backend=wasm&threads=2']) {
    it(`/learn trains with ${settings}: the loss shown updates while it trains and falls`, async () => {
      const page = await open('/learn', settings);
      const [backend, threads] = settings.split('&').map((part) => part.split('=')[1]);
      expect(await page.textContent('[data-testid=engine]')).toContain(`backend ${backend}`);
      expect(await page.textContent('[data-testid=engine]')).toContain(`${threads} thread`);
      // The walkthrough (drawn before training starts): the layer's output at (0, 0) is the Sobel sum over the
      // patch's top-left window, 91 by hand.
      await page.waitForSelector('body[data-training]', { timeout: 30_000 });
      expect(await page.textContent('#products')).toMatch(/= 91$/);
      await page.waitForSelector('body[data-training=false]', { timeout: 60_000 });
      const shown = (await page.evaluate(() => (window as unknown as { shownLosses: string[] }).shownLosses)).map(Number);
      // Every value the element showed, in order: one per report (600 iterations, a report every 5).
      const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
      expect(shown.length).toBeGreaterThan(100);
      expect(shown[0]!).toBeGreaterThan(0.9);
      expect(mean(shown.slice(-5))).toBeLessThan(0.6 * shown[0]!);
      if (threads === '2') await page.screenshot({ path: screenshotPath('serve-learn.png'), fullPage: true });
      await page.close();
    });
  }

  it('asked for nothing outside this server', () => {
    expect(foreign).toEqual([]);
  });
});
