import type { FloatArray } from '../storage.js';
import { FunctionBuilder, ValType, addTo, countDown } from '../wasm/encoder.js';
import { defineWasmKernels, type Callee, type WasmParams } from '../wasm/kernels.js';
import { col2imReference, convOutputSize, im2colReference, type ConvGeometry } from './reference.js';

/*
 * im2col and col2im in WebAssembly, all of it: the loops over the rows (c, ky, kx) and the
 * copies, on float32 arrays on the wasm heap. The TypeScript loops of reference.ts run for
 * arrays anywhere else.
 *
 *   im2colRows, col2imRows   one row of the unfolded matrix, over the outputs whose input
 *                            pixel lies inside the image (worked out by the caller)
 *   im2col, col2im           the loops over the rows, calling the row functions
 */

const { i32 } = ValType;
const FLOAT = 4;
const LANES = 4;

/** The geometry's arguments, shared by im2col and col2im. */
const geometry = {
  channels: 'i32', height: 'i32', width: 'i32', kernelH: 'i32', kernelW: 'i32', strideH: 'i32', strideW: 'i32',
  padH: 'i32', padW: 'i32', dilationH: 'i32', dilationW: 'i32', outH: 'i32', outW: 'i32',
} as const;
const unfoldParams = { x: 'array', col: 'array', ...geometry } as const;
/** Byte addresses and steps; the ranges are of output rows and columns. */
const im2colRowsParams = { src: 'i32', rowStep: 'i32', colStep: 'i32', dst: 'i32', outH: 'i32', outW: 'i32', oyStart: 'i32', oyEnd: 'i32', oxStart: 'i32', oxEnd: 'i32' } as const;
const col2imRowsParams = { col: 'i32', dst: 'i32', rowStep: 'i32', colStep: 'i32', outW: 'i32', oyStart: 'i32', oyEnd: 'i32', oxStart: 'i32', oxEnd: 'i32' } as const;

/** The wasm kernels of the im2col family (exported for tests). */
export const im2colWasmKernels = defineWasmKernels('wasm im2col', {
  im2colRows: { params: im2colRowsParams, emit: im2colRows },
  col2imRows: { params: col2imRowsParams, emit: col2imRows },
  im2col: { params: unfoldParams, emit: (f, p, callees) => unfold(f, p, callees.im2colRows!, 'im2col') },
  col2im: { params: unfoldParams, emit: (f, p, callees) => unfold(f, p, callees.col2imRows!, 'col2im') },
});

/** `im2colReference` in wasm when both arrays are float32 on the heap, else the TypeScript loops. */
export function im2colWasm(x: FloatArray, xOffset: number, g: ConvGeometry, col: FloatArray, colOffset = 0): void {
  const [outH, outW] = convOutputSize(g);
  if (!im2colWasmKernels.im2col.run({ ...g, x: x.subarray(xOffset), col: col.subarray(colOffset), outH, outW })) im2colReference(x, xOffset, g, col, colOffset);
}

/**
 * `col2imReference` in wasm when both arrays are float32 on the heap: the image region is
 * zeroed, then every row (c, ky, kx) of the columns is added back onto the pixels it came from.
 */
export function col2imWasm(col: FloatArray, colOffset: number, g: ConvGeometry, x: FloatArray, xOffset = 0): void {
  const [outH, outW] = convOutputSize(g);
  const image = x.subarray(xOffset, xOffset + g.channels * g.height * g.width);
  image.fill(0);
  if (!im2colWasmKernels.col2im.run({ ...g, x: image, col: col.subarray(colOffset), outH, outW })) col2imReference(col, colOffset, g, x, xOffset);
}

/** The module's bytes (for tests and the text dump). */
export const im2colModule = im2colWasmKernels.bytes;

/**
 * Zeroes `count` floats from `at` (both pushed by the callbacks) with vector and float stores,
 * in `pointer` and `left` (scratch locals). Inline stores, because the runs here are short
 * (a row's padding, a 13-float row) and `memory.fill` is a call into the engine each time.
 */
function zero(f: FunctionBuilder, at: () => void, count: () => void, pointer: number, left: number): void {
  at();
  f.localSet(pointer);
  count();
  f.i32Const(LANES).i32DivU().localSet(left);
  countDown(f, left, () => {
    f.localGet(pointer).v128Zero().v128Store(0, 0);
    addTo(f, pointer, { constant: FLOAT * LANES });
  });
  count();
  f.i32Const(LANES).i32RemU().localSet(left);
  countDown(f, left, () => {
    f.localGet(pointer).f32Const(0).f32Store();
    addTo(f, pointer, { constant: FLOAT });
  });
}

/**
 * im2colRows(src, rowStep, colStep, dst, outH, outW, oyStart, oyEnd, oxStart, oxEnd): for
 * oy < outH, ox < outW, dst[oy * outW + ox] = the float at src + oy * rowStep + ox * colStep
 * when oyStart <= oy < oyEnd and oxStart <= ox < oxEnd, else 0. The caller has worked out
 * those ranges (the outputs whose input pixel is inside the image), so no bounds test is
 * made per value; `src` itself may point outside the image (only the ranges are read).
 * A stride of one float copies four values per instruction.
 */
function im2colRows(f: FunctionBuilder, p: WasmParams<typeof im2colRowsParams>): void {
  const { src, rowStep, colStep, dst, outH, outW, oyStart, oyEnd, oxStart, oxEnd } = p;
  const oy = f.local(i32);
  const rows = f.local(i32);
  const from = f.local(i32);
  const to = f.local(i32);
  const count = f.local(i32);
  const rowSource = f.local(i32);
  const [pointer, left] = [f.local(i32), f.local(i32)];

  f.localGet(src).localSet(rowSource);
  f.localGet(outH).localSet(rows);
  countDown(f, rows, () => {
    const inside = () => f.localGet(oy).localGet(oyStart).i32GeS().localGet(oy).localGet(oyEnd).i32LtS().i32And();
    inside();
    f.if(
      () => {
        zero(f, () => f.localGet(dst), () => f.localGet(oxStart), pointer, left);
        f.localGet(rowSource).localGet(oxStart).localGet(colStep).i32Mul().i32Add().localSet(from);
        f.localGet(dst).localGet(oxStart).i32Const(FLOAT).i32Mul().i32Add().localSet(to);
        f.localGet(colStep).i32Const(FLOAT).i32Eq();
        f.if(
          () => {
            f.localGet(oxEnd).localGet(oxStart).i32Sub().i32Const(LANES).i32DivU().localSet(count);
            countDown(f, count, () => {
              f.localGet(to).localGet(from).v128Load(0, 0).v128Store(0, 0);
              addTo(f, from, { constant: FLOAT * LANES });
              addTo(f, to, { constant: FLOAT * LANES });
            });
            f.localGet(oxEnd).localGet(oxStart).i32Sub().i32Const(LANES).i32RemU().localSet(count);
          },
          () => f.localGet(oxEnd).localGet(oxStart).i32Sub().localSet(count),
        );
        countDown(f, count, () => {
          f.localGet(to).localGet(from).f32Load().f32Store();
          addTo(f, from, { local: colStep });
          addTo(f, to, { constant: FLOAT });
        });
        zero(f, () => f.localGet(dst).localGet(oxEnd).i32Const(FLOAT).i32Mul().i32Add(), () => f.localGet(outW).localGet(oxEnd).i32Sub(), pointer, left);
      },
      () => zero(f, () => f.localGet(dst), () => f.localGet(outW), pointer, left),
    );
    addTo(f, oy, { constant: 1 });
    addTo(f, rowSource, { local: rowStep });
    f.localGet(dst).localGet(outW).i32Const(FLOAT).i32Mul().i32Add().localSet(dst);
  });
}

/**
 * im2col(x, col, channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW,
 * dilationH, dilationW, outH, outW) and col2im (the same arguments): the loops over the rows
 * (c, ky, kx) of the unfolded matrix, each row handed to im2colRows (or col2imRows) with
 * the ranges of outputs whose input pixel lies inside the image (see `validRange` in
 * im2col.ts): for the input offset shift = k * dilation - pad along an axis,
 *
 *   start = shift >= 0 ? 0 : ceil(-shift / stride)
 *   end   = size - shift > 0 ? ceil((size - shift) / stride) : 0, then clamped to [start, out]
 *
 * col2im does not zero the image first: its caller does.
 */
function unfold(f: FunctionBuilder, p: WasmParams<typeof unfoldParams>, rowsFunction: Callee, direction: 'im2col' | 'col2im'): void {
  const { x, col, channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, outH, outW } = p;
  const [ky, kx, kyLeft, kxLeft, plane, planeBytes, rowBytes, dy, dx] = Array.from({ length: 9 }, () => f.local(i32));
  const [oyStart, oyEnd, oxStart, oxEnd] = Array.from({ length: 4 }, () => f.local(i32));

  /** start, end = the outputs o < out whose input o * stride + shift is inside [0, size). */
  const validRange = (shift: number, stride: number, size: number, out: number, start: number, end: number) => {
    f.i32Const(0);
    f.localGet(stride).i32Const(1).i32Sub().localGet(shift).i32Sub().localGet(stride).i32DivU();
    f.localGet(shift).i32Const(0).i32GeS().select().localSet(start);
    f.localGet(start).localGet(out).localGet(start).localGet(out).i32LtS().select().localSet(start);
    f.localGet(size).localGet(shift).i32Sub().localGet(stride).i32Add().i32Const(1).i32Sub().localGet(stride).i32DivU();
    f.i32Const(0);
    f.localGet(size).localGet(shift).i32Sub().i32Const(0).i32GtS().select().localSet(end);
    f.localGet(end).localGet(out).localGet(end).localGet(out).i32LtS().select().localSet(end);
    f.localGet(end).localGet(start).localGet(end).localGet(start).i32GtS().select().localSet(end);
  };

  f.localGet(height).localGet(width).i32Mul().i32Const(FLOAT).i32Mul().localSet(planeBytes);
  f.localGet(outH).localGet(outW).i32Mul().i32Const(FLOAT).i32Mul().localSet(rowBytes);
  f.localGet(x).localSet(plane);
  countDown(f, channels, () => {
    f.i32Const(0).localSet(ky);
    f.localGet(kernelH).localSet(kyLeft);
    countDown(f, kyLeft, () => {
      f.localGet(ky).localGet(dilationH).i32Mul().localGet(padH).i32Sub().localSet(dy);
      validRange(dy, strideH, height, outH, oyStart, oyEnd);
      f.i32Const(0).localSet(kx);
      f.localGet(kernelW).localSet(kxLeft);
      countDown(f, kxLeft, () => {
        f.localGet(kx).localGet(dilationW).i32Mul().localGet(padW).i32Sub().localSet(dx);
        validRange(dx, strideW, width, outW, oxStart, oxEnd);
        // The input pixel of output (0, 0), perhaps outside the image: only the ranges are read.
        const origin = () => f.localGet(plane).localGet(dy).localGet(width).i32Mul().localGet(dx).i32Add().i32Const(FLOAT).i32Mul().i32Add();
        const rowStep = () => f.localGet(strideH).localGet(width).i32Mul().i32Const(FLOAT).i32Mul();
        const colStep = () => f.localGet(strideW).i32Const(FLOAT).i32Mul();
        if (direction === 'im2col') {
          origin();
          rowStep();
          colStep();
          f.localGet(col).localGet(outH).localGet(outW).localGet(oyStart).localGet(oyEnd).localGet(oxStart).localGet(oxEnd);
        } else {
          f.localGet(col);
          origin();
          rowStep();
          colStep();
          f.localGet(outW).localGet(oyStart).localGet(oyEnd).localGet(oxStart).localGet(oxEnd);
        }
        f.call(rowsFunction);
        addTo(f, col, { local: rowBytes });
        addTo(f, kx, { constant: 1 });
      });
      addTo(f, ky, { constant: 1 });
    });
    addTo(f, plane, { local: planeBytes });
  });
}

/**
 * col2imRows(col, dst, rowStep, colStep, outW, oyStart, oyEnd, oxStart, oxEnd): the adjoint of
 * im2colRows over the valid ranges only: for oyStart <= oy < oyEnd and oxStart <= ox < oxEnd,
 * the float at dst + oy * rowStep + ox * colStep += col[oy * outW + ox]. Four lanes at a
 * time when the stride is one float (the targets are then distinct and adjacent).
 */
function col2imRows(f: FunctionBuilder, p: WasmParams<typeof col2imRowsParams>): void {
  const { col, dst, rowStep, colStep, outW, oyStart, oyEnd, oxStart, oxEnd } = p;
  const rows = f.local(i32);
  const rowSource = f.local(i32);
  const rowTarget = f.local(i32);
  const from = f.local(i32);
  const to = f.local(i32);
  const count = f.local(i32);

  /** target[0] (+)= source[0], a vector or a float at a time. */
  const add = (vector: boolean) => {
    f.localGet(to);
    if (vector) f.localGet(to).v128Load(0, 0).localGet(from).v128Load(0, 0).f32x4Add().v128Store(0, 0);
    else f.localGet(to).f32Load().localGet(from).f32Load().f32Add().f32Store();
  };
  // The first valid row of columns and of the image.
  f.localGet(col).localGet(oyStart).localGet(outW).i32Mul().localGet(oxStart).i32Add().i32Const(FLOAT).i32Mul().i32Add().localSet(rowSource);
  f.localGet(dst).localGet(oyStart).localGet(rowStep).i32Mul().i32Add().localGet(oxStart).localGet(colStep).i32Mul().i32Add().localSet(rowTarget);
  f.localGet(oyEnd).localGet(oyStart).i32Sub().localSet(rows);
  countDown(f, rows, () => {
    f.localGet(rowSource).localSet(from);
    f.localGet(rowTarget).localSet(to);
    f.localGet(colStep).i32Const(FLOAT).i32Eq();
    f.if(
      () => {
        f.localGet(oxEnd).localGet(oxStart).i32Sub().i32Const(LANES).i32DivU().localSet(count);
        countDown(f, count, () => {
          add(true);
          addTo(f, from, { constant: FLOAT * LANES });
          addTo(f, to, { constant: FLOAT * LANES });
        });
        f.localGet(oxEnd).localGet(oxStart).i32Sub().i32Const(LANES).i32RemU().localSet(count);
      },
      () => f.localGet(oxEnd).localGet(oxStart).i32Sub().localSet(count),
    );
    countDown(f, count, () => {
      add(false);
      addTo(f, from, { constant: FLOAT });
      addTo(f, to, { local: colStep });
    });
    f.localGet(rowSource).localGet(outW).i32Const(FLOAT).i32Mul().i32Add().localSet(rowSource);
    addTo(f, rowTarget, { local: rowStep });
  });
}

