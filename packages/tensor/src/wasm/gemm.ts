import { definePoolJob } from '../pool/typed-job.js';
import { partRange } from '../pool/partition.js';
import { getThreads } from '../pool/settings.js';
import { gemmParallel } from '../gemm/parallel.js';
import { extent, gemmScalars, mustCopyC, onShared, scaleC } from '../gemm/operands.js';
import type { GemmKernel } from '../gemm/types.js';
import { gemmBlocked } from '../gemm/blocked.js';
import { GEMM_FUNCTIONS, PACK_PARAMS, TILE, gemmKernelModule } from './kernel-module.js';
import { heapFloats, heapIndex, instantiateOnHeap, reserveScratch, threadScratch } from './heap.js';
import { rawExports, type RawFunction } from './raw.js';
import { relaxedSimdSupported } from '../backend-name.js';

/*
 * The GEMM of the wasm backend: the Goto/BLIS loop nest of gemm/blocked.ts, with the
 * packed panels in this thread's scratch area of the wasm heap and the micro-kernel in
 * 128-bit SIMD (see kernel-module.ts for the packed layout and the register tile).
 *
 *   op(A) on the heap as it is, or copied there (if small enough; else block by block below)
 *   for jc in steps of NC over N:                        columns of C, as many as W holds
 *     op(B)[:, jc:jc+nc] on the heap as it is, or copied there
 *     for pc in steps of KC over K:
 *       pack op(B)[pc:pc+kc, jc:jc+nc] into NR-column panels            (L3)
 *       for ic in steps of MC over M:
 *         pack op(A)[ic:ic+mc, pc:pc+kc] into MR-row panels             (L2)
 *         wasm: W[ic:ic+mc, 0:nc] (+)= packed A * packed B, tile by tile
 *     wasm: C[:, jc:jc+nc] = alpha * W + beta * C (through a copy if C is not on the heap)
 *
 * Operands on the wasm heap (tensors allocated while the wasm backend is in use, see
 * heap.ts) are read and written where they are. Any other operand crosses over:
 * first copied as it is ("staged", with `TypedArray.set`, a memory copy: one call for a
 * whole matrix when its rows are close together, else one per row), then rearranged into
 * panels by wasm code. Packing with JavaScript loops, one float at a time, cost 2-3 ns per
 * float here, a third of the kernel's time at CaffeNet's shapes; a staged copy costs
 * 0.15-0.3 ns per float and the wasm rearrangement 0.1-0.2. Whole column blocks of B (all
 * of K) and, when it is small enough, all of A are staged at once, so copies are long.
 * Only a last, partial panel is packed in JavaScript, padded with zeros.
 *
 * The kernel accumulates in float32 (the JS kernels accumulate in float64), so results
 * differ from theirs by rounding, by about K * 2^-24 relative. W lives in the instance's
 * memory across the K slices, so C is read and written once per call. The zero padding
 * of partial panels only ever lands in W's padding, which is never copied to C.
 *
 * Each thread (the main one and each pool worker, which imports this module by URL)
 * compiles its own instance of the module over the one shared heap, and works in its own
 * scratch area there. A thread whose scratch area is too small for a call, and cannot be
 * given a bigger one (only the main thread allocates), runs the TypeScript kernel instead.
 */

const MR = TILE.mr;
const NR = TILE.nr;
/** K slice: a kc x NR panel of B (8 KiB) stays in L1 while the A panels stream past it. */
const KC = 256;
/** Rows of A packed at a time: MC x KC floats (128 KiB) stay in L2. */
const MC = 128;
/** Columns of C per jc block at most. */
const NC_MAX = 4096;
/** Float budgets (each 16 MiB) for W (mPad x nc), a staged column block of B (K x nc) and a staged A. */
const W_FLOATS = 1 << 22;
const STAGED_B_FLOATS = 1 << 22;
const STAGED_A_FLOATS = 1 << 22;
/**
 * Below this many flops (2 M N K) a GEMM runs on one thread: a worker starts its part
 * 0.05-0.15 ms after the call here, about what 1e7 flops take on one thread.
 */
const MIN_PARALLEL_FLOPS = 2e7;
/** B panels per call into wasm (see the loop in `wasmGemmSerial`). */
const PANELS_PER_CALL = 4;
const BYTES = 4;

type PackFunction = RawFunction<typeof PACK_PARAMS>;

/** The module's functions, typed from their declarations in kernel-module.ts. */
interface KernelInstance {
  gemmBlock: RawFunction<typeof GEMM_FUNCTIONS.gemmBlock>;
  /** By panel width (MR, NR): pack panels whose lanes of one step are adjacent in a source row. */
  packSteps: Record<number, PackFunction>;
  /** By panel width: pack panels whose source rows are the lanes (a transpose). */
  packLanes: Record<number, PackFunction>;
  finish: RawFunction<typeof GEMM_FUNCTIONS.finish>;
  gemvDot: RawFunction<typeof GEMM_FUNCTIONS.gemvDot>;
  gemvAxpy: RawFunction<typeof GEMM_FUNCTIONS.gemvAxpy>;
}

let kernel: KernelInstance | undefined;

/**
 * This thread's instance, compiled on first use. Compilation is synchronous (the module is
 * about 1.8 KB, under the 4 KB browsers allow for synchronous compilation on the main thread).
 */
function kernelInstance(): KernelInstance {
  if (!kernel) {
    const exports = instantiateOnHeap(gemmKernelModule(TILE, relaxedSimdSupported()), 'wasm gemm');
    const byWidth = (prefix: string): Record<number, PackFunction> =>
      Object.fromEntries([MR, NR].map((w) => [w, rawExports(exports, { [`${prefix}${w}`]: PACK_PARAMS })[`${prefix}${w}`]!]));
    const { gemmBlock, finish, gemvDot, gemvAxpy } = rawExports(exports, GEMM_FUNCTIONS);
    kernel = { gemmBlock, packSteps: byWidth('packSteps'), packLanes: byWidth('packLanes'), finish, gemvDot, gemvAxpy };
  }
  return kernel;
}

/**
 * A matrix as lanes x steps (op(A): lanes i, steps p; op(B): lanes j, steps p): element
 * (l, s) is at `at + l * laneStride + s * stepStride`, in a caller's array or, on the
 * heap, at that float index of the heap.
 */
interface Strided {
  at: number;
  laneStride: number;
  stepStride: number;
}

/**
 * The single-threaded wasm GEMM on float32 operands (see `GemmKernel` for the arguments):
 * C = alpha * op(A) * op(B) + beta * C, with beta = 0 only writing C.
 */
export function wasmGemmSerial(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  offA: number,
  lda: number,
  B: Float32Array,
  offB: number,
  ldb: number,
  beta: number,
  C: Float32Array,
  offC: number,
  ldc: number,
): void {
  if (M === 0 || N === 0) return;
  if (K === 0 || alpha === 0) {
    scaleC(M, N, beta, C, offC, ldc);
    return;
  }
  const heapA = heapIndex(A);
  const heapB = heapIndex(B);
  const heapC = heapIndex(C);
  if (M === 1 && heapA >= 0 && heapB >= 0 && heapC >= 0 && !(transA && transB)) {
    // One row of C (a batch of one through a fully connected layer): packing B would cost
    // more than the product, which reads each element of B once.
    const instance = kernelInstance();
    const [a, b, c] = [(heapA + offA) * BYTES, (heapB + offB) * BYTES, (heapC + offC) * BYTES];
    if (transB) instance.gemvDot(b, ldb * BYTES, a, c, N, K, alpha, beta, beta === 0 ? 1 : 0);
    else instance.gemvAxpy(a, (transA ? lda : 1) * BYTES, b, ldb * BYTES, c, K, N, alpha, beta, beta === 0 ? 1 : 0);
    return;
  }
  const plan = planGemm(M, N, K, heapA < 0, heapB < 0, heapC < 0);
  if (threadScratch().floats < plan.floats && !reserveScratch(1, plan.floats)) {
    gemmBlocked(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc);
    return;
  }
  const instance = kernelInstance();
  const { ncMax, wholeA } = plan;
  const mPad = roundUp(M, MR);
  const opA: Strided = transA ? { at: offA, laneStride: 1, stepStride: lda } : { at: offA, laneStride: lda, stepStride: 1 };
  const opB: Strided = transB ? { at: offB, laneStride: ldb, stepStride: 1 } : { at: offB, laneStride: 1, stepStride: ldb };

  // This thread's scratch area, in heap floats: packed panels, W, then room for staged copies.
  const packedA = threadScratch().at;
  const packedB = packedA + MC * KC;
  const w = packedB + KC * ncMax;
  const stagedA = w + mPad * ncMax;
  const stagedB = stagedA + plan.stagedAFloats;

  const allA = heapA >= 0 ? onHeap(opA, heapA) : wholeA ? stageMatrix(stagedA, A, opA, M, K) : undefined;
  for (let jc = 0; jc < N; jc += ncMax) {
    const nc = Math.min(ncMax, N - jc);
    const ncPad = roundUp(nc, NR);
    const columnsB = heapB >= 0 ? onHeap(shift(opB, jc, 0), heapB) : stageMatrix(stagedB, B, shift(opB, jc, 0), nc, K);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      packPanels(instance, packedB, NR, shift(columnsB, 0, pc), nc, kc);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        const blockA = allA ? shift(allA, ic, pc) : stageMatrix(stagedA, A, shift(opA, ic, pc), mc, kc);
        packPanels(instance, packedA, MR, blockA, mc, kc);
        const mTiles = roundUp(mc, MR) / MR;
        // A few B panels per call: a call running long in V8's baseline code would not switch to
        // the optimized code, which only later calls get (there is no on-stack replacement for wasm).
        for (let j0 = 0; j0 < ncPad; j0 += NR * PANELS_PER_CALL) {
          const nTiles = Math.min(PANELS_PER_CALL, (ncPad - j0) / NR);
          const bPanels = packedB + j0 * kc;
          const wTile = w + ic * ncPad + j0;
          instance.gemmBlock(mTiles, nTiles, kc, packedA * BYTES, bPanels * BYTES, wTile * BYTES, ncPad * BYTES, pc > 0 ? 1 : 0);
        }
      }
    }
    // B's staging area is free again: a C off the heap passes through it.
    if (heapC >= 0) finishOnHeap(instance, w, ncPad, M, nc, alpha, beta, heapC + offC + jc, ldc);
    else finish(instance, w, ncPad, stagedB, M, nc, alpha, beta, C, offC + jc, ldc);
  }
}

/** Where the parts of a serial wasm GEMM go in a thread's scratch area, and how many floats they take. */
interface GemmPlan {
  /** Columns of C per jc block. */
  ncMax: number;
  /** Whether all of op(A) is staged at once (else an MC x KC block at a time). */
  wholeA: boolean;
  stagedAFloats: number;
  floats: number;
}

/**
 * The scratch a serial wasm GEMM of M x N x K needs: packed panels and W, plus staging room
 * for the operands that are not on the heap (`stageA`, `stageB`, `stageC`).
 */
function planGemm(M: number, N: number, K: number, stageA: boolean, stageB: boolean, stageC: boolean): GemmPlan {
  const mPad = roundUp(M, MR);
  // A staged column block of B (all of K) must fit its budget; B on the heap needs no such room.
  const ncMax = Math.min(roundUp(N, NR), NC_MAX, fitColumns(W_FLOATS, mPad), stageB ? fitColumns(STAGED_B_FLOATS, K) : NC_MAX);
  const wholeA = M * K <= STAGED_A_FLOATS;
  const stagedAFloats = !stageA ? 0 : wholeA ? stagedSize(M, K) : stagedSize(MC, KC);
  const stagedBFloats = Math.max(stageB ? stagedSize(K, ncMax) : 0, stageC ? stagedSize(M, ncMax) : 0);
  return { ncMax, wholeA, stagedAFloats, floats: MC * KC + KC * ncMax + mPad * ncMax + stagedAFloats + stagedBFloats };
}

/**
 * Scratch floats per thread for a wasm GEMM of M x N x K with every operand on the heap.
 * A parallel kernel that runs GEMMs on the pool's workers reserves it first
 * (`reserveScratch`), since a worker cannot allocate.
 */
export function gemmScratchFloats(M: number, N: number, K: number): number {
  return planGemm(M, N, K, false, false, false).floats;
}

/** A matrix of an array on the heap, as heap float indices. */
function onHeap(m: Strided, heapAt: number): Strided {
  return { at: heapAt + m.at, laneStride: m.laneStride, stepStride: m.stepStride };
}

/** The most columns (a multiple of NR, at least NR) whose `rows` rows fit in `floats`. */
function fitColumns(floats: number, rows: number): number {
  return Math.max(NR, Math.floor(floats / rows / NR) * NR);
}

/** The same matrix from lane `lane` and step `step` on. */
function shift(m: Strided, lane: number, step: number): Strided {
  return { at: m.at + lane * m.laneStride + step * m.stepStride, laneStride: m.laneStride, stepStride: m.stepStride };
}

/**
 * Copies a lanes x steps matrix of `X` to (about) float `at` of the instance's memory, keeping
 * its orientation (source rows stay rows), and returns where it is there.
 */
function stageMatrix(at: number, X: Float32Array, m: Strided, lanes: number, steps: number): Strided {
  if (m.laneStride === 1) {
    const staged = stage(at, X, m.at, m.stepStride, steps, lanes);
    return { at: staged.at, laneStride: 1, stepStride: staged.ld };
  }
  const staged = stage(at, X, m.at, m.laneStride, lanes, steps);
  return { at: staged.at, laneStride: staged.ld, stepStride: 1 };
}

/**
 * Packs `lanes` x `steps` of a staged matrix into panels of width `w` at float `dst`: panel t
 * holds lanes t*w .. t*w+w-1, step by step. Whole panels are rearranged by wasm; the last,
 * partial panel is packed here with zeros in its missing lanes.
 */
function packPanels(instance: KernelInstance, dst: number, w: number, m: Strided, lanes: number, steps: number): void {
  const full = Math.floor(lanes / w);
  if (full > 0) {
    // Lanes adjacent: each source row is one step of every panel. Else each source row is one lane.
    if (m.laneStride === 1) instance.packSteps[w]!(m.at * BYTES, m.stepStride * BYTES, steps, full, dst * BYTES);
    else instance.packLanes[w]!(m.at * BYTES, m.laneStride * BYTES, steps, full, dst * BYTES);
  }
  const rest = lanes - full * w;
  if (rest === 0) return;
  const heap = heapFloats();
  const panel = dst + full * steps * w;
  const first = m.at + full * w * m.laneStride;
  for (let s = 0; s < steps; s++) {
    const out = panel + s * w;
    const src = first + s * m.stepStride;
    for (let l = 0; l < rest; l++) heap[out + l] = heap[src + l * m.laneStride]!;
    for (let l = rest; l < w; l++) heap[out + l] = 0;
  }
}

/**
 * What a `set` call costs beyond its copying, in floats copied (~70 ns against ~0.25 ns a
 * float, measured here): a block is copied row by row when its gaps would cost more.
 */
const SET_CALL_FLOATS = 256;
/**
 * Floats in a 64-byte cache line. A copy whose source and destination sit at different
 * offsets within their lines ran 4 to 10 times slower here (V8's copy of shared memory),
 * so every staged row starts at the same offset within a line as its source row.
 */
const LINE = 16;

/**
 * True when the rows x cols block with row stride ld is cheaper to copy as one span, gaps
 * included, than row by row.
 */
function dense(ld: number, rows: number, cols: number): boolean {
  return (rows - 1) * ld + cols <= rows * (cols + SET_CALL_FLOATS);
}

/** The most floats `stage` takes for a rows x cols block (either way round). */
function stagedSize(rows: number, cols: number): number {
  return rows * cols + SET_CALL_FLOATS * Math.max(rows, cols) + LINE;
}

/** `value` mod LINE, in [0, LINE). */
function lineOffset(value: number): number {
  return ((value % LINE) + LINE) % LINE;
}

/**
 * Where a block of `src` from element `off`, rows `ld` apart, goes in the instance's memory
 * at or after float `at`: the first float at the same offset within a cache line as the
 * source's, and a row stride of at least `cols` that keeps every row so (`ld` itself when
 * the block is copied as one span).
 */
function placeLike(src: Float32Array, off: number, ld: number, at: number, cols: number, span: boolean): { at: number; ld: number } {
  const source = src.byteOffset / BYTES + off;
  return { at: at + lineOffset(source - at), ld: span ? ld : cols + lineOffset(ld - cols) };
}

/**
 * Copies the rows x cols block of `src` at `off` (row stride `ld`) to the instance's memory
 * at or just after float `at` (see `placeLike`), with one `set` of the whole span when the
 * block is dense and one per row otherwise, and returns where it went and its row stride.
 */
function stage(
  at: number,
  src: Float32Array,
  off: number,
  ld: number,
  rows: number,
  cols: number,
): { at: number; ld: number } {
  const span = dense(ld, rows, cols);
  const place = placeLike(src, off, ld, at, cols, span);
  const heap = heapFloats();
  if (span) heap.set(src.subarray(off, off + (rows - 1) * ld + cols), place.at);
  else for (let r = 0; r < rows; r++) heap.set(src.subarray(off + r * ld, off + r * ld + cols), place.at + r * place.ld);
  return place;
}

/**
 * C[0:m, 0:n] = alpha * W + beta * C, with W at float `w` (row stride ldw) and C at `off` of
 * its array (row stride ldc), passing through the instance's memory at or after float `at`:
 * C is staged when beta reads it, combined with W by wasm, and copied back. The copy back is
 * one span only when C's rows have no gaps: the gaps may be another thread's part of C, being
 * written at the same time, so they must never be written back, even unchanged.
 */
function finish(
  instance: KernelInstance,
  w: number,
  ldw: number,
  at: number,
  m: number,
  n: number,
  alpha: number,
  beta: number,
  C: Float32Array,
  off: number,
  ldc: number,
): void {
  let place: { at: number; ld: number };
  if (beta !== 0) {
    place = stage(at, C, off, ldc, m, n);
  } else {
    place = placeLike(C, off, ldc, at, n, ldc === n);
  }
  instance.finish(w * BYTES, ldw * BYTES, place.at * BYTES, place.ld * BYTES, m, n, alpha, beta, beta === 0 ? 1 : 0);
  const heap = heapFloats();
  if (ldc === n) {
    C.set(heap.subarray(place.at, place.at + m * n), off);
  } else {
    for (let i = 0; i < m; i++) C.set(heap.subarray(place.at + i * place.ld, place.at + i * place.ld + n), off + i * ldc);
  }
}

/** `finish` for a C on the heap, at float index `at` of the heap: written in place. */
function finishOnHeap(instance: KernelInstance, w: number, ldw: number, m: number, n: number, alpha: number, beta: number, at: number, ldc: number): void {
  instance.finish(w * BYTES, ldw * BYTES, at * BYTES, ldc * BYTES, m, n, alpha, beta, beta === 0 ? 1 : 0);
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/**
 * One part of a parallel wasm GEMM, split as `gemmPart` in gemm/parallel.ts: C is cut along
 * its longer side into bands that are whole tiles (NR columns or MR rows), and each part
 * runs `wasmGemmSerial` on its band in its own thread's instance. The arrays are float32.
 */
export const wasmGemmPart = definePoolJob({
  module: import.meta.url,
  name: 'wasmGemmPart',
  arrays: ['A', 'B', 'C'],
  scalars: gemmScalars,
  part: ({ A, B, C }, { transA, transB, M, N, K, alpha, offA, lda, offB, ldb, beta, offC, ldc }, part, parts) => {
    const [a, b, c] = [A as Float32Array, B as Float32Array, C as Float32Array];
    if (N >= M) {
      const [n0, n1] = partRange(N, part, parts, NR);
      if (n0 === n1) return;
      const bStart = transB ? offB + n0 * ldb : offB + n0;
      wasmGemmSerial(!!transA, !!transB, M, n1 - n0, K, alpha, a, offA, lda, b, bStart, ldb, beta, c, offC + n0, ldc);
    } else {
      const [m0, m1] = partRange(M, part, parts, MR);
      if (m0 === m1) return;
      const aStart = transA ? offA + m0 : offA + m0 * lda;
      wasmGemmSerial(!!transA, !!transB, m1 - m0, N, K, alpha, a, aStart, lda, b, offB, ldb, beta, c, offC + m0 * ldc, ldc);
    }
  },
});

/**
 * The wasm backend's GEMM (see `GemmKernel` for the arguments): float32 operands run the
 * SIMD kernel over the thread pool; any float64 operand (gradient checks) sends the call
 * to the TypeScript kernel, `gemmParallel`. Operands not on a `SharedArrayBuffer` are
 * copied to shared scratch memory when the call is split over threads.
 */
export const wasmGemm: GemmKernel = function wasmGemm(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc) {
  if (!(A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array)) {
    gemmParallel(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc);
    return;
  }
  const threads = getThreads();
  const flops = 2 * M * N * K;
  if (threads === 1 || flops < MIN_PARALLEL_FLOPS) {
    wasmGemmSerial(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc);
    return;
  }
  const parts = Math.min(threads, Math.ceil(flops / MIN_PARALLEL_FLOPS));
  const a = onShared(A, offA, extent(transA ? K : M, transA ? M : K, lda), 'A');
  const b = onShared(B, offB, extent(transB ? N : K, transB ? K : N, ldb), 'B');
  const c = onShared(C, offC, extent(M, N, ldc), 'C', mustCopyC(M, N, ldc, beta));
  const scalars = { transA: +transA, transB: +transB, M, N, K, alpha, offA: a.offset, lda, offB: b.offset, ldb, beta, offC: c.offset, ldc };
  // The workers' scratch areas must be big enough before they start (a worker cannot allocate).
  reserveScratch(parts, planGemm(M, N, K, heapIndex(a.array) < 0, heapIndex(b.array) < 0, heapIndex(c.array) < 0).floats);
  wasmGemmPart.run({ A: a.array, B: b.array, C: c.array }, scalars, parts);
  if (c.array !== C) C.set(c.array.subarray(0, extent(M, N, ldc)), offC);
};
