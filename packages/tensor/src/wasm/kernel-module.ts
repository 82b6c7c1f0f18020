import { FunctionBuilder, ValType, addTo, countDown, encodeModule, lanesThenRest } from './encoder.js';
import { rawFunction } from './raw.js';

/*
 * The WebAssembly half of the GEMM, generated here from the tile shape MR x NR:
 *
 *   gemmBlock            the macro-kernel: an MR x NR register-tiled micro-kernel run over
 *                        every tile of a packed block
 *   packSteps{w}         packing of panels whose w values of one step are adjacent in the source
 *   packLanes{w}         packing of panels whose w values of one step are in w source rows
 *   finish               C = alpha * W + beta * C over a block
 *   gemvDot, gemvAxpy    the product of one row by a matrix (M = 1), streamed without packing
 *
 * Memory (the process's shared wasm heap, imported as env.memory, see heap.ts; in bytes):
 *
 *   packed A  mTiles panels of MR rows; panel t holds op(A)[t*MR .. t*MR+MR-1, 0 .. kc-1]
 *             column by column: for each p, the MR values a[i][p] side by side.
 *   packed B  nTiles panels of NR columns; panel t holds op(B)[0 .. kc-1, t*NR .. t*NR+NR-1]
 *             row by row: for each p, the NR values b[p][j] side by side.
 *   W         the float32 result block, row-major, row stride `ldw` bytes.
 *
 * With that layout step p of a tile reads MR consecutive floats of A and NR consecutive
 * floats of B, and the tile's sums never leave registers until the end of the k loop:
 *
 *   acc[r][v] (r < MR, v < NR/4) is a v128 holding W[r][4v .. 4v+3]
 *   for p in 0 .. kc-1:
 *     b[v] = the four floats B[p][4v .. 4v+3]           (NR/4 vector loads)
 *     for r: a = a[r][p] copied to four lanes           (v128.load32_splat)
 *            acc[r][v] += a * b[v]                       (f32x4.mul, f32x4.add)
 *
 * With `fma`, the multiply and add of a step are one `f32x4.relaxed_madd` (relaxed SIMD): on
 * Intel cores a 128-bit multiply and add compete for the same two ports, so a fused
 * multiply-add doubles the arithmetic limit; on AMD's wider cores it gains little.
 *
 * A 4 x 8 tile needs 8 accumulators + 2 B vectors + 1 A vector: 11 of the 16 SIMD
 * registers of x86-64 (V8 uses xmm0-15), so nothing spills. Each step does 2 loads
 * of B and 4 splat loads of A for 8 multiplies and 8 adds: 64 flops per 6 loads.
 * Unrolling the k loop in the wasm does not help: V8's optimizing compiler hoists the
 * loads of all unrolled steps to the top of the loop body and runs out of registers
 * (measured: 4 steps per trip ran at half the speed of 1), so `unroll` is 1.
 */

/** The register tile and k-loop unrolling the kernel is generated for. */
export interface TileShape {
  /** Rows of C per tile (one splat of A each). */
  mr: number;
  /** Columns of C per tile, a multiple of 4 (one f32x4 lane group each). */
  nr: number;
  /** Steps of p per trip round the k loop (a remainder loop handles the rest). */
  unroll: number;
}

/** The tile used by the wasm backend: 4 x 8, the fastest measured on 128-bit SIMD (see PEERS.md). */
export const TILE: TileShape = { mr: 4, nr: 8, unroll: 1 };

const { i32, f32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;
const MODULE = 'wasm gemm';

/**
 * The module's functions by export name, with their parameters (see `gemmKernelModule` for
 * what each does): the one declaration the emitters below and wasm/gemm.ts's typed calls follow.
 */
export const GEMM_FUNCTIONS = {
  gemmBlock: [['mTiles', 'i32'], ['nTiles', 'i32'], ['kc', 'i32'], ['aPtr', 'i32'], ['bPtr', 'i32'], ['wPtr', 'i32'], ['ldw', 'i32'], ['accumulate', 'i32']],
  finish: [['wPtr', 'i32'], ['ldw', 'i32'], ['cPtr', 'i32'], ['ldc', 'i32'], ['rows', 'i32'], ['cols', 'i32'], ['alpha', 'f32'], ['beta', 'f32'], ['betaZero', 'i32']],
  gemvDot: [['aPtr', 'i32'], ['lda', 'i32'], ['xPtr', 'i32'], ['yPtr', 'i32'], ['rows', 'i32'], ['k', 'i32'], ['alpha', 'f32'], ['beta', 'f32'], ['betaZero', 'i32']],
  gemvAxpy: [
    ['aPtr', 'i32'], ['aStride', 'i32'], ['bPtr', 'i32'], ['ldb', 'i32'], ['yPtr', 'i32'], ['k', 'i32'], ['n', 'i32'], ['alpha', 'f32'], ['beta', 'f32'], ['betaZero', 'i32'],
  ],
} as const;

/** The parameters of packSteps{w} and packLanes{w}, one function per panel width w. */
export const PACK_PARAMS = [['src', 'i32'], ['lds', 'i32'], ['steps', 'i32'], ['panels', 'i32'], ['dst', 'i32']] as const;

/**
 * Emits the module. It imports the shared memory `env.memory` (the wasm heap, heap.ts) and
 * exports the functions below; pointers and row strides are in bytes, counts are never 0.
 *
 * gemmBlock(mTiles, nTiles, kc, aPtr, bPtr, wPtr, ldw, accumulate): for every tile
 * (ti < mTiles, tj < nTiles), the product of A panel ti and B panel tj over kc steps,
 * stored into W at row ti*MR, column tj*NR, added to what W holds when `accumulate` is
 * non-zero (later slices of K), else overwriting it.
 *
 * packSteps{w}(src, lds, steps, panels, dst), for w = MR and w = NR: `panels` panels of w
 * lanes, where source row p (lds bytes apart) holds step p of every panel side by side:
 * dst[(t*steps + p)*w + r] = src[p][t*w + r]. A vector copy per four floats.
 *
 * packLanes{w}(src, lds, steps, panels, dst): the same panels when source row t*w + r holds
 * lane r of panel t for every step: dst[(t*steps + p)*w + r] = src[t*w + r][p]. A transpose:
 * 4 x 4 blocks in registers (w a multiple of 4), float by float for the last steps (and other w).
 *
 * finish(wPtr, ldw, cPtr, ldc, rows, cols, alpha, beta, betaZero): C = alpha * W + beta * C
 * over rows x cols (float32 arithmetic), or C = alpha * W without reading C when `betaZero`.
 */
export function gemmKernelModule(shape: TileShape = TILE, fma = false): Uint8Array {
  const widths = [...new Set([shape.mr, shape.nr])];
  return encodeModule({
    functions: [
      { name: 'gemmBlock', body: gemmBlock(shape, fma) },
      ...widths.map((w) => ({ name: `packSteps${w}`, body: packSteps(w) })),
      ...widths.map((w) => ({ name: `packLanes${w}`, body: packLanes(w) })),
      { name: 'finish', body: finish() },
      { name: 'gemvDot', body: gemvDot() },
      { name: 'gemvAxpy', body: gemvAxpy() },
    ],
    importedMemory: HEAP_IMPORT,
  });
}

/** How the kernel modules import the wasm heap: `env.memory`, shared, up to wasm32's 4 GiB. */
export const HEAP_IMPORT = { module: 'env', name: 'memory', minPages: 1, maxPages: 65536 };

function gemmBlock({ mr, nr, unroll }: TileShape, fma: boolean): FunctionBuilder {
  if (nr % LANES !== 0) throw new RangeError(`gemmKernelModule: NR = ${nr} is not a multiple of ${LANES}`);
  const vectors = nr / LANES;

  const { f, p } = rawFunction(MODULE, 'gemmBlock', GEMM_FUNCTIONS.gemmBlock);
  const { mTiles, nTiles, kc, aPtr, bPtr, wPtr, ldw, accumulate } = p;
  const i = f.local(i32);
  const j = f.local(i32);
  const k = f.local(i32);
  const aPanel = f.local(i32);
  const bPanel = f.local(i32);
  const aPanelBytes = f.local(i32);
  const bPanelBytes = f.local(i32);
  /** Bytes from one tile of W to the next one down: MR rows. */
  const tileRowsBytes = f.local(i32);
  const wColumn = f.local(i32);
  const wTile = f.local(i32);
  const a = f.local(i32);
  const b = f.local(i32);
  const row = f.local(i32);
  const acc = Array.from({ length: mr }, () => Array.from({ length: vectors }, () => f.local(v128)));
  const bv = Array.from({ length: vectors }, () => f.local(v128));
  const av = f.local(v128);

  /** One step of p, reading A and B at constant offsets from the pointers `a` and `b`. */
  const step = (u: number): void => {
    for (let v = 0; v < vectors; v++) f.localGet(b).v128Load(FLOAT * (u * nr + LANES * v)).localSet(bv[v]!);
    for (let r = 0; r < mr; r++) {
      f.localGet(a).v128Load32Splat(FLOAT * (u * mr + r)).localSet(av);
      for (let v = 0; v < vectors; v++) {
        if (fma) f.localGet(av).localGet(bv[v]!).localGet(acc[r]![v]!).f32x4RelaxedMadd().localSet(acc[r]![v]!);
        else f.localGet(acc[r]![v]!).localGet(av).localGet(bv[v]!).f32x4Mul().f32x4Add().localSet(acc[r]![v]!);
      }
    }
  };

  /** `steps` steps per trip, for the trip count in local k, moving `a` and `b` on. */
  const kLoop = (steps: number): void => {
    countDown(f, k, () => {
      for (let u = 0; u < steps; u++) step(u);
      addTo(f, a, { constant: FLOAT * steps * mr });
      addTo(f, b, { constant: FLOAT * steps * nr });
    });
  };

  /** Visits the MR rows of the tile at wTile: `each(r)` runs with the row's address in local `row`. */
  const eachRow = (each: (r: number) => void): void => {
    f.localGet(wTile).localSet(row);
    for (let r = 0; r < mr; r++) {
      if (r > 0) addTo(f, row, { local: ldw });
      each(r);
    }
  };

  f.localGet(kc).i32Const(FLOAT * mr).i32Mul().localSet(aPanelBytes);
  f.localGet(kc).i32Const(FLOAT * nr).i32Mul().localSet(bPanelBytes);
  f.localGet(ldw).i32Const(mr).i32Mul().localSet(tileRowsBytes);
  // for tj in nTiles: for ti in mTiles (the B panel stays in L1 while the A panels pass)
  f.localGet(bPtr).localSet(bPanel);
  f.localGet(wPtr).localSet(wColumn);
  f.localGet(nTiles).localSet(j);
  countDown(f, j, () => {
    f.localGet(aPtr).localSet(aPanel);
    f.localGet(wColumn).localSet(wTile);
    f.localGet(mTiles).localSet(i);
    countDown(f, i, () => {
      f.localGet(accumulate).if(
        () => eachRow((r) => {
          for (let v = 0; v < vectors; v++) f.localGet(row).v128Load(FLOAT * LANES * v).localSet(acc[r]![v]!);
        }),
        () => {
          for (const accRow of acc) for (const x of accRow) f.v128Zero().localSet(x);
        },
      );
      f.localGet(aPanel).localSet(a);
      f.localGet(bPanel).localSet(b);
      if (unroll > 1) {
        f.localGet(kc).i32Const(unroll).i32DivU().localSet(k);
        kLoop(unroll);
        f.localGet(kc).i32Const(unroll).i32RemU().localSet(k);
      } else {
        f.localGet(kc).localSet(k);
      }
      kLoop(1);
      eachRow((r) => {
        for (let v = 0; v < vectors; v++) f.localGet(row).localGet(acc[r]![v]!).v128Store(FLOAT * LANES * v);
      });
      addTo(f, aPanel, { local: aPanelBytes });
      addTo(f, wTile, { local: tileRowsBytes });
    });
    addTo(f, bPanel, { local: bPanelBytes });
    addTo(f, wColumn, { constant: FLOAT * nr });
  });
  return f;
}

/** Copies `w` floats from the address in local `from` to the address in local `to`: vectors, then single floats. */
function copyFloats(f: FunctionBuilder, from: number, to: number, w: number): void {
  let lane = 0;
  for (; lane + LANES <= w; lane += LANES) f.localGet(to).localGet(from).v128Load(FLOAT * lane, 0).v128Store(FLOAT * lane, 0);
  for (; lane < w; lane++) f.localGet(to).localGet(from).f32Load(FLOAT * lane).f32Store(FLOAT * lane);
}

function packSteps(w: number): FunctionBuilder {
  const { f, p: params } = rawFunction(MODULE, `packSteps${w}`, PACK_PARAMS);
  const { src, lds, steps, panels, dst } = params;
  const t = f.local(i32);
  const p = f.local(i32);
  const panelSource = f.local(i32);
  const from = f.local(i32);
  f.localGet(src).localSet(panelSource);
  f.localGet(panels).localSet(t);
  countDown(f, t, () => {
    f.localGet(panelSource).localSet(from);
    f.localGet(steps).localSet(p);
    countDown(f, p, () => {
      copyFloats(f, from, dst, w);
      addTo(f, from, { local: lds });
      addTo(f, dst, { constant: FLOAT * w });
    });
    addTo(f, panelSource, { constant: FLOAT * w });
  });
  return f;
}

function packLanes(w: number): FunctionBuilder {
  const { f, p: params } = rawFunction(MODULE, `packLanes${w}`, PACK_PARAMS);
  const { src, lds, steps, panels, dst } = params;
  const t = f.local(i32);
  const p = f.local(i32);
  const panelSource = f.local(i32);
  /** One read pointer per lane: lane r walks along source row t*w + r. */
  const lane = Array.from({ length: w }, () => f.local(i32));
  const rows = Array.from({ length: LANES }, () => f.local(v128));
  const pairs = Array.from({ length: LANES }, () => f.local(v128));

  /**
   * Four steps of lanes g*4 .. g*4+3 at once: four vector loads (one per source row), a 4 x 4
   * transpose in registers, four vector stores (one per step). Pairs first interleave rows
   * 0,1 and 2,3; then their halves join into the columns.
   */
  const transposeBlock = (g: number): void => {
    for (let k = 0; k < LANES; k++) f.localGet(lane[g * LANES + k]!).v128Load(0, 0).localSet(rows[k]!);
    f.localGet(rows[0]!).localGet(rows[1]!).shuffle32([0, 4, 1, 5]).localSet(pairs[0]!);
    f.localGet(rows[0]!).localGet(rows[1]!).shuffle32([2, 6, 3, 7]).localSet(pairs[1]!);
    f.localGet(rows[2]!).localGet(rows[3]!).shuffle32([0, 4, 1, 5]).localSet(pairs[2]!);
    f.localGet(rows[2]!).localGet(rows[3]!).shuffle32([2, 6, 3, 7]).localSet(pairs[3]!);
    const columns: [number, number, [number, number, number, number]][] = [
      [0, 2, [0, 1, 4, 5]],
      [0, 2, [2, 3, 6, 7]],
      [1, 3, [0, 1, 4, 5]],
      [1, 3, [2, 3, 6, 7]],
    ];
    columns.forEach(([a, b, lanes], q) => {
      f.localGet(dst).localGet(pairs[a]!).localGet(pairs[b]!).shuffle32(lanes).v128Store(FLOAT * (q * w + g * LANES), 0);
    });
    for (let k = 0; k < LANES; k++) addTo(f, lane[g * LANES + k]!, { constant: FLOAT * LANES });
  };

  f.localGet(src).localSet(panelSource);
  f.localGet(panels).localSet(t);
  countDown(f, t, () => {
    f.localGet(panelSource).localSet(lane[0]!);
    for (let r = 1; r < w; r++) f.localGet(lane[r - 1]!).localGet(lds).i32Add().localSet(lane[r]!);
    if (w % LANES === 0) {
      f.localGet(steps).i32Const(LANES).i32DivU().localSet(p);
      countDown(f, p, () => {
        for (let g = 0; g < w / LANES; g++) transposeBlock(g);
        addTo(f, dst, { constant: FLOAT * w * LANES });
      });
      f.localGet(steps).i32Const(LANES).i32RemU().localSet(p);
    } else {
      f.localGet(steps).localSet(p);
    }
    countDown(f, p, () => {
      for (let r = 0; r < w; r++) {
        f.localGet(dst).localGet(lane[r]!).f32Load().f32Store(FLOAT * r);
        addTo(f, lane[r]!, { constant: FLOAT });
      }
      addTo(f, dst, { constant: FLOAT * w });
    });
    f.localGet(panelSource).localGet(lds).i32Const(w).i32Mul().i32Add().localSet(panelSource);
  });
  return f;
}

function finish(): FunctionBuilder {
  const { f, p } = rawFunction(MODULE, 'finish', GEMM_FUNCTIONS.finish);
  const { wPtr, ldw, cPtr, ldc, rows, cols, alpha, beta, betaZero } = p;
  const i = f.local(i32);
  const j = f.local(i32);
  const w = f.local(i32);
  const c = f.local(i32);
  const alphas = f.local(v128);
  const betas = f.local(v128);
  f.localGet(alpha).f32x4Splat().localSet(alphas);
  f.localGet(beta).f32x4Splat().localSet(betas);

  /** c[0 .. width) = alpha * w[...] (+ beta * c[...]), a vector (width 4) or a float (width 1) at a time. */
  const update = (width: 1 | 4, readC: boolean): void => {
    f.localGet(c);
    if (width === 4) {
      f.localGet(w).v128Load(0, 0).localGet(alphas).f32x4Mul();
      if (readC) f.localGet(c).v128Load(0, 0).localGet(betas).f32x4Mul().f32x4Add();
      f.v128Store(0, 0);
    } else {
      f.localGet(w).f32Load().localGet(alpha).f32Mul();
      if (readC) f.localGet(c).f32Load().localGet(beta).f32Mul().f32Add();
      f.f32Store();
    }
    addTo(f, w, { constant: FLOAT * width });
    addTo(f, c, { constant: FLOAT * width });
  };
  const rowOf = (readC: boolean): void => {
    f.localGet(wPtr).localSet(w);
    f.localGet(cPtr).localSet(c);
    f.localGet(cols).i32Const(LANES).i32DivU().localSet(j);
    countDown(f, j, () => update(4, readC));
    f.localGet(cols).i32Const(LANES).i32RemU().localSet(j);
    countDown(f, j, () => update(1, readC));
  };

  f.localGet(rows).localSet(i);
  countDown(f, i, () => {
    f.localGet(betaZero).if(
      () => rowOf(false),
      () => rowOf(true),
    );
    addTo(f, wPtr, { local: ldw });
    addTo(f, cPtr, { local: ldc });
  });
  return f;
}

/**
 * gemvDot(aPtr, lda, xPtr, yPtr, rows, k, alpha, beta, betaZero): y[r] = alpha * (row r of A,
 * lda bytes apart) . x + beta * y[r] for r < rows, over k floats; y is not read when
 * `betaZero`. Each row streams through once, eight floats a step in two accumulators.
 */
function gemvDot(): FunctionBuilder {
  const { f, p } = rawFunction(MODULE, 'gemvDot', GEMM_FUNCTIONS.gemvDot);
  const { aPtr, lda, xPtr, yPtr, rows, k, alpha, beta, betaZero } = p;
  const [a, x, n] = [f.local(i32), f.local(i32), f.local(i32)];
  const [acc0, acc1] = [f.local(v128), f.local(v128)];
  const total = f.local(f32);
  countDown(f, rows, () => {
    f.localGet(aPtr).localSet(a);
    f.localGet(xPtr).localSet(x);
    f.v128Zero().localSet(acc0);
    f.v128Zero().localSet(acc1);
    f.localGet(k).i32Const(2 * LANES).i32DivU().localSet(n);
    countDown(f, n, () => {
      f.localGet(acc0).localGet(a).v128Load(0, 0).localGet(x).v128Load(0, 0).f32x4Mul().f32x4Add().localSet(acc0);
      f.localGet(acc1).localGet(a).v128Load(FLOAT * LANES, 0).localGet(x).v128Load(FLOAT * LANES, 0).f32x4Mul().f32x4Add().localSet(acc1);
      addTo(f, a, { constant: 2 * FLOAT * LANES });
      addTo(f, x, { constant: 2 * FLOAT * LANES });
    });
    f.localGet(acc0).localGet(acc1).f32x4Add().localSet(acc0);
    f.localGet(acc0).f32x4ExtractLane(0).localGet(acc0).f32x4ExtractLane(1).f32Add();
    f.localGet(acc0).f32x4ExtractLane(2).localGet(acc0).f32x4ExtractLane(3).f32Add().f32Add().localSet(total);
    f.localGet(k).i32Const(2 * LANES).i32RemU().localSet(n);
    countDown(f, n, () => {
      f.localGet(total).localGet(a).f32Load().localGet(x).f32Load().f32Mul().f32Add().localSet(total);
      addTo(f, a, { constant: FLOAT });
      addTo(f, x, { constant: FLOAT });
    });
    f.localGet(total).localGet(alpha).f32Mul().localSet(total);
    f.localGet(betaZero).i32Eqz();
    f.if(() => f.localGet(total).localGet(yPtr).f32Load().localGet(beta).f32Mul().f32Add().localSet(total));
    f.localGet(yPtr).localGet(total).f32Store();
    addTo(f, aPtr, { local: lda });
    addTo(f, yPtr, { constant: FLOAT });
  });
  return f;
}

/**
 * gemvAxpy(aPtr, aStride, bPtr, ldb, yPtr, k, n, alpha, beta, betaZero): y = alpha * sum over
 * p < k of a[p] * (row p of B, ldb bytes apart) + beta * y, over n floats; a[p] is aStride
 * bytes after a[p - 1]. y (n floats) stays in cache while the rows of B stream past it.
 */
function gemvAxpy(): FunctionBuilder {
  const { f, p } = rawFunction(MODULE, 'gemvAxpy', GEMM_FUNCTIONS.gemvAxpy);
  const { aPtr, aStride, bPtr, ldb, yPtr, k, n, alpha, beta, betaZero } = p;
  const [b, y] = [f.local(i32), f.local(i32)];
  const scale = f.local(f32);
  const scales = f.local(v128);
  /** Runs over y[0 .. n), a vector or a float at a time, with local y moving along it. */
  const overY = (vector: () => void, scalar: () => void): void => {
    f.localGet(yPtr).localSet(y);
    lanesThenRest(f, n, [y], vector, scalar);
  };
  // y = beta * y, or 0 without reading it.
  f.localGet(betaZero);
  f.if(
    () => f.localGet(yPtr).i32Const(0).localGet(n).i32Const(FLOAT).i32Mul().memoryFill(),
    () => {
      f.localGet(beta).f32x4Splat().localSet(scales);
      overY(
        () => f.localGet(y).localGet(y).v128Load(0, 0).localGet(scales).f32x4Mul().v128Store(0, 0),
        () => f.localGet(y).localGet(y).f32Load().localGet(beta).f32Mul().f32Store(),
      );
    },
  );
  countDown(f, k, () => {
    f.localGet(aPtr).f32Load().localGet(alpha).f32Mul().localTee(scale).f32x4Splat().localSet(scales);
    f.localGet(bPtr).localSet(b);
    overY(
      () => {
        f.localGet(y).localGet(y).v128Load(0, 0).localGet(b).v128Load(0, 0).localGet(scales).f32x4Mul().f32x4Add().v128Store(0, 0);
        addTo(f, b, { constant: FLOAT * LANES });
      },
      () => {
        f.localGet(y).localGet(y).f32Load().localGet(b).f32Load().localGet(scale).f32Mul().f32Add().f32Store();
        addTo(f, b, { constant: FLOAT });
      },
    );
    addTo(f, aPtr, { local: aStride });
    addTo(f, bPtr, { local: ldb });
  });
  return f;
}

/**
 * The smallest module that uses relaxed SIMD: one function returning `f32x4.relaxed_madd` of
 * three zero vectors. `WebAssembly.validate` accepts it exactly when relaxed SIMD is on.
 */
export function relaxedSimdProbeModule(): Uint8Array {
  const f = new FunctionBuilder([], [v128]);
  f.v128Zero().v128Zero().v128Zero().f32x4RelaxedMadd();
  return encodeModule({ functions: [{ name: 'probe', body: f }] });
}

/**
 * The smallest module that uses a SIMD type: one function returning `v128.const 0`.
 * `WebAssembly.validate` accepts it exactly when the engine supports 128-bit SIMD.
 */
export function simdProbeModule(): Uint8Array {
  const f = new FunctionBuilder([], [v128]);
  f.v128Zero();
  return encodeModule({ functions: [{ name: 'probe', body: f }] });
}
