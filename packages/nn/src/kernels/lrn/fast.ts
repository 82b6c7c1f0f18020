import { definePoolJob, partRange, partsFor, type FloatArray, type JobScalars, type PoolJob } from '@cnn/tensor';
import type { LrnSpec } from './reference.js';

/** Below this many elements an LRN runs on one thread: waking workers would cost more. */
const MIN_PARALLEL_ELEMENTS = 1 << 16;

/** An LRN's spec as a pool job carries it: `LrnSpec` by name, the region as `across` (1 or 0). */
const specScalars = ['across', 'num', 'channels', 'height', 'width', 'localSize', 'alpha', 'beta', 'k'] as const;
type SpecScalars = JobScalars<(typeof specScalars)[number]>;

/** Does the first pixels of a run of `count` from `base` (channel 0) itself; returns how many. */
export type AcrossRun = (base: number, count: number, planeSize: number) => number;

/** The spec back from a job's scalars, as a literal: the kernels read its fields per element, and a spread copy was slower to read. */
export function specOf(s: SpecScalars): LrnSpec {
  const { num, channels, height, width, localSize, alpha, beta, k } = s;
  return { region: s.across ? 'ACROSS_CHANNELS' : 'WITHIN_CHANNEL', num, channels, height, width, localSize, alpha, beta, k };
}

/**
 * LRN forward, fast. ACROSS_CHANNELS keeps a running sum of squares over the channel
 * window for a run of pixels (add the channel entering, drop the one leaving), so each
 * element costs O(1) instead of O(n); WITHIN_CHANNEL sums squares over the square as a
 * row pass then a column pass (O(2n) instead of O(n^2)). Large problems are split over
 * the thread pool: by pixel columns for ACROSS, by planes for WITHIN.
 */
export function lrnForwardFast(x: FloatArray, scale: FloatArray, y: FloatArray, s: LrnSpec): void {
  runLrn(lrnForwardJob, { x, scale, y, dy: y, dx: y }, s);
}

/** LRN backward, fast (see `lrnForwardFast` and `lrnBackwardReference`); `dx` is overwritten. */
export function lrnBackwardFast(x: FloatArray, y: FloatArray, scale: FloatArray, dy: FloatArray, dx: FloatArray, s: LrnSpec): void {
  runLrn(lrnBackwardJob, { x, scale, y, dy, dx }, s);
}

/** The arrays of an LRN job (the forward's dy and dx are placeholders it does not read). */
export type LrnJob = PoolJob<'x' | 'scale' | 'y' | 'dy' | 'dx', never, (typeof specScalars)[number]>;

export const lrnForwardJob: LrnJob = definePoolJob({
  module: import.meta.url,
  name: 'lrnForwardJob',
  arrays: ['x', 'scale', 'y', 'dy', 'dx'],
  scalars: specScalars,
  part: ({ x, scale, y }, s, part, parts) => forwardPart(x, scale, y, specOf(s), part, parts),
});

export const lrnBackwardJob: LrnJob = definePoolJob({
  module: import.meta.url,
  name: 'lrnBackwardJob',
  arrays: ['x', 'scale', 'y', 'dy', 'dx'],
  scalars: specScalars,
  part: ({ x, scale, y, dy, dx }, s, part, parts) => backwardPart(x, y, scale, dy, dx, specOf(s), part, parts),
});

/** Runs an LRN job: on the pool when the problem is large and every array is shared. */
export function runLrn(job: LrnJob, arrays: Record<'x' | 'scale' | 'y' | 'dy' | 'dx', FloatArray>, s: LrnSpec): void {
  const count = s.num * s.channels * s.height * s.width;
  const items = s.region === 'ACROSS_CHANNELS' ? s.num * s.height * s.width : s.num * s.channels;
  const parts = partsFor(count, MIN_PARALLEL_ELEMENTS, items, Object.values(arrays));
  job.run(arrays, scalarsOf(s), parts);
}

/** A job's scalars from the spec (the inverse of `specOf`), as a literal: a spread copy costs microseconds per call. */
function scalarsOf(s: LrnSpec): SpecScalars {
  const { num, channels, height, width, localSize, alpha, beta, k } = s;
  return { across: s.region === 'ACROSS_CHANNELS' ? 1 : 0, num, channels, height, width, localSize, alpha, beta, k };
}

/**
 * Part `part` of `parts` of a fast forward. `take`, if given, may do the first pixels of each
 * run of the ACROSS_CHANNELS region itself (the wasm kernel takes whole groups of four) and
 * returns how many it did; the rest is done here.
 */
export function forwardPart(x: FloatArray, scale: FloatArray, y: FloatArray, s: LrnSpec, part: number, parts: number, take?: AcrossRun): void {
  const power = negativePower(s.beta);
  if (s.region === 'ACROSS_CHANNELS') {
    const alphaOverN = s.alpha / s.localSize;
    forEachColumnRun(s, part, parts, (start, total, planeSize) => {
      const done = take ? take(start, total, planeSize) : 0;
      const base = start + done;
      const count = total - done;
      if (count === 0) return;
      acrossForward(x, scale, y, base, count, planeSize, s.channels, s.localSize, s.k, alphaOverN, power);
    });
    return;
  }
  const alphaOverArea = s.alpha / (s.localSize * s.localSize);
  const squares = new Float64Array(s.height * s.width);
  const sums = new Float64Array(s.height * s.width);
  const rows = new Float64Array(s.height * s.width);
  const [first, last] = partRange(s.num * s.channels, part, parts);
  for (let plane = first; plane < last; plane++) {
    const offset = plane * s.height * s.width;
    for (let i = 0; i < squares.length; i++) squares[i] = x[offset + i] * x[offset + i];
    boxSum(squares, sums, rows, s);
    for (let i = 0; i < sums.length; i++) {
      const value = 1 + alphaOverArea * sums[i];
      scale[offset + i] = value;
      y[offset + i] = x[offset + i] * power(value);
    }
  }
}

/** Part `part` of `parts` of a fast backward (`take` as in `forwardPart`); dx is overwritten. */
export function backwardPart(x: FloatArray, y: FloatArray, scale: FloatArray, dy: FloatArray, dx: FloatArray, s: LrnSpec, part: number, parts: number, take?: AcrossRun): void {
  const power = negativePower(s.beta);
  const ratio = (offset: number): number => (dy[offset] * y[offset]) / scale[offset];
  if (s.region === 'ACROSS_CHANNELS') {
    const factor = (2 * s.alpha * s.beta) / s.localSize;
    forEachColumnRun(s, part, parts, (start, total, planeSize) => {
      const done = take ? take(start, total, planeSize) : 0;
      const base = start + done;
      const count = total - done;
      if (count === 0) return;
      acrossBackward(x, y, scale, dy, dx, base, count, planeSize, s.channels, s.localSize, factor, power);
    });
    return;
  }
  const factor = (2 * s.alpha * s.beta) / (s.localSize * s.localSize);
  const ratios = new Float64Array(s.height * s.width);
  const sums = new Float64Array(s.height * s.width);
  const rows = new Float64Array(s.height * s.width);
  const [first, last] = partRange(s.num * s.channels, part, parts);
  for (let plane = first; plane < last; plane++) {
    const offset = plane * s.height * s.width;
    for (let i = 0; i < ratios.length; i++) ratios[i] = ratio(offset + i);
    boxSum(ratios, sums, rows, s);
    for (let i = 0; i < sums.length; i++) {
      const j = offset + i;
      dx[j] = dy[j] * power(scale[j]) - factor * x[j] * sums[i];
    }
  }
}

/**
 * The ACROSS_CHANNELS forward of a run of `count` pixels from `base` (channel 0): the window's
 * sum of squares slides down the channels (the channel entering added, the one leaving
 * subtracted), and scale = k + alpha / n * sum, y = x * scale^-beta. Written out with plain
 * index loops, no callback per element: through a callback V8's code ran 2.5x slower, or 1.6x,
 * depending on whether the spec's sizes reached it stored as integers or as doubles.
 */
function acrossForward(
  x: FloatArray, scale: FloatArray, y: FloatArray, base: number, count: number, planeSize: number,
  channels: number, size: number, k: number, alphaOverN: number, power: (value: number) => number,
): void {
  const half = (size - 1) / 2;
  const sum = new Float64Array(count);
  const addSquares = (c: number, sign: number): void => {
    for (let p = 0, i = base + c * planeSize; p < count; p++, i++) sum[p] += sign * (x[i] * x[i]);
  };
  for (let c = 0; c < Math.min(half, channels); c++) addSquares(c, 1);
  for (let c = 0; c < channels; c++) {
    if (c + half < channels) addSquares(c + half, 1);
    for (let p = 0, i = base + c * planeSize; p < count; p++, i++) {
      const value = k + alphaOverN * sum[p];
      scale[i] = value;
      y[i] = x[i] * power(value);
    }
    if (c - half >= 0) addSquares(c - half, -1);
  }
}

/**
 * The ACROSS_CHANNELS backward of a run (see `acrossForward`): the window's running sum is of
 * dy * y / scale, and dx = dy * scale^-beta - factor * x * sum.
 */
function acrossBackward(
  x: FloatArray, y: FloatArray, scale: FloatArray, dy: FloatArray, dx: FloatArray, base: number, count: number, planeSize: number,
  channels: number, size: number, factor: number, power: (value: number) => number,
): void {
  const half = (size - 1) / 2;
  const sum = new Float64Array(count);
  const addRatios = (c: number, sign: number): void => {
    for (let p = 0, i = base + c * planeSize; p < count; p++, i++) sum[p] += sign * ((dy[i] * y[i]) / scale[i]);
  };
  for (let c = 0; c < Math.min(half, channels); c++) addRatios(c, 1);
  for (let c = 0; c < channels; c++) {
    if (c + half < channels) addRatios(c + half, 1);
    for (let p = 0, i = base + c * planeSize; p < count; p++, i++) dx[i] = dy[i] * power(scale[i]) - factor * x[i] * sum[p];
    if (c - half >= 0) addRatios(c - half, -1);
  }
}

/**
 * Calls `run(base, count, planeSize)` for each run of consecutive pixels of one image that
 * falls in this part's share of the num * height * width pixel columns.
 */
function forEachColumnRun(s: LrnSpec, part: number, parts: number, run: (base: number, count: number, planeSize: number) => void): void {
  const planeSize = s.height * s.width;
  const [first, last] = partRange(s.num * planeSize, part, parts);
  for (let column = first; column < last; ) {
    const n = Math.floor(column / planeSize);
    const pixel = column - n * planeSize;
    const count = Math.min(planeSize - pixel, last - column);
    run(n * s.channels * planeSize + pixel, count, planeSize);
    column += count;
  }
}

/**
 * out = the sum of `values` (one height x width plane) over the n x n square centred on each
 * pixel, zeros outside; `rows` is scratch of the plane's size for the row pass.
 */
function boxSum(values: Float64Array, out: Float64Array, rows: Float64Array, s: LrnSpec): void {
  const { height, width } = s;
  const half = (s.localSize - 1) / 2;
  for (let h = 0; h < height; h++) {
    const row = h * width;
    for (let w = 0; w < width; w++) {
      let total = 0;
      for (let j = Math.max(w - half, 0), end = Math.min(w + half, width - 1); j <= end; j++) total += values[row + j];
      rows[row + w] = total;
    }
  }
  for (let h = 0; h < height; h++) {
    const first = Math.max(h - half, 0);
    const end = Math.min(h + half, height - 1);
    for (let w = 0; w < width; w++) {
      let total = 0;
      for (let i = first; i <= end; i++) total += rows[i * width + w];
      out[h * width + w] = total;
    }
  }
}

/** v => v^-beta, with Caffe's usual beta 0.75 done by square roots, which cost far less than Math.pow. */
function negativePower(beta: number): (value: number) => number {
  if (beta === 0.75) return (value) => 1 / Math.sqrt(value * Math.sqrt(value));
  if (beta === 0.5) return (value) => 1 / Math.sqrt(value);
  if (beta === 1) return (value) => 1 / value;
  return (value) => value ** -beta;
}
