import { Rng } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import type { FloatImage } from './image.js';
import { caffenetRecipe, makeRecipe, meanImage, mobilenetRecipe, netInputSize, toNetBatch, toNetInput, validateRecipe } from './recipe.js';

function constantRgb(size: number, rgb: [number, number, number]): FloatImage {
  const data = new Float32Array(size * size * 3);
  for (let p = 0; p < size * size; p++) data.set(rgb, p * 3);
  return { width: size, height: size, channels: 3, data };
}

/** 256 x 256 gray with value = x (so a crop offset shows in the first column). */
function xCoded(): FloatImage {
  const data = new Float32Array(256 * 256);
  for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) data[y * 256 + x] = x;
  return { width: 256, height: 256, channels: 1, data };
}

const at = (out: Float32Array, size: number, c: number, y: number, x: number): number => out[(c * size + y) * size + x]!;

describe('caffenet recipe', () => {
  it('constant RGB (10, 20, 30) -> [3, 227, 227] BGR minus (104, 117, 123): -74, -97, -113', () => {
    const out = toNetInput(constantRgb(256, [10, 20, 30]), caffenetRecipe());
    expect(out.length).toBe(3 * 227 * 227);
    expect(new Set(out.subarray(0, 227 * 227))).toEqual(new Set([30 - 104]));
    expect(new Set(out.subarray(227 * 227, 2 * 227 * 227))).toEqual(new Set([20 - 117]));
    expect(new Set(out.subarray(2 * 227 * 227))).toEqual(new Set([10 - 123]));
  });

  it('the centre crop starts at (256 - 227) / 2 = 14', () => {
    const out = toNetInput(xCoded(), makeRecipe('caffenet', { mean: { values: [0] } }));
    expect(at(out, 227, 0, 0, 0)).toBe(14);
    expect(at(out, 227, 2, 100, 226)).toBe(14 + 226);
  });

  it('the mean image is cropped at the same offset and subtracted per channel', () => {
    const mean = new Float32Array(3 * 256 * 256);
    for (let i = 0; i < mean.length; i++) mean[i] = i % 1000; // (c * 256 + y) * 256 + x, reduced
    const out = toNetInput(constantRgb(256, [0, 0, 0]), caffenetRecipe({ meanImage: meanImage({ data: mean, channels: 3, height: 256, width: 256 }) }));
    for (const [c, y, x] of [
      [0, 0, 0],
      [1, 5, 7],
      [2, 226, 226],
    ] as const) {
      expect(at(out, 227, c, y, x)).toBe(-(((c * 256 + y + 14) * 256 + x + 14) % 1000));
    }
  });

  it('a smaller image is resized to 256 first (constant 64 x 64 stays constant)', () => {
    const out = toNetInput(constantRgb(64, [50, 50, 50]), caffenetRecipe());
    expect(at(out, 227, 1, 113, 113)).toBeCloseTo(50 - 117, 4);
  });

  it('training crops are random within [0, 29] and deterministic for a seed; no rng = centre', () => {
    const recipe = makeRecipe('caffenet', { mean: { values: [0] }, randomCrop: true });
    const draw = (seed: number): number[] => {
      const rng = new Rng(seed);
      return Array.from({ length: 30 }, () => at(toNetInput(xCoded(), recipe, rng), 227, 0, 0, 0));
    };
    const offsets = draw(3);
    expect(offsets.every((o) => o >= 0 && o <= 29)).toBe(true);
    expect(new Set(offsets).size).toBeGreaterThan(5);
    expect(draw(3)).toEqual(offsets);
    expect(at(toNetInput(xCoded(), recipe), 227, 0, 0, 0)).toBe(14);
  });

  it('mirroring flips left-right in about half of the draws, only with an rng', () => {
    const recipe = makeRecipe('caffenet', { mean: { values: [0] }, mirror: true });
    const rng = new Rng(5);
    const firsts = Array.from({ length: 40 }, () => at(toNetInput(xCoded(), recipe, rng), 227, 0, 0, 0));
    expect(new Set(firsts)).toEqual(new Set([14, 14 + 226]));
    const flipped = firsts.filter((v) => v === 240).length;
    expect(flipped).toBeGreaterThan(8);
    expect(flipped).toBeLessThan(32);
    expect(at(toNetInput(xCoded(), recipe), 227, 0, 0, 0)).toBe(14);
  });

  it('flip mirrors every image, with or without an rng: the first column reads x = 14 + 226 = 240', () => {
    const recipe = makeRecipe('caffenet', { mean: { values: [0] }, flip: true });
    expect(at(toNetInput(xCoded(), recipe), 227, 0, 0, 0)).toBe(240);
    expect(at(toNetInput(xCoded(), recipe), 227, 0, 0, 226)).toBe(14);
    const rng = new Rng(5);
    expect(Array.from({ length: 10 }, () => at(toNetInput(xCoded(), recipe, rng), 227, 0, 0, 0))).toEqual(Array(10).fill(240));
  });
});

describe('mobilenet recipe', () => {
  it('gray 200 at 256 -> [3, 160, 160] of (200 - 128) / 128 = 0.5625', () => {
    const gray: FloatImage = { width: 256, height: 256, channels: 1, data: new Float32Array(256 * 256).fill(200) };
    const recipe = mobilenetRecipe(160);
    expect(netInputSize(recipe)).toBe(160);
    const out = toNetInput(gray, recipe);
    expect(out.length).toBe(3 * 160 * 160);
    expect(Math.max(...out.map((v) => Math.abs(v - 0.5625)))).toBeLessThan(1e-5);
  });

  it('keeps RGB order: (0, 128, 255) -> (-1, 0, 127/128)', () => {
    const out = toNetInput(constantRgb(192, [0, 128, 255]), mobilenetRecipe(192));
    expect([at(out, 192, 0, 9, 9), at(out, 192, 1, 9, 9), at(out, 192, 2, 9, 9)]).toEqual([-1, 0, 127 / 128]);
  });
});

describe('recipe checks', () => {
  it('a crop larger than the resized image is refused', () => {
    expect(() => makeRecipe('caffenet', { crop: 300 })).toThrow(/recipe crop 300 must be an integer in \[1, resizeTo = 256\]/);
  });

  it('a mean image of another size is refused with both sizes', () => {
    const mean = meanImage({ data: new Float32Array(3 * 227 * 227), channels: 3, height: 227, width: 227 });
    expect(() => caffenetRecipe({ meanImage: mean })).toThrow(/mean image is 3 x 227 x 227; it must be 3 x 256 x 256/);
  });

  it('a blob whose data does not match its dims is refused', () => {
    expect(() => meanImage({ data: new Float32Array(10), channels: 3, height: 2, width: 2 })).toThrow(/10 values, expected/);
  });

  it('two mean values are refused', () => {
    expect(() => validateRecipe({ ...mobilenetRecipe(160), mean: { values: [1, 2] } })).toThrow(/give 1 or 3/);
  });

  it('toNetBatch stacks [N, 3, S, S]', () => {
    const batch = toNetBatch([constantRgb(160, [1, 2, 3]), constantRgb(160, [4, 5, 6])], mobilenetRecipe(160));
    expect(batch.shape).toEqual([2, 3, 160, 160]);
    expect(batch.data[3 * 160 * 160]).toBeCloseTo((4 - 128) / 128, 6);
  });
});
