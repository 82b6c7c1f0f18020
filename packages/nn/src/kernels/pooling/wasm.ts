import { ValType, addTo, countDown, definePoolJob, defineWasmKernels, partRange, type FloatArray, type FunctionBuilder, type Label, type WasmParams } from '@cnn/tensor';
import { forwardPlanes, geometryScalars, runOverPlanes, type PlanesJob } from './fast.js';
import type { PoolGeometry, PoolMethod } from './reference.js';

/*
 * MAX pooling forward in WebAssembly: the maximum of each window and its position, without
 * branches, four outputs at a time where the windows allow it. AVE pooling and the backward
 * (a scatter through the mask) run the TypeScript kernels of fast.ts.
 */

const { i32, f32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;

/** Planes of height x width pooled into pooledH x pooledW; the outputs vectorFrom .. of each row go four at a time. */
const maxPoolParams = {
  x: 'array', y: 'array', mask: 'array', planes: 'i32', height: 'i32', width: 'i32', pooledH: 'i32', pooledW: 'i32',
  kernelH: 'i32', kernelW: 'i32', strideH: 'i32', strideW: 'i32', padH: 'i32', padW: 'i32', vectorFrom: 'i32', vectorGroups: 'i32',
} as const;

/** The wasm kernels of the pooling family (exported for tests). */
export const poolingWasmKernels = defineWasmKernels('wasm pooling', { maxPool: { params: maxPoolParams, emit: maxPool } });

/**
 * MAX pooling of planes [first, last) in wasm, when the arrays are float32 on the heap; false
 * if not. Windows are clipped to the plane, as in Caffe.
 */
function maxPoolPlanes(x: FloatArray, y: FloatArray, maskBits: FloatArray, g: PoolGeometry, first: number, last: number): boolean {
  const { height, width, pooledH, pooledW, kernelH, kernelW, strideH, strideW, padH, padW } = g;
  // With stride 2 across, the outputs whose windows lie whole inside the row go four at a time.
  const vectorFrom = Math.ceil(padW / 2);
  const end = Math.min(pooledW, Math.floor((width - kernelW + padW) / 2) + 1);
  const vectorGroups = strideW === 2 && end > vectorFrom ? Math.floor((end - vectorFrom) / LANES) : 0;
  const outputs = pooledH * pooledW;
  // The arguments as one literal, not a spread of `g`: a spread copy costs microseconds, as much as a small pooling.
  return poolingWasmKernels.maxPool.run({
    x: x.subarray(first * height * width), y: y.subarray(first * outputs), mask: maskBits.subarray(first * outputs), planes: last - first,
    height, width, pooledH, pooledW, kernelH, kernelW, strideH, strideW, padH, padW, vectorFrom, vectorGroups,
  });
}

/** `poolingForwardJob` with MAX pooling in wasm where it can. */
export const poolingForwardWasmJob: PlanesJob = definePoolJob({
  module: import.meta.url,
  name: 'poolingForwardWasmJob',
  arrays: ['from', 'to'],
  optional: ['mask'],
  scalars: geometryScalars,
  part: ({ from, to, mask }, g, part, parts) => {
    const [first, last] = partRange(g.num * g.channels, part, parts);
    if (!(mask && maxPoolPlanes(from, to, mask, g, first, last))) forwardPlanes(from, to, mask, g, first, last);
  },
});

/** `poolingForwardFast` with MAX pooling in 128-bit SIMD when the arrays are on the wasm heap. */
export function poolingForwardWasm(method: PoolMethod, x: FloatArray, y: FloatArray, mask: Int32Array | undefined, g: PoolGeometry): void {
  runOverPlanes(poolingForwardWasmJob, method, x, y, mask, g);
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
function maxPool(f: FunctionBuilder, p: WasmParams<typeof maxPoolParams>): void {
  const { x, y, mask, planes, height, width, pooledH, pooledW, kernelH, kernelW, strideH, strideW, padH, padW, vectorFrom, vectorGroups } = p;
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
}
