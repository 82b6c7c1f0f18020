import { ValType, addTo, convOutputSize, countDown, defineWasmKernels, relaxedSimdSupported, type FloatArray, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import type { ConvolutionGradients } from '../convolution/reference.js';
import type { ConvolutionShape } from '../convolution/shape.js';
import { UNALIGNED, copyPlane, madd } from '../simd.js';
import { bandRow, depthwise3x3BandSize, depthwise3x3Forward } from './wasm-3x3.js';

/*
 * The backward of MobileNet's depthwise filters (3 x 3 or 4 x 4, stride 1 or 2), register-blocked
 * in 128-bit SIMD as the forward of wasm-3x3.ts is:
 *
 *   dWeight  each input plane is copied into a zero-bordered band; then, a filter row ky at a
 *            time, one accumulator vector per tap kx takes dy[oy][ox..ox+3] times the four
 *            inputs under it, over the whole plane, and is summed across its lanes once at the
 *            end (the general kernel of wasm.ts reads and adds per tap and row instead)
 *   dx       at stride 1, the transposed convolution is a convolution: dx is dy, padded by
 *            k - 1 - pad, correlated with the filter turned by 180 degrees, which is the
 *            forward kernel itself (no bias, no clamp)
 *
 * dx at stride 2 (a scatter) stays with the general kernel.
 */

const { i32, f32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;

const params = {
  x: 'array',
  xStart: 'floats',
  dy: 'array',
  dyStart: 'floats',
  planes: 'i32',
  band: 'array',
  dWeight: 'array',
  dWeightStart: 'floats',
  kernelH: 'i32',
  height: 'i32',
  width: 'i32',
  outH: 'i32',
  outW: 'i32',
  bandRow: 'floats',
  copyAt: 'floats',
} as const;

const kernels = defineWasmKernels('wasm depthwise 3x3 backward', {
  weightGradient3Stride1: { params, emit: (f, p) => weightGradient(f, p, 3, 1) },
  weightGradient3Stride2: { params, emit: (f, p) => weightGradient(f, p, 3, 2) },
  weightGradient4Stride1: { params, emit: (f, p) => weightGradient(f, p, 4, 1) },
  weightGradient4Stride2: { params, emit: (f, p) => weightGradient(f, p, 4, 2) },
});

/** The module's bytes (for tests and the text dump). */
export const depthwise3x3BackwardModule = kernels.bytes;

const weightGradientKernels = {
  3: { 1: kernels.weightGradient3Stride1, 2: kernels.weightGradient3Stride2 },
  4: { 1: kernels.weightGradient4Stride1, 2: kernels.weightGradient4Stride2 },
} as const;

/** Whether the blocked dWeight kernel takes shape `s`: square 3 x 3 or 4 x 4 filters, stride 1 or 2 on both axes, no dilation, one output per channel. */
function weightGradientTakes(s: ConvolutionShape): boolean {
  const square = s.kernelH === s.kernelW && (s.kernelH === 3 || s.kernelH === 4) && s.strideH === s.strideW && (s.strideH === 1 || s.strideH === 2);
  return square && s.dilationH === 1 && s.dilationW === 1 && s.numOutput === s.channels;
}

/** Whether dx goes through the forward kernel: 3 x 3, stride 1, pad at most 2 (the turned filter's padding 2 - pad). */
function inputGradientTakes(s: ConvolutionShape): boolean {
  return weightGradientTakes(s) && s.kernelH === 3 && s.strideH === 1 && s.padH <= 2 && s.padW <= 2;
}

/** The shape of dx's convolution: dy's planes in, padded by 2 - pad, the turned filters, the input's planes out. */
function transposedShape(s: ConvolutionShape): ConvolutionShape {
  const [outH, outW] = convOutputSize(s);
  return { ...s, height: outH, width: outW, padH: 2 - s.padH, padW: 2 - s.padW };
}

/** Floats of one thread's band for either kernel. */
export function depthwise3x3BackwardBandSize(s: ConvolutionShape): number {
  return Math.max(depthwise3x3BandSize(s), inputGradientTakes(s) ? depthwise3x3BandSize(transposedShape(s)) : 0);
}

/** Floats of the turned filters dx's convolution needs (0 when it does not run). */
export function turnedFiltersSize(s: ConvolutionShape): number {
  return inputGradientTakes(s) ? s.numOutput * 9 : 0;
}

/** Every filter turned by 180 degrees, turned[o][ky][kx] = weight[o][2 - ky][2 - kx], for dx's convolution. */
export function turnFilters(weight: FloatArray, s: ConvolutionShape, turned: FloatArray): void {
  for (let o = 0; o < s.numOutput; o++) {
    for (let tap = 0; tap < 9; tap++) turned[o * 9 + tap] = weight[o * 9 + 8 - tap]!;
  }
}

/**
 * The gradients the blocked kernels take for input channels [first, end) of every image:
 * dWeight added into, dx written (from `turned`, when given and the shape allows), with `band`
 * this thread's scratch. Returns the gradients left for the general kernel, or undefined when
 * an array is not float32 on the wasm heap (then nothing is done).
 */
export function depthwise3x3Backward(
  x: FloatArray,
  dy: FloatArray,
  grads: ConvolutionGradients,
  s: ConvolutionShape,
  first: number,
  end: number,
  band: FloatArray,
  turned: FloatArray | undefined,
): ConvolutionGradients | undefined {
  const { dx, dWeight, dBias } = grads;
  const byKernel = { dWeight: dWeight && weightGradientTakes(s), dx: dx && turned && inputGradientTakes(s) };
  if (byKernel.dWeight) {
    const [outH, outW] = convOutputSize(s);
    const row = bandRow(s);
    band.fill(0);
    const kernel = weightGradientKernels[s.kernelH as 3 | 4][s.strideH as 1 | 2];
    for (let n = 0; n < s.num; n++) {
      const done = kernel.run({
        x, xStart: (n * s.channels + first) * s.height * s.width, dy, dyStart: (n * s.numOutput + first) * outH * outW, planes: end - first,
        band, dWeight: dWeight!, dWeightStart: first * s.kernelH * s.kernelW, kernelH: s.kernelH, height: s.height, width: s.width,
        outH, outW, bandRow: row, copyAt: s.padH * row + s.padW,
      });
      if (!done) return undefined;
    }
  }
  if (byKernel.dx) {
    const t = transposedShape(s);
    band.fill(0);
    if (!depthwise3x3Forward(dy, turned!, undefined, dx!, t, { min: -Infinity, max: Infinity }, first, end, band, 0)) {
      return byKernel.dWeight ? { dx, dBias } : undefined;
    }
  }
  return { dx: byKernel.dx ? undefined : dx, dWeight: byKernel.dWeight ? undefined : dWeight, dBias };
}

/**
 * weightGradient{K}Stride{S}(x, xStart, dy, dyStart, planes, band, dWeight, dWeightStart, kernelH,
 * height, width, outH, outW, bandRow, copyAt): for each of `planes` planes (consecutive in x, dy
 * and dWeight), copies the height x width input plane into the band from band + copyAt (rows
 * bandRow apart; the border stays zero), then adds
 * dWeight[ky][kx] += sum over oy, ox of dy[oy][ox] * B[oy S + ky][ox S + kx] for ky < kernelH, kx < K.
 */
function weightGradient(f: FunctionBuilder, p: WasmParams<typeof params>, taps: 3 | 4, stride: 1 | 2): void {
  const fma = relaxedSimdSupported();
  const [rowBytes, inRowBytes, outRowBytes, src, dst, rows, from, to, ky, oy, bandRowAt, dyRow, at, d, groups, rest, tapAt] = Array.from({ length: 17 }, () => f.local(i32));
  const acc = Array.from({ length: taps }, () => f.local(v128));
  const single = Array.from({ length: taps }, () => f.local(f32));
  const [dyv, inputs] = [f.local(v128), f.local(v128)];
  const dyOne = f.local(f32);

  f.localGet(p.x).localGet(p.xStart).i32Add().localSet(p.x);
  f.localGet(p.dy).localGet(p.dyStart).i32Add().localSet(p.dy);
  f.localGet(p.dWeight).localGet(p.dWeightStart).i32Add().localSet(p.dWeight);
  f.localGet(p.bandRow).localSet(rowBytes);
  f.localGet(p.width).i32Const(FLOAT).i32Mul().localSet(inRowBytes);
  f.localGet(p.outW).i32Const(FLOAT).i32Mul().localSet(outRowBytes);

  countDown(f, p.planes, () => {
    f.localGet(p.x).localSet(src);
    f.localGet(p.band).localGet(p.copyAt).i32Add().localSet(dst);
    f.localGet(p.height).localSet(rows);
    copyPlane(f, { src, dst, rows, width: p.width, srcRow: inRowBytes, dstRow: rowBytes, from, to });

    f.localGet(p.dWeight).localSet(tapAt);
    f.localGet(p.band).localSet(bandRowAt);
    f.localGet(p.kernelH).localSet(ky);
    countDown(f, ky, () => {
      for (let kx = 0; kx < taps; kx++) {
        f.v128Zero().localSet(acc[kx]!);
        f.f32Const(0).localSet(single[kx]!);
      }
      f.localGet(bandRowAt).localSet(at);
      f.localGet(p.dy).localSet(dyRow);
      f.localGet(p.outH).localSet(oy);
      countDown(f, oy, () => {
        f.localGet(at).localSet(from);
        f.localGet(dyRow).localSet(d);
        f.localGet(p.outW).i32Const(LANES).i32DivU().localSet(groups);
        countDown(f, groups, () => {
          f.localGet(d).v128Load(0, UNALIGNED).localSet(dyv);
          for (let kx = 0; kx < taps; kx++) {
            f.localGet(from).v128Load(FLOAT * kx, UNALIGNED);
            if (stride === 2) f.localGet(from).v128Load(FLOAT * (kx + LANES), UNALIGNED).shuffle32([0, 2, 4, 6]);
            f.localSet(inputs);
            madd(f, fma, dyv, inputs, acc[kx]!);
          }
          addTo(f, from, { constant: FLOAT * LANES * stride });
          addTo(f, d, { constant: FLOAT * LANES });
        });
        // The last outW mod 4 outputs, one at a time, into scalar sums.
        f.localGet(p.outW).i32Const(LANES - 1).i32And().localSet(rest);
        countDown(f, rest, () => {
          f.localGet(d).f32Load().localSet(dyOne);
          for (let kx = 0; kx < taps; kx++) {
            f.localGet(single[kx]!).localGet(dyOne).localGet(from).f32Load(FLOAT * kx).f32Mul().f32Add().localSet(single[kx]!);
          }
          addTo(f, from, { constant: FLOAT * stride });
          addTo(f, d, { constant: FLOAT });
        });
        f.localGet(at).localGet(rowBytes).i32Const(stride).i32Mul().i32Add().localSet(at);
        addTo(f, dyRow, { local: outRowBytes });
      });
      for (let kx = 0; kx < taps; kx++) {
        f.localGet(tapAt).localGet(tapAt).f32Load(FLOAT * kx).localGet(single[kx]!).f32Add();
        for (let lane = 0; lane < LANES; lane++) f.localGet(acc[kx]!).f32x4ExtractLane(lane).f32Add();
        f.f32Store(FLOAT * kx);
      }
      addTo(f, tapAt, { constant: FLOAT * taps });
      addTo(f, bandRowAt, { local: rowBytes });
    });

    f.localGet(p.x).localGet(p.height).localGet(inRowBytes).i32Mul().i32Add().localSet(p.x);
    f.localGet(p.dy).localGet(p.outH).localGet(outRowBytes).i32Mul().i32Add().localSet(p.dy);
    f.localGet(p.dWeight).localGet(p.kernelH).i32Const(FLOAT * taps).i32Mul().i32Add().localSet(p.dWeight);
  });
}
