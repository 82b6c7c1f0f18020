import { definePoolJob, partRange, partsFor, type FloatArray, type JobArrays, type JobScalars, type PoolJob } from '@cnn/tensor';
import { requireMask, type PoolGeometry, type PoolMethod } from './reference.js';

/** Below this many window reads a pooling runs on one thread: waking workers would cost more. */
const MIN_PARALLEL_READS = 1 << 20;

/** A pooling's geometry as a pool job carries it: the scalars are `PoolGeometry`, by name. */
export const geometryScalars = [
  'num', 'channels', 'height', 'width', 'pooledH', 'pooledW', 'kernelH', 'kernelW', 'strideH', 'strideW', 'padH', 'padW',
] as const satisfies readonly (keyof PoolGeometry)[];

/** A pooling job: arrays x/dy, y/dx, and the mask's bits (MAX only; a missing mask means AVE). */
export type PlanesJob = PoolJob<'from' | 'to', 'mask', (typeof geometryScalars)[number]>;
type PlanesArrays = JobArrays<'from' | 'to', 'mask'>;

/**
 * The forward of planes [first, last) of the N * C planes, the window bounds of each row and
 * column of outputs worked out once per call instead of once per output, over flat offsets.
 */
export function forwardPlanes(x: FloatArray, y: FloatArray, maskBits: FloatArray | undefined, g: PoolGeometry, first: number, last: number): void {
  const { height: H, width: W, pooledH, pooledW } = g;
  const { rowFirst, rowEnd, colFirst, colEnd, inverseSize } = windowBounds(g);
  const mask = maskBits ? maskFromFloats(maskBits) : undefined;
  for (let plane = first; plane < last; plane++) {
    const xPlane = plane * H * W;
    let out = plane * pooledH * pooledW;
    for (let ph = 0; ph < pooledH; ph++) {
      const h0 = rowFirst[ph];
      const h1 = rowEnd[ph];
      for (let pw = 0; pw < pooledW; pw++, out++) {
        const w0 = colFirst[pw];
        const w1 = colEnd[pw];
        if (mask) {
          let bestIndex = h0 * W + w0;
          let best = x[xPlane + bestIndex];
          for (let row = h0 * W; row < h1 * W; row += W) {
            for (let i = row + w0; i < row + w1; i++) {
              const v = x[xPlane + i];
              if (v > best) {
                best = v;
                bestIndex = i;
              }
            }
          }
          y[out] = best;
          mask[out] = bestIndex;
        } else {
          let sum = 0;
          for (let row = xPlane + h0 * W; row < xPlane + h1 * W; row += W) {
            for (let i = row + w0; i < row + w1; i++) sum += x[i];
          }
          y[out] = sum * inverseSize[ph * pooledW + pw];
        }
      }
    }
  }
}

/** Part `part` of `parts` of a fast forward (arrays: from = x, to = y, mask). */
export const poolingForwardJob: PlanesJob = definePoolJob({
  module: import.meta.url,
  name: 'poolingForwardJob',
  arrays: ['from', 'to'],
  optional: ['mask'],
  scalars: geometryScalars,
  part: ({ from, to, mask }, g, part, parts) => forwardPlanes(from, to, mask, g, ...partRange(g.num * g.channels, part, parts)),
});

/** Part `part` of `parts` of a fast backward (arrays: from = dy, to = dx, mask); dx is overwritten. */
export const poolingBackwardJob: PlanesJob = definePoolJob({
  module: import.meta.url,
  name: 'poolingBackwardJob',
  arrays: ['from', 'to'],
  optional: ['mask'],
  scalars: geometryScalars,
  part: ({ from: dy, to: dx, mask: maskBits }, g, part, parts) => {
    const [first, last] = partRange(g.num * g.channels, part, parts);
    const { height: H, width: W, pooledH, pooledW } = g;
    dx.fill(0, first * H * W, last * H * W);
    if (maskBits) {
      const mask = maskFromFloats(maskBits);
      for (let plane = first; plane < last; plane++) {
        const xPlane = plane * H * W;
        for (let out = plane * pooledH * pooledW, end = out + pooledH * pooledW; out < end; out++) dx[xPlane + mask[out]] += dy[out];
      }
      return;
    }
    const { rowFirst, rowEnd, colFirst, colEnd, inverseSize } = windowBounds(g);
    for (let plane = first; plane < last; plane++) {
      const xPlane = plane * H * W;
      let out = plane * pooledH * pooledW;
      for (let ph = 0; ph < pooledH; ph++) {
        for (let pw = 0; pw < pooledW; pw++, out++) {
          const share = dy[out] * inverseSize[ph * pooledW + pw];
          for (let row = xPlane + rowFirst[ph] * W; row < xPlane + rowEnd[ph] * W; row += W) {
            for (let i = row + colFirst[pw]; i < row + colEnd[pw]; i++) dx[i] += share;
          }
        }
      }
    }
  },
});

/**
 * Pooling forward, fast: `forwardPlanes`, with large problems split over the thread pool by
 * planes (N * C), so no two threads write the same element. Same results as the reference.
 */
export function poolingForwardFast(method: PoolMethod, x: FloatArray, y: FloatArray, mask: Int32Array | undefined, g: PoolGeometry): void {
  runOverPlanes(poolingForwardJob, method, x, y, mask, g);
}

/** Pooling backward, fast (see `poolingForwardFast`); `dx` is overwritten. */
export function poolingBackwardFast(method: PoolMethod, dy: FloatArray, mask: Int32Array | undefined, dx: FloatArray, g: PoolGeometry): void {
  runOverPlanes(poolingBackwardJob, method, dy, dx, mask, g);
}

/** Runs a pooling job over the N * C planes: on the pool when the problem is large and every array is shared. */
export function runOverPlanes(job: PlanesJob, method: PoolMethod, from: FloatArray, to: FloatArray, mask: Int32Array | undefined, g: PoolGeometry): void {
  const arrays: PlanesArrays = method === 'MAX' ? { from, to, mask: maskAsFloats(requireMask(mask)) } : { from, to };
  const planes = g.num * g.channels;
  const reads = planes * g.pooledH * g.pooledW * g.kernelH * g.kernelW;
  const scalars: JobScalars<(typeof geometryScalars)[number]> = g;
  job.run(arrays, scalars, partsFor(reads, MIN_PARALLEL_READS, planes, [from, to, arrays.mask]));
}

/** Clipped first/end rows and columns of every window, and 1 / poolSize of every window (AVE's divisor). */
function windowBounds(s: PoolGeometry): { rowFirst: Int32Array; rowEnd: Int32Array; colFirst: Int32Array; colEnd: Int32Array; inverseSize: Float64Array } {
  const axis = (pooled: number, kernel: number, stride: number, pad: number, size: number) => {
    const first = new Int32Array(pooled);
    const end = new Int32Array(pooled);
    const span = new Int32Array(pooled);
    for (let p = 0; p < pooled; p++) {
      const start = p * stride - pad;
      first[p] = Math.max(start, 0);
      end[p] = Math.min(start + kernel, size);
      span[p] = Math.min(start + kernel, size + pad) - start;
    }
    return { first, end, span };
  };
  const rows = axis(s.pooledH, s.kernelH, s.strideH, s.padH, s.height);
  const cols = axis(s.pooledW, s.kernelW, s.strideW, s.padW, s.width);
  const inverseSize = new Float64Array(s.pooledH * s.pooledW);
  for (let ph = 0; ph < s.pooledH; ph++) {
    for (let pw = 0; pw < s.pooledW; pw++) inverseSize[ph * s.pooledW + pw] = 1 / (rows.span[ph] * cols.span[pw]);
  }
  return { rowFirst: rows.first, rowEnd: rows.end, colFirst: cols.first, colEnd: cols.end, inverseSize };
}

// The pool carries float arrays only, so the mask's bits travel as a Float32Array view of the same memory.
function maskAsFloats(mask: Int32Array): Float32Array {
  return new Float32Array(mask.buffer, mask.byteOffset, mask.length);
}

function maskFromFloats(bits: FloatArray): Int32Array {
  return new Int32Array(bits.buffer, bits.byteOffset, bits.length);
}
