import type { FloatArray } from '../storage.js';
import { scaleC } from './operands.js';
import type { GemmKernel } from './types.js';

/*
 * A cache-blocked GEMM in the classic Goto/BLIS layout, in plain TypeScript.
 *
 * The K dimension is cut into slices of KC, B into column blocks of NC and A into
 * row blocks of MC. Each block is copied ("packed") into a Float64Array so that the
 * inner loop reads both operands sequentially and converts no float32 on the way:
 *
 *   packed B: NR-column panels, each kc x NR, row by row     (stays in L2/L3)
 *   packed A: MR-row panels, each kc x MR, column by column  (stays in L2)
 *
 * A 4 x 4 micro-kernel then computes one MR x NR tile of C with sixteen local
 * accumulators, which V8 keeps in registers, and adds alpha times the tile into C.
 * Panels are zero-padded to a multiple of MR/NR so the micro-kernel has no edge cases;
 * only the write-back of an edge tile is guarded.
 */

const MR = 4;
const NR = 4;
const KC = 256;
const MC = 96;
const NC = 2048;

/** Packing buffers, one pair per thread (module state is per worker), grown on demand. */
let packedA = new Float64Array(MC * KC);
let packedB = new Float64Array(KC * NC);

/** The blocked, packed, register-tiled GEMM (single thread). See `GemmKernel` for the arguments. */
export const gemmBlocked: GemmKernel = function gemmBlocked(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc) {
  if (M === 0 || N === 0) return;
  scaleC(M, N, beta, C, offC, ldc);
  if (K === 0 || alpha === 0) return;

  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      packB(transB, B, offB, ldb, pc, jc, kc, nc);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        packA(transA, A, offA, lda, ic, pc, mc, kc);
        macroKernel(mc, nc, kc, alpha, C, offC + ic * ldc + jc, ldc);
      }
    }
  }
};

/** Packs op(A)[ic : ic+mc, pc : pc+kc] into MR-row panels, zero-padding the last panel. */
function packA(transA: boolean, A: FloatArray, offA: number, lda: number, ic: number, pc: number, mc: number, kc: number): void {
  const panels = Math.ceil(mc / MR);
  if (packedA.length < panels * MR * kc) packedA = new Float64Array(panels * MR * kc);
  const out = packedA;
  for (let panel = 0; panel < panels; panel++) {
    const base = panel * MR * kc;
    const rows = Math.min(MR, mc - panel * MR);
    if (transA && rows === MR) {
      // op(A)'s rows are A's columns: read each stored row's MR neighbours together.
      let src = offA + pc * lda + ic + panel * MR;
      for (let p = 0, dst = base; p < kc; p++, src += lda, dst += MR) {
        for (let ir = 0; ir < MR; ir++) out[dst + ir] = A[src + ir]!;
      }
      continue;
    }
    for (let ir = 0; ir < MR; ir++) {
      const i = panel * MR + ir;
      if (i >= mc) {
        for (let p = 0; p < kc; p++) out[base + p * MR + ir] = 0;
      } else if (transA) {
        let src = offA + pc * lda + ic + i;
        for (let p = 0; p < kc; p++, src += lda) out[base + p * MR + ir] = A[src]!;
      } else {
        const src = offA + (ic + i) * lda + pc;
        for (let p = 0; p < kc; p++) out[base + p * MR + ir] = A[src + p]!;
      }
    }
  }
}

/** Packs op(B)[pc : pc+kc, jc : jc+nc] into NR-column panels, zero-padding the last panel. */
function packB(transB: boolean, B: FloatArray, offB: number, ldb: number, pc: number, jc: number, kc: number, nc: number): void {
  const panels = Math.ceil(nc / NR);
  if (packedB.length < panels * NR * kc) packedB = new Float64Array(panels * NR * kc);
  const out = packedB;
  for (let panel = 0; panel < panels; panel++) {
    const base = panel * NR * kc;
    const cols = Math.min(NR, nc - panel * NR);
    if (!transB && cols === NR) {
      // Read each of the kc rows' NR neighbouring elements together, row after row.
      let src = offB + pc * ldb + jc + panel * NR;
      for (let p = 0, dst = base; p < kc; p++, src += ldb, dst += NR) {
        for (let jr = 0; jr < NR; jr++) out[dst + jr] = B[src + jr]!;
      }
      continue;
    }
    for (let jr = 0; jr < NR; jr++) {
      const j = panel * NR + jr;
      if (j >= nc) {
        for (let p = 0; p < kc; p++) out[base + p * NR + jr] = 0;
      } else if (transB) {
        const src = offB + (jc + j) * ldb + pc;
        for (let p = 0; p < kc; p++) out[base + p * NR + jr] = B[src + p]!;
      } else {
        let src = offB + pc * ldb + jc + j;
        for (let p = 0; p < kc; p++, src += ldb) out[base + p * NR + jr] = B[src]!;
      }
    }
  }
}

/** Runs the micro-kernel over every MR x NR tile of the packed mc x nc block. */
function macroKernel(mc: number, nc: number, kc: number, alpha: number, C: FloatArray, offC: number, ldc: number): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const bPanel = (jr / NR) * NR * kc;
    const cols = Math.min(NR, nc - jr);
    for (let ir = 0; ir < mc; ir += MR) {
      const aPanel = (ir / MR) * MR * kc;
      const rows = Math.min(MR, mc - ir);
      microKernel4x4(kc, alpha, aPanel, bPanel, C, offC + ir * ldc + jr, ldc, rows, cols);
    }
  }
}

/** Scratch for the write-back of a tile that overhangs the edge of C. */
const edgeTile = new Float64Array(MR * NR);

/**
 * C[0:rows, 0:cols] += alpha * (packed A panel) * (packed B panel), over kc steps,
 * with the 4 x 4 tile of sums held in sixteen locals.
 */
function microKernel4x4(
  kc: number,
  alpha: number,
  aStart: number,
  bStart: number,
  C: FloatArray,
  c: number,
  ldc: number,
  rows: number,
  cols: number,
): void {
  const a = packedA;
  const b = packedB;
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  let ai = aStart;
  let bi = bStart;
  for (let p = 0; p < kc; p++, ai += MR, bi += NR) {
    const a0 = a[ai]!, a1 = a[ai + 1]!, a2 = a[ai + 2]!, a3 = a[ai + 3]!;
    const b0 = b[bi]!, b1 = b[bi + 1]!, b2 = b[bi + 2]!, b3 = b[bi + 3]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  if (rows === MR && cols === NR) {
    let r = c;
    C[r] += alpha * c00; C[r + 1] += alpha * c01; C[r + 2] += alpha * c02; C[r + 3] += alpha * c03;
    r += ldc;
    C[r] += alpha * c10; C[r + 1] += alpha * c11; C[r + 2] += alpha * c12; C[r + 3] += alpha * c13;
    r += ldc;
    C[r] += alpha * c20; C[r + 1] += alpha * c21; C[r + 2] += alpha * c22; C[r + 3] += alpha * c23;
    r += ldc;
    C[r] += alpha * c30; C[r + 1] += alpha * c31; C[r + 2] += alpha * c32; C[r + 3] += alpha * c33;
    return;
  }
  const t = edgeTile;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
  t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) C[c + i * ldc + j] += alpha * t[i * NR + j]!;
  }
}
