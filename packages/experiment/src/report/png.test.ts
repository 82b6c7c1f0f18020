import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { downsampleGray, encodeGrayPng, encodePng, filterGrid, galleryThumbnail, pngDataUri } from './png.js';

function decode(png: Uint8Array): { width: number; height: number; data: Buffer } {
  return PNG.sync.read(Buffer.from(png));
}

/** RGB of pixel (x, y) of an RGBA image. */
function rgbAt(image: { rgba: Uint8Array; width: number }, x: number, y: number): number[] {
  const p = 4 * (y * image.width + x);
  return [image.rgba[p]!, image.rgba[p + 1]!, image.rgba[p + 2]!];
}

describe('encodePng', () => {
  it('round-trips RGBA pixels through pngjs', () => {
    const rgba = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 37) % 256);
    const png = encodePng(rgba, 3, 2);
    expect(Array.from(png.slice(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const back = decode(png);
    expect([back.width, back.height]).toEqual([3, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(rgba));
  });

  it('round-trips grayscale pixels as a one-channel PNG', () => {
    const gray = Uint8Array.from([0, 50, 100, 150, 200, 255]);
    const back = decode(encodeGrayPng(gray, 2, 3));
    expect([back.width, back.height]).toEqual([2, 3]);
    // pngjs expands to RGBA on reading.
    expect(Array.from({ length: 6 }, (_, i) => back.data[4 * i])).toEqual(Array.from(gray));
    expect(Array.from({ length: 6 }, (_, i) => back.data[4 * i + 3])).toEqual([255, 255, 255, 255, 255, 255]);
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => encodePng(new Uint8Array(10), 2, 2)).toThrow(/expected 16/);
    expect(() => encodeGrayPng(new Uint8Array(4), 0, 4)).toThrow(/positive integers/);
  });

  it('makes a data URI', () => {
    expect(pngDataUri(Uint8Array.from([1, 2, 3]))).toBe('data:image/png;base64,AQID');
  });
});

describe('filterGrid', () => {
  // Two filters of shape [3, 1, 2] (channels stored B, G, R), weights 0..11:
  //   filter 0: B = [0, 1], G = [2, 3], R = [4, 5];  filter 1: B = [6, 7], G = [8, 9], R = [10, 11]
  const weights = Float32Array.from({ length: 12 }, (_, i) => i);
  const shape = [2, 3, 1, 2] as const;
  const joint = (w: number): number => Math.round((255 * w) / 11);

  it('lays 2 filters out in a 2-column grid: width = 2 (2 + 1) + 1 = 7, height = 1 (1 + 1) + 1 = 3', () => {
    const image = filterGrid(weights, shape, { channelOrder: 'BGR' });
    expect([image.width, image.height]).toEqual([7, 3]);
    expect(image.rgba).toHaveLength(7 * 3 * 4);
    // Padding (row 0, row 2, columns 0, 3, 6) is white and everything is opaque.
    for (const [x, y] of [[0, 0], [3, 1], [6, 1], [2, 2], [0, 1]] as const) expect(rgbAt(image, x, y)).toEqual([255, 255, 255]);
    for (let i = 3; i < image.rgba.length; i += 4) expect(image.rgba[i]).toBe(255);
  });

  it('normalises all filters jointly, min -> 0, max -> 255, and shows BGR weights as RGB', () => {
    const image = filterGrid(weights, shape, { channelOrder: 'BGR' });
    expect(rgbAt(image, 1, 1)).toEqual([joint(4), joint(2), joint(0)]); // [93, 46, 0]
    expect(rgbAt(image, 2, 1)).toEqual([joint(5), joint(3), joint(1)]); // [116, 70, 23]
    expect(rgbAt(image, 4, 1)).toEqual([joint(10), joint(8), joint(6)]); // [232, 185, 139]
    expect(rgbAt(image, 5, 1)).toEqual([255, joint(9), joint(7)]);
    expect(rgbAt(image, 1, 1)).toEqual([93, 46, 0]);
  });

  it('keeps RGB weights in order', () => {
    const image = filterGrid(weights, shape, { channelOrder: 'RGB' });
    expect(rgbAt(image, 1, 1)).toEqual([0, 46, 93]);
  });

  it('normalises each filter on its own when asked: the two filters, equal up to an offset, look the same', () => {
    const image = filterGrid(weights, shape, { channelOrder: 'BGR', normalize: 'perFilter' });
    // filter 0 spans 0..5: R = 4 -> 204, G = 2 -> 102, B = 0 -> 0
    expect(rgbAt(image, 1, 1)).toEqual([204, 102, 0]);
    expect(rgbAt(image, 4, 1)).toEqual([204, 102, 0]);
    expect(rgbAt(image, 5, 1)).toEqual([255, 153, 51]);
  });

  it('upscales each weight to a scale x scale block and honours padding and columns', () => {
    const image = filterGrid(weights, shape, { channelOrder: 'BGR', scale: 2, padding: 0, columns: 1 });
    expect([image.width, image.height]).toEqual([4, 4]);
    for (const [x, y] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) expect(rgbAt(image, x, y)).toEqual([93, 46, 0]);
    expect(rgbAt(image, 2, 1)).toEqual([116, 70, 23]);
    expect(rgbAt(image, 0, 2)).toEqual([232, 185, 139]);
  });

  it('shows grey filters, maps a constant range to 128 and rejects other channel counts', () => {
    const grey = filterGrid(Float32Array.from([1, 1, 1, 1]), [1, 1, 2, 2], { channelOrder: 'RGB', padding: 0 });
    expect(rgbAt(grey, 0, 0)).toEqual([128, 128, 128]);
    expect(() => filterGrid(new Float32Array(2 * 4 * 9), [2, 4, 3, 3], { channelOrder: 'RGB' })).toThrow(/4 input channels/);
    expect(() => filterGrid(new Float32Array(5), [2, 3, 1, 1], { channelOrder: 'RGB' })).toThrow(/expected 6/);
    expect(() => filterGrid(weights, shape, { channelOrder: 'RGB', scale: 1.5 })).toThrow(/scale/);
  });

  it('makes the CaffeNet conv1 grid: 96 filters of 3 x 11 x 11 in 10 x 10 tiles', () => {
    const image = filterGrid(new Float32Array(96 * 3 * 11 * 11).map((_, i) => Math.sin(i)), [96, 3, 11, 11], { channelOrder: 'BGR', scale: 4, padding: 2 });
    expect([image.width, image.height]).toEqual([10 * (44 + 2) + 2, 10 * (44 + 2) + 2]);
  });
});

describe('downsampleGray and galleryThumbnail', () => {
  it('averages 2 x 2 blocks when halving (by hand)', () => {
    const small = downsampleGray([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150], 4, 4, 2);
    expect([small.width, small.height]).toEqual([2, 2]);
    // top-left block: (0 + 10 + 40 + 50) / 4 = 25
    expect(Array.from(small.gray)).toEqual([25, 45, 105, 125]);
  });

  it('weights partly covered pixels by the covered area (3 x 3 -> 2 x 2)', () => {
    // Output pixel (0, 0) covers [0, 1.5)^2: weights 1, 0.5, 0.5, 0.25 on pixels (0,0), (1,0), (0,1), (1,1).
    const image = [90, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(downsampleGray(image, 3, 3, 2).gray[0]).toBe(Math.round(90 / 2.25));
  });

  it('keeps small images, clamps and rounds float values', () => {
    const same = downsampleGray(Float32Array.from([-5, 12.6, 300, 7]), 2, 2, 128);
    expect(Array.from(same.gray)).toEqual([0, 13, 255, 7]);
  });

  it('turns a 256 x 256 image into a 128 x 128 PNG data URI', () => {
    const gray = new Float32Array(256 * 256).map((_, i) => i % 256);
    const uri = galleryThumbnail(gray, 256, 256);
    expect(uri.startsWith('data:image/png;base64,')).toBe(true);
    const back = decode(Buffer.from(uri.slice('data:image/png;base64,'.length), 'base64'));
    expect([back.width, back.height]).toEqual([128, 128]);
    expect(galleryThumbnail(gray, 256, 256, { maxSize: 64 }).length).toBeLessThan(uri.length);
  });
});
