/*
 * Walkthrough 1: pixels are numbers.
 *
 * When you look at an ultrasound of a kidney you see a cortex, a sinus, a shadow.
 * The computer sees none of that. It receives a grid of brightness values, one per
 * pixel, from 0 (black) to 255 (white), and everything a network "knows" about the
 * image it has to work out from those numbers by arithmetic. So the first step in
 * understanding a convolutional network is to become comfortable with the image as
 * a table of numbers, and with the one data structure that holds it: the tensor.
 *
 * Our example is the 13 x 12 patch from the exhibit (see ./kidney-patch.ts). Look at
 * it for a moment: in the top five rows the first three columns hold values between
 * 50 and 84, and at the fourth column they jump past 100. That jump is a boundary
 * between darker and brighter tissue, and walkthrough 2 will find it with an edge
 * filter.
 *
 * A tensor is a flat list of numbers plus a shape that says how to read it. The
 * patch has shape [13, 12]: 13 rows of 12. The numbers are stored row after row, so
 * the stride [12, 1] says "to move one row down, jump 12 places; to move one column
 * right, jump 1". Cutting out a row or a small window does not copy anything: it
 * only changes the shape, the stride and where to start (the offset). Networks work
 * on batches of images with channels, so the library wants four axes, [N, C, H, W]
 * (images, channels, height, width); our single grey-scale patch becomes
 * [1, 1, 13, 12], again without copying a number.
 */
import { Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { KIDNEY_PATCH } from './kidney-patch.js';

describe('Walkthrough 1: pixels are numbers', () => {
  const patch = Tensor.fromArray(KIDNEY_PATCH);

  it('holds the 13 x 12 patch as a tensor of shape [13, 12]: 156 numbers and nothing else', () => {
    expect(KIDNEY_PATCH.length).toBe(13);
    expect(KIDNEY_PATCH.every((row) => row.length === 12)).toBe(true);
    expect(patch.shape).toEqual([13, 12]);
    expect(patch.size).toBe(13 * 12);
    expect(patch.data.length).toBe(156);
  });

  it('finds a pixel by row and column, counting from 0: row 3, column 5 is the brightest, 162', () => {
    // Fourth line of the table, sixth value.
    expect(patch.get(3, 5)).toBe(162);
    // The top-left corner, and the darkest pixel (second line, first value).
    expect(patch.get(0, 0)).toBe(55);
    expect(patch.get(1, 0)).toBe(50);
  });

  it('stores the rows one after another, so pixel (row, col) lives at row * 12 + col', () => {
    expect(patch.stride).toEqual([12, 1]);
    expect(patch.index(3, 5)).toBe(3 * 12 + 5);
    expect(patch.data[41]).toBe(162);
    // The last pixel of row 0 is followed directly by the first pixel of row 1.
    expect(patch.data[11]).toBe(143);
    expect(patch.data[12]).toBe(50);
  });

  it('sees "dark" and "bright" only as small and large numbers', () => {
    let darkest = Infinity;
    let brightest = -Infinity;
    for (const value of patch.data) {
      darkest = Math.min(darkest, value);
      brightest = Math.max(brightest, value);
    }
    expect(darkest).toBe(50);
    expect(brightest).toBe(162);
    // Along row 0 the brightness jumps between columns 2 and 3: from 72 to 100.
    expect(patch.get(0, 3) - patch.get(0, 2)).toBe(100 - 72);
  });

  it('cuts out a row as a view: same numbers, no copy, just a new offset', () => {
    const row0 = patch.pick(0, 0);
    expect(row0.shape).toEqual([12]);
    expect(row0.data).toBe(patch.data);
    const row0Sum = row0.toFlatArray().reduce((sum, value) => sum + value, 0);
    expect(row0Sum).toBe(55 + 73 + 72 + 100 + 115 + 137 + 115 + 121 + 134 + 145 + 147 + 143);

    const row3 = patch.pick(0, 3);
    expect(row3.offset).toBe(3 * 12);
    expect(row3.get(5)).toBe(162);
  });

  it('cuts out the 3 x 3 window a filter will look at, also as a view', () => {
    // Rows 2..4, columns 2..4: the window that straddles the dark-to-bright boundary.
    const window = patch.slice(0, 2, 5).slice(1, 2, 5);
    expect(window.shape).toEqual([3, 3]);
    expect(window.stride).toEqual([12, 1]);
    expect(window.offset).toBe(2 * 12 + 2);
    expect(window.data).toBe(patch.data);
    expect(window.toFlatArray()).toEqual([
      71, 115, 128,
      84, 138, 156,
      77, 127, 148,
    ]);
  });

  it('becomes a batch of one single-channel image, [N, C, H, W] = [1, 1, 13, 12], without copying', () => {
    const batch = patch.reshape([1, 1, 13, 12]);
    expect(batch.data).toBe(patch.data);
    expect(batch.stride).toEqual([156, 156, 12, 1]);
    expect(batch.get(0, 0, 3, 5)).toBe(162);
  });

  it('is usually centred before a network sees it: subtracting the mean makes darker-than-average pixels negative', () => {
    // Caffe's ImageNet models subtract a mean image before the first layer; here, the patch's own mean.
    let total = 0;
    for (const row of KIDNEY_PATCH) for (const value of row) total += value;
    const mean = total / 156;
    expect(total).toBe(15541);
    expect(mean).toBeCloseTo(99.6218, 4);

    const centred = Tensor.zeros([13, 12]);
    for (let row = 0; row < 13; row++) {
      for (let col = 0; col < 12; col++) centred.set(row, col, patch.get(row, col) - mean);
    }
    expect(centred.get(3, 5)).toBeCloseTo(162 - 99.6218, 4);
    expect(centred.get(1, 0)).toBeCloseTo(50 - 99.6218, 4);
    // Centring shifts every number but keeps every difference: the boundary is still a jump of 28.
    expect(centred.get(0, 3) - centred.get(0, 2)).toBeCloseTo(28, 4);
  });
});
