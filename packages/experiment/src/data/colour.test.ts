import { Rng } from '@cnn/tensor';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { colourFraction, hasColour } from './colour.js';
import { decodeImage } from './decode.js';
import type { FloatImage } from './image.js';

/** A w x h gray ramp stored as RGB, each channel with independent noise in [-amp, amp] (JPEG-like chroma noise). */
function noisyGray(w: number, h: number, amp: number, seed = 1): FloatImage {
  const rng = new Rng(seed);
  const data = new Float32Array(w * h * 3);
  for (let p = 0; p < w * h; p++) {
    const g = 40 + ((p % w) * 150) / w;
    for (let c = 0; c < 3; c++) data[p * 3 + c] = g + rng.uniform(-amp, amp);
  }
  return { width: w, height: h, channels: 3, data };
}

function paintBox(img: FloatImage, x0: number, y0: number, bw: number, bh: number, rgb: [number, number, number]): void {
  for (let y = y0; y < y0 + bh; y++) {
    for (let x = x0; x < x0 + bw; x++) img.data.set(rgb, (y * img.width + x) * 3);
  }
}

function viaJpeg(img: FloatImage, quality: number): FloatImage {
  const rgba = Buffer.alloc(img.width * img.height * 4, 255);
  for (let p = 0; p < img.width * img.height; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = Math.max(0, Math.min(255, Math.round(img.data[p * 3 + c]!)));
  }
  return decodeImage(jpeg.encode({ width: img.width, height: img.height, data: rgba }, quality).data, 'x.jpg');
}

describe('colour detection', () => {
  it('gray with channel noise of +-8 has no coloured pixel (spread <= 16 <= 24)', () => {
    const img = noisyGray(100, 100, 8);
    expect(colourFraction(img)).toBe(0);
    expect(hasColour(img)).toBe(false);
  });

  it('a 2% red box (20 x 10 of 100 x 100) is found: fraction exactly 0.02', () => {
    const img = noisyGray(100, 100, 8);
    paintBox(img, 30, 40, 20, 10, [230, 40, 40]);
    expect(colourFraction(img)).toBeCloseTo(0.02, 10);
    expect(hasColour(img)).toBe(true);
  });

  it('through a real JPEG round trip: gray stays gray, the red box still counts', () => {
    const gray = noisyGray(96, 96, 3);
    expect(hasColour(viaJpeg(gray, 75))).toBe(false);
    paintBox(gray, 40, 40, 14, 14, [220, 30, 30]); // 2.1%
    const fraction = colourFraction(viaJpeg(gray, 75));
    expect(fraction).toBeGreaterThan(0.015);
    expect(hasColour(viaJpeg(gray, 75))).toBe(true);
  });

  it('a Doppler-like red/blue patch is found', () => {
    const img = noisyGray(128, 128, 2);
    paintBox(img, 50, 50, 20, 12, [200, 20, 20]);
    paintBox(img, 50, 62, 20, 12, [20, 40, 220]);
    expect(hasColour(img)).toBe(true);
  });

  it('a few stray coloured pixels (0.1%) stay under the default threshold 0.2% but not under 0.05%', () => {
    const img = noisyGray(100, 100, 2);
    paintBox(img, 0, 0, 10, 1, [255, 255, 0]); // 10 pixels = 0.1%
    expect(colourFraction(img)).toBeCloseTo(0.001, 10);
    expect(hasColour(img)).toBe(false);
    expect(hasColour(img, { threshold: 0.0005 })).toBe(true);
  });

  it('the tolerance is a strict bound on max - min: spread 24 is gray, 25 is colour', () => {
    const img: FloatImage = { width: 2, height: 1, channels: 3, data: Float32Array.from([100, 112, 124, 100, 112, 125]) };
    expect(colourFraction(img)).toBe(0.5);
    expect(colourFraction(img, 30)).toBe(0);
  });

  it('a 1-channel image has no colour', () => {
    expect(colourFraction({ width: 2, height: 2, channels: 1, data: new Float32Array(4) })).toBe(0);
  });
});
