import type { FloatArray } from '@cnn/tensor';

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
