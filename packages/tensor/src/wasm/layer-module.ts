import { FunctionBuilder, ValType, addTo, countDown, encodeModule, lanesThenRest, type Label } from './encoder.js';
import { HEAP_IMPORT } from './kernel-module.js';
import { winogradFilters, winogradOutputs, winogradTiles } from './winograd-module.js';

/*
 * The WebAssembly half of the wasm backend's layer kernels (the TypeScript half is
 * layers.ts): the loops that come after the GEMMs in a CaffeNet profile. All of them work
 * on float32 arrays on the wasm heap; pointers and strides are in bytes.
 *
 *   im2col         an image unfolded into columns, row (c, ky, kx) by row (im2colRows)
 *   col2im         its adjoint: the columns added back onto the image (col2imRows)
 *   reluForward    y = max(x, 0) + slope * min(x, 0), four lanes at a time
 *   reluBackward   dx = dy where y > 0, else slope * dy (a lane mask and bitselect)
 *   maxPool        the maximum of each pooling window and its position, without branches
 *   lrnAcross      Caffe's cross-channel LRN with beta = 0.75, four pixels at a time
 *   lrnAcrossBackward  its gradient
 *   sgdUpdate      the SGD step with momentum and L2 weight decay, four weights at a time
 *   winogradFilters, winogradTiles, winogradOutputs   the transforms of F(2x2, 3x3) (winograd-module.ts)
 */

const { i32, f32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;

/** Emits the module; it imports the wasm heap as `env.memory` (see heap.ts). */
export function layerKernelModule(): Uint8Array {
  // im2col and col2im call the row functions by their places in this list.
  const [im2colRowsIndex, col2imRowsIndex] = [0, 1];
  return encodeModule({
    functions: [
      { name: 'im2colRows', body: im2colRows() },
      { name: 'col2imRows', body: col2imRows() },
      { name: 'im2col', body: unfold(im2colRowsIndex, 'im2col') },
      { name: 'col2im', body: unfold(col2imRowsIndex, 'col2im') },
      { name: 'reluForward', body: reluForward() },
      { name: 'reluBackward', body: reluBackward() },
      { name: 'maxPool', body: maxPool() },
      { name: 'lrnAcross', body: lrnAcross() },
      { name: 'lrnAcrossBackward', body: lrnAcrossBackward() },
      { name: 'sgdUpdate', body: sgdUpdate() },
      { name: 'winogradFilters', body: winogradFilters() },
      { name: 'winogradTiles', body: winogradTiles() },
      { name: 'winogradOutputs', body: winogradOutputs() },
    ],
    importedMemory: HEAP_IMPORT,
  });
}

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
function im2colRows(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [src, rowStep, colStep, dst, outH, outW, oyStart, oyEnd, oxStart, oxEnd] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
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
  return f;
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
function unfold(rowsFunction: number, direction: 'im2col' | 'col2im'): FunctionBuilder {
  const f = new FunctionBuilder(new Array<ValType>(15).fill(i32));
  const [x, col, channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, outH, outW] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  ];
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
  return f;
}

/**
 * col2imRows(col, dst, rowStep, colStep, outW, oyStart, oyEnd, oxStart, oxEnd): the adjoint of
 * im2colRows over the valid ranges only: for oyStart <= oy < oyEnd and oxStart <= ox < oxEnd,
 * the float at dst + oy * rowStep + ox * colStep += col[oy * outW + ox]. Four lanes at a
 * time when the stride is one float (the targets are then distinct and adjacent).
 */
function col2imRows(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [col, dst, rowStep, colStep, outW, oyStart, oyEnd, oxStart, oxEnd] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
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
  return f;
}

/**
 * sgdUpdate(w, g, v, count, inverseIterSize, decay, momentum, rate): for count floats,
 * g = g * inverseIterSize + decay * w (stored back), v = momentum * v + rate * g, w -= v.
 */
function sgdUpdate(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, f32, f32, f32, f32]);
  const [w, g, v, count, inverseIterSize, decay, momentum, rate] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [scales, decays, momenta, rates] = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const [weight, grad, step] = [f.local(v128), f.local(v128), f.local(v128)];
  const [weight1, grad1, step1] = [f.local(f32), f.local(f32), f.local(f32)];
  f.localGet(inverseIterSize).f32x4Splat().localSet(scales);
  f.localGet(decay).f32x4Splat().localSet(decays);
  f.localGet(momentum).f32x4Splat().localSet(momenta);
  f.localGet(rate).f32x4Splat().localSet(rates);
  lanesThenRest(
    f,
    count,
    [w, g, v],
    () => {
      f.localGet(w).v128Load(0, 0).localSet(weight);
      f.localGet(g).v128Load(0, 0).localGet(scales).f32x4Mul().localGet(weight).localGet(decays).f32x4Mul().f32x4Add().localSet(grad);
      f.localGet(g).localGet(grad).v128Store(0, 0);
      f.localGet(v).v128Load(0, 0).localGet(momenta).f32x4Mul().localGet(grad).localGet(rates).f32x4Mul().f32x4Add().localSet(step);
      f.localGet(v).localGet(step).v128Store(0, 0);
      f.localGet(w).localGet(weight).localGet(step).f32x4Sub().v128Store(0, 0);
    },
    () => {
      f.localGet(w).f32Load().localSet(weight1);
      f.localGet(g).f32Load().localGet(inverseIterSize).f32Mul().localGet(weight1).localGet(decay).f32Mul().f32Add().localSet(grad1);
      f.localGet(g).localGet(grad1).f32Store();
      f.localGet(v).f32Load().localGet(momentum).f32Mul().localGet(grad1).localGet(rate).f32Mul().f32Add().localSet(step1);
      f.localGet(v).localGet(step1).f32Store();
      f.localGet(w).localGet(weight1).localGet(step1).f32Sub().f32Store();
    },
  );
  return f;
}

/** reluForward(x, y, count, slope): y = max(x, 0) + slope * min(x, 0) over count floats (y may be x). */
function reluForward(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, f32]);
  const [x, y, count, slope] = [0, 1, 2, 3];
  const slopes = f.local(v128);
  const value = f.local(v128);
  const one = f.local(f32);
  f.localGet(slope).f32x4Splat().localSet(slopes);
  lanesThenRest(
    f,
    count,
    [x, y],
    () => {
      f.localGet(x).v128Load(0, 0).localSet(value);
      f.localGet(y);
      f.localGet(value).v128Zero().f32x4Max();
      f.localGet(value).v128Zero().f32x4Min().localGet(slopes).f32x4Mul();
      f.f32x4Add().v128Store(0, 0);
    },
    () => {
      f.localGet(x).f32Load().localSet(one);
      f.localGet(y);
      f.localGet(one).f32Const(0).f32Max();
      f.localGet(one).f32Const(0).f32Min().localGet(slope).f32Mul();
      f.f32Add().f32Store();
    },
  );
  return f;
}

/** reluBackward(y, dy, dx, count, slope): dx = y > 0 ? dy : slope * dy over count floats. */
function reluBackward(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, f32]);
  const [y, dy, dx, count, slope] = [0, 1, 2, 3, 4];
  const slopes = f.local(v128);
  const grad = f.local(v128);
  const one = f.local(f32);
  f.localGet(slope).f32x4Splat().localSet(slopes);
  lanesThenRest(
    f,
    count,
    [y, dy, dx],
    () => {
      f.localGet(dy).v128Load(0, 0).localSet(grad);
      f.localGet(dx);
      f.localGet(grad);
      f.localGet(grad).localGet(slopes).f32x4Mul();
      f.localGet(y).v128Load(0, 0).v128Zero().f32x4Gt();
      f.v128Bitselect().v128Store(0, 0);
    },
    () => {
      f.localGet(dy).f32Load().localSet(one);
      f.localGet(dx);
      f.localGet(one);
      f.localGet(one).localGet(slope).f32Mul();
      f.localGet(y).f32Load().f32Const(0).f32Gt();
      f.select().f32Store();
    },
  );
  return f;
}

/**
 * maxPool(x, y, mask, planes, height, width, pooledH, pooledW, kernelH, kernelW, strideH,
 * strideW, padH, padW, vectorFrom, vectorGroups): for every plane and output (ph, pw), the
 * window rows max(ph * strideH - padH, 0) .. min(ph * strideH - padH + kernelH, height) - 1
 * (columns likewise); y = the largest value there, mask = its offset in the plane (int32), the
 * first one on ties, as Caffe keeps it. The running maximum and its offset are picked with
 * `select`, so random data costs no mispredicted branches.
 *
 * With stride 2 across, outputs vectorFrom .. vectorFrom + 4 * vectorGroups - 1 of each row
 * (whose windows the caller found whole, inside the row) go four at a time: for each window
 * position, the four inputs two apart are gathered from two overlapping vector loads by one
 * shuffle, and the maxima and their offsets are kept in lanes (compare, bitselect).
 */
function maxPool(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [x, y, mask, planes, height, width, pooledH, pooledW, kernelH, kernelW, strideH, strideW, padH, padW, vectorFrom, vectorGroups] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  ];
  const plane = f.local(i32);
  const ph = f.local(i32);
  const pw = f.local(i32);
  const h0 = f.local(i32);
  const h1 = f.local(i32);
  const w0 = f.local(i32);
  const w1 = f.local(i32);
  const h = f.local(i32);
  const w = f.local(i32);
  const at = f.local(i32);
  const bestAt = f.local(i32);
  const best = f.local(f32);
  const value = f.local(f32);
  const rows = f.local(i32);
  const groups = f.local(i32);
  const planeBytes = f.local(i32);
  const limit = f.local(i32);
  const [values, offsets, bestValues, bestOffsets, greater] = [f.local(v128), f.local(v128), f.local(v128), f.local(v128), f.local(v128)];

  /** local = max(start, 0) and end = min(start + kernel, size), for start = p * stride - pad. */
  const window = (p: number, stride: number, pad: number, kernel: number, size: number, first: number, end: number) => {
    f.localGet(p).localGet(stride).i32Mul().localGet(pad).i32Sub().localSet(first);
    f.localGet(first).localGet(kernel).i32Add().localSet(end);
    // end = end < size ? end : size;  first = first < 0 ? 0 : first
    f.localGet(end).localGet(size).localGet(end).localGet(size).i32LtS().select().localSet(end);
    f.i32Const(0).localGet(first).localGet(first).i32Const(0).i32LtS().select().localSet(first);
  };

  /** `body()` for h from h0 to h1 - 1 and w from w0 to w1 - 1, with `at` = h * width + w. */
  const eachInWindow = (body: () => void) => {
    f.localGet(h0).localSet(h);
    f.block((rowsDone: Label) => {
      f.loop((nextRow: Label) => {
        f.localGet(h).localGet(h1).i32GeS().brIf(rowsDone);
        f.localGet(h).localGet(width).i32Mul().localGet(w0).i32Add().localSet(at);
        f.localGet(w0).localSet(w);
        f.block((colsDone: Label) => {
          f.loop((nextCol: Label) => {
            f.localGet(w).localGet(w1).i32GeS().brIf(colsDone);
            body();
            addTo(f, at, { constant: 1 });
            addTo(f, w, { constant: 1 });
            f.br(nextCol);
          });
        });
        addTo(f, h, { constant: 1 });
        f.br(nextRow);
      });
    });
  };

  /** Outputs pw .. limit - 1 of the row, one at a time. */
  const scalarOutputs = () => {
    f.block((done: Label) => {
      f.loop((next: Label) => {
        f.localGet(pw).localGet(limit).i32GeS().brIf(done);
        window(pw, strideW, padW, kernelW, width, w0, w1);
        f.localGet(h0).localGet(width).i32Mul().localGet(w0).i32Add().localSet(bestAt);
        f.localGet(x).localGet(bestAt).i32Const(FLOAT).i32Mul().i32Add().f32Load().localSet(best);
        eachInWindow(() => {
          f.localGet(x).localGet(at).i32Const(FLOAT).i32Mul().i32Add().f32Load().localSet(value);
          // best, bestAt = value > best ? (value, at) : (best, bestAt)
          f.localGet(at).localGet(bestAt).localGet(value).localGet(best).f32Gt().select().localSet(bestAt);
          f.localGet(value).localGet(best).localGet(value).localGet(best).f32Gt().select().localSet(best);
        });
        f.localGet(y).localGet(best).f32Store();
        f.localGet(mask).localGet(bestAt).i32Store();
        addTo(f, y, { constant: FLOAT });
        addTo(f, mask, { constant: FLOAT });
        addTo(f, pw, { constant: 1 });
        f.br(next);
      });
    });
  };

  /** values, offsets = the inputs at offsets at, at + 2, at + 4, at + 6 of the plane (loads end at at + 6). */
  const gather = () => {
    f.localGet(x).localGet(at).i32Const(FLOAT).i32Mul().i32Add().v128Load(0, 0);
    f.localGet(x).localGet(at).i32Const(FLOAT).i32Mul().i32Add().v128Load(3 * FLOAT, 0);
    f.shuffle32([0, 2, 5, 7]).localSet(values);
    f.localGet(at).i32x4Splat().i32x4Const([0, 2, 4, 6]).i32x4Add().localSet(offsets);
  };

  /** Outputs pw .. pw + 3 (stride 2, whole windows), then pw += 4. */
  const vectorOutputs = () => {
    // Columns of output pw's window; the other three are 2, 4, 6 to the right.
    f.localGet(pw).i32Const(2).i32Mul().localGet(padW).i32Sub().localTee(w0).localGet(kernelW).i32Add().localSet(w1);
    f.localGet(h0).localGet(width).i32Mul().localGet(w0).i32Add().localSet(at);
    gather();
    f.localGet(values).localSet(bestValues);
    f.localGet(offsets).localSet(bestOffsets);
    eachInWindow(() => {
      gather();
      f.localGet(values).localGet(bestValues).f32x4Gt().localSet(greater);
      f.localGet(values).localGet(bestValues).localGet(greater).v128Bitselect().localSet(bestValues);
      f.localGet(offsets).localGet(bestOffsets).localGet(greater).v128Bitselect().localSet(bestOffsets);
    });
    f.localGet(y).localGet(bestValues).v128Store(0, 0);
    f.localGet(mask).localGet(bestOffsets).v128Store(0, 0);
    addTo(f, y, { constant: FLOAT * LANES });
    addTo(f, mask, { constant: FLOAT * LANES });
    addTo(f, pw, { constant: LANES });
  };

  f.localGet(height).localGet(width).i32Mul().i32Const(FLOAT).i32Mul().localSet(planeBytes);
  f.localGet(planes).localSet(plane);
  countDown(f, plane, () => {
    f.i32Const(0).localSet(ph);
    f.localGet(pooledH).localSet(rows);
    countDown(f, rows, () => {
      window(ph, strideH, padH, kernelH, height, h0, h1);
      f.i32Const(0).localSet(pw);
      f.localGet(vectorFrom).localSet(limit);
      scalarOutputs();
      f.localGet(vectorGroups).localSet(groups);
      countDown(f, groups, vectorOutputs);
      f.localGet(pooledW).localSet(limit);
      scalarOutputs();
      addTo(f, ph, { constant: 1 });
    });
    addTo(f, x, { local: planeBytes });
  });
  return f;
}

/** The locals of a sliding channel window (see `slideOverChannels`). */
interface ChannelWindow {
  channels: number;
  planeBytes: number;
  groups: number;
  half: number;
  /** Pointers to channel 0 of the current group of four pixels, one per array; moved on by a group each time. */
  pointers: number[];
  /** Pushes the v128 term of the channel at byte offset `at` (a local) from the pointers. */
  term: (at: () => void) => void;
  /** Runs for channel c, with local `offset` = c * planeBytes and local `sum` = its window's sum. */
  visit: (offset: number, sum: number) => void;
}

/**
 * The loop both LRN kernels share: for `groups` runs of four adjacent pixels, down the
 * channels with a running sum of `term` over the window c - half .. c + half (inside
 * 0 .. channels - 1): the term of channel c + half comes in before channel c is visited,
 * the term of channel c - half goes out after. The sum is float32, as in Caffe's CPU code.
 */
function slideOverChannels(f: FunctionBuilder, w: ChannelWindow): void {
  const c = f.local(i32);
  const left = f.local(i32);
  const offset = f.local(i32);
  const headBytes = f.local(i32);
  const sum = f.local(v128);
  const addTerm = (at: () => void, add: boolean) => {
    f.localGet(sum);
    w.term(at);
    if (add) f.f32x4Add();
    else f.f32x4Sub();
    f.localSet(sum);
  };
  f.localGet(w.half).localGet(w.planeBytes).i32Mul().localSet(headBytes);
  countDown(f, w.groups, () => {
    f.v128Zero().localSet(sum);
    // The window of channel 0: channels 0 .. half - 1 (the head adds channel half below).
    f.i32Const(0).localSet(c);
    f.i32Const(0).localSet(offset);
    f.block((done: Label) => {
      f.loop((next: Label) => {
        f.localGet(c).localGet(w.half).i32GeS().brIf(done);
        f.localGet(c).localGet(w.channels).i32GeS().brIf(done);
        addTerm(() => f.localGet(offset), true);
        addTo(f, c, { constant: 1 });
        addTo(f, offset, { local: w.planeBytes });
        f.br(next);
      });
    });
    f.i32Const(0).localSet(c);
    f.i32Const(0).localSet(offset);
    f.localGet(w.channels).localSet(left);
    countDown(f, left, () => {
      f.localGet(c).localGet(w.half).i32Add().localGet(w.channels).i32LtS();
      f.if(() => addTerm(() => f.localGet(offset).localGet(headBytes).i32Add(), true));
      w.visit(offset, sum);
      f.localGet(c).localGet(w.half).i32GeS();
      f.if(() => addTerm(() => f.localGet(offset).localGet(headBytes).i32Sub(), false));
      addTo(f, c, { constant: 1 });
      addTo(f, offset, { local: w.planeBytes });
    });
    for (const pointer of w.pointers) addTo(f, pointer, { constant: FLOAT * LANES });
  });
}

/** Pushes the four floats at `pointer` + the byte offset `at` pushes. */
function loadAt(f: FunctionBuilder, pointer: number, at: () => void): void {
  f.localGet(pointer);
  at();
  f.i32Add().v128Load(0, 0);
}

/** Pushes s^-0.75 of the vector in local `s`, as 1 / sqrt(s * sqrt(s)). */
function inversePower(f: FunctionBuilder, s: number): void {
  f.f32Const(1).f32x4Splat();
  f.localGet(s).localGet(s).f32x4Sqrt().f32x4Mul().f32x4Sqrt();
  f.f32x4Div();
}

/**
 * lrnAcross(x, scale, y, channels, planeBytes, groups, half, k, alphaOverN): for `groups` runs
 * of four adjacent pixels from x (channel 0 of an image), with sum = the sum of x^2 over the
 * channel window: scale = k + alphaOverN * sum, y = x * scale^-0.75.
 */
function lrnAcross(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, f32, f32]);
  const [x, scale, y, channels, planeBytes, groups, half, k, alphaOverN] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [value, ks, alphas, s] = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  f.localGet(k).f32x4Splat().localSet(ks);
  f.localGet(alphaOverN).f32x4Splat().localSet(alphas);
  slideOverChannels(f, {
    channels,
    planeBytes,
    groups,
    half,
    pointers: [x, scale, y],
    term: (at) => {
      loadAt(f, x, at);
      f.localTee(value).localGet(value).f32x4Mul();
    },
    visit: (offset, sum) => {
      f.localGet(alphas).localGet(sum).f32x4Mul().localGet(ks).f32x4Add().localSet(s);
      f.localGet(scale).localGet(offset).i32Add().localGet(s).v128Store(0, 0);
      f.localGet(y).localGet(offset).i32Add();
      loadAt(f, x, () => f.localGet(offset));
      inversePower(f, s);
      f.f32x4Mul().v128Store(0, 0);
    },
  });
  return f;
}

/**
 * lrnAcrossBackward(x, y, scale, dy, dx, channels, planeBytes, groups, half, factor): the
 * gradient of lrnAcross (beta = 0.75), with sum = the sum of dy * y / scale over the channel
 * window: dx = dy * scale^-0.75 - factor * x * sum, factor = 2 * alpha * beta / n.
 */
function lrnAcrossBackward(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, i32, i32, i32, i32, i32, i32, f32]);
  const [x, y, scale, dy, dx, channels, planeBytes, groups, half, factor] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [factors, s] = [f.local(v128), f.local(v128)];
  f.localGet(factor).f32x4Splat().localSet(factors);
  slideOverChannels(f, {
    channels,
    planeBytes,
    groups,
    half,
    pointers: [x, y, scale, dy, dx],
    term: (at) => {
      loadAt(f, dy, at);
      loadAt(f, y, at);
      f.f32x4Mul();
      loadAt(f, scale, at);
      f.f32x4Div();
    },
    visit: (offset, sum) => {
      loadAt(f, scale, () => f.localGet(offset));
      f.localSet(s);
      f.localGet(dx).localGet(offset).i32Add();
      loadAt(f, dy, () => f.localGet(offset));
      inversePower(f, s);
      f.f32x4Mul();
      f.localGet(factors);
      loadAt(f, x, () => f.localGet(offset));
      f.f32x4Mul().localGet(sum).f32x4Mul();
      f.f32x4Sub().v128Store(0, 0);
    },
  });
  return f;
}
