import { describe, expect, it } from 'vitest';
import { toUint8Image, type FloatImage } from './image.js';
import { centreSquareCrop, crop, replicateGray, resize, studyPreprocess, toGray } from './preprocess.js';

/** A 1-channel image whose pixel (y, x) holds f(x, y). */
function coded(w: number, h: number, f: (x: number, y: number) => number): FloatImage {
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f(x, y);
  return { width: w, height: h, channels: 1, data };
}

describe('crop', () => {
  it('centre square of 7 x 4 is x0 = floor(3 / 2) = 1, y0 = 0', () => {
    const out = centreSquareCrop(coded(7, 4, (x, y) => 10 * y + x));
    expect([out.width, out.height]).toEqual([4, 4]);
    expect(out.data[0]).toBe(1);
    expect(out.data[15]).toBe(34);
  });

  it('centre square of 4 x 7 is y0 = 1', () => {
    const out = centreSquareCrop(coded(4, 7, (x, y) => 10 * y + x));
    expect(Array.from(out.data.subarray(0, 4))).toEqual([10, 11, 12, 13]);
  });

  it('keeps RGB interleaving', () => {
    const img: FloatImage = { width: 3, height: 1, channels: 3, data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]) };
    expect(Array.from(crop(img, 1, 0, 1, 1).data)).toEqual([4, 5, 6]);
  });

  it('a window outside the image is an error with both sizes', () => {
    expect(() => crop(coded(4, 4, () => 0), 2, 0, 3, 3)).toThrow(/crop 3 x 3 at \(2, 0\) does not fit an image of 4 x 4/);
  });
});

describe('resize', () => {
  it('4 x 4 -> 2 x 2 averages each 2 x 2 block (area)', () => {
    const img = coded(4, 4, (x, y) => 4 * y + x); // 0..15
    // blocks: {0,1,4,5} = 2.5, {2,3,6,7} = 4.5, {8,9,12,13} = 10.5, {10,11,14,15} = 12.5
    expect(Array.from(resize(img, 2, 2).data)).toEqual([2.5, 4.5, 10.5, 12.5]);
  });

  it('3 -> 2 weighs partial pixels by their overlap: [0, 3, 6] -> [1, 5]', () => {
    // s = 1.5: out 0 covers [0, 1.5): (0 * 1 + 3 * 0.5) / 1.5 = 1; out 1 covers [1.5, 3): (3 * 0.5 + 6 * 1) / 1.5 = 5
    const out = resize(coded(3, 1, (x) => 3 * x), 2, 1);
    expect(out.data[0]).toBeCloseTo(1, 6);
    expect(out.data[1]).toBeCloseTo(5, 6);
  });

  it('2 -> 4 is bilinear with centres aligned: [0, 8] -> [0, 2, 6, 8]', () => {
    // x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]
    expect(Array.from(resize(coded(2, 1, (x) => 8 * x), 4, 1).data)).toEqual([0, 2, 6, 8]);
  });

  it('same size is the identity', () => {
    const img = coded(5, 3, (x, y) => x * 7 + y * 3);
    expect(Array.from(resize(img, 5, 3).data)).toEqual(Array.from(img.data));
  });

  it('a constant stays constant, down (600 x 450 -> 256) and up (64 -> 256)', () => {
    for (const [w, h] of [
      [600, 450],
      [64, 64],
    ]) {
      const out = resize(coded(w!, h!, () => 93), 256, 256);
      expect(Math.max(...out.data.map((v) => Math.abs(v - 93)))).toBeLessThan(1e-3);
    }
  });

  it('a checkerboard downsampled by a non-integer factor stays within [0, 255] and averages to 127.5', () => {
    const out = resize(coded(99, 99, (x, y) => ((x + y) % 2) * 255), 40, 40);
    expect(Math.min(...out.data)).toBeGreaterThanOrEqual(-1e-3);
    expect(Math.max(...out.data)).toBeLessThanOrEqual(255 + 1e-3);
    expect(out.data.reduce((a, b) => a + b, 0) / out.data.length).toBeCloseTo(127.5, 0);
  });
});

describe('gray', () => {
  it('luminance 0.299 R + 0.587 G + 0.114 B', () => {
    const img: FloatImage = { width: 2, height: 1, channels: 3, data: Float32Array.from([255, 0, 0, 10, 20, 30]) };
    const g = toGray(img);
    expect(g.channels).toBe(1);
    expect(g.data[0]).toBeCloseTo(76.245, 4);
    expect(g.data[1]).toBeCloseTo(0.299 * 10 + 0.587 * 20 + 0.114 * 30, 4);
  });

  it('replicateGray copies the value into 3 channels', () => {
    expect(Array.from(replicateGray(coded(2, 1, (x) => x + 5)).data)).toEqual([5, 5, 5, 6, 6, 6]);
  });
});

describe('studyPreprocess', () => {
  it('640 x 480 RGB -> 256 x 256 gray from the central 480 x 480', () => {
    const data = new Float32Array(640 * 480 * 3);
    // Left and right 80 columns white (cropped away), the centre black.
    for (let y = 0; y < 480; y++) {
      for (let x = 0; x < 640; x++) if (x < 80 || x >= 560) data.fill(255, (y * 640 + x) * 3, (y * 640 + x) * 3 + 3);
    }
    const out = studyPreprocess({ width: 640, height: 480, channels: 3, data });
    expect([out.width, out.height, out.channels]).toEqual([256, 256, 1]);
    expect(Math.max(...out.data)).toBe(0);
  });

  it('a 256 x 256 gray image is already what the study stores: returned as it is; a taller one loses its top and bottom', () => {
    const square = coded(256, 256, (x, y) => (x + y) % 256);
    expect(studyPreprocess(square)).toBe(square);
    const tall = studyPreprocess(coded(256, 260, (x, y) => y));
    expect([tall.width, tall.height, tall.data[0], tall.data[256 * 255]]).toEqual([256, 256, 2, 257]);
  });
});

describe('toUint8Image', () => {
  it('rounds halves up, clamps to 0-255, and stores NaN as 0', () => {
    const image = { width: 9, height: 1, channels: 1 as const, data: Float32Array.from([-3, -0.4, 0.5, 1.5, 2.5, 254.5, 255, 300, NaN]) };
    expect(Array.from(toUint8Image(image).data)).toEqual([0, 0, 1, 2, 3, 255, 255, 255, 0]);
  });
});
