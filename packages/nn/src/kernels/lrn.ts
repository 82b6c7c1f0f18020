import { getBackend, getPool, getThreads, isShared, partRange, type FloatArray, type KernelRef, type PartKernel } from '@cnn/tensor';

/** Caffe's LRN regions: across neighbouring channels, or a square neighbourhood within each channel. */
export type NormRegion = 'ACROSS_CHANNELS' | 'WITHIN_CHANNEL';

/** An LRN over `num x channels x height x width` (Caffe's LRNParameter, resolved). */
export interface LrnSpec {
  region: NormRegion;
  num: number;
  channels: number;
  height: number;
  width: number;
  /** n: channels (ACROSS) or the side of the square (WITHIN) of the neighbourhood; odd. */
  localSize: number;
  alpha: number;
  beta: number;
  /** The constant of ACROSS_CHANNELS; WITHIN_CHANNEL uses 1, as Caffe does. */
  k: number;
}

/**
 * LRN forward, written as the formula. With half = (n - 1) / 2 and x = 0 outside the input:
 *
 *   ACROSS_CHANNELS: scale[n,c,h,w] = k + (alpha / n) * sum_{i = c - half .. c + half} x[n,i,h,w]^2
 *   WITHIN_CHANNEL:  scale[n,c,h,w] = 1 + alpha * (sum of x^2 over the n x n square centred on (h, w)) / poolSize
 *   y = x * scale^-beta
 *
 * WITHIN_CHANNEL is Caffe's chain of layers: square, AVE pooling (kernel n, pad half,
 * stride 1), power (shift 1, scale alpha, power -beta), product with x. poolSize is that
 * pooling's divisor, the window clipped to [-half, size + half) per axis; with stride 1
 * and pad half no window reaches beyond the padding, so it is always n^2.
 *
 * `scale` receives the scale, which backward needs.
 */
export function lrnForwardReference(x: FloatArray, scale: FloatArray, y: FloatArray, s: LrnSpec): void {
  const { num, channels, height, width, localSize: size, alpha, beta, k } = s;
  const half = (size - 1) / 2;
  const at = (n: number, c: number, h: number, w: number): number => ((n * channels + c) * height + h) * width + w;
  for (let n = 0; n < num; n++) {
    for (let c = 0; c < channels; c++) {
      for (let h = 0; h < height; h++) {
        for (let w = 0; w < width; w++) {
          let sum = 0;
          let value: number;
          if (s.region === 'ACROSS_CHANNELS') {
            for (let i = Math.max(c - half, 0); i <= Math.min(c + half, channels - 1); i++) sum += x[at(n, i, h, w)] ** 2;
            value = k + (alpha / size) * sum;
          } else {
            for (let i = Math.max(h - half, 0); i <= Math.min(h + half, height - 1); i++) {
              for (let j = Math.max(w - half, 0); j <= Math.min(w + half, width - 1); j++) sum += x[at(n, c, i, j)] ** 2;
            }
            value = 1 + (alpha * sum) / withinPoolSize(h, w, s);
          }
          scale[at(n, c, h, w)] = value;
          y[at(n, c, h, w)] = x[at(n, c, h, w)] * value ** -beta;
        }
      }
    }
  }
}

/**
 * LRN backward, written as the formula; `dx` is overwritten. From y_j = x_j s_j^-beta with
 * ds_i/dx_j = 2 (alpha / D) x_j for every i whose neighbourhood holds j (D = n for ACROSS,
 * poolSize = n^2 for WITHIN), and neighbourhoods being symmetric (j near i iff i near j):
 *
 *   dx_j = dy_j s_j^-beta - (2 alpha beta / D) x_j sum_{i near j} dy_i y_i / s_i
 */
export function lrnBackwardReference(x: FloatArray, y: FloatArray, scale: FloatArray, dy: FloatArray, dx: FloatArray, s: LrnSpec): void {
  const { num, channels, height, width, localSize: size, alpha, beta } = s;
  const half = (size - 1) / 2;
  const at = (n: number, c: number, h: number, w: number): number => ((n * channels + c) * height + h) * width + w;
  for (let n = 0; n < num; n++) {
    for (let c = 0; c < channels; c++) {
      for (let h = 0; h < height; h++) {
        for (let w = 0; w < width; w++) {
          let sum = 0;
          if (s.region === 'ACROSS_CHANNELS') {
            for (let i = Math.max(c - half, 0); i <= Math.min(c + half, channels - 1); i++) {
              sum += (dy[at(n, i, h, w)] * y[at(n, i, h, w)]) / scale[at(n, i, h, w)] / size;
            }
          } else {
            for (let i = Math.max(h - half, 0); i <= Math.min(h + half, height - 1); i++) {
              for (let j = Math.max(w - half, 0); j <= Math.min(w + half, width - 1); j++) {
                sum += (dy[at(n, c, i, j)] * y[at(n, c, i, j)]) / scale[at(n, c, i, j)] / withinPoolSize(i, j, s);
              }
            }
          }
          const self = at(n, c, h, w);
          dx[self] = dy[self] * scale[self] ** -beta - 2 * alpha * beta * x[self] * sum;
        }
      }
    }
  }
}

/** The divisor of Caffe's AVE pooling (kernel n, pad half, stride 1) at output (h, w). */
function withinPoolSize(h: number, w: number, s: LrnSpec): number {
  const half = (s.localSize - 1) / 2;
  const rows = Math.min(h - half + s.localSize, s.height + half) - (h - half);
  const cols = Math.min(w - half + s.localSize, s.width + half) - (w - half);
  return rows * cols;
}

/** Below this many elements an LRN runs on one thread: waking workers would cost more. */
const MIN_PARALLEL_ELEMENTS = 1 << 16;

const forwardPartRef: KernelRef = { module: import.meta.url, name: 'lrnForwardPart' };
const backwardPartRef: KernelRef = { module: import.meta.url, name: 'lrnBackwardPart' };

/**
 * LRN forward, fast. ACROSS_CHANNELS keeps a running sum of squares over the channel
 * window for a run of pixels (add the channel entering, drop the one leaving), so each
 * element costs O(1) instead of O(n); WITHIN_CHANNEL sums squares over the square as a
 * row pass then a column pass (O(2n) instead of O(n^2)). Large problems are split over
 * the thread pool: by pixel columns for ACROSS, by planes for WITHIN.
 */
export function lrnForwardFast(x: FloatArray, scale: FloatArray, y: FloatArray, s: LrnSpec): void {
  run(forwardPartRef, lrnForwardPart, [x, scale, y], s);
}

/** LRN backward, fast (see `lrnForwardFast` and `lrnBackwardReference`); `dx` is overwritten. */
export function lrnBackwardFast(x: FloatArray, y: FloatArray, scale: FloatArray, dy: FloatArray, dx: FloatArray, s: LrnSpec): void {
  run(backwardPartRef, lrnBackwardPart, [x, y, scale, dy, dx], s);
}

/** Part `part` of `parts` of a fast forward: arrays [x, scale, y], scalars from `specScalars`. */
export const lrnForwardPart: PartKernel = ([x, scale, y], scalars, part, parts) => {
  const s = specFromScalars(scalars);
  const power = negativePower(s.beta);
  if (s.region === 'ACROSS_CHANNELS') {
    const alphaOverN = s.alpha / s.localSize;
    forEachColumnRun(s, part, parts, (start, total, planeSize) => {
      // The backend's own loop may take the run (the wasm one takes whole groups of four pixels); the rest is done here.
      const run = { count: total, planeSize, channels: s.channels, localSize: s.localSize, alpha: s.alpha, beta: s.beta, k: s.k };
      const done = getBackend().layers.lrnAcross(x!.subarray(start), scale!.subarray(start), y!.subarray(start), run);
      const [base, count] = [start + done, total - done];
      if (count === 0) return;
      const sum = new Float64Array(count);
      across(s.channels, s.localSize, base, count, planeSize, sum, (offset) => x![offset] * x![offset], (offset) => {
        for (let p = 0; p < count; p++) {
          const value = s.k + alphaOverN * sum[p];
          scale![offset + p] = value;
          y![offset + p] = x![offset + p] * power(value);
        }
      });
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
    for (let i = 0; i < squares.length; i++) squares[i] = x![offset + i] * x![offset + i];
    boxSum(squares, sums, rows, s);
    for (let i = 0; i < sums.length; i++) {
      const value = 1 + alphaOverArea * sums[i];
      scale![offset + i] = value;
      y![offset + i] = x![offset + i] * power(value);
    }
  }
};

/** Part `part` of `parts` of a fast backward: arrays [x, y, scale, dy, dx]. */
export const lrnBackwardPart: PartKernel = ([x, y, scale, dy, dx], scalars, part, parts) => {
  const s = specFromScalars(scalars);
  const power = negativePower(s.beta);
  const ratio = (offset: number): number => (dy![offset] * y![offset]) / scale![offset];
  if (s.region === 'ACROSS_CHANNELS') {
    const factor = (2 * s.alpha * s.beta) / s.localSize;
    forEachColumnRun(s, part, parts, (start, total, planeSize) => {
      // As in the forward: the backend's own loop may take whole groups of pixels first.
      const run = { count: total, planeSize, channels: s.channels, localSize: s.localSize, alpha: s.alpha, beta: s.beta, k: s.k };
      const tail = (array: FloatArray) => array.subarray(start);
      const done = getBackend().layers.lrnAcrossBackward(tail(x!), tail(y!), tail(scale!), tail(dy!), tail(dx!), run);
      const [base, count] = [start + done, total - done];
      if (count === 0) return;
      const sum = new Float64Array(count);
      across(s.channels, s.localSize, base, count, planeSize, sum, ratio, (offset) => {
        for (let p = 0; p < count; p++) {
          const i = offset + p;
          dx![i] = dy![i] * power(scale![i]) - factor * x![i] * sum[p];
        }
      });
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
      dx![j] = dy![j] * power(scale![j]) - factor * x![j] * sums[i];
    }
  }
};

/**
 * Slides the channel window down a run of `count` pixels starting at `base` (channel 0):
 * before `visit(offset of channel c)`, `sum[p]` holds the sum of `term` over channels
 * c - half .. c + half (inside the input) at pixel p.
 */
function across(
  channels: number,
  size: number,
  base: number,
  count: number,
  planeSize: number,
  sum: Float64Array,
  term: (offset: number) => number,
  visit: (offset: number) => void,
): void {
  const half = (size - 1) / 2;
  for (let c = 0; c < Math.min(half, channels); c++) {
    const offset = base + c * planeSize;
    for (let p = 0; p < count; p++) sum[p] += term(offset + p);
  }
  for (let c = 0; c < channels; c++) {
    if (c + half < channels) {
      const head = base + (c + half) * planeSize;
      for (let p = 0; p < count; p++) sum[p] += term(head + p);
    }
    visit(base + c * planeSize);
    if (c - half >= 0) {
      const tail = base + (c - half) * planeSize;
      for (let p = 0; p < count; p++) sum[p] -= term(tail + p);
    }
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

function run(ref: KernelRef, kernel: PartKernel, arrays: FloatArray[], s: LrnSpec): void {
  const scalars = [s.region === 'ACROSS_CHANNELS' ? 0 : 1, s.num, s.channels, s.height, s.width, s.localSize, s.alpha, s.beta, s.k];
  const count = s.num * s.channels * s.height * s.width;
  const items = s.region === 'ACROSS_CHANNELS' ? s.num * s.height * s.width : s.num * s.channels;
  const threads = getThreads();
  const parts = threads > 1 && count >= MIN_PARALLEL_ELEMENTS && arrays.every(isShared) ? Math.min(threads, items, Math.ceil(count / MIN_PARALLEL_ELEMENTS)) : 1;
  if (parts === 1) kernel(arrays, scalars, 0, 1);
  else getPool().run(ref, kernel, arrays, scalars, parts);
}

function specFromScalars(scalars: number[]): LrnSpec {
  const [region, num, channels, height, width, localSize, alpha, beta, k] = scalars as [number, number, number, number, number, number, number, number, number];
  return { region: region === 0 ? 'ACROSS_CHANNELS' : 'WITHIN_CHANNEL', num, channels, height, width, localSize, alpha, beta, k };
}
