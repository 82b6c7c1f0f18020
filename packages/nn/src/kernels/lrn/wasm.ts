import { ValType, addTo, countDown, definePoolJob, defineWasmKernels, type FloatArray, type FunctionBuilder, type Label, type WasmParams } from '@cnn/tensor';
import { backwardPart, forwardPart, runLrn, specOf, type LrnJob } from './fast.js';
import type { LrnSpec } from './reference.js';

/*
 * Caffe's cross-channel LRN with beta = 0.75 in 128-bit SIMD, four pixels at a time, forward
 * and backward. Other betas, the WITHIN_CHANNEL region and the pixels left over after the
 * groups of four run the TypeScript kernels of fast.ts.
 */

const { i32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;

/** `groups` runs of four pixels from channel 0 of an image; planeBytes from one channel to the next; half = (n - 1) / 2. */
const forwardParams = {
  x: 'array', scale: 'array', y: 'array', channels: 'i32', planeBytes: 'floats', groups: 'i32', half: 'i32', k: 'f32', alphaOverN: 'f32',
} as const;
const backwardParams = {
  x: 'array', y: 'array', scale: 'array', dy: 'array', dx: 'array', channels: 'i32', planeBytes: 'floats', groups: 'i32', half: 'i32', factor: 'f32',
} as const;

/** The wasm kernels of the LRN family (exported for tests). */
export const lrnWasmKernels = defineWasmKernels('wasm lrn', {
  lrnAcross: { params: forwardParams, emit: lrnAcross },
  lrnAcrossBackward: { params: backwardParams, emit: lrnAcrossBackward },
});

/** The groups of four pixels of a run the wasm kernels take: none unless beta is 0.75. */
function groupsOf(s: LrnSpec, count: number): number {
  return s.beta === 0.75 ? Math.floor(count / LANES) : 0;
}

/** `lrnForwardJob` with whole groups of four pixels of each ACROSS_CHANNELS run in wasm. */
export const lrnForwardWasmJob: LrnJob = definePoolJob({
  module: import.meta.url,
  name: 'lrnForwardWasmJob',
  arrays: ['x', 'scale', 'y', 'dy', 'dx'],
  scalars: ['across', 'num', 'channels', 'height', 'width', 'localSize', 'alpha', 'beta', 'k'],
  part: ({ x, scale, y }, scalars, part, parts) => {
    const s = specOf(scalars);
    forwardPart(x, scale, y, s, part, parts, (base, count, planeSize) => {
      const groups = groupsOf(s, count);
      if (groups === 0) return 0;
      // One literal per call, no spread: a spread copy of a record costs microseconds, as much as a small layer's work.
      const args = { x: x.subarray(base), scale: scale.subarray(base), y: y.subarray(base), channels: s.channels, planeBytes: planeSize, groups, half: (s.localSize - 1) / 2, k: s.k, alphaOverN: s.alpha / s.localSize };
      return lrnWasmKernels.lrnAcross.run(args) ? groups * LANES : 0;
    });
  },
});

/** `lrnBackwardJob` with whole groups of four pixels of each ACROSS_CHANNELS run in wasm. */
export const lrnBackwardWasmJob: LrnJob = definePoolJob({
  module: import.meta.url,
  name: 'lrnBackwardWasmJob',
  arrays: ['x', 'scale', 'y', 'dy', 'dx'],
  scalars: ['across', 'num', 'channels', 'height', 'width', 'localSize', 'alpha', 'beta', 'k'],
  part: ({ x, scale, y, dy, dx }, scalars, part, parts) => {
    const s = specOf(scalars);
    backwardPart(x, y, scale, dy, dx, s, part, parts, (base, count, planeSize) => {
      const groups = groupsOf(s, count);
      if (groups === 0) return 0;
      const tail = (array: FloatArray) => array.subarray(base);
      const factor = (2 * s.alpha * s.beta) / s.localSize;
      const args = { x: tail(x), y: tail(y), scale: tail(scale), dy: tail(dy), dx: tail(dx), channels: s.channels, planeBytes: planeSize, groups, half: (s.localSize - 1) / 2, factor };
      return lrnWasmKernels.lrnAcrossBackward.run(args) ? groups * LANES : 0;
    });
  },
});

/** `lrnForwardFast` with the cross-channel runs in 128-bit SIMD when the arrays are on the wasm heap. */
export function lrnForwardWasm(x: FloatArray, scale: FloatArray, y: FloatArray, s: LrnSpec): void {
  runLrn(lrnForwardWasmJob, { x, scale, y, dy: y, dx: y }, s);
}

/** `lrnBackwardFast` with the cross-channel runs in 128-bit SIMD when the arrays are on the wasm heap. */
export function lrnBackwardWasm(x: FloatArray, y: FloatArray, scale: FloatArray, dy: FloatArray, dx: FloatArray, s: LrnSpec): void {
  runLrn(lrnBackwardWasmJob, { x, scale, y, dy, dx }, s);
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
function lrnAcross(f: FunctionBuilder, p: WasmParams<typeof forwardParams>): void {
  const { x, scale, y, channels, planeBytes, groups, half, k, alphaOverN } = p;
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
}

/**
 * lrnAcrossBackward(x, y, scale, dy, dx, channels, planeBytes, groups, half, factor): the
 * gradient of lrnAcross (beta = 0.75), with sum = the sum of dy * y / scale over the channel
 * window: dx = dy * scale^-0.75 - factor * x * sum, factor = 2 * alpha * beta / n.
 */
function lrnAcrossBackward(f: FunctionBuilder, p: WasmParams<typeof backwardParams>): void {
  const { x, y, scale, dy, dx, channels, planeBytes, groups, half, factor } = p;
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
}
