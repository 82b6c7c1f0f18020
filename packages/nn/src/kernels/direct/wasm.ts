import { ValType, addTo, countDown, defineWasmKernels, relaxedSimdSupported, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import { UNALIGNED, copyPlane, madd } from '../simd.js';

/*
 * A 3 x 3 convolution over few input channels (a net's first layer: RGB in), stride 1 or 2,
 * computed directly in 128-bit SIMD. Through im2col and a GEMM, its few channels make a thin
 * matrix whose unfolding costs as much as the product; here each image's planes are copied
 * into a zero-bordered band (so no tap needs a bounds test, as in depthwise/wasm-3x3.ts), and
 * a register tile of four output channels x eight positions (eight accumulators) takes every
 * channel's nine taps before it is biased, clamped and stored, once:
 *
 *   for c, ky, kx: v = the inputs of tap (ky, kx) for the eight positions (two vectors)
 *                  acc[r][i] += splat(w[o + r][c][ky][kx]) * v[i]       r < 4, i < 2
 *
 * The weights come packed (fast.ts), per panel of four outputs, channel, and tap, the four
 * outputs' weights side by side: packed[((t * C + c) * 9 + ky * 3 + kx) * 4 + r].
 * A last group of four positions takes one vector; the last one to three positions go one at a
 * time (lane 0).
 */

const { i32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;
const TAPS = 3;
/** Outputs per panel of packed weights: the rows of the register tile. */
export const DIRECT_PANEL = 4;

const params = {
  x: 'array',
  xStart: 'floats',
  channels: 'i32',
  height: 'i32',
  width: 'i32',
  band: 'array',
  bandRow: 'floats',
  bandPlane: 'floats',
  copyAt: 'floats',
  readAt: 'floats',
  packed: 'array',
  bias: 'array?',
  hasBias: 'i32',
  y: 'array',
  yStart: 'floats',
  panels: 'i32',
  outH: 'i32',
  outW: 'i32',
  low: 'f32',
  high: 'f32',
} as const;

const kernels = defineWasmKernels('wasm direct convolution', {
  direct3x3Stride1: { params, emit: (f, p) => direct3x3(f, p, 1) },
  direct3x3Stride2: { params, emit: (f, p) => direct3x3(f, p, 2) },
});

/** The module's bytes (for tests and the text dump). */
export const directModule = kernels.bytes;

/** The kernel of each stride; false (nothing done) when an array is not float32 on the wasm heap. */
export const directImageWasm = { 1: kernels.direct3x3Stride1.run, 2: kernels.direct3x3Stride2.run } as const;

/**
 * direct3x3Stride{S}(x, xStart, channels, height, width, band, bandRow, bandPlane, copyAt, readAt,
 * packed, bias, hasBias, y, yStart, panels, outH, outW, low, high): one image. Copies its
 * `channels` height x width planes from x + xStart into the band, plane c from
 * band + c bandPlane + copyAt, rows bandRow apart (the border stays zero); then writes the
 * panels * 4 output planes of outH x outW from y + yStart,
 * y[o][oy][ox] = min(max(b[o] + sum over c, ky, kx < 3 of w[o][c][ky][kx] * B_c[oy S + ky][ox S + kx], low), high),
 * with B_c band plane c from band + c bandPlane + readAt, w the packed weights and b the bias (0 without).
 */
function direct3x3(f: FunctionBuilder, p: WasmParams<typeof params>, stride: 1 | 2): void {
  const fma = relaxedSimdSupported();
  const [rowBytes, inRowBytes, outRowBytes, outPlaneBytes, panelBytes, plane, rows, src, dst, c] = Array.from({ length: 10 }, () => f.local(i32));
  const [panel, biasAt, t, oy, rowIn, yRow, column, out, w, at, groups, rest] = Array.from({ length: 12 }, () => f.local(i32));
  const acc = Array.from({ length: DIRECT_PANEL }, () => [f.local(v128), f.local(v128)] as const);
  const inputs = [f.local(v128), f.local(v128)] as const;
  const [wv, lowv, highv] = [f.local(v128), f.local(v128), f.local(v128)];

  f.localGet(p.x).localGet(p.xStart).i32Add().localSet(p.x);
  f.localGet(p.y).localGet(p.yStart).i32Add().localSet(p.y);
  f.localGet(p.bandRow).localSet(rowBytes);
  f.localGet(p.width).i32Const(FLOAT).i32Mul().localSet(inRowBytes);
  f.localGet(p.outW).i32Const(FLOAT).i32Mul().localSet(outRowBytes);
  f.localGet(outRowBytes).localGet(p.outH).i32Mul().localSet(outPlaneBytes);
  f.localGet(p.channels).i32Const(TAPS * TAPS * DIRECT_PANEL * FLOAT).i32Mul().localSet(panelBytes);
  f.localGet(p.low).f32x4Splat().localSet(lowv);
  f.localGet(p.high).f32x4Splat().localSet(highv);

  // The planes into the band's interiors, row by row.
  f.localGet(p.x).localSet(src);
  f.localGet(p.band).localGet(p.copyAt).i32Add().localSet(plane);
  f.localGet(p.channels).localSet(c);
  countDown(f, c, () => {
    f.localGet(plane).localSet(dst);
    f.localGet(p.height).localSet(rows);
    copyPlane(f, { src, dst, rows, width: p.width, srcRow: inRowBytes, dstRow: rowBytes, from: at, to: out });
    addTo(f, plane, { local: p.bandPlane });
  });

  /** Pushes the four inputs of tap kx from the band row at `at`, `first` positions on: at stride 2 the even lanes of eight. */
  const tapInputs = (kx: number, first: number): void => {
    const offset = FLOAT * (first * stride + kx);
    f.localGet(at).v128Load(offset, UNALIGNED);
    if (stride === 2) f.localGet(at).v128Load(offset + FLOAT * LANES, UNALIGNED).shuffle32([0, 2, 4, 6]);
  };

  /**
   * The tile of `vectors` * 4 positions (or one position in lane 0, `single`) at band column
   * `column` of the row `rowIn`, stored from `out` (an output plane apart per row of the tile).
   */
  const tile = (vectors: number, single: boolean): void => {
    for (let r = 0; r < DIRECT_PANEL; r++) {
      f.localGet(biasAt).v128Load32Splat(FLOAT * r).v128Zero().localGet(p.hasBias).select().localSet(acc[r]![0]);
      if (vectors === 2) f.localGet(acc[r]![0]).localSet(acc[r]![1]);
    }
    f.localGet(panel).localSet(w);
    f.localGet(column).localSet(src);
    f.localGet(p.channels).localSet(c);
    countDown(f, c, () => {
      for (let ky = 0; ky < TAPS; ky++) {
        f.localGet(src);
        if (ky > 0) f.localGet(rowBytes).i32Const(ky).i32Mul().i32Add();
        f.localSet(at);
        for (let kx = 0; kx < TAPS; kx++) {
          for (let v = 0; v < vectors; v++) {
            if (single) f.localGet(at).v128Load32Splat(FLOAT * kx);
            else tapInputs(kx, v * LANES);
            f.localSet(inputs[v]!);
          }
          for (let r = 0; r < DIRECT_PANEL; r++) {
            f.localGet(w).v128Load32Splat(FLOAT * ((ky * TAPS + kx) * DIRECT_PANEL + r)).localSet(wv);
            for (let v = 0; v < vectors; v++) {
              madd(f, fma, wv, inputs[v]!, acc[r]![v]!);
            }
          }
        }
      }
      addTo(f, w, { constant: FLOAT * TAPS * TAPS * DIRECT_PANEL });
      addTo(f, src, { local: p.bandPlane });
    });
    f.localGet(out).localSet(dst);
    for (let r = 0; r < DIRECT_PANEL; r++) {
      for (let v = 0; v < vectors; v++) {
        f.localGet(acc[r]![v]!).localGet(lowv).f32x4Max().localGet(highv).f32x4Min().localSet(acc[r]![v]!);
        if (single) f.localGet(dst).localGet(acc[r]![v]!).f32x4ExtractLane(0).f32Store();
        else f.localGet(dst).localGet(acc[r]![v]!).v128Store(FLOAT * LANES * v, UNALIGNED);
      }
      addTo(f, dst, { local: outPlaneBytes });
    }
  };

  /** Runs `tile` and moves `column` and `out` on by `positions`. */
  const step = (vectors: number, single: boolean, positions: number): void => {
    tile(vectors, single);
    addTo(f, column, { constant: FLOAT * positions * stride });
    addTo(f, out, { constant: FLOAT * positions });
  };

  f.localGet(p.packed).localSet(panel);
  f.localGet(p.bias).localSet(biasAt);
  f.localGet(p.y).localSet(yRow);
  f.localGet(p.panels).localSet(t);
  countDown(f, t, () => {
    f.localGet(p.band).localGet(p.readAt).i32Add().localSet(rowIn);
    f.localGet(yRow).localSet(out);
    f.localGet(p.outH).localSet(oy);
    countDown(f, oy, () => {
      f.localGet(rowIn).localSet(column);
      f.localGet(p.outW).i32Const(2 * LANES).i32DivU().localSet(groups);
      countDown(f, groups, () => step(2, false, 2 * LANES));
      f.localGet(p.outW).i32Const(LANES).i32And().if(() => step(1, false, LANES));
      f.localGet(p.outW).i32Const(LANES - 1).i32And().localSet(rest);
      countDown(f, rest, () => step(1, true, 1));
      f.localGet(rowIn).localGet(rowBytes).i32Const(stride).i32Mul().i32Add().localSet(rowIn);
    });
    addTo(f, panel, { local: panelBytes });
    addTo(f, biasAt, { constant: FLOAT * DIRECT_PANEL });
    f.localGet(yRow).localGet(outPlaneBytes).i32Const(DIRECT_PANEL).i32Mul().i32Add().localSet(yRow);
  });
}
