import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { getThreads, setThreads } from '@cnn/tensor';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { Net } from '@cnn/nn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageWorkerError, ImageWorkers, mobilenetRecipe, prepareImages, type StoredImage } from '@cnn/experiment/data';
import { miniCaffeNet, runFeatures, writeMobileNetAtSide, writeSyntheticArchive } from '@cnn/experiment';
import { writeDicom, pngBomb } from '@cnn/experiment/testing';
import { extractFeatures, planTransfer } from '@cnn/experiment/transfer';
import { mobilenet, scratchFolders } from './paths.js';

/*
 * Decoding and preprocessing on worker threads (image-workers.ts) must change nothing but the
 * time: the same screened images, problems and notes in the same order, and the same features,
 * bit for bit, as the same work done in turn on one thread.
 */

const folders = scratchFolders();
afterAll(() => folders.removeAll());
const workers = new ImageWorkers(2);
afterAll(() => workers.close());

/** A w x h PNG of colour type `colorType` whose pixels vary with `seed` (a red box when `red`). */
function png(w: number, h: number, seed: number, colorType: 0 | 2 | 6, red = false): Buffer {
  const image = new pngjs.PNG({ width: w, height: h });
  for (let p = 0; p < w * h; p++) {
    const v = (p * 31 + seed * 17) % 251;
    image.data.set(red && p % w < w / 2 ? [230, 20, 20, 255] : [v, v, v, 200], p * 4);
  }
  return pngjs.PNG.sync.write(image, { colorType, inputHasAlpha: true });
}

describe('image workers', () => {
  let files: { path: string; label: number }[];
  beforeAll(() => {
    const dir = folders.make('cnn-image-workers-');
    const write = (name: string, bytes: Uint8Array, label: number) => {
      writeFileSync(path.join(dir, name), bytes);
      return { path: path.join(dir, name), label };
    };
    const jpegBytes = jpeg.encode({ width: 40, height: 30, data: Buffer.alloc(40 * 30 * 4, 90) }, 90).data;
    files = [
      ...Array.from({ length: 9 }, (_, i) => write(`gray-${i}.png`, png(64 + 40 * i, 48 + 30 * i, i, ([0, 2, 6] as const)[i % 3]), i % 2)),
      write('doppler.png', png(50, 50, 3, 2, true), 0),
      write('corrupt.png', png(30, 30, 4, 0).subarray(0, 70), 1),
      write('bomb.png', pngBomb(8000, 8000), 1),
      write('photo.jpg', jpegBytes, 0),
      write('ct.dcm', writeDicom({ rows: 2, columns: 3, bitsAllocated: 16, pixels: [0, 100, 200, 300, 400, 500] }), 1),
      write('gone.png', png(8, 8, 5, 0), 1),
    ];
    unlinkSync(files.at(-1)!.path);
  });

  // The workers start at the first request and take a while (a fresh engine compiling the sources):
  // one request is left to them so that the tests below find them running.
  beforeAll(async () => {
    const request = workers.screen([files[0]!.path], {});
    for (let waited = 0; workers.doneOnWorkers === 0 && waited < 60_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    await request.collect();
    expect(workers.doneOnWorkers).toBe(1);
  }, 70_000);

  it('screen 15 files (gray, colour, corrupt, a bomb, JPEG, DICOM, a vanished one) as prepareImages does in turn: same images, problems, notes, order', async () => {
    const progress: number[] = [];
    const parallel = await prepareImages(files, ['a', 'b'], { workers, onProgress: (done) => progress.push(done) });
    const inTurn = await prepareImages(files, ['a', 'b']);
    expect(parallel).toEqual(inTurn);
    expect(workers.doneOnWorkers).toBeGreaterThan(1);
    expect(parallel.images).toHaveLength(11);
    expect(parallel.excluded.map((e) => path.basename(e.path))).toEqual(['doppler.png']);
    expect(parallel.problems.map((p) => [path.basename(p.path), p.reason])).toEqual([
      ['corrupt.png', expect.stringMatching(/^corrupt PNG/)],
      ['bomb.png', expect.stringMatching(/declares 8000 x 8000 pixels \(64 megapixels\), more than the limit/)],
      ['gone.png', expect.stringMatching(/ENOENT/)],
    ]);
    expect(progress).toEqual(files.map((_, i) => i + 1));
  });

  it('an exception (not a bad file: a bug) rejects the request naming the image, on a worker or on the calling thread', async () => {
    const good = { width: 4, height: 4, channels: 1, data: new Uint8Array(16) };
    const broken = [good, null, good, good] as unknown as StoredImage[];
    // Collected at once, the calling thread takes #3 and #2 and finds #1 unless a worker was first;
    // collected late, the workers have done them all (the worker with #0-#1 fails on #1).
    for (const [delay, where] of [
      [0, /\(in (an image worker|the calling thread)\)$/],
      [500, /\(in an image worker\)$/],
    ] as const) {
      const request = workers.netInputs(broken, mobilenetRecipe(4), [undefined, undefined, undefined, undefined]);
      await new Promise((resolve) => setTimeout(resolve, delay));
      const failure = request.collect();
      await expect(failure).rejects.toThrow(ImageWorkerError);
      await expect(failure).rejects.toThrow(/^image #1: TypeError: /);
      await expect(failure).rejects.toThrow(where);
    }
  });

  describe('extraction with the net inputs made on the workers, beside the forward', () => {
    const def = miniCaffeNet(1, false);
    const images: StoredImage[] = Array.from({ length: 11 }, (_, k) => ({ width: 80, height: 80, channels: 1, data: new Uint8Array(80 * 80).map((_, i) => (i * (k + 3) * 7) % 251) }));
    const recipe = { ...mobilenetRecipe(64), resizeTo: 72, crop: 64 };

    /** Features of `images` with a fresh net (batches of 4: three forwards, the last one short). */
    async function features(options: { workers?: ImageWorkers; variant?: number; cache?: { dir: string; modelKey: string } }) {
      const net = new Net(def, { phase: 'TEST', seed: 3 });
      const plan = planTransfer(def, net, 2);
      return extractFeatures(net, plan, options.variant === undefined ? recipe : { ...recipe, randomCrop: true, mirror: true }, images, { quiet: true, batch: 4, ...options });
    }

    it('gives the features of the sequential path, bit for bit, in order (centre crops and random crops with mirrors)', async () => {
      for (const variant of [undefined, 2]) {
        const before = workers.doneOnWorkers;
        const parallel = await features({ workers, variant });
        const inTurn = await features({ variant });
        expect(workers.doneOnWorkers).toBeGreaterThan(before);
        expect(parallel.computed).toBe(11);
        expect(Buffer.from(parallel.features.data.buffer).equals(Buffer.from(inTurn.features.data.buffer))).toBe(true);
        // Not trivially equal: the images give different rows.
        expect(parallel.features.data.subarray(0, 288)).not.toEqual(parallel.features.data.subarray(288, 576));
      }
    });

    it('writes the same cache entries, and a second run reads them all', async () => {
      const dirs = [folders.make('cnn-workers-cache-'), folders.make('cnn-inturn-cache-')];
      await features({ workers, cache: { dir: dirs[0]!, modelKey: 'k' } });
      await features({ cache: { dir: dirs[1]!, modelKey: 'k' } });
      const entries = dirs.map((dir) => readdirSync(path.join(dir, 'k')).filter((name) => name.endsWith('.feat')).sort());
      expect(entries[0]).toHaveLength(11);
      expect(entries[0]).toEqual(entries[1]);
      const again = await features({ workers, cache: { dir: dirs[0]!, modelKey: 'k' } });
      expect(again.computed).toBe(0);
    });

    it('refuses non-finite features naming the image, as without workers', async () => {
      const net = new Net(def, { phase: 'TEST', seed: 3 });
      const plan = planTransfer(def, net, 2);
      net.layer('conv3').params[1]!.data.data[5] = Infinity;
      const names = images.map((_, i) => `scan-${i}.png`);
      await expect(extractFeatures(net, plan, recipe, images, { quiet: true, batch: 4, workers, names })).rejects.toThrow(/^features at pool5 of scan-0\.png hold \d+ non-finite value/);
    });
  });

  it('cnn features over 70 images (two stream batches) fills the cache entries a one-thread run fills, byte for byte', async () => {
    const work = folders.make('cnn-features-workers-');
    const { dir: data } = writeSyntheticArchive(path.join(work, 'data'), { images: 70, imagesPerStudy: 5, classes: 2, size: 64, seed: 7 });
    const fixture = mobilenet();
    const model = { prototxt: writeMobileNetAtSide(fixture.prototxt, 32, path.join(work, 'mobilenet_32.prototxt')), weights: fixture.weights, preset: 'mobilenet' as const };
    const threads = getThreads();
    const runs = [];
    try {
      for (const [count, cacheDir] of [[2, path.join(work, 'parallel')], [1, path.join(work, 'in-turn')]] as const) {
        setThreads(count);
        runs.push(await runFeatures({ data, ...model, cacheDir, shard: '0/1', quiet: true }));
      }
    } finally {
      setThreads(threads);
    }
    expect(runs.map((run) => run.computed)).toEqual([70, 70]);
    const contents = runs.map((run) =>
      readdirSync(run.cacheFolder)
        .filter((name) => name.endsWith('.feat'))
        .sort()
        .map((name) => [name, readFileSync(path.join(run.cacheFolder, name)).toString('base64')]),
    );
    expect(contents[0]).toHaveLength(70);
    expect(contents[0]).toEqual(contents[1]);
  }, 120_000);
});
