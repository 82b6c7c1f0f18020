import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { setBackend, setThreads } from '@cnn/tensor';
import { bundleForBrowser } from '../../../packages/experiment/web/build.mjs';
import type { BenchJob, BenchResult } from '../browser-protocol.js';
import { netOnnx } from '../peers/onnx-net.js';
import { inputImages, netOps, peerModel, type PeerModel } from '../peers/reference.js';
import { markdownTable, writeSection } from '../results.js';

/*
 * Speed in the page: CaffeNet and MobileNet forward passes in Debian's headless Chromium, this
 * project's library (wasm backend, its pool on Web Workers) against onnxruntime-web (its wasm
 * SIMD build, its own worker threads) in the same page setup, at batch 1 on 1 and 2 threads.
 * The nets, weights and image are the peers suite's (peers/reference.ts); every run is a fresh
 * page, since onnxruntime-web reads its thread count once.
 */

const CHROMIUM = '/usr/bin/chromium';
const here = path.dirname(fileURLToPath(import.meta.url));
const webSources = path.resolve(here, '../../web');
const ortDist = path.resolve(here, '../../../node_modules/onnxruntime-web/dist');
const models = ['caffenet', 'mobilenet_v1_0.5_160'] as const;
const threadCounts = [1, 2];
const systems = ['ours', 'onnxruntime-web'] as const;
/** Both systems compute the same probabilities to float32 rounding; a larger difference is flagged in the table. */
const PROB_TOLERANCE = 1e-3;
/** Timed passes go on for at least this long (plus one untimed pass). */
const SECONDS = 3;

/** What the server hands the page: the bundle, onnxruntime-web's files, each net's files and image. */
function serverFiles(bundle: string): Map<string, { body: Uint8Array; type: string }> {
  const files = new Map<string, { body: Uint8Array; type: string }>();
  const js = 'text/javascript; charset=utf-8';
  files.set('/', { body: Buffer.from('<!doctype html><meta charset="utf-8"><title>cnn bench</title><script type="module" src="/app/bench-page.js"></script>'), type: 'text/html; charset=utf-8' });
  for (const name of ['bench-page.js', 'bench-worker.js']) files.set(`/app/${name}`, { body: readFileSync(path.join(bundle, name)), type: js });
  for (const name of ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) {
    files.set(`/ort/${name}`, { body: readFileSync(path.join(ortDist, name)), type: name.endsWith('.wasm') ? 'application/wasm' : js });
  }
  // The weights and image every system gets: this project's net in Node (js backend, as the peers suite's reference).
  setBackend('js');
  setThreads(1);
  for (const id of models) {
    const model: PeerModel = peerModel(id);
    const net = model.net(1);
    files.set(`/model/${id}.onnx`, { body: netOnnx(model, netOps(net)), type: 'application/octet-stream' });
    const images = inputImages(model, 1);
    files.set(`/model/${id}.input.f32`, { body: new Uint8Array(images.buffer, images.byteOffset, images.byteLength), type: 'application/octet-stream' });
    if (model.files) {
      files.set(`/model/${id}.prototxt`, { body: readFileSync(model.files.prototxt), type: 'text/plain; charset=utf-8' });
      files.set(`/model/${id}.caffemodel`, { body: readFileSync(model.files.caffemodel), type: 'application/octet-stream' });
    }
  }
  return files;
}

/** One fresh page running one job; its answer. */
async function runJob(browser: Awaited<ReturnType<typeof chromium.launch>>, origin: string, job: BenchJob): Promise<BenchResult> {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/?system=${job.system}&model=${job.model}&threads=${job.threads}&seconds=${job.minSeconds}`);
    await page.waitForSelector('body[data-result]', { state: 'attached', timeout: 600_000 });
    const answer = JSON.parse((await page.getAttribute('body', 'data-result'))!) as { ok: true; result: BenchResult } | { ok: false; error: string };
    if (!answer.ok) throw new Error(`${job.system}, ${job.model}, ${job.threads} thread(s): ${answer.error}`);
    return answer.result;
  } finally {
    await page.close();
  }
}

export async function browserSuite(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const bundle = mkdtempSync(path.join(tmpdir(), 'cnn-bench-web-'));
  await bundleForBrowser({ 'bench-page': path.join(webSources, 'bench-page.ts'), 'bench-worker': path.join(webSources, 'bench-worker.ts') }, bundle);
  const files = serverFiles(bundle);
  // Cross-origin isolated (SharedArrayBuffer for both systems' threads), loopback only.
  const server = createServer((req, res) => {
    const file = files.get((req.url ?? '/').split('?', 1)[0]!);
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' };
    if (!file) res.writeHead(404, headers).end();
    else res.writeHead(200, { ...headers, 'Content-Type': file.type }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  const results = new Map<string, BenchResult>();
  const key = (system: string, model: string, threads: number): string => `${system}/${model}/${threads}`;
  let version = '';
  try {
    version = browser.version();
    for (const model of models) {
      for (const threads of threadCounts) {
        for (const system of systems) {
          const result = await runJob(browser, origin, { system, model, threads, minSeconds: SECONDS });
          console.log(`browser: ${model}, ${system} (${result.detail}): ${result.imagesPerSecond.toFixed(2)} images/s over ${result.runs} passes`);
          results.set(key(system, model, threads), result);
        }
      }
    }
  } finally {
    await browser.close();
    server.close();
    rmSync(bundle, { recursive: true, force: true });
  }
  const rows = models.flatMap((model) =>
    threadCounts.map((threads) => {
      const ours = results.get(key('ours', model, threads))!;
      const theirs = results.get(key('onnxruntime-web', model, threads))!;
      const difference = Math.max(...ours.prob.map((p, i) => Math.abs(p - theirs.prob[i]!)));
      return [peerModel(model).label, String(threads), ours.imagesPerSecond.toFixed(2), theirs.imagesPerSecond.toFixed(2), `${(theirs.imagesPerSecond / ours.imagesPerSecond).toFixed(2)}x`, `${difference.toExponential(2)}${difference > PROB_TOLERANCE ? ' **differ**' : ''}`];
    }),
  );
  const table = markdownTable(['net', 'threads', 'ours (wasm), images/s', 'onnxruntime-web (wasm), images/s', 'onnxruntime-web / ours', 'max prob difference'], rows);
  writeSection(
    'browser',
    'In the page: CaffeNet and MobileNet in headless Chromium',
    `Batch 1 forward passes in ${version ? `Chromium ${version}` : 'Chromium'} (headless, Debian's package, driven by playwright-core), each system in a module Web Worker of a cross-origin isolated page (COOP same-origin, COEP require-corp) served from loopback: this project's library on its wasm backend, its pool on Web Workers over SharedArrayBuffer, against onnxruntime-web's wasm SIMD build with numThreads = threads (its own Web Workers). The nets, weights and image are the peers suite's; each cell is a fresh page, one untimed pass, then passes for at least ${SECONDS} s (a plain timing loop, the same for both). Ratio above 1: onnxruntime-web is faster.\n\n${table}`,
  );
}
