import type { FloatArray } from '@cnn/tensor';
import type { ConvolutionShape } from '../convolution/shape.js';

/*
 * A convolution of stride S > 1 as a stride-1 one over the input's S x S phases (space to
 * depth), which Winograd's tiles can then compute. With the input zero-padded (xpad) and each
 * tap written ky = S qy + ry, kx = S qx + rx (0 <= ry, rx < S):
 *
 *   y[o][oy][ox] = sum over c, ky, kx of w[o][c][ky][kx] xpad[S oy + ky][S ox + kx]
 *                = sum over (c, ry, rx), qy, qx of w'[o][(c, ry, rx)][qy][qx] P[(c, ry, rx)][oy + qy][ox + qx]
 *
 *   P[(c, ry, rx)][a][b] = xpad[c][S a + ry][S b + rx]                       (C S^2 planes)
 *   w'[o][(c, ry, rx)][qy][qx] = w[o][c][S qy + ry][S qx + rx], 0 where a tap is past K
 *
 * a stride-1 convolution of the C S^2 phase planes by K' x K' filters, K' = ceil(K / S), with
 * no padding. CaffeNet's conv1 (11 x 11, stride 4, 3 channels) becomes a 3 x 3 one over 48
 * planes of 57 x 57: 432 taps per output where the direct sum has 363 (the zero taps of the
 * 12 x 12 filters), which F(2x2, 3x3) then needs 2.25 times fewer multiplies for.
 */

/**
 * The stride-1 convolution over the phases of `s` (see above): for a square kernel and equal
 * strides S > 1, no dilation, it reads C S^2 planes of (outH + K' - 1) x (outW + K' - 1).
 * Undefined for any other shape.
 */
export function phaseShape(s: ConvolutionShape): ConvolutionShape | undefined {
  const S = s.strideH;
  if (S <= 1 || s.strideW !== S || s.kernelH !== s.kernelW || s.dilationH !== 1 || s.dilationW !== 1) return undefined;
  const k = Math.ceil(s.kernelH / S);
  const outH = Math.floor((s.height + 2 * s.padH - s.kernelH) / S) + 1;
  const outW = Math.floor((s.width + 2 * s.padW - s.kernelW) / S) + 1;
  return {
    num: s.num, channels: s.channels * S * S, height: outH + k - 1, width: outW + k - 1, numOutput: s.numOutput, group: s.group,
    kernelH: k, kernelW: k, strideH: 1, strideW: 1, padH: 0, padW: 0, dilationH: 1, dilationW: 1,
  };
}

/** The filters w' of the phase convolution (see above) into `into`: O x (C/g) S^2 x K' x K'. */
export function phaseFilters(weight: FloatArray, s: ConvolutionShape, into: FloatArray): void {
  const S = s.strideH, K = s.kernelH, k = Math.ceil(K / S);
  const cg = s.channels / s.group;
  for (let o = 0; o < s.numOutput; o++) {
    for (let c = 0; c < cg; c++) {
      for (let ry = 0; ry < S; ry++) {
        for (let rx = 0; rx < S; rx++) {
          const phase = (o * cg + c) * S * S + ry * S + rx;
          for (let qy = 0; qy < k; qy++) {
            for (let qx = 0; qx < k; qx++) {
              const [ky, kx] = [S * qy + ry, S * qx + rx];
              into[(phase * k + qy) * k + qx] = ky < K && kx < K ? weight[((o * cg + c) * K + ky) * K + kx]! : 0;
            }
          }
        }
      }
    }
  }
}

/**
 * Where phase plane (ry, rx) of an input plane meets the image (see `splitPhases`): rows
 * [top, top + rows) and columns [left, left + cols) of the ph x pw phase plane, the rest zero,
 * element (a, b) read from the input plane at `from` + (a - top) S width + (b - left) S.
 */
export interface PhaseRegion {
  top: number;
  rows: number;
  left: number;
  cols: number;
  from: number;
}

/** The region of phase (ry, rx) of a `s`-shaped input plane inside a ph x pw phase plane. */
export function phaseRegion(s: ConvolutionShape, ry: number, rx: number, ph: number, pw: number): PhaseRegion {
  const S = s.strideH;
  /** The phase indices q in [0, size) with 0 <= S q + r - pad < extent. */
  const inside = (r: number, pad: number, extent: number, size: number): [number, number] => {
    const first = Math.min(size, Math.max(0, Math.ceil((pad - r) / S)));
    const end = Math.max(first, Math.min(size, Math.floor((extent - 1 + pad - r) / S) + 1));
    return [first, end - first];
  };
  const [top, rows] = inside(ry, s.padH, s.height, ph);
  const [left, cols] = inside(rx, s.padW, s.width, pw);
  return { top, rows, left, cols, from: (S * top + ry - s.padH) * s.width + S * left + rx - s.padW };
}

/**
 * The phase planes P of image n of x (shape `s`) into into[offset ..], plane (c, ry, rx) of
 * `phases` (the phase shape) after plane (c, ry, rx - 1): P[a][b] = x[n][c][S a + ry - padH][S b + rx - padW],
 * zero outside the image (the TypeScript kernel).
 */
export function splitPhases(x: FloatArray, s: ConvolutionShape, n: number, phases: ConvolutionShape, into: FloatArray, offset: number): void {
  const S = s.strideH;
  const pw = phases.width;
  forEachPhase(s, n, phases, offset, ({ top, rows, left, cols, from }, at, size) => {
    into.fill(0, at, at + size);
    for (let a = 0; a < rows; a++) {
      const row = from + a * S * s.width;
      const target = at + (top + a) * pw + left;
      for (let b = 0; b < cols; b++) into[target + b] = x[row + b * S]!;
    }
  });
}

/**
 * Calls `write` for each phase plane (c, ry, rx) of image n, in order: its region, `from`
 * counted from the start of x; where the plane starts (at, from `offset` on); its size in floats.
 */
export function forEachPhase(
  s: ConvolutionShape,
  n: number,
  phases: ConvolutionShape,
  offset: number,
  write: (region: PhaseRegion, at: number, size: number) => void,
): void {
  const S = s.strideH;
  const { height: ph, width: pw } = phases;
  let at = offset;
  for (let c = 0; c < s.channels; c++) {
    const plane = (n * s.channels + c) * s.height * s.width;
    for (let ry = 0; ry < S; ry++) {
      for (let rx = 0; rx < S; rx++, at += ph * pw) {
        const region = phaseRegion(s, ry, rx, ph, pw);
        write({ ...region, from: plane + region.from }, at, ph * pw);
      }
    }
  }
}
