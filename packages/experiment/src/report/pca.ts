import { ArgumentError, Rng, gemmBlocked } from '@cnn/tensor';

/**
 * Principal component scores of the rows of `data` (n x d, row-major), keeping
 * the first `k` components: `scores[i][c] = (x_i - mean) . v_c`, with v_c the
 * c-th eigenvector of the covariance, largest variance first. Returns n x k, row-major.
 *
 * It eigendecomposes the smaller of the two Gram matrices of the centred data Xc:
 *  - n <= d (a few thousand fc7 vectors of 4096): G = Xc Xc^T (n x n). If
 *    G u = lambda u then Xc = U S V^T gives scores Xc v = u sqrt(lambda),
 *    so the d-dimensional eigenvectors are never formed.
 *  - n > d: C = Xc^T Xc (d x d), scores = Xc v.
 * The top k eigenpairs come from subspace iteration (block power iteration with
 * Gram-Schmidt) and a Rayleigh-Ritz step solved by Jacobi rotations; t-SNE only
 * needs the leading directions roughly, so a few dozen iterations suffice.
 */
export function pcaScores(data: ArrayLike<number>, n: number, d: number, k: number, seed = 1): Float64Array {
  if (data.length !== n * d) throw new ArgumentError(`pcaScores: data has ${data.length} values, expected n * d = ${n} * ${d}`);
  if (!Number.isInteger(k) || k < 1 || k > Math.min(n, d)) throw new ArgumentError(`pcaScores: k must be an integer in [1, min(n, d) = ${Math.min(n, d)}], got ${k}`);
  const x = centredCopy(data, n, d);
  const scores = new Float64Array(n * k);
  if (n <= d) {
    const { vectors, values } = topEigen(rowGram(x, n, d), n, k, seed);
    for (let c = 0; c < k; c++) {
      const s = Math.sqrt(Math.max(values[c]!, 0));
      for (let i = 0; i < n; i++) scores[i * k + c] = vectors[i * k + c]! * s;
    }
  } else {
    const { vectors } = topEigen(columnGram(x, n, d), d, k, seed);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) {
        let sum = 0;
        for (let j = 0; j < d; j++) sum += x[i * d + j]! * vectors[j * k + c]!;
        scores[i * k + c] = sum;
      }
    }
  }
  return scores;
}

function centredCopy(data: ArrayLike<number>, n: number, d: number): Float64Array {
  const x = Float64Array.from(data);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j]! -= mean[j]!;
  return x;
}

/**
 * G = X X^T for X n x d, by the library's cache-blocked GEMM (a plain row-dot
 * loop is memory bound at this size). G is symmetric, so only the block rows'
 * lower part is multiplied (half the flops) and then mirrored.
 */
function rowGram(x: Float64Array, n: number, d: number): Float64Array {
  const g = new Float64Array(n * n);
  const block = 128;
  for (let i0 = 0; i0 < n; i0 += block) {
    const rows = Math.min(block, n - i0);
    gemmBlocked(false, true, rows, i0 + rows, d, 1, x, i0 * d, d, x, 0, d, 0, g, i0 * n, n);
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) g[i * n + j] = g[j * n + i]!;
  return g;
}

/** C = X^T X for X n x d. */
function columnGram(x: Float64Array, n: number, d: number): Float64Array {
  const c = new Float64Array(d * d);
  gemmBlocked(true, false, d, d, n, 1, x, 0, d, x, 0, d, 0, c, 0, d);
  return c;
}

/**
 * The k largest eigenpairs of the symmetric m x m matrix `a`. `vectors` is m x k
 * row-major (column c is the c-th eigenvector), `values` descending.
 */
export function topEigen(a: Float64Array, m: number, k: number, seed = 1, maxIterations = 30): { vectors: Float64Array; values: Float64Array } {
  // A few extra columns make the wanted k converge at rate lambda_{p+1}/lambda_k instead of lambda_{k+1}/lambda_k.
  const p = Math.min(m, k + 10);
  const rng = new Rng(seed);
  let q: Float64Array = new Float64Array(m * p);
  for (let i = 0; i < q.length; i++) q[i] = rng.normal();
  orthonormaliseColumns(q, m, p, rng);
  let ritz: Float64Array = new Float64Array(p);
  for (let iter = 1; iter <= maxIterations; iter++) {
    q = multiply(a, q, m, p);
    orthonormaliseColumns(q, m, p, rng);
    if (iter % 5 === 0 || iter === maxIterations) {
      const { rotated, values } = rayleighRitz(a, q, m, p);
      q = rotated;
      let change = 0;
      for (let c = 0; c < k; c++) change = Math.max(change, Math.abs(values[c]! - ritz[c]!) / Math.max(Math.abs(values[c]!), 1e-300));
      ritz = values;
      if (change < 1e-6) break;
    }
  }
  const vectors = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let c = 0; c < k; c++) vectors[i * k + c] = q[i * p + c]!;
  return { vectors, values: ritz.slice(0, k) };
}

/** A (m x m) times Q (m x p), both row-major. */
function multiply(a: Float64Array, q: Float64Array, m: number, p: number): Float64Array {
  const out = new Float64Array(m * p);
  gemmBlocked(false, false, m, p, m, 1, a, 0, m, q, 0, p, 0, out, 0, p);
  return out;
}

/** Modified Gram-Schmidt on the columns; a column that vanishes (rank-deficient data) is replaced by a fresh random one. */
function orthonormaliseColumns(q: Float64Array, m: number, p: number, rng: Rng): void {
  for (let c = 0; c < p; c++) {
    for (let attempt = 0; attempt < 3; attempt++) {
      for (let prev = 0; prev < c; prev++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += q[i * p + c]! * q[i * p + prev]!;
        for (let i = 0; i < m; i++) q[i * p + c]! -= dot * q[i * p + prev]!;
      }
      let norm = 0;
      for (let i = 0; i < m; i++) norm += q[i * p + c]! ** 2;
      norm = Math.sqrt(norm);
      if (norm > 1e-10) {
        for (let i = 0; i < m; i++) q[i * p + c]! /= norm;
        break;
      }
      for (let i = 0; i < m; i++) q[i * p + c] = rng.normal();
    }
  }
}

/** Rotates the orthonormal basis Q to the eigenvectors of B = Q^T A Q, sorted by eigenvalue, descending. */
function rayleighRitz(a: Float64Array, q: Float64Array, m: number, p: number): { rotated: Float64Array; values: Float64Array } {
  const aq = multiply(a, q, m, p);
  const b = new Float64Array(p * p);
  for (let r = 0; r < p; r++) {
    for (let c = r; c < p; c++) {
      let sum = 0;
      for (let i = 0; i < m; i++) sum += q[i * p + r]! * aq[i * p + c]!;
      b[r * p + c] = b[c * p + r] = sum;
    }
  }
  const { values, vectors } = jacobiEigen(b, p);
  const order = Array.from({ length: p }, (_, i) => i).sort((i, j) => values[j]! - values[i]!);
  const rotated = new Float64Array(m * p);
  for (let i = 0; i < m; i++) {
    for (let c = 0; c < p; c++) {
      const src = order[c]!;
      let sum = 0;
      for (let r = 0; r < p; r++) sum += q[i * p + r]! * vectors[r * p + src]!;
      rotated[i * p + c] = sum;
    }
  }
  return { rotated, values: Float64Array.from(order, (i) => values[i]!) };
}

/**
 * All eigenpairs of a small symmetric matrix by cyclic Jacobi rotations: each
 * rotation zeroes one off-diagonal pair, and sweeps repeat until the
 * off-diagonal mass is negligible. `vectors` columns are the eigenvectors.
 */
export function jacobiEigen(matrix: Float64Array, p: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  let scale = 0;
  for (let i = 0; i < p * p; i++) scale += a[i]! ** 2;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let r = 0; r < p; r++) for (let c = r + 1; c < p; c++) off += a[r * p + c]! ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let r = 0; r < p; r++) {
      for (let c = r + 1; c < p; c++) {
        const arc = a[r * p + c]!;
        if (arc === 0) continue;
        // Rotation angle that zeroes a[r][c]: tan(2 theta) = 2 a_rc / (a_cc - a_rr), taking the smaller root for stability.
        const theta = (a[c * p + c]! - a[r * p + r]!) / (2 * arc);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cos = 1 / Math.sqrt(t * t + 1);
        const sin = t * cos;
        for (let k = 0; k < p; k++) {
          const akr = a[k * p + r]!;
          const akc = a[k * p + c]!;
          a[k * p + r] = cos * akr - sin * akc;
          a[k * p + c] = sin * akr + cos * akc;
        }
        for (let k = 0; k < p; k++) {
          const ark = a[r * p + k]!;
          const ack = a[c * p + k]!;
          a[r * p + k] = cos * ark - sin * ack;
          a[c * p + k] = sin * ark + cos * ack;
        }
        for (let k = 0; k < p; k++) {
          const vkr = v[k * p + r]!;
          const vkc = v[k * p + c]!;
          v[k * p + r] = cos * vkr - sin * vkc;
          v[k * p + c] = sin * vkr + cos * vkc;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: p }, (_, i) => a[i * p + i]!), vectors: v };
}
