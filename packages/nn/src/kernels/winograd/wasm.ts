import { ValType, addTo, countDown, defineWasmKernels, lanesThenRest, type FloatArray, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import { filterRun, outputRun, tileRun, type WinogradInput, type WinogradOutput } from './transforms.js';

/*
 * The transforms of Winograd's F(2x2, 3x3) (see fast.ts for the algorithm) in WebAssembly:
 * scalar float32 arithmetic, which is all they need (a few adds per value), without the
 * bounds checks and float64 conversions of the TypeScript loops. Pointers and steps are in
 * bytes; "stride" is the distance between two of the 16 transformed matrices (position xi
 * and xi + 1 of a tile).
 */

const { i32, f32 } = ValType;
const FLOAT = 4;

const filtersParams = { weight: 'array', u: 'array', count: 'i32', stride: 'floats' } as const;
const tilesParams = {
  src: 'array', channels: 'i32', planeStep: 'floats', height: 'i32', width: 'i32', padH: 'i32', padW: 'i32',
  padded: 'array', paddedW: 'i32', tilesH: 'i32', tilesW: 'i32', v: 'array', rowStep: 'floats', stride: 'floats',
} as const;
const outputsParams = {
  m: 'array', channels: 'i32', rowStep: 'floats', stride: 'floats', y: 'array', planeStep: 'floats',
  outH: 'i32', outW: 'i32', tilesH: 'i32', tilesW: 'i32', bias: 'array?', hasBias: 'i32',
} as const;

/** The wasm kernels of the Winograd family (exported for tests). */
export const winogradWasmKernels = defineWasmKernels('wasm winograd', {
  winogradFilters: { params: filtersParams, emit: filters },
  winogradTiles: { params: tilesParams, emit: tiles },
  winogradOutputs: { params: outputsParams, emit: outputs },
});

/** `filterRun` in wasm when the arrays are float32 on the heap, else in TypeScript. */
export function filterRunWasm(weight: FloatArray, weightOffset: number, u: FloatArray, uOffset: number, count: number, stride: number): void {
  const args = { weight: weight.subarray(weightOffset), u: u.subarray(uOffset), count, stride };
  if (!winogradWasmKernels.winogradFilters.run(args)) filterRun(weight, weightOffset, u, uOffset, count, stride);
}

/** `tileRun` in wasm when the arrays are float32 on the heap, else in TypeScript. */
export function tileRunWasm(x: FloatArray, xOffset: number, padded: FloatArray, v: FloatArray, vOffset: number, run: WinogradInput): void {
  if (!winogradWasmKernels.winogradTiles.run({ ...run, src: x.subarray(xOffset), padded, v: v.subarray(vOffset) })) tileRun(x, xOffset, padded, v, vOffset, run);
}

/** `outputRun` in wasm when the arrays are float32 on the heap, else in TypeScript. */
export function outputRunWasm(
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
  if (!winogradWasmKernels.winogradOutputs.run(args)) outputRun(m, mOffset, y, yOffset, bias, biasOffset, run);
}

/**
 * winogradFilters(weight, u, count, stride): U = G g G^T for `count` consecutive 3 x 3
 * filters g (9 floats each) into consecutive floats of u, position xi at u + xi * stride.
 * G's rows combine the three taps as [g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2].
 */
function filters(f: FunctionBuilder, p: WasmParams<typeof filtersParams>): void {
  const { weight, u, count, stride } = p;
  const h = Array.from({ length: 12 }, () => f.local(f32));
  const at = f.local(i32);
  /** Pushes the combination `row` (0-3) of G applied to three values. */
  const combine = (row: number, value: (k: number) => void) => {
    if (row === 0) value(0);
    else if (row === 3) value(2);
    else {
      value(0);
      value(1);
      if (row === 1) f.f32Add();
      else f.f32Sub();
      value(2);
      f.f32Add().f32Const(0.5).f32Mul();
    }
  };
  countDown(f, count, () => {
    // G g: h[i][j] combines column j's three taps.
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 3; j++) {
        combine(i, (k) => f.localGet(weight).f32Load((3 * k + j) * FLOAT));
        f.localSet(h[3 * i + j]!);
      }
    }
    // (G g) G^T: u[i][j] combines row i's three values; xi = 4 i + j.
    f.localGet(u).localSet(at);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        f.localGet(at);
        combine(j, (k) => f.localGet(h[3 * i + k]!));
        f.f32Store();
        addTo(f, at, { local: stride });
      }
    }
    addTo(f, weight, { constant: 9 * FLOAT });
    addTo(f, u, { constant: FLOAT });
  });
}

/**
 * winogradTiles(src, channels, planeStep, height, width, padH, padW, padded, paddedW, tilesH,
 * tilesW, v, rowStep, stride): for each of `channels` planes (planeStep apart), copies the
 * plane into the inside of `padded` (paddedW floats a row, its border kept zero by the
 * caller), then writes V = B^T d B of every 4 x 4 tile d (tile (ty, tx) at padded row 2 ty,
 * column 2 tx) to consecutive floats from v, position xi at + xi * stride. Each plane's tiles
 * start rowStep after the previous plane's.
 */
function tiles(f: FunctionBuilder, p: WasmParams<typeof tilesParams>): void {
  const { src, channels, planeStep, height, width, padH, padW, padded, paddedW, tilesH, tilesW, v, rowStep, stride } = p;
  const [rows, rowSource, rowTarget, from, to, ty, tx, tileTop, out, at, rowBytes] = Array.from({ length: 11 }, () => f.local(i32));
  /** The tile's four rows in the padded plane, rowBytes apart. */
  const tileRows = Array.from({ length: 4 }, () => f.local(i32));
  const e = Array.from({ length: 16 }, () => f.local(f32));

  f.localGet(paddedW).i32Const(FLOAT).i32Mul().localSet(rowBytes);
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

    // The tiles, row by row.
    f.localGet(v).localSet(out);
    f.localGet(padded).localSet(tileTop);
    f.localGet(tilesH).localSet(ty);
    countDown(f, ty, () => {
      f.localGet(tileTop).localSet(tileRows[0]!);
      f.localGet(tilesW).localSet(tx);
      countDown(f, tx, () => {
        for (let i = 1; i < 4; i++) f.localGet(tileRows[i - 1]!).localGet(rowBytes).i32Add().localSet(tileRows[i]!);
        /** d[i][j]: row i of the tile, column j. */
        const d = (i: number, j: number) => f.localGet(tileRows[i]!).f32Load(j * FLOAT);
        // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3.
        const rowsOfB: [number, number, 'add' | 'sub'][] = [[0, 2, 'sub'], [1, 2, 'add'], [2, 1, 'sub'], [1, 3, 'sub']];
        rowsOfB.forEach(([p, q, op], i) => {
          for (let j = 0; j < 4; j++) {
            d(p, j);
            d(q, j);
            if (op === 'add') f.f32Add();
            else f.f32Sub();
            f.localSet(e[4 * i + j]!);
          }
        });
        // (B^T d) B: the same combinations of each row's columns; xi = 4 i + j.
        f.localGet(out).localSet(at);
        for (let i = 0; i < 4; i++) {
          for (const [p, q, op] of rowsOfB) {
            f.localGet(at).localGet(e[4 * i + p]!).localGet(e[4 * i + q]!);
            if (op === 'add') f.f32Add();
            else f.f32Sub();
            f.f32Store();
            addTo(f, at, { local: stride });
          }
        }
        addTo(f, out, { constant: FLOAT });
        addTo(f, tileRows[0]!, { constant: 2 * FLOAT });
      });
      f.localGet(tileTop).localGet(rowBytes).i32Const(2).i32Mul().i32Add().localSet(tileTop);
    });
    addTo(f, src, { local: planeStep });
    addTo(f, v, { local: rowStep });
  });
}

/**
 * winogradOutputs(m, channels, rowStep, stride, y, planeStep, outH, outW, tilesH, tilesW,
 * bias, hasBias): for each of `channels` output planes (planeStep apart in y, rowStep apart
 * in m), Y = A^T M A + bias of every tile, M's 16 values read from m + tile + xi * stride,
 * each tile's 2 x 2 written at row 2 ty, column 2 tx, and only inside the plane. A^T's rows
 * combine four values as m0 + m1 + m2 and m1 - m2 - m3. The bias is read from `bias` (one
 * float per plane) when hasBias is 1, else 0.
 */
function outputs(f: FunctionBuilder, p: WasmParams<typeof outputsParams>): void {
  const { m, channels, rowStep, stride, y, planeStep, outH, outW, tilesH, tilesW, bias, hasBias } = p;
  const [tile, at, rowOut, out, ty, tx, oy, ox, lineBytes] = Array.from({ length: 9 }, () => f.local(i32));
  const value = Array.from({ length: 16 }, () => f.local(f32));
  const r = Array.from({ length: 8 }, () => f.local(f32));
  const b = f.local(f32);

  f.localGet(outW).i32Const(FLOAT).i32Mul().localSet(lineBytes);
  countDown(f, channels, () => {
    f.localGet(bias).f32Load().f32Const(0).localGet(hasBias).select().localSet(b);
    f.localGet(m).localSet(tile);
    f.localGet(y).localSet(rowOut);
    f.i32Const(0).localSet(oy);
    f.localGet(tilesH).localSet(ty);
    countDown(f, ty, () => {
      f.localGet(rowOut).localSet(out);
      f.i32Const(0).localSet(ox);
      f.localGet(tilesW).localSet(tx);
      countDown(f, tx, () => {
        f.localGet(tile).localSet(at);
        for (let xi = 0; xi < 16; xi++) {
          f.localGet(at).f32Load().localSet(value[xi]!);
          if (xi < 15) addTo(f, at, { local: stride });
        }
        // A^T M: r[0][j] = m0j + m1j + m2j, r[1][j] = m1j - m2j - m3j.
        for (let j = 0; j < 4; j++) {
          f.localGet(value[j]!).localGet(value[4 + j]!).f32Add().localGet(value[8 + j]!).f32Add().localSet(r[j]!);
          f.localGet(value[4 + j]!).localGet(value[8 + j]!).f32Sub().localGet(value[12 + j]!).f32Sub().localSet(r[4 + j]!);
        }
        /** Pushes (A^T M A)[i][0] or [i][1], plus the bias. */
        const result = (i: number, column: 0 | 1) => {
          const [r0, r1, r2, r3] = [r[4 * i]!, r[4 * i + 1]!, r[4 * i + 2]!, r[4 * i + 3]!];
          if (column === 0) f.localGet(r0).localGet(r1).f32Add().localGet(r2).f32Add();
          else f.localGet(r1).localGet(r2).f32Sub().localGet(r3).f32Sub();
          f.localGet(b).f32Add();
        };
        const right = () => f.localGet(ox).i32Const(1).i32Add().localGet(outW).i32LtS();
        f.localGet(out);
        result(0, 0);
        f.f32Store();
        right();
        f.if(() => {
          f.localGet(out);
          result(0, 1);
          f.f32Store(FLOAT);
        });
        f.localGet(oy).i32Const(1).i32Add().localGet(outH).i32LtS();
        f.if(() => {
          f.localGet(out).localGet(lineBytes).i32Add();
          result(1, 0);
          f.f32Store();
          right();
          f.if(() => {
            f.localGet(out).localGet(lineBytes).i32Add();
            result(1, 1);
            f.f32Store(FLOAT);
          });
        });
        addTo(f, tile, { constant: FLOAT });
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
