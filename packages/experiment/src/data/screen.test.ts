import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pngjs from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from './dataset.js';
import { prepareImages } from './screen.js';
import { writeDicom } from './testing/dicom.js';
import { sharedDataDir } from './testing/shared.js';

const SHARED_DATA = sharedDataDir();
const root = mkdtempSync(path.join(tmpdir(), 'cnn-screen-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A w x h RGB PNG, gray 120 everywhere, with an optional red box of bw x bh at the top-left. */
function rgbPng(w: number, h: number, box?: [number, number]): Buffer {
  const png = new pngjs.PNG({ width: w, height: h });
  for (let p = 0; p < w * h; p++) png.data.set([120, 120, 120, 255], p * 4);
  if (box) {
    for (let y = 0; y < box[1]; y++) for (let x = 0; x < box[0]; x++) png.data.set([230, 30, 30, 255], (y * w + x) * 4);
  }
  return pngjs.PNG.sync.write(png, { colorType: 2 });
}

function write(name: string, bytes: Uint8Array | string): { path: string; label: number } {
  const file = path.join(root, name);
  writeFileSync(file, bytes);
  return { path: file, label: 0 };
}

describe('prepareImages', () => {
  const gray = { ...write('gray.png', rgbPng(300, 200)), label: 0 };
  const doppler = { ...write('doppler.png', rgbPng(100, 100, [20, 10])), label: 0 };
  const corrupt = { ...write('corrupt.png', rgbPng(40, 40).subarray(0, 60)), label: 1 };
  const ct = { ...write('ct', writeDicom({ rows: 2, columns: 2, bitsAllocated: 16, pixels: [0, 1, 2, 3] })), label: 1 };
  const gone = { ...write('gone.png', rgbPng(8, 8)), label: 1 };
  unlinkSync(gone.path);

  it('skips corrupt and vanished files with reasons, excludes colour, preprocesses the rest to 256 x 256 gray uint8', async () => {
    const out = await prepareImages([gray, doppler, corrupt, ct, gone], ['a', 'b']);
    expect(out.items).toEqual([gray, ct]);
    expect(out.images.map((i) => [i.width, i.height, i.channels, i.data.constructor.name])).toEqual([
      [256, 256, 1, 'Uint8Array'],
      [256, 256, 1, 'Uint8Array'],
    ]);
    expect(new Set(out.images[0]!.data)).toEqual(new Set([120]));
    expect(out.excluded).toEqual([{ path: doppler.path, reason: expect.stringMatching(/^colour: 2\.0% of pixels coloured \(more than 0\.2%/) }]);
    expect(out.problems.map((p) => [path.basename(p.path), p.reason])).toEqual([
      ['corrupt.png', expect.stringMatching(/^corrupt PNG/)],
      ['gone.png', expect.stringMatching(/ENOENT/)],
    ]);
  });

  it('keepColour keeps the Doppler image (made gray)', async () => {
    const out = await prepareImages([gray, doppler, ct], ['a', 'b'], { keepColour: true });
    expect(out.items).toEqual([gray, doppler, ct]);
    expect(out.excluded).toEqual([]);
  });

  it('a class left with no images is an error naming it', async () => {
    await expect(prepareImages([gray, corrupt, gone], ['a', 'b'])).rejects.toThrow(/class\(es\) 'b' have no images left after screening \(0 excluded for colour, 2 unreadable/);
  });

  it('real busi images come out as 256 x 256 gray, none excluded', async () => {
    const ds = await loadDataset(path.join(SHARED_DATA, 'busi/manifest.csv'));
    const some = [ds.items[0]!, ds.items.find((i) => i.label === 1)!, ds.items.find((i) => i.label === 2)!];
    const out = await prepareImages(some, ds.classes);
    expect(out.items).toHaveLength(3);
    expect(out.excluded).toEqual([]);
    expect(out.images.every((i) => i.width === 256 && i.height === 256 && i.channels === 1)).toBe(true);
  });
});
