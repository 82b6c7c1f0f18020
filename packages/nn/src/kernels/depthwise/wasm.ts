import {
  ValType,
  addTo,
  convOutputSize,
  countDown,
  definePoolJob,
  defineWasmKernels,
  isOnWasmHeap,
  lanesThenRest,
  partRange,
  type FloatArray,
  type FunctionBuilder,
  type Label,
  type WasmArgs,
  type WasmParams,
} from '@cnn/tensor';
import type { Clamp, ConvolutionGradients } from '../convolution/reference.js';
import { convolutionScratch, shapeScalars, type ConvolutionShape } from '../convolution/shape.js';
import { backwardChannels, depthwiseParts, forwardChannels } from './fast.js';
import { depthwise3x3BandSize, depthwise3x3Forward, depthwise3x3Origin } from './wasm-3x3.js';
import { depthwise3x3Backward, depthwise3x3BackwardBandSize, turnFilters, turnedFiltersSize } from './wasm-3x3-backward.js';

/*
 * The WebAssembly SIMD depthwise kernels, the same tap-at-a-time row loops as fast.ts, on
 * float32 arrays on the wasm heap; pointers are byte addresses. Each tap multiplies a whole output row with
 * one weight, vectorised across four neighbouring outputs: at stride 1 they read four
 * consecutive inputs (one unaligned load), at stride 2 the even lanes of two loads (a
 * shuffle). Other strides, and the scatter of dx at stride 2, go a float at a time.
 *
 *   forwardPlanes          y = clamp(bias + sum of taps), output planes from their input planes
 *   inputGradientPlanes    dx_row[ox * stride + shift] += w * dy_row[ox], added into zeroed dx planes
 *   weightGradientPlanes   dWeight[tap] += sum over rows and ox of dy_row[ox] * x_row[ox * stride + shift]
 *
 * Every one takes the geometry (`geometryParams`) after its pointers. With the wasm backend
 * and every array float32 on the wasm heap, the planes of input channels [first, end) go
 * through them, one call per plane (the forward: per image); otherwise the TypeScript loops
 * of fast.ts run.
 */

const { i32, f32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;
/** Four floats, four bytes apart: an alignment hint of 2^2 (the loads are not 16-byte aligned). */
const UNALIGNED = 2;

/** The geometry every kernel takes after its pointers: a plane's sizes, its output's, and the filter's. */
const geometryParams = {
  height: 'i32', width: 'i32', outH: 'i32', outW: 'i32', kernelH: 'i32', kernelW: 'i32',
  strideH: 'i32', strideW: 'i32', padH: 'i32', padW: 'i32', dilationH: 'i32', dilationW: 'i32',
} as const;

/** Output planes from input planes xStep apart (0: all from one); hasBias 0 leaves bias unread. */
const forwardParams = {
  x: 'array', xStep: 'floats', weight: 'array', bias: 'array?', hasBias: 'i32', y: 'array', planes: 'i32', low: 'f32', high: 'f32',
  ...geometryParams,
} as const;
/** `planes` output planes, consecutive in dy with their filters, from input planes xStep apart (0: all one plane). */
const inputGradientParams = { dx: 'array', xStep: 'floats', weight: 'array', dy: 'array', planes: 'i32', ...geometryParams } as const;
const weightGradientParams = { x: 'array', xStep: 'floats', dy: 'array', dWeight: 'array', planes: 'i32', ...geometryParams } as const;

/** The locals of the geometry. */
type Geometry = WasmParams<typeof geometryParams>;

/** The outputs of the planes one backward call takes at most (unless one plane has more): 8 KB of dy. */
const CHUNK_OUTPUTS = 2048;

/** The wasm kernels of the depthwise family (exported for tests). */
export const depthwiseWasmKernels = defineWasmKernels('wasm depthwise', {
  forwardPlanes: { params: forwardParams, emit: forwardPlanes },
  inputGradientPlanes: { params: inputGradientParams, emit: inputGradientPlanes },
  weightGradientPlanes: { params: weightGradientParams, emit: weightGradientPlanes },
});

/** A shape's geometry as the kernels take it. */
function geometryOf(s: ConvolutionShape): WasmArgs<typeof geometryParams> {
  const [outH, outW] = convOutputSize(s);
  const { height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW } = s;
  return { height, width, outH, outW, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW };
}

/**
 * The forward of input channels [first, end) of every image in wasm, clamped (see
 * `depthwiseForwardFast`); false, and nothing done, when an array is not float32 on the heap.
 */
export function forwardChannelsWasm(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  clamp: Clamp,
  first: number,
  end: number,
): boolean {
  if (![x, weight, y, bias].every(onHeap)) return false;
  const args: WasmArgs<typeof forwardParams> = Object.assign(
    { x, xStep: 0, weight, bias, hasBias: bias ? 1 : 0, y, planes: 0, low: clamp.min, high: clamp.max },
    geometryOf(s),
  );
  const multiplier = s.numOutput / s.channels;
  const [planeSize, outSize, filterSize] = [s.height * s.width, args.outH * args.outW, s.kernelH * s.kernelW];
  /** Output planes [o, o + planes) of image n, from input planes xStep floats apart starting at channel c's. */
  const run = (n: number, c: number, o: number, planes: number, xStep: number) => {
    args.x = x.subarray((n * s.channels + c) * planeSize);
    args.weight = weight.subarray(o * filterSize);
    args.bias = bias?.subarray(o);
    args.y = y.subarray((n * s.numOutput + o) * outSize);
    args.planes = planes;
    args.xStep = xStep;
    depthwiseWasmKernels.forwardPlanes.run(args);
  };
  for (let n = 0; n < s.num; n++) {
    // One call for all the channels of an image; with a depth multiplier, one per input channel and its outputs.
    if (multiplier === 1) run(n, first, first, end - first, planeSize);
    else for (let c = first; c < end; c++) run(n, c, c * multiplier, multiplier, 0);
  }
  return true;
}

/**
 * The backward of input channels [first, end) of every image in wasm (see
 * `depthwiseBackwardFast`): dx planes zeroed, then the SIMD kernels for dx and dWeight, and
 * dBias summed here; false, and nothing done, when an array is not float32 on the heap.
 */
export function backwardChannelsWasm(
  x: FloatArray,
  weight: FloatArray,
  dy: FloatArray,
  grads: ConvolutionGradients,
  s: ConvolutionShape,
  first: number,
  end: number,
): boolean {
  const { dx, dWeight, dBias } = grads;
  if (![x, weight, dy, dx, dWeight].every(onHeap)) return false;
  const geometry = geometryOf(s);
  const planeSize = s.height * s.width;
  const outSize = geometry.outH * geometry.outW;
  const multiplier = s.numOutput / s.channels;
  const taps = s.kernelH * s.kernelW;
  // Planes a call at a time: enough to make the calls' cost small on small planes, few enough
  // that the planes dBias and dx have just read are still in cache for dWeight. With a depth
  // multiplier, a call takes one input channel's outputs. (No closure here: the dBias loop
  // reads locals, not a closure's context, and runs as fast as a plain loop.)
  const [step, xStep] = multiplier === 1 ? [Math.max(1, Math.floor(CHUNK_OUTPUTS / outSize)), planeSize] : [multiplier, 0];
  const dxArgs: WasmArgs<typeof inputGradientParams> = Object.assign({ dx: x, xStep, weight, dy, planes: 0 }, geometry);
  const dWeightArgs: WasmArgs<typeof weightGradientParams> = Object.assign({ x, xStep, dy, dWeight: weight, planes: 0 }, geometry);
  for (let n = 0; n < s.num; n++) {
    dx?.fill(0, (n * s.channels + first) * planeSize, (n * s.channels + end) * planeSize);
    for (let o = first * multiplier; o < end * multiplier; o += step) {
      const planes = Math.min(step, end * multiplier - o);
      if (dBias) {
        for (let q = o; q < o + planes; q++) {
          const dyPlane = (n * s.numOutput + q) * outSize;
          let sum = 0;
          for (let p = dyPlane; p < dyPlane + outSize; p++) sum += dy[p]!;
          dBias[q] += sum;
        }
      }
      const xPlane = (n * s.channels + o / multiplier) * planeSize;
      const dyPlanes = dy.subarray((n * s.numOutput + o) * outSize);
      if (dx) {
        dxArgs.dx = dx.subarray(xPlane);
        dxArgs.weight = weight.subarray(o * taps);
        dxArgs.dy = dyPlanes;
        dxArgs.planes = planes;
        depthwiseWasmKernels.inputGradientPlanes.run(dxArgs);
      }
      if (dWeight) {
        dWeightArgs.x = x.subarray(xPlane);
        dWeightArgs.dy = dyPlanes;
        dWeightArgs.dWeight = dWeight.subarray(o * taps);
        dWeightArgs.planes = planes;
        depthwiseWasmKernels.weightGradientPlanes.run(dWeightArgs);
      }
    }
  }
  return true;
}

/** An optional array is absent or float32 on this thread's wasm heap. */
function onHeap(array: FloatArray | undefined): boolean {
  return array === undefined || isOnWasmHeap(array);
}

/**
 * `depthwiseForwardJob` with the planes in wasm where the arrays allow it: 3 x 3 filters through
 * wasm-3x3.ts with part `part` of the scratch `band`, others through forwardPlanes.
 */
export const depthwiseForwardWasmJob = definePoolJob({
  module: import.meta.url,
  name: 'depthwiseForwardWasmJob',
  arrays: ['x', 'weight', 'y', 'band'],
  optional: ['bias'],
  scalars: [...shapeScalars, 'clampMin', 'clampMax'],
  part: ({ x, weight, y, bias, band }, s, part, parts) => {
    const [first, end] = partRange(s.channels, part, parts);
    const clamp = { min: s.clampMin, max: s.clampMax };
    const origin = depthwise3x3Origin(s, weight, first, end);
    if (origin >= 0) {
      const size = depthwise3x3BandSize(s);
      const mine = band.subarray(part * size, (part + 1) * size).fill(0);
      if (depthwise3x3Forward(x, weight, bias, y, s, clamp, first, end, mine, origin)) return;
    }
    if (!forwardChannelsWasm(x, weight, bias, y, s, clamp, first, end)) forwardChannels(x, weight, bias, y, s, clamp, first, end);
  },
});

/**
 * `depthwiseBackwardJob` with the planes in wasm where the arrays allow it: MobileNet's filters
 * through wasm-3x3-backward.ts with part `part` of the scratch `band` (dx from the `turned`
 * filters, when given), the rest through the general kernels.
 */
export const depthwiseBackwardWasmJob = definePoolJob({
  module: import.meta.url,
  name: 'depthwiseBackwardWasmJob',
  arrays: ['x', 'weight', 'dy', 'band'],
  optional: ['dx', 'dWeight', 'dBias', 'turned'],
  scalars: shapeScalars,
  part: ({ x, weight, dy, band, turned, ...grads }, s, part, parts) => {
    const [first, end] = partRange(s.channels, part, parts);
    const size = depthwise3x3BackwardBandSize(s);
    const left = depthwise3x3Backward(x, dy, grads, s, first, end, band.subarray(part * size, (part + 1) * size), turned) ?? grads;
    if (!left.dx && !left.dWeight && !left.dBias) return;
    if (!backwardChannelsWasm(x, weight, dy, left, s, first, end)) backwardChannels(x, weight, dy, left, s, first, end);
  },
});

/** `depthwiseForwardFast` with the planes in 128-bit SIMD when the arrays are on the wasm heap. */
export function depthwiseForwardWasm(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  clamp: Clamp = { min: -Infinity, max: Infinity },
): void {
  const parts = depthwiseParts(s, [x, weight, y, ...(bias ? [bias] : [])]);
  // Each thread's band of one scratch buffer, for the 3 x 3 kernel (workers cannot allocate on the heap).
  const band = convolutionScratch('bands', parts * depthwise3x3BandSize(s), x);
  depthwiseForwardWasmJob.run({ x, weight, y, bias, band }, { ...s, clampMin: clamp.min, clampMax: clamp.max }, parts);
}

/** `depthwiseBackwardFast` with the planes in 128-bit SIMD when the arrays are on the wasm heap. */
export function depthwiseBackwardWasm(x: FloatArray, weight: FloatArray, dy: FloatArray, grads: ConvolutionGradients, s: ConvolutionShape): void {
  const { dx, dWeight, dBias } = grads;
  if (!dx && !dWeight && !dBias) return;
  const parts = depthwiseParts(s, [x, weight, dy, ...[dx, dWeight, dBias].filter((a): a is FloatArray => a !== undefined)]);
  // Each thread's band of one scratch buffer, and the turned filters of dx's convolution (workers cannot allocate on the heap).
  const band = convolutionScratch('bands', parts * depthwise3x3BackwardBandSize(s), x);
  const turned = dx && turnedFiltersSize(s) > 0 ? convolutionScratch('turned filters', turnedFiltersSize(s), weight) : undefined;
  if (turned) turnFilters(weight, s, turned);
  depthwiseBackwardWasmJob.run({ x, weight, dy, band, dx, dWeight, dBias, turned }, s, parts);
}

/** Locals for one tap on one row: its input row's first pointer, and the run of outputs it reaches. */
interface Tap {
  /** The tap's column offset, kx * dilationW - padW. */
  shift: number;
  /** The first output the tap reaches (see `tapRange` in fast.ts). */
  first: number;
  /** How many outputs from `first` it reaches. */
  count: number;
}

function tapLocals(f: FunctionBuilder): Tap {
  return { shift: f.local(i32), first: f.local(i32), count: f.local(i32) };
}

/**
 * Sets `t.shift`, `t.first` and `t.count` for column tap `kx` (a local), as `tapRange` does:
 * first = shift < 0 ? ceil(-shift / stride) : 0, end = min(outW, floor((width - 1 - shift) / stride) + 1),
 * count = max(0, end - first).
 */
function tapRange(f: FunctionBuilder, g: Geometry, kx: number, t: Tap, scratch: number): void {
  axisRange(f, kx, g.dilationW, g.padW, g.strideW, g.width, g.outW, t, scratch);
}

/**
 * `tapRange` along either axis: for tap k (a local) of an axis with this dilation, pad, stride,
 * input size and output size (locals), sets t.shift = k * dilation - pad and the run of outputs
 * [t.first, t.first + t.count) whose input o * stride + shift lies in [0, size).
 */
function axisRange(f: FunctionBuilder, k: number, dilation: number, pad: number, stride: number, size: number, outSize: number, t: Tap, scratch: number): void {
  f.localGet(k).localGet(dilation).i32Mul().localGet(pad).i32Sub().localSet(t.shift);
  // (stride - 1 - shift) / stride is ceil(-shift / stride) for a negative shift; for others it is not used.
  f.localGet(stride).i32Const(1).i32Sub().localGet(t.shift).i32Sub().localGet(stride).i32DivU();
  f.i32Const(0);
  f.localGet(t.shift).i32Const(0).i32LtS().select().localSet(t.first);
  // The last input the tap may read, size - 1 - shift; below 0 the tap reaches no output.
  f.localGet(size).i32Const(1).i32Sub().localGet(t.shift).i32Sub().localSet(scratch);
  f.localGet(scratch).localGet(stride).i32DivU().i32Const(1).i32Add().localSet(scratch);
  f.localGet(outSize).localGet(scratch).localGet(scratch).localGet(outSize).i32GtS().select();
  f.i32Const(0);
  f.localGet(size).i32Const(1).i32Sub().localGet(t.shift).i32Sub().i32Const(0).i32GeS().select();
  f.localGet(t.first).i32Sub().localSet(t.count);
  f.localGet(t.count).i32Const(0).localGet(t.count).i32Const(0).i32GtS().select().localSet(t.count);
}

/** Pushes iy = oy * strideH - padH + ky * dilationH. */
function inputRow(f: FunctionBuilder, g: Geometry, oy: number, ky: number): void {
  f.localGet(oy).localGet(g.strideH).i32Mul().localGet(g.padH).i32Sub().localGet(ky).localGet(g.dilationH).i32Mul().i32Add();
}

/** Runs `body` if local `iy` is a row of the plane, 0 <= iy < height. */
function ifRowInside(f: FunctionBuilder, g: Geometry, iy: number, body: () => void): void {
  f.localGet(iy).i32Const(0).i32GeS().localGet(iy).localGet(g.height).i32LtS().i32And();
  f.if(body);
}

/** `for (local = 0; local < limit; local++) body()` over an i32 local and a limit local. */
function forUpTo(f: FunctionBuilder, local: number, limit: number, body: () => void): void {
  f.i32Const(0).localSet(local);
  f.block((done: Label) => {
    f.loop((again: Label) => {
      f.localGet(local).localGet(limit).i32GeS().brIf(done);
      body();
      addTo(f, local, { constant: 1 });
      f.br(again);
    });
  });
}

/** Pushes the four floats at `pointer`: the even lanes of eight when `pairs` (stride 2), else four in a row. */
function loadLanes(f: FunctionBuilder, pointer: number, pairs: boolean): void {
  f.localGet(pointer).v128Load(0, UNALIGNED);
  if (pairs) f.localGet(pointer).v128Load(LANES * FLOAT, UNALIGNED).shuffle32([0, 2, 4, 6]);
}

/**
 * A run of `count` outputs of one tap at stride 1, 2 or any other: `vector(pairs)` on groups of
 * four (pointer `input` moving on by 4 or 8 floats, `output` by 4), then `scalar()` on the rest.
 * At stride 2 the last group is left to the scalar loop, so no load reaches past the last input
 * the run reads (the pair's odd lane past it could lie beyond the array).
 */
function tapRun(
  f: FunctionBuilder,
  g: Geometry,
  t: Tap,
  input: number,
  output: number,
  vector: ((pairs: boolean) => void) | undefined,
  scalar: () => void,
): void {
  const step = f.local(i32);
  const groups = f.local(i32);
  f.localGet(g.strideW).i32Const(FLOAT).i32Mul().localSet(step);
  const scalarRun = () =>
    countDown(f, t.count, () => {
      scalar();
      addTo(f, input, { local: step });
      addTo(f, output, { constant: FLOAT });
    });
  if (!vector) {
    scalarRun();
    return;
  }
  f.localGet(g.strideW).i32Const(1).i32Eq();
  f.if(
    () => lanesThenRest(f, t.count, [input, output], () => vector(false), scalar),
    () => {
      f.localGet(g.strideW).i32Const(2).i32Eq();
      f.if(
        () => {
          f.localGet(t.count).i32Const(1).i32Sub().i32Const(LANES).i32DivU().localSet(groups);
          f.localGet(t.count).localGet(groups).i32Const(LANES).i32Mul().i32Sub().localSet(t.count);
          countDown(f, groups, () => {
            vector(true);
            addTo(f, input, { constant: 2 * LANES * FLOAT });
            addTo(f, output, { constant: LANES * FLOAT });
          });
          scalarRun();
        },
        scalarRun,
      );
    },
  );
}

/**
 * forwardPlanes(x, xStep, weight, bias, hasBias, y, planes, low, high, geometry...): `planes`
 * output planes, consecutive in y, from input planes xStep bytes apart in x (0: all from one)
 * and consecutive filters at weight. Each plane is first set to its bias (bias[plane] when
 * hasBias, else 0); then, a tap at a time, every output row the tap reaches gets w times the
 * input row under it, over the outputs the tap reaches; last, the plane is clamped to
 * [low, high] (+-Infinity: not clamped). Tap by tap over the whole plane (it stays in L1), the
 * ranges are worked out once per tap and plane, not per row: small planes (MobileNet's 10 x 10
 * and 5 x 5) spent most of their time on them.
 */
function forwardPlanes(f: FunctionBuilder, p: WasmParams<typeof forwardParams>): void {
  const { x, xStep, weight, bias, hasBias, y, planes, low, high } = p;
  const g: Geometry = p;
  const [ky, kx, rows, xRow, yRow, xp, yp, planeSize, rowBytes, inRowBytes, scratch] = Array.from({ length: 11 }, () => f.local(i32));
  const w = f.local(f32);
  const [wv, lowv, highv] = [f.local(v128), f.local(v128), f.local(v128)];
  const b = f.local(f32);
  const column = tapLocals(f);
  const row = tapLocals(f);
  const count = f.local(i32);

  f.localGet(low).f32x4Splat().localSet(lowv);
  f.localGet(high).f32x4Splat().localSet(highv);
  f.localGet(g.outW).i32Const(FLOAT).i32Mul().localSet(rowBytes);
  f.localGet(g.width).i32Const(FLOAT).i32Mul().localSet(inRowBytes);
  f.localGet(g.outH).localGet(g.outW).i32Mul().localSet(planeSize);
  countDown(f, planes, () => {
    // The bias over the whole plane.
    f.localGet(bias).f32Load().f32Const(0).localGet(hasBias).select().localSet(b);
    f.localGet(y).localSet(yp);
    lanesThenRest(
      f, planeSize, [yp],
      () => f.localGet(yp).localGet(b).f32x4Splat().v128Store(0, UNALIGNED),
      () => f.localGet(yp).localGet(b).f32Store(),
    );
    forUpTo(f, ky, g.kernelH, () => {
      axisRange(f, ky, g.dilationH, g.padH, g.strideH, g.height, g.outH, row, scratch);
      forUpTo(f, kx, g.kernelW, () => {
        f.localGet(weight).localGet(ky).localGet(g.kernelW).i32Mul().localGet(kx).i32Add().i32Const(FLOAT).i32Mul().i32Add();
        f.f32Load().localTee(w).f32x4Splat().localSet(wv);
        tapRange(f, g, kx, column, scratch);
        // The first row the tap reaches: y row row.first, x row row.first * strideH + row.shift, each from column column.first.
        f.localGet(y).localGet(row.first).localGet(rowBytes).i32Mul().i32Add().localGet(column.first).i32Const(FLOAT).i32Mul().i32Add().localSet(yRow);
        f.localGet(x).localGet(row.first).localGet(g.strideH).i32Mul().localGet(row.shift).i32Add().localGet(inRowBytes).i32Mul().i32Add();
        f.localGet(column.first).localGet(g.strideW).i32Mul().localGet(column.shift).i32Add().i32Const(FLOAT).i32Mul().i32Add().localSet(xRow);
        f.localGet(row.count).localSet(rows);
        countDown(f, rows, () => {
          f.localGet(xRow).localSet(xp);
          f.localGet(yRow).localSet(yp);
          // tapRun counts its run down: a copy per row.
          f.localGet(column.count).localSet(count);
          tapRun(
            f, g, { ...column, count }, xp, yp,
            (pairs) => {
              f.localGet(yp).localGet(yp).v128Load(0, UNALIGNED).localGet(wv);
              loadLanes(f, xp, pairs);
              f.f32x4Mul().f32x4Add().v128Store(0, UNALIGNED);
            },
            () => f.localGet(yp).localGet(yp).f32Load().localGet(w).localGet(xp).f32Load().f32Mul().f32Add().f32Store(),
          );
          addTo(f, yRow, { local: rowBytes });
          f.localGet(xRow).localGet(inRowBytes).localGet(g.strideH).i32Mul().i32Add().localSet(xRow);
        });
      });
    });
    // The finished plane, clamped to [low, high] while it is in cache.
    f.localGet(y).localSet(yp);
    lanesThenRest(
      f, planeSize, [yp],
      () => f.localGet(yp).localGet(yp).v128Load(0, UNALIGNED).localGet(lowv).f32x4Max().localGet(highv).f32x4Min().v128Store(0, UNALIGNED),
      () => f.localGet(yp).localGet(yp).f32Load().localGet(low).f32Max().localGet(high).f32Min().f32Store(),
    );
    f.localGet(y).localGet(planeSize).i32Const(FLOAT).i32Mul().i32Add().localSet(y);
    addTo(f, x, { local: xStep });
    f.localGet(weight).localGet(g.kernelH).localGet(g.kernelW).i32Mul().i32Const(FLOAT).i32Mul().i32Add().localSet(weight);
    addTo(f, bias, { constant: FLOAT });
  });
}

/**
 * inputGradientPlanes(dx, xStep, weight, dy, planes, geometry...): `inputGradientPlane` for
 * `planes` output planes and their filters, dx moving on by xStep after each.
 */
function inputGradientPlanes(f: FunctionBuilder, p: WasmParams<typeof inputGradientParams>): void {
  countDown(f, p.planes, () => {
    inputGradientPlane(f, p);
    addTo(f, p.dx, { local: p.xStep });
    nextPlane(f, p, p.weight, p.dy);
  });
}

/**
 * weightGradientPlanes(x, xStep, dy, dWeight, planes, geometry...): `weightGradientPlane` for
 * `planes` output planes and their filters' gradients, x moving on by xStep after each.
 */
function weightGradientPlanes(f: FunctionBuilder, p: WasmParams<typeof weightGradientParams>): void {
  countDown(f, p.planes, () => {
    weightGradientPlane(f, p);
    addTo(f, p.x, { local: p.xStep });
    nextPlane(f, p, p.dWeight, p.dy);
  });
}

/** Moves pointer `filter` on to the next filter and `out` to the next output plane. */
function nextPlane(f: FunctionBuilder, g: Geometry, filter: number, out: number): void {
  f.localGet(filter).localGet(g.kernelH).localGet(g.kernelW).i32Mul().i32Const(FLOAT).i32Mul().i32Add().localSet(filter);
  f.localGet(out).localGet(g.outH).localGet(g.outW).i32Mul().i32Const(FLOAT).i32Mul().i32Add().localSet(out);
}

/**
 * inputGradientPlane: adds output plane dy's share of the input gradient into plane dx (which
 * the caller zeroed), the forward's taps in reverse: each tap sends w * dy_row[ox] back to the
 * input it read.
 */
function inputGradientPlane(f: FunctionBuilder, p: Geometry & { dx: number; weight: number; dy: number }): void {
  const { dx, weight, dy } = p;
  const g: Geometry = p;
  const [oy, ky, kx, iy, dyRow, dxp, dyp, tapWeight, scratch] = [i32, i32, i32, i32, i32, i32, i32, i32, i32].map((type) => f.local(type));
  const w = f.local(f32);
  const wv = f.local(v128);
  const t = tapLocals(f);

  f.localGet(dy).localSet(dyRow);
  forUpTo(f, oy, g.outH, () => {
    f.localGet(weight).localSet(tapWeight);
    forUpTo(f, ky, g.kernelH, () => {
      inputRow(f, g, oy, ky);
      f.localSet(iy);
      ifRowInside(f, g, iy, () => {
        forUpTo(f, kx, g.kernelW, () => {
          f.localGet(tapWeight).localGet(kx).i32Const(FLOAT).i32Mul().i32Add().f32Load().localTee(w).f32x4Splat().localSet(wv);
          tapRange(f, g, kx, t, scratch);
          f.localGet(dx).localGet(iy).localGet(g.width).i32Mul().localGet(t.shift).i32Add().localGet(t.first).localGet(g.strideW).i32Mul().i32Add();
          f.i32Const(FLOAT).i32Mul().i32Add().localSet(dxp);
          f.localGet(dyRow).localGet(t.first).i32Const(FLOAT).i32Mul().i32Add().localSet(dyp);
          // At stride 1 four outputs send to four neighbouring inputs; at other strides they scatter, a float at a time.
          f.localGet(g.strideW).i32Const(1).i32Eq();
          f.if(
            () =>
              lanesThenRest(
                f, t.count, [dxp, dyp],
                () => f.localGet(dxp).localGet(dxp).v128Load(0, UNALIGNED).localGet(wv).localGet(dyp).v128Load(0, UNALIGNED).f32x4Mul().f32x4Add().v128Store(0, UNALIGNED),
                () => f.localGet(dxp).localGet(dxp).f32Load().localGet(w).localGet(dyp).f32Load().f32Mul().f32Add().f32Store(),
              ),
            () =>
              tapRun(f, g, t, dxp, dyp, undefined, () => f.localGet(dxp).localGet(dxp).f32Load().localGet(w).localGet(dyp).f32Load().f32Mul().f32Add().f32Store()),
          );
        });
      });
      f.localGet(tapWeight).localGet(g.kernelW).i32Const(FLOAT).i32Mul().i32Add().localSet(tapWeight);
    });
    f.localGet(dyRow).localGet(g.outW).i32Const(FLOAT).i32Mul().i32Add().localSet(dyRow);
  });
}

/**
 * weightGradientPlane: adds to each tap of the filter at dWeight the dot product of output
 * plane dy with the inputs that tap read from plane x, summed in four lanes and a float, added
 * together at the end of the tap.
 */
function weightGradientPlane(f: FunctionBuilder, p: Geometry & { x: number; dy: number; dWeight: number }): void {
  const { x, dy, dWeight } = p;
  const g: Geometry = p;
  const [oy, ky, kx, iy, xp, dyp, tap, count, scratch] = [i32, i32, i32, i32, i32, i32, i32, i32, i32].map((type) => f.local(type));
  const lanes = f.local(v128);
  const sum = f.local(f32);
  const t = tapLocals(f);

  f.localGet(dWeight).localSet(tap);
  forUpTo(f, ky, g.kernelH, () => {
    forUpTo(f, kx, g.kernelW, () => {
      tapRange(f, g, kx, t, scratch);
      f.v128Zero().localSet(lanes);
      f.f32Const(0).localSet(sum);
      forUpTo(f, oy, g.outH, () => {
        inputRow(f, g, oy, ky);
        f.localSet(iy);
        ifRowInside(f, g, iy, () => {
          f.localGet(x).localGet(iy).localGet(g.width).i32Mul().localGet(t.shift).i32Add().localGet(t.first).localGet(g.strideW).i32Mul().i32Add();
          f.i32Const(FLOAT).i32Mul().i32Add().localSet(xp);
          f.localGet(dy).localGet(oy).localGet(g.outW).i32Mul().localGet(t.first).i32Add().i32Const(FLOAT).i32Mul().i32Add().localSet(dyp);
          // tapRun counts the run down: give it a copy, the range holds for every row.
          f.localGet(t.count).localSet(count);
          tapRun(
            f, g, { ...t, count }, xp, dyp,
            (pairs) => {
              f.localGet(lanes).localGet(dyp).v128Load(0, UNALIGNED);
              loadLanes(f, xp, pairs);
              f.f32x4Mul().f32x4Add().localSet(lanes);
            },
            () => f.localGet(sum).localGet(dyp).f32Load().localGet(xp).f32Load().f32Mul().f32Add().localSet(sum),
          );
        });
      });
      f.localGet(tap).localGet(tap).f32Load().localGet(sum).f32Add();
      for (let lane = 0; lane < LANES; lane++) f.localGet(lanes).f32x4ExtractLane(lane).f32Add();
      f.f32Store();
      addTo(f, tap, { constant: FLOAT });
    });
  });
}
