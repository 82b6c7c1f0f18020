import { ArgumentError, Rng } from '@cnn/tensor';
import { pcaScores } from './pca.js';

export interface TsneOptions {
  seed: number;
  /** Target perplexity (effective number of neighbours), 30 by default; capped at (n - 1) / 3 for small n. */
  perplexity?: number;
  /** Gradient-descent iterations, 1000 by default. */
  iterations?: number;
  /** P is multiplied by this for the first `exaggerationIterations` iterations (12 and 250 by default). */
  exaggeration?: number;
  exaggerationIterations?: number;
  /** Step size eta, 200 by default. */
  learningRate?: number;
  /** Momentum 0.5 until this iteration, 0.8 after (250 by default). */
  momentumSwitchIteration?: number;
  /** Project the input to this many principal components first (50 by default); `null` keeps the input as it is. */
  pcaDims?: number | null;
  /** Called every 50 iterations and at the end. */
  onProgress?: (iteration: number, iterations: number) => void;
}

export interface TsneResult {
  /** n x 2, row-major: point i is at (embedding[2i], embedding[2i+1]). */
  embedding: Float64Array;
  /** The perplexity used after capping. */
  perplexity: number;
  /** The dimension distances were measured in (after PCA, if any). */
  inputDims: number;
  /** KL(P || Q) of the final map. */
  klDivergence: number;
}

/**
 * The most points a map is made of. Exact t-SNE costs O(n^2) time and memory: 1,000 points
 * take about 10 s on 2 cores, 30,000 would take hours and 7 GB. Larger sets are sampled.
 */
export const TSNE_MAX_POINTS = 1000;

/** `count` of the indices 0..n-1 drawn without replacement (seeded), in increasing order; all of them when n <= count. */
export function sampleIndices(n: number, count: number, seed: number): number[] {
  const all = [...Array(n).keys()];
  if (n <= count) return all;
  return new Rng(seed).shuffle(all).slice(0, count).sort((a, b) => a - b);
}

/**
 * Exact t-SNE (van der Maaten and Hinton, 2008) of n points of dimension d
 * (`data` row-major n x d) into 2-D.
 *
 * 1. Optionally PCA to `pcaDims` dimensions (the reference implementation does
 *    the same: it removes noise directions and makes distances cheap).
 * 2. For each point i, a binary search finds the precision beta_i = 1 / (2 sigma_i^2) of
 *      p_{j|i} = exp(-beta_i ||x_i - x_j||^2) / sum_{k != i} exp(-beta_i ||x_i - x_k||^2)
 *    whose entropy H_i = -sum_j p_{j|i} ln p_{j|i} equals ln(perplexity).
 * 3. Symmetrised joint probabilities p_ij = (p_{j|i} + p_{i|j}) / (2n).
 * 4. Map points y_i start at N(0, 1e-4 I) (seeded); the Student-t similarities are
 *      q_ij = (1 + ||y_i - y_j||^2)^-1 / sum_{k != l} (1 + ||y_k - y_l||^2)^-1
 *    and the gradient of KL(P || Q) is
 *      dC/dy_i = 4 sum_j (p_ij - q_ij) (1 + ||y_i - y_j||^2)^-1 (y_i - y_j).
 * 5. Gradient descent with momentum (0.5, then 0.8) and per-coordinate gains
 *    (Jacobs' delta-bar-delta, as in the reference code: +0.2 when the gradient
 *    changes sign against the last step, x0.8 otherwise, floor 0.01); P is
 *    exaggerated x12 for the first 250 iterations so clusters form early.
 *
 * Cost O(n^2) time per iteration and O(n^2) memory (P and the kernel are kept as
 * packed upper triangles, 8 n^2 bytes for both); a few thousand points is fine.
 */
export function tsne(data: ArrayLike<number>, n: number, d: number, options: TsneOptions): TsneResult {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(d) || d < 1) throw new ArgumentError(`tsne: n and d must be positive integers, got n=${n}, d=${d}`);
  if (data.length !== n * d) throw new ArgumentError(`tsne: data has ${data.length} values, expected n * d = ${n} * ${d}`);
  const iterations = options.iterations ?? 1000;
  const exaggeration = options.exaggeration ?? 12;
  const exaggerationIterations = options.exaggerationIterations ?? 250;
  const learningRate = options.learningRate ?? 200;
  const momentumSwitch = options.momentumSwitchIteration ?? 250;
  const pcaDims = options.pcaDims === undefined ? 50 : options.pcaDims;
  // Perplexity 3u needs at least 3u neighbours to spread over (the bhtsne rule n - 1 >= 3 * perplexity).
  const perplexity = Math.max(1, Math.min(options.perplexity ?? 30, (n - 1) / 3));
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new ArgumentError(`tsne: data value ${data[i]} at point ${Math.floor(i / d)}, dimension ${i % d} is not finite`);
  }

  let x: ArrayLike<number> = data;
  let dims = d;
  if (pcaDims !== null && d > pcaDims && n > pcaDims) {
    x = pcaScores(data, n, d, pcaDims, options.seed);
    dims = pcaDims;
  }

  const embedding = new Float64Array(2 * n);
  if (n === 1) return { embedding, perplexity, inputDims: dims, klDivergence: 0 };

  const distances = packedSquaredDistances(x, n, dims);
  const p = jointProbabilities(distances, n, perplexity);
  // The distance buffer is no longer needed; reuse it for the Student-t kernel.
  const kernel = distances;

  const rng = new Rng(options.seed);
  for (let i = 0; i < 2 * n; i++) embedding[i] = rng.normal(0, 1e-4);
  const update = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n).fill(1);
  const grad = new Float64Array(2 * n);

  for (let iter = 0; iter < iterations; iter++) {
    const alpha = iter < exaggerationIterations ? exaggeration : 1;
    const momentum = iter < momentumSwitch ? 0.5 : 0.8;
    gradient(embedding, p, kernel, n, alpha, grad);
    for (let k = 0; k < 2 * n; k++) {
      // Grow the step while the gradient keeps pointing the way we are going (gradient and last step opposite in sign), shrink it otherwise.
      const g = grad[k]!;
      gains[k] = Math.max(0.01, (g > 0) !== (update[k]! > 0) ? gains[k]! + 0.2 : gains[k]! * 0.8);
      update[k] = momentum * update[k]! - learningRate * gains[k]! * g;
      embedding[k]! += update[k]!;
    }
    centre(embedding, n);
    if (options.onProgress && ((iter + 1) % 50 === 0 || iter + 1 === iterations)) options.onProgress(iter + 1, iterations);
  }
  return { embedding, perplexity, inputDims: dims, klDivergence: klDivergence(embedding, p, kernel, n) };
}

/** Offset of pair (i, j), i < j, in a packed strict upper triangle of an n x n matrix. */
function rowStart(i: number, n: number): number {
  return (i * (2 * n - i - 1)) / 2;
}

/** ||x_i - x_j||^2 for every pair i < j, packed row by row. */
function packedSquaredDistances(x: ArrayLike<number>, n: number, d: number): Float64Array {
  const out = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let sum = 0;
      for (let t = 0; t < d; t++) {
        const diff = x[i * d + t]! - x[j * d + t]!;
        sum += diff * diff;
      }
      out[k++] = sum;
    }
  }
  return out;
}

/**
 * p_ij = (p_{j|i} + p_{i|j}) / (2n) in the packed upper triangle, each
 * conditional row calibrated to the perplexity by binary search on beta_i.
 */
function jointProbabilities(distances: Float64Array, n: number, perplexity: number): Float64Array {
  const p = new Float64Array(distances.length);
  const row = new Float64Array(n);
  const cond = new Float64Array(n);
  const target = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    let minDist = Infinity;
    let meanDist = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dist = j < i ? distances[rowStart(j, n) + (i - j - 1)]! : distances[rowStart(i, n) + (j - i - 1)]!;
      row[j] = dist;
      if (dist < minDist) minDist = dist;
      meanDist += dist / (n - 1);
    }
    conditionalRow(row, i, n, minDist, meanDist, target, cond);
    const scale = 1 / (2 * n);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      if (j < i) p[rowStart(j, n) + (i - j - 1)]! += cond[j]! * scale;
      else p[rowStart(i, n) + (j - i - 1)]! += cond[j]! * scale;
    }
  }
  // The reference code floors P so that log(p_ij / q_ij) stays finite.
  for (let k = 0; k < p.length; k++) if (p[k]! < 1e-12) p[k] = 1e-12;
  return p;
}

/**
 * The conditional distribution p_{j|i} of one point over its neighbours, given
 * its squared distances to them (itself left out), calibrated to `perplexity`:
 * its entropy in nats is ln(perplexity) to within 1e-5. Exposed for tests.
 */
export function conditionalProbabilities(squaredDistances: readonly number[], perplexity: number): Float64Array {
  const row = Float64Array.from(squaredDistances);
  const m = row.length;
  const min = Math.min(...row);
  const mean = row.reduce((a, b) => a + b, 0) / m;
  const cond = new Float64Array(m);
  conditionalRow(row, -1, m, min, mean, Math.log(perplexity), cond);
  return cond;
}

/**
 * Writes p_{j|i} into `cond` for the beta whose entropy matches `target` (within
 * 1e-5 nats or 200 halvings). Distances are shifted by their minimum before the
 * exponential so that far-apart high-dimensional points do not all underflow to 0;
 * the shift cancels in the normalisation, and the entropy
 *   H = ln Z + beta * sum_j p_{j|i} (d_ij - d_min),   Z = sum_j exp(-beta (d_ij - d_min))
 * is computed in the same shifted frame.
 */
function conditionalRow(row: Float64Array, i: number, n: number, minDist: number, meanDist: number, target: number, cond: Float64Array): void {
  let beta = meanDist > minDist ? 1 / (meanDist - minDist) : 1;
  let lo = 0;
  let hi = Infinity;
  for (let attempt = 0; attempt < 200; attempt++) {
    let z = 0;
    let weighted = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) {
        cond[j] = 0;
        continue;
      }
      const shifted = row[j]! - minDist;
      const w = Math.exp(-beta * shifted);
      cond[j] = w;
      z += w;
      weighted += w * shifted;
    }
    const entropy = Math.log(z) + (beta * weighted) / z;
    for (let j = 0; j < n; j++) cond[j]! /= z;
    const diff = entropy - target;
    if (Math.abs(diff) < 1e-5) return;
    // Too much entropy means too wide a Gaussian: raise beta.
    if (diff > 0) {
      lo = beta;
      beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
    } else {
      hi = beta;
      beta = (beta + lo) / 2;
    }
  }
}

/** Fills `grad` with dC/dy (see `tsne`), P multiplied by `alpha`; leaves the kernel (1 + d^2)^-1 in `kernel`. */
function gradient(y: Float64Array, p: Float64Array, kernel: Float64Array, n: number, alpha: number, grad: Float64Array): void {
  let sumKernel = 0;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i]!;
    const yi = y[2 * i + 1]!;
    for (let j = i + 1; j < n; j++) {
      const dx = xi - y[2 * j]!;
      const dy = yi - y[2 * j + 1]!;
      const w = 1 / (1 + dx * dx + dy * dy);
      kernel[k++] = w;
      sumKernel += w;
    }
  }
  // Each unordered pair appears twice in sum_{k != l}.
  const invZ = 1 / (2 * sumKernel);
  grad.fill(0);
  k = 0;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i]!;
    const yi = y[2 * i + 1]!;
    let gx = 0;
    let gy = 0;
    for (let j = i + 1; j < n; j++) {
      const w = kernel[k]!;
      const f = 4 * (alpha * p[k]! - w * invZ) * w;
      k++;
      const fx = f * (xi - y[2 * j]!);
      const fy = f * (yi - y[2 * j + 1]!);
      gx += fx;
      gy += fy;
      grad[2 * j]! -= fx;
      grad[2 * j + 1]! -= fy;
    }
    grad[2 * i]! += gx;
    grad[2 * i + 1]! += gy;
  }
}

/** KL(P || Q) = sum_{i != j} p_ij ln(p_ij / q_ij), with q floored like p. */
function klDivergence(y: Float64Array, p: Float64Array, kernel: Float64Array, n: number): number {
  let sumKernel = 0;
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = y[2 * i]! - y[2 * j]!;
      const dy = y[2 * i + 1]! - y[2 * j + 1]!;
      const w = 1 / (1 + dx * dx + dy * dy);
      kernel[k++] = w;
      sumKernel += w;
    }
  }
  const invZ = 1 / (2 * sumKernel);
  let kl = 0;
  for (let t = 0; t < p.length; t++) kl += 2 * p[t]! * Math.log(p[t]! / Math.max(kernel[t]! * invZ, 1e-12));
  return kl;
}

function centre(y: Float64Array, n: number): void {
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += y[2 * i]!;
    my += y[2 * i + 1]!;
  }
  mx /= n;
  my /= n;
  for (let i = 0; i < n; i++) {
    y[2 * i]! -= mx;
    y[2 * i + 1]! -= my;
  }
}
