import { ValType, addTo, convOutputSize, countDown, defineWasmKernels, relaxedSimdSupported, type FloatArray, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import { UNALIGNED, copyPlane, madd } from '../simd.js';
import type { ConvolutionShape } from '../convolution/shape.js';
import type { Clamp } from '../convolution/reference.js';

/*
 * MobileNet's depthwise filters, 3 x 3 at stride 1 or 2, register-blocked in 128-bit SIMD: an
 * output vector of four neighbouring positions takes its nine taps while it stays in a
 * register, with the nine weights splat into registers once per plane, and is stored once,
 * biased and clamped. (The general kernel of wasm.ts adds a tap at a time into whole output
 * rows: nine loads and stores of every output.)
 *
 * Each input plane is first copied into a zero-bordered band, padH rows above and padW
 * columns left, so no tap needs a bounds test: a row above the plane reads zeros as padding
 * does. A 4 x 4 filter whose first row and column are zero (how the fixtures write
 * TensorFlow's SAME padding at stride 2) is this kernel on its other 3 x 3 taps, read from
 * one row and column further on.
 *
 *   stride 1: the inputs of tap kx for outputs ox .. ox+3 are four floats from ox + kx
 *   stride 2: the even lanes of eight floats from 2 ox + kx (a shuffle of two loads)
 *
 * The last outW mod 4 outputs of a row go one at a time (lane 0 of the same vectors).
 */

const { i32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;
const TAPS = 3;

const params = {
  x: 'array',
  xStart: 'floats',
  planes: 'i32',
  band: 'array',
  weight: 'array',
  weightStart: 'floats',
  filterFloats: 'floats',
  filterRow: 'floats',
  bias: 'array?',
  hasBias: 'i32',
  y: 'array',
  yStart: 'floats',
  height: 'i32',
  width: 'i32',
  outH: 'i32',
  outW: 'i32',
  bandRow: 'floats',
  copyAt: 'floats',
  readAt: 'floats',
  low: 'f32',
  high: 'f32',
} as const;

const kernels = defineWasmKernels('wasm depthwise 3x3', {
  depthwise3x3Stride1: { params, emit: (f, p) => depthwise3x3(f, p, 1) },
  depthwise3x3Stride2: { params, emit: (f, p) => depthwise3x3(f, p, 2) },
});

/** The module's bytes (for tests and the text dump). */
export const depthwise3x3Module = kernels.bytes;

/** Floats of one thread's band for shape `s`: the padded plane, with room for a vector's overrun. */
export function depthwise3x3BandSize(s: ConvolutionShape): number {
  return (s.height + 2 * s.padH + 2) * bandRow(s);
}

/** Floats from one row of the band to the next: the padded row, and room for a vector's overrun. */
export function bandRow(s: ConvolutionShape): number {
  return s.width + 2 * s.padW + 2 * LANES;
}

/**
 * Whether the kernel takes shape `s`: 3 x 3, or 4 x 4 with a zero first row and column in every
 * filter of outputs [first, end); stride 1 or 2 on both axes, no dilation, one output per channel.
 * Returns the filter's first used tap (0 or 1), or -1 when the kernel does not apply.
 */
export function depthwise3x3Origin(s: ConvolutionShape, weight: FloatArray, first: number, end: number): number {
  if (s.numOutput !== s.channels || s.dilationH !== 1 || s.dilationW !== 1) return -1;
  if (s.strideH !== s.strideW || (s.strideH !== 1 && s.strideH !== 2) || s.kernelH !== s.kernelW) return -1;
  if (s.kernelH === TAPS) return 0;
  if (s.kernelH !== TAPS + 1) return -1;
  const taps = (TAPS + 1) * (TAPS + 1);
  for (let o = first; o < end; o++) {
    for (let k = 0; k <= TAPS; k++) {
      if (weight[o * taps + k] !== 0 || weight[o * taps + k * (TAPS + 1)] !== 0) return -1;
    }
  }
  return 1;
}

/**
 * Output planes [first, end) of every image (channels, one output each), through the kernel, with
 * `band` this thread's zeroed scratch (`depthwise3x3BandSize` floats); false (nothing done) when an
 * array is not float32 on the wasm heap. `origin` is from `depthwise3x3Origin`.
 */
export function depthwise3x3Forward(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray | undefined,
  y: FloatArray,
  s: ConvolutionShape,
  clamp: Clamp,
  first: number,
  end: number,
  band: FloatArray,
  origin: number,
): boolean {
  const row = bandRow(s);
  const [outH, outW] = convOutputSize(s);
  const run = s.strideH === 1 ? kernels.depthwise3x3Stride1.run : kernels.depthwise3x3Stride2.run;
  const filter = s.kernelH * s.kernelW;
  for (let n = 0; n < s.num; n++) {
    const done = run({
      x, xStart: (n * s.channels + first) * s.height * s.width, planes: end - first, band,
      weight, weightStart: first * filter + origin * (s.kernelW + 1), filterFloats: filter, filterRow: s.kernelW,
      bias: bias?.subarray(first), hasBias: bias ? 1 : 0, y, yStart: (n * s.numOutput + first) * outH * outW,
      height: s.height, width: s.width, outH, outW, bandRow: row, copyAt: s.padH * row + s.padW, readAt: origin * (row + 1), low: clamp.min, high: clamp.max,
    });
    if (!done) return false;
  }
  return true;
}

/**
 * depthwise3x3Stride{S}(x, xStart, planes, band, weight, weightStart, filterFloats, filterRow,
 * bias, hasBias, y, yStart, height, width, outH, outW, bandRow, copyAt, readAt, low, high): for
 * each of `planes` planes (consecutive in x and in y), copies the height x width input plane
 * into the band from band + copyAt (rows bandRow apart; the border stays zero), then writes
 * its outH x outW outputs, y[oy][ox] = min(max(b + sum over ky, kx < 3 of
 * w[ky][kx] * B[oy S + ky][ox S + kx], low), high), with B the band from band + readAt (one row
 * and column on for a filter whose first row and column are zero), w the 3 x 3 taps from
 * weight + weightStart (rows filterRow apart, filters filterFloats apart) and b the plane's
 * bias (0 without).
 */
function depthwise3x3(f: FunctionBuilder, p: WasmParams<typeof params>, stride: 1 | 2): void {
  const fma = relaxedSimdSupported();
  const [rowBytes, inRowBytes, outRowBytes, src, dst, rows, oy, yRow, r0, in0, in1, in2, groups, rest, stepRow] = Array.from({ length: 15 }, () => f.local(i32));
  const w = Array.from({ length: TAPS * TAPS }, () => f.local(v128));
  const [acc, lowv, highv, bv, tap] = Array.from({ length: 5 }, () => f.local(v128));

  f.localGet(p.x).localGet(p.xStart).i32Add().localSet(p.x);
  f.localGet(p.y).localGet(p.yStart).i32Add().localSet(p.y);
  f.localGet(p.weight).localGet(p.weightStart).i32Add().localSet(p.weight);
  f.localGet(p.width).i32Const(FLOAT).i32Mul().localSet(inRowBytes);
  f.localGet(p.outW).i32Const(FLOAT).i32Mul().localSet(outRowBytes);
  f.localGet(p.bandRow).localSet(rowBytes);
  f.localGet(rowBytes).i32Const(stride).i32Mul().localSet(stepRow);
  f.localGet(p.low).f32x4Splat().localSet(lowv);
  f.localGet(p.high).f32x4Splat().localSet(highv);

  /**
   * Pushes the four inputs of tap kx for the outputs at `in0` (the band row of ky, at ox S):
   * at stride 1 four floats from kx, at stride 2 the even lanes of eight from kx.
   */
  const inputs = (ky: number, kx: number): void => {
    const at = [in0, in1, in2][ky]!;
    if (stride === 1) {
      f.localGet(at).v128Load(FLOAT * kx, UNALIGNED);
      return;
    }
    f.localGet(at).v128Load(FLOAT * kx, UNALIGNED).localGet(at).v128Load(FLOAT * (kx + LANES), UNALIGNED).shuffle32([0, 2, 4, 6]);
  };

  /** acc = min(max(bias + the nine taps, low), high) for the outputs whose band row pointers are in0, in1, in2. */
  const outputs = (vectorTaps: (ky: number, kx: number) => void): void => {
    f.localGet(bv).localSet(acc);
    for (let ky = 0; ky < TAPS; ky++) {
      for (let kx = 0; kx < TAPS; kx++) {
        vectorTaps(ky, kx);
        f.localSet(tap);
        madd(f, fma, w[ky * TAPS + kx]!, tap, acc);
      }
    }
    f.localGet(acc).localGet(lowv).f32x4Max().localGet(highv).f32x4Min().localSet(acc);
  };

  // The second and third band rows of a window (the first is in0).
  const rowPointers = (): void => {
    f.localGet(in0).localGet(rowBytes).i32Add().localSet(in1);
    f.localGet(in1).localGet(rowBytes).i32Add().localSet(in2);
  };

  countDown(f, p.planes, () => {
    // The plane into the band's interior, row by row.
    f.localGet(p.x).localSet(src);
    f.localGet(p.band).localGet(p.copyAt).i32Add().localSet(dst);
    f.localGet(p.height).localSet(rows);
    copyPlane(f, { src, dst, rows, width: p.width, srcRow: inRowBytes, dstRow: rowBytes, from: r0, to: in0 });
    // This plane's nine weights and bias, each in four lanes.
    for (let ky = 0; ky < TAPS; ky++) {
      for (let kx = 0; kx < TAPS; kx++) {
        f.localGet(p.weight);
        if (ky > 0) f.localGet(p.filterRow).i32Const(ky).i32Mul().i32Add();
        f.v128Load32Splat(FLOAT * kx).localSet(w[ky * TAPS + kx]!);
      }
    }
    f.localGet(p.bias).v128Load32Splat().v128Zero().localGet(p.hasBias).select().localSet(bv);

    f.localGet(p.band).localGet(p.readAt).i32Add().localSet(r0);
    f.localGet(p.y).localSet(yRow);
    f.localGet(p.outH).localSet(oy);
    countDown(f, oy, () => {
      f.localGet(r0).localSet(in0);
      f.localGet(yRow).localSet(dst);
      f.localGet(p.outW).i32Const(LANES).i32DivU().localSet(groups);
      countDown(f, groups, () => {
        rowPointers();
        outputs(inputs);
        f.localGet(dst).localGet(acc).v128Store(0, UNALIGNED);
        addTo(f, in0, { constant: FLOAT * LANES * stride });
        addTo(f, dst, { constant: FLOAT * LANES });
      });
      f.localGet(p.outW).i32Const(LANES - 1).i32And().localSet(rest);
      countDown(f, rest, () => {
        rowPointers();
        // One output in lane 0: each tap's input splat (the other lanes compute the same, unused).
        outputs((ky, kx) => f.localGet([in0, in1, in2][ky]!).v128Load32Splat(FLOAT * kx));
        f.localGet(dst).localGet(acc).f32x4ExtractLane(0).f32Store();
        addTo(f, in0, { constant: FLOAT * stride });
        addTo(f, dst, { constant: FLOAT });
      });
      addTo(f, r0, { local: stepRow });
      addTo(f, yRow, { local: outRowBytes });
    });

    f.localGet(p.x).localGet(p.height).localGet(inRowBytes).i32Mul().i32Add().localSet(p.x);
    f.localGet(p.y).localGet(p.outH).localGet(outRowBytes).i32Mul().i32Add().localSet(p.y);
    addTo(f, p.weight, { local: p.filterFloats });
    addTo(f, p.bias, { constant: FLOAT });
  });
}
