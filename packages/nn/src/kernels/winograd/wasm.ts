import { ValType, addTo, countDown, defineWasmKernels, lanesThenRest, type FloatArray, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import type { WinogradInput, WinogradOutput } from './transforms.js';
import { filterRunJs, outputRunJs, tileRunJs } from './unrolled.js';
import { F2X2_3X3, F2X2_5X5, termsOf, type Terms, type WinogradTile } from './tiles.js';
import { forEachPhase, splitPhases } from './phases.js';
import type { ConvolutionShape } from '../convolution/shape.js';

/*
 * The transforms of a Winograd tile F(2x2, r x r) (tiles.ts; fast.ts for the algorithm) in
 * WebAssembly, emitted from the tile's matrices: each product of a matrix row with a vector
 * becomes adds and subtracts for the coefficients +-1 and one multiply for the others, zeros
 * left out. The input and output transforms run four neighbouring tiles of a row at once,
 * one per lane of a 128-bit vector (the transformed values of consecutive tiles are
 * consecutive floats), and the tiles left over at a row's end one at a time; the filters,
 * transformed once per call, one at a time. Pointers and steps are in bytes; "stride" is the
 * distance between two of the alpha^2 transformed matrices (position xi and xi + 1 of a tile).
 */

const { i32, f32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;

const filtersParams = { weight: 'array', u: 'array', count: 'i32', stride: 'floats' } as const;
const tilesParams = {
  src: 'array', channels: 'i32', planeStep: 'floats', height: 'i32', width: 'i32', padH: 'i32', padW: 'i32',
  padded: 'array', paddedW: 'i32', tilesH: 'i32', tilesW: 'i32', v: 'array', rowStep: 'floats', stride: 'floats',
} as const;
const outputsParams = {
  m: 'array', channels: 'i32', rowStep: 'floats', stride: 'floats', y: 'array', planeStep: 'floats',
  outH: 'i32', outW: 'i32', tilesH: 'i32', tilesW: 'i32', bias: 'array?', hasBias: 'i32', low: 'f32', high: 'f32',
} as const;

/** The kernels of one tile: one module each. */
function kernelsOf(tile: WinogradTile) {
  return defineWasmKernels(`wasm winograd F(2x2, ${tile.r}x${tile.r})`, {
    winogradFilters: { params: filtersParams, emit: (f, p) => filters(f, p, tile) },
    winogradTiles: { params: tilesParams, emit: (f, p) => tiles(f, p, tile) },
    winogradOutputs: { params: outputsParams, emit: (f, p) => outputs(f, p, tile) },
  });
}

/** The wasm kernels of the Winograd family by filter size r (exported for tests). */
export const winogradWasmKernels = { 3: kernelsOf(F2X2_3X3), 5: kernelsOf(F2X2_5X5) };

function kernelsFor(tile: WinogradTile): ReturnType<typeof kernelsOf> {
  return winogradWasmKernels[tile.r as 3 | 5];
}

/** `filterRun` in wasm when the arrays are float32 on the heap, else as the js backend. */
export function filterRunWasm(tile: WinogradTile, weight: FloatArray, weightOffset: number, u: FloatArray, uOffset: number, count: number, stride: number): void {
  const args = { weight: weight.subarray(weightOffset), u: u.subarray(uOffset), count, stride };
  if (!kernelsFor(tile).winogradFilters.run(args)) filterRunJs(tile, weight, weightOffset, u, uOffset, count, stride);
}

/** `tileRun` in wasm when the arrays are float32 on the heap, else as the js backend. */
export function tileRunWasm(tile: WinogradTile, x: FloatArray, xOffset: number, padded: FloatArray, v: FloatArray, vOffset: number, run: WinogradInput): void {
  const args = { ...run, src: x.subarray(xOffset), padded, v: v.subarray(vOffset) };
  if (!kernelsFor(tile).winogradTiles.run(args)) tileRunJs(tile, x, xOffset, padded, v, vOffset, run);
}

/** `outputRun` in wasm when the arrays are float32 on the heap, else as the js backend. */
export function outputRunWasm(
  tile: WinogradTile,
  m: FloatArray,
  mOffset: number,
  y: FloatArray,
  yOffset: number,
  bias: FloatArray | undefined,
  biasOffset: number,
  run: WinogradOutput,
): void {
  // Without a bias the kernel reads (and ignores) the float at address 0.
  const args = { ...run, m: m.subarray(mOffset), y: y.subarray(yOffset), bias: bias?.subarray(biasOffset), hasBias: bias ? 1 : 0 };
  if (!kernelsFor(tile).winogradOutputs.run(args)) outputRunJs(tile, m, mOffset, y, yOffset, bias, biasOffset, run);
}

/** Float32 arithmetic on one value (f32) or on four tiles' values at once (v128). */
interface Arithmetic {
  add(): void;
  sub(): void;
  mul(): void;
  /** Pushes the constant c (in every lane). */
  constant(c: number): void;
}

const scalar = (f: FunctionBuilder): Arithmetic => ({
  add: () => f.f32Add(),
  sub: () => f.f32Sub(),
  mul: () => f.f32Mul(),
  constant: (c) => f.f32Const(c),
});

/**
 * Vector arithmetic over the coefficients of `matrix`: each one other than +-1, and its size,
 * is splat into a local here, before the caller's loops, and pushed from it.
 */
function vector(f: FunctionBuilder, matrix: Terms[]): Arithmetic {
  const splats = new Map<number, number>();
  for (const c of matrix.flat().flatMap(([, c]) => [c, Math.abs(c)])) {
    if (Math.abs(c) === 1 || splats.has(c)) continue;
    const local = f.local(v128);
    f.f32Const(c).f32x4Splat().localSet(local);
    splats.set(c, local);
  }
  return {
    add: () => f.f32x4Add(),
    sub: () => f.f32x4Sub(),
    mul: () => f.f32x4Mul(),
    constant: (c) => f.localGet(splats.get(c)!),
  };
}

/**
 * Pushes sum over terms [k, c] of c * value(k), a matrix row (its nonzero terms) times a
 * vector: a term of coefficient 1 first where there is one, then adds and subtracts, with a
 * multiply for each coefficient other than +-1.
 */
function combine(a: Arithmetic, terms: Terms, value: (k: number) => void): void {
  const first = terms.find(([, c]) => c === 1) ?? terms.find(([, c]) => c > 0) ?? terms[0]!;
  value(first[0]);
  if (first[1] !== 1) {
    // All coefficients negative (a row of G): the first multiplied by its own, negative, coefficient.
    a.constant(first[1]);
    a.mul();
  }
  for (const term of terms) {
    if (term === first) continue;
    const [k, c] = term;
    value(k);
    if (Math.abs(c) !== 1) {
      a.constant(Math.abs(c));
      a.mul();
    }
    if (c > 0) a.add();
    else a.sub();
  }
}

/**
 * winogradFilters(weight, u, count, stride): U = G g G^T for `count` consecutive r x r
 * filters g (r^2 floats each) into consecutive floats of u, position xi at u + xi * stride.
 */
function filters(f: FunctionBuilder, p: WasmParams<typeof filtersParams>, tile: WinogradTile): void {
  const { weight, u, count, stride } = p;
  const { alpha, r } = tile;
  const g = termsOf(tile.g);
  const a = scalar(f);
  const gg = Array.from({ length: alpha * r }, () => f.local(f32));
  const at = f.local(i32);
  countDown(f, count, () => {
    // G g: gg[i][j] = sum over k of G[i][k] g[k][j].
    for (let i = 0; i < alpha; i++) {
      for (let j = 0; j < r; j++) {
        combine(a, g[i]!, (k) => f.localGet(weight).f32Load((k * r + j) * FLOAT));
        f.localSet(gg[i * r + j]!);
      }
    }
    // (G g) G^T: U[i][j] = sum over k of gg[i][k] G[j][k]; xi = alpha i + j.
    f.localGet(u).localSet(at);
    for (let i = 0; i < alpha; i++) {
      for (let j = 0; j < alpha; j++) {
        f.localGet(at);
        combine(a, g[j]!, (k) => f.localGet(gg[i * r + k]!));
        f.f32Store();
        addTo(f, at, { local: stride });
      }
    }
    addTo(f, weight, { constant: r * r * FLOAT });
    addTo(f, u, { constant: FLOAT });
  });
}

/**
 * winogradTiles(src, channels, planeStep, height, width, padH, padW, padded, paddedW, tilesH,
 * tilesW, v, rowStep, stride): for each of `channels` planes (planeStep apart), copies the
 * plane into the inside of `padded` (paddedW floats a row, its border kept zero by the
 * caller), then writes V = B^T d B of every alpha x alpha tile d (tile (ty, tx) at padded row
 * 2 ty, column 2 tx) to consecutive floats from v, position xi at + xi * stride. Each plane's
 * tiles start rowStep after the previous plane's.
 *
 * Four tiles side by side read columns 2 tx .. 2 tx + alpha + 5 of each of their alpha rows:
 * B^T combines those rows first, on whole vectors of 4 columns; then even and odd columns
 * are picked apart by shuffles into one vector per column l of the tiles (lane k: column
 * 2 (tx + k) + l), and B combines those. A group's vectors reach up to 2 tx + 11 (the
 * padded plane is followed by other scratch in the caller's band, so reading past a short
 * last row is harmless: those lanes are never used).
 */
function tiles(f: FunctionBuilder, p: WasmParams<typeof tilesParams>, tile: WinogradTile): void {
  const { src, channels, planeStep, height, width, padH, padW, padded, paddedW, tilesH, tilesW, v, rowStep, stride } = p;
  const { alpha } = tile;
  const bT = termsOf(tile.bT);
  const [rows, rowSource, rowTarget, from, to, ty, tx, tileTop, out, at, rowBytes, groups, rest] = Array.from({ length: 13 }, () => f.local(i32));
  const lanes = vector(f, bT);
  const one = scalar(f);
  /** Vectors of 4 consecutive columns a group loads from each row: columns 0 .. 4 loads - 1 of the group. */
  const loads = Math.ceil((2 * (LANES - 1) + alpha) / LANES);
  const d = Array.from({ length: alpha * loads }, () => f.local(v128));
  const column = Array.from({ length: loads }, () => f.local(v128));
  const evens = Array.from({ length: loads - 1 }, () => f.local(v128));
  const odds = Array.from({ length: loads - 1 }, () => f.local(v128));
  const e = Array.from({ length: alpha * alpha }, () => f.local(v128));
  const es = Array.from({ length: alpha * alpha }, () => f.local(f32));

  /** Stores V = e B, e's values pushed by `value`, at `at` on, stride apart; `store` stores the value on the stack. */
  const storeTransformed = (a: Arithmetic, value: (i: number, l: number) => void, store: () => void) => {
    f.localGet(out).localSet(at);
    for (let i = 0; i < alpha; i++) {
      for (let j = 0; j < alpha; j++) {
        f.localGet(at);
        combine(a, bT[j]!, (l) => value(i, l));
        store();
        addTo(f, at, { local: stride });
      }
    }
  };
  const rowAddress = (k: number) => f.localGet(tileTop).localGet(rowBytes).i32Const(k).i32Mul().i32Add();

  f.localGet(paddedW).i32Const(FLOAT).i32Mul().localSet(rowBytes);
  f.localGet(tilesW).i32Const(LANES).i32DivU().localSet(groups);
  countDown(f, channels, () => {
    // The plane into the padded one, a row at a time.
    f.localGet(src).localSet(rowSource);
    f.localGet(padded).localGet(padH).localGet(paddedW).i32Mul().localGet(padW).i32Add().i32Const(FLOAT).i32Mul().i32Add().localSet(rowTarget);
    f.localGet(height).localSet(rows);
    countDown(f, rows, () => {
      f.localGet(rowSource).localSet(from);
      f.localGet(rowTarget).localSet(to);
      lanesThenRest(
        f,
        width,
        [from, to],
        () => f.localGet(to).localGet(from).v128Load(0, 0).v128Store(0, 0),
        () => f.localGet(to).localGet(from).f32Load().f32Store(),
      );
      f.localGet(rowSource).localGet(width).i32Const(FLOAT).i32Mul().i32Add().localSet(rowSource);
      addTo(f, rowTarget, { local: rowBytes });
    });

    // The tiles, row by row: groups of four, then the rest one by one.
    f.localGet(v).localSet(out);
    f.localGet(padded).localSet(from);
    f.localGet(tilesH).localSet(ty);
    countDown(f, ty, () => {
      f.localGet(from).localSet(tileTop);
      f.localGet(groups).localSet(tx);
      countDown(f, tx, () => {
        for (let k = 0; k < alpha; k++) {
          for (let q = 0; q < loads; q++) {
            rowAddress(k).v128Load(q * LANES * FLOAT, 0).localSet(d[k * loads + q]!);
          }
        }
        for (let i = 0; i < alpha; i++) {
          // B^T d on whole vectors: column[q] = row i of B^T d, columns 4q .. 4q + 3.
          for (let q = 0; q < loads; q++) {
            combine(lanes, bT[i]!, (k) => f.localGet(d[k * loads + q]!));
            f.localSet(column[q]!);
          }
          // Pick the columns apart: evens[q] holds columns 4q, 4q + 2, 4q + 4, 4q + 6, odds[q] the next ones.
          for (let q = 0; q + 1 < loads; q++) {
            f.localGet(column[q]!).localGet(column[q + 1]!).shuffle32([0, 2, 4, 6]).localSet(evens[q]!);
            f.localGet(column[q]!).localGet(column[q + 1]!).shuffle32([1, 3, 5, 7]).localSet(odds[q]!);
          }
          // Tile k's column l is column 2k + l of the group: for l = 4q + s, lanes of evens[q] or odds[q],
          // moved on by one lane for s = 2 or 3 (its last from the next q's).
          for (let l = 0; l < alpha; l++) {
            const q = Math.floor(l / LANES), s = l % LANES;
            const picked = s % 2 === 0 ? evens : odds;
            f.localGet(picked[q]!);
            if (s >= 2) f.localGet(picked[q + 1]!).shuffle32([1, 2, 3, 6]);
            f.localSet(e[i * alpha + l]!);
          }
        }
        storeTransformed(lanes, (i, l) => f.localGet(e[i * alpha + l]!), () => f.v128Store(0, 0));
        addTo(f, out, { constant: LANES * FLOAT });
        addTo(f, tileTop, { constant: 2 * LANES * FLOAT });
      });
      f.localGet(tilesW).localGet(groups).i32Const(LANES).i32Mul().i32Sub().localSet(rest);
      countDown(f, rest, () => {
        // One tile: B^T d, then (B^T d) B.
        for (let i = 0; i < alpha; i++) {
          for (let l = 0; l < alpha; l++) {
            combine(one, bT[i]!, (k) => rowAddress(k).f32Load(l * FLOAT));
            f.localSet(es[i * alpha + l]!);
          }
        }
        storeTransformed(one, (i, l) => f.localGet(es[i * alpha + l]!), () => f.f32Store());
        addTo(f, out, { constant: FLOAT });
        addTo(f, tileTop, { constant: 2 * FLOAT });
      });
      f.localGet(from).localGet(rowBytes).i32Const(2).i32Mul().i32Add().localSet(from);
    });
    addTo(f, src, { local: planeStep });
    addTo(f, v, { local: rowStep });
  });
}

/**
 * winogradOutputs(m, channels, rowStep, stride, y, planeStep, outH, outW, tilesH, tilesW,
 * bias, hasBias, low, high): for each of `channels` output planes (planeStep apart in y,
 * rowStep apart in m), Y = A^T M A + bias of every tile, clamped to [low, high], M's alpha^2
 * values read from m + tile + xi * stride, each tile's 2 x 2 written at row 2 ty, column 2 tx,
 * and only inside the plane. The bias is read from `bias` (one float per plane) when hasBias
 * is 1, else 0.
 *
 * Four tiles side by side make 8 columns of two output rows: their results, a vector per
 * output column, are interleaved by shuffles into two vectors a row. Groups run while their
 * 8 columns lie inside the plane; the tiles after them, one at a time, check each output.
 */
function outputs(f: FunctionBuilder, p: WasmParams<typeof outputsParams>, tile: WinogradTile): void {
  const { m, channels, rowStep, stride, y, planeStep, outH, outW, tilesH, tilesW, bias, hasBias, low, high } = p;
  const { alpha } = tile;
  const aT = termsOf(tile.aT);
  const [tileAt, at, rowOut, out, ty, tx, oy, ox, lineBytes, groups, rest] = Array.from({ length: 11 }, () => f.local(i32));
  const lanes = vector(f, aT);
  const one = scalar(f);
  const values = Array.from({ length: alpha * alpha }, () => f.local(v128));
  const rowsOfAT = Array.from({ length: 2 * alpha }, () => f.local(v128));
  const results = Array.from({ length: 4 }, () => f.local(v128));
  const scalarValues = Array.from({ length: alpha * alpha }, () => f.local(f32));
  const scalarRows = Array.from({ length: 2 * alpha }, () => f.local(f32));
  const b = f.local(f32);
  const bs = f.local(v128);
  const [lows, highs] = [f.local(v128), f.local(v128)];

  /** Loads M's alpha^2 values of the tile(s) at `tileAt` into `into`, with `load`. */
  const loadM = (into: number[], load: () => void) => {
    f.localGet(tileAt).localSet(at);
    for (let xi = 0; xi < alpha * alpha; xi++) {
      f.localGet(at);
      load();
      f.localSet(into[xi]!);
      if (xi < alpha * alpha - 1) addTo(f, at, { local: stride });
    }
  };
  /** A^T M into `into` (2 x alpha), then pushes nothing; `result(i, j)` then pushes (A^T M A)[i][j]. */
  const transform = (a: Arithmetic, from: number[], into: number[]) => {
    for (let i = 0; i < 2; i++) {
      for (let l = 0; l < alpha; l++) {
        combine(a, aT[i]!, (k) => f.localGet(from[k * alpha + l]!));
        f.localSet(into[i * alpha + l]!);
      }
    }
    return (i: number, j: number) => combine(a, aT[j]!, (l) => f.localGet(into[i * alpha + l]!));
  };

  f.localGet(low).f32x4Splat().localSet(lows);
  f.localGet(high).f32x4Splat().localSet(highs);
  f.localGet(outW).i32Const(FLOAT).i32Mul().localSet(lineBytes);
  f.localGet(outW).i32Const(2 * LANES).i32DivU().localSet(groups);
  f.localGet(tilesW).localGet(groups).i32Const(LANES).i32Mul().i32Sub().localSet(rest);
  countDown(f, channels, () => {
    f.localGet(bias).f32Load().f32Const(0).localGet(hasBias).select().localTee(b).f32x4Splat().localSet(bs);
    f.localGet(m).localSet(tileAt);
    f.localGet(y).localSet(rowOut);
    f.i32Const(0).localSet(oy);
    f.localGet(tilesH).localSet(ty);
    countDown(f, ty, () => {
      f.localGet(rowOut).localSet(out);
      f.i32Const(0).localSet(ox);
      f.localGet(groups).localSet(tx);
      countDown(f, tx, () => {
        loadM(values, () => f.v128Load(0, 0));
        const result = transform(lanes, values, rowsOfAT);
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 2; j++) {
            result(i, j);
            f.localGet(bs).f32x4Add().localGet(lows).f32x4Max().localGet(highs).f32x4Min().localSet(results[2 * i + j]!);
          }
        }
        // Row i of the 8 outputs: lanes k of columns 0 and 1 alternate.
        const storeRow = (i: number) => {
          const [left, right] = [results[2 * i]!, results[2 * i + 1]!];
          f.localGet(out).localGet(lineBytes).i32Const(i).i32Mul().i32Add().localTee(at);
          f.localGet(left).localGet(right).shuffle32([0, 4, 1, 5]).v128Store(0, 0);
          f.localGet(at).localGet(left).localGet(right).shuffle32([2, 6, 3, 7]).v128Store(LANES * FLOAT, 0);
        };
        storeRow(0);
        f.localGet(oy).i32Const(1).i32Add().localGet(outH).i32LtS();
        f.if(() => storeRow(1));
        addTo(f, tileAt, { constant: LANES * FLOAT });
        addTo(f, out, { constant: 2 * LANES * FLOAT });
        addTo(f, ox, { constant: 2 * LANES });
      });
      f.localGet(rest).localSet(tx);
      countDown(f, tx, () => {
        loadM(scalarValues, () => f.f32Load());
        const result = transform(one, scalarValues, scalarRows);
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 2; j++) {
            const store = () => {
              f.localGet(out).localGet(lineBytes).i32Const(i).i32Mul().i32Add();
              result(i, j);
              f.localGet(b).f32Add().localGet(low).f32Max().localGet(high).f32Min().f32Store(j * FLOAT);
            };
            if (i === 0 && j === 0) store();
            else {
              // Inside the plane: row oy + i < outH and column ox + j < outW.
              f.localGet(oy).i32Const(i).i32Add().localGet(outH).i32LtS();
              f.localGet(ox).i32Const(j).i32Add().localGet(outW).i32LtS();
              f.i32And();
              f.if(store);
            }
          }
        }
        addTo(f, tileAt, { constant: FLOAT });
        addTo(f, out, { constant: 2 * FLOAT });
        addTo(f, ox, { constant: 2 });
      });
      f.localGet(rowOut).localGet(lineBytes).i32Const(2).i32Mul().i32Add().localSet(rowOut);
      addTo(f, oy, { constant: 2 });
    });
    addTo(f, m, { local: rowStep });
    addTo(f, y, { local: planeStep });
    addTo(f, bias, { constant: FLOAT });
  });
}

const phaseParams = {
  src: 'array', rowStep: 'floats', columnStep: 'floats', plane: 'array', planeSize: 'floats', block: 'array', pw: 'floats', rows: 'i32', cols: 'i32',
} as const;

/** The wasm kernel of `splitPhases` (exported for tests). */
export const phaseWasmKernels = defineWasmKernels('wasm winograd phases', {
  winogradPhase: { params: phaseParams, emit: phase },
});

/** `splitPhases` with each phase plane written in wasm when the arrays are float32 on the heap, else in TypeScript. */
export function splitPhasesWasm(x: FloatArray, s: ConvolutionShape, n: number, phases: ConvolutionShape, into: FloatArray, offset: number): void {
  const S = s.strideH;
  const pw = phases.width;
  // All the arrays are on the heap or none is: the first plane decides.
  let onHeap = true;
  forEachPhase(s, n, phases, offset, ({ top, rows, left, cols, from }, at, size) => {
    if (!onHeap) return;
    const args = {
      src: x.subarray(from), rowStep: S * s.width, columnStep: S, plane: into.subarray(at), planeSize: size,
      block: into.subarray(at + top * pw + left), pw, rows, cols,
    };
    onHeap = phaseWasmKernels.winogradPhase.run(args);
  });
  if (!onHeap) splitPhases(x, s, n, phases, into, offset);
}

/**
 * winogradPhase(src, rowStep, columnStep, plane, planeSize, block, pw, rows, cols): zeroes the
 * planeSize floats of `plane`, then copies a rows x cols block into it from `block` on (rows
 * pw apart), element (a, b) read from src + a rowStep + b columnStep: one phase plane.
 */
function phase(f: FunctionBuilder, p: WasmParams<typeof phaseParams>): void {
  const { src, rowStep, columnStep, plane, planeSize, block, pw, rows, cols } = p;
  const [from, to, left] = Array.from({ length: 3 }, () => f.local(i32));
  f.localGet(plane).i32Const(0).localGet(planeSize).memoryFill();
  countDown(f, rows, () => {
    f.localGet(src).localSet(from);
    f.localGet(block).localSet(to);
    f.localGet(cols).localSet(left);
    countDown(f, left, () => {
      f.localGet(to).localGet(from).f32Load().f32Store();
      addTo(f, from, { local: columnStep });
      addTo(f, to, { constant: FLOAT });
    });
    addTo(f, src, { local: rowStep });
    addTo(f, block, { local: pw });
  });
}
