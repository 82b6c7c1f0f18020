import { ValType, addTo, countDown, defineWasmKernels, relaxedSimdSupported, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import { UNALIGNED, madd } from '../simd.js';

/*
 * The 1 x 1 convolution of one image as a GEMM straight over its NCHW planes, in 128-bit SIMD:
 *
 *   y[o][p] = min(max(bias[o] + sum over c of W[o][c] * x[c][p], low), high)
 *
 * Row c of the GEMM's B is input plane c. The weights come packed (fast.ts), in panels of four
 * outputs: packed[(t * C + c) * 4 + r] = W[4t + r][c], so a step of the k loop reads four
 * consecutive floats of A, each splat across lanes, and eight neighbouring positions of B (two
 * vector loads). A 4 x 8 register tile of y (eight accumulators, as the GEMM's micro-kernel)
 * starts from the bias, and is clamped and stored straight into y when the k loop ends: y is
 * written once, with the convolution's epilogue done in registers.
 *
 * The positions go by blocks of 16. A block's C x 16 inputs are first copied into scratch as
 * two chunks of C rows of 8 floats, then every output panel runs its two tiles over them. Read
 * where they lie, the C rows of a tile sit a plane apart, and the output rows too: with planes
 * a multiple of 4 KiB apart (MobileNet 0.75's 96 x 96 and 48 x 48 planes) they all fall in the
 * same sets of L1 and evict one another, and such layers ran 15-20 % slower than from the copy
 * (CPU time, batch 64); elsewhere the copy costs nothing measurable at batch 64, and 0-5 % at
 * batch 1, whose planes come from cache: with `copied` 0, the kernel reads every group of 8
 * positions in place instead. The two tiles of a panel run back to back, so each output row of
 * 16 floats is written whole.
 *
 * The 8 or 4 positions after the last block take a 4 x 8 or 4 x 4 tile reading the planes where
 * they lie; the last one to three positions are vectorised across a panel's four outputs
 * instead (a vector of A times one input splat), four panels at a time, stored lane by lane.
 */

const { i32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;
/** Outputs per panel of packed weights: the rows of the register tile. */
export const POINTWISE_PANEL = 4;
/** Positions per packed block: two chunks of 8, the width of the register tile. */
export const POINTWISE_BLOCK = 16;
const BLOCK = POINTWISE_BLOCK;
/** Bytes of one channel's row in a chunk: 8 floats. */
const CHUNK_ROW = FLOAT * 2 * LANES;

const params = {
  x: 'array',
  xStart: 'floats',
  packed: 'array',
  bias: 'array?',
  hasBias: 'i32',
  y: 'array',
  yStart: 'floats',
  scratch: 'array',
  copied: 'i32',
  panels: 'i32',
  channels: 'i32',
  positions: 'i32',
  low: 'f32',
  high: 'f32',
} as const;

const packParams = { weight: 'array', packed: 'array', panels: 'i32', channels: 'i32' } as const;

const kernels = defineWasmKernels('wasm pointwise convolution', {
  pointwiseImage: { params, emit: pointwiseImage },
  packWeights: { params: packParams, emit: packWeights },
});

/** The module's bytes (for tests and the text dump). */
export const pointwiseModule = kernels.bytes;

/** Runs the kernel over one image; false (nothing done) when an array is not float32 on the wasm heap. */
export const pointwiseImageWasm = kernels.pointwiseImage.run;

/** Packs the weights for the kernel (see `packWeights`); false when an array is not float32 on the wasm heap. */
export const packWeightsWasm = kernels.packWeights.run;

/**
 * packWeights(weight, packed, panels, channels): the weights [O, C] (O = 4 * panels, C =
 * channels) in panels of four outputs, as the kernel reads them:
 * packed[(t * C + c) * 4 + r] = weight[(4t + r) * C + c]. One float at a time, about 0.3 ns each
 * here, against 1.5 ns in TypeScript: at batch 1 a 512 x 512 layer's packing would otherwise cost
 * as much as its product.
 */
function packWeights(f: FunctionBuilder, p: WasmParams<typeof packParams>): void {
  const row = f.local(i32);
  const src = f.local(i32);
  const t = f.local(i32);
  const k = f.local(i32);
  f.localGet(p.channels).i32Const(FLOAT).i32Mul().localSet(row);
  f.localGet(p.weight).localSet(src);
  f.localGet(p.panels).localSet(t);
  countDown(f, t, () => {
    f.localGet(p.channels).localSet(k);
    countDown(f, k, () => {
      for (let r = 0; r < POINTWISE_PANEL; r++) {
        f.localGet(p.packed).localGet(src);
        for (let i = 0; i < r; i++) f.localGet(row).i32Add();
        f.f32Load().f32Store(FLOAT * r);
      }
      addTo(f, src, { constant: FLOAT });
      addTo(f, p.packed, { constant: FLOAT * POINTWISE_PANEL });
    });
    // src is at the panel's second row: on to the next panel's first, three rows on.
    for (let i = 0; i < POINTWISE_PANEL - 1; i++) addTo(f, src, { local: row });
  });
}

/**
 * pointwiseImage(x, xStart, packed, bias, hasBias, y, yStart, scratch, copied, panels, channels, positions, low, high):
 * one image's outputs y + yStart, `panels` * 4 planes of `positions` floats, from its `channels`
 * input planes at x + xStart (see above), with `POINTWISE_BLOCK` * `channels` floats of scratch
 * when `copied` is 1.
 * Without a bias, `bias` is address 0: read, and ignored.
 */
function pointwiseImage(f: FunctionBuilder, p: WasmParams<typeof params>): void {
  const fma = relaxedSimdSupported();
  const plane = f.local(i32);
  const panelBytes = f.local(i32);
  const column = f.local(i32);
  const outColumn = f.local(i32);
  const panel = f.local(i32);
  const a = f.local(i32);
  const b = f.local(i32);
  const out = f.local(i32);
  const biasAt = f.local(i32);
  const t = f.local(i32);
  const k = f.local(i32);
  const groups = f.local(i32);
  const rest = f.local(i32);
  const chunkBytes = f.local(i32);
  const acc = Array.from({ length: POINTWISE_PANEL }, () => [f.local(v128), f.local(v128)] as const);
  const bv = [f.local(v128), f.local(v128)] as const;
  const av = f.local(v128);
  const [lowv, highv] = [f.local(v128), f.local(v128)];

  f.localGet(p.x).localGet(p.xStart).i32Add().localSet(p.x);
  f.localGet(p.y).localGet(p.yStart).i32Add().localSet(p.y);
  f.localGet(p.positions).i32Const(FLOAT).i32Mul().localSet(plane);
  f.localGet(p.channels).i32Const(FLOAT * POINTWISE_PANEL).i32Mul().localSet(panelBytes);
  f.localGet(p.low).f32x4Splat().localSet(lowv);
  f.localGet(p.high).f32x4Splat().localSet(highv);

  /** acc = splat(bias of panel row r), or 0 without a bias; `biasAt` points at the panel's first bias. */
  const startTile = (vectors: number): void => {
    for (let r = 0; r < POINTWISE_PANEL; r++) {
      f.localGet(biasAt).v128Load32Splat(FLOAT * r).v128Zero().localGet(p.hasBias).select();
      f.localSet(acc[r]![0]);
      if (vectors === 2) f.localGet(acc[r]![0]).localSet(acc[r]![1]);
    }
  };

  /**
   * acc[r][v] += a[r] * b[v] over every channel, from the panel at `a` and the inputs at `b`,
   * the next channel's `bStep` bytes on: a plane on, or, packed, one row of the chunk on.
   */
  const kLoop = (vectors: number, bStep: { constant: number } | { local: number }): void => {
    f.localGet(p.channels).localSet(k);
    countDown(f, k, () => {
      for (let v = 0; v < vectors; v++) f.localGet(b).v128Load(FLOAT * LANES * v, UNALIGNED).localSet(bv[v]!);
      for (let r = 0; r < POINTWISE_PANEL; r++) {
        f.localGet(a).v128Load32Splat(FLOAT * r).localSet(av);
        for (let v = 0; v < vectors; v++) madd(f, fma, av, bv[v]!, acc[r]![v]!);
      }
      addTo(f, a, { constant: FLOAT * POINTWISE_PANEL });
      addTo(f, b, bStep);
    });
  };

  /** Clamps the tile and stores its rows from `out`, a plane apart. */
  const storeTile = (vectors: number): void => {
    for (let r = 0; r < POINTWISE_PANEL; r++) {
      for (let v = 0; v < vectors; v++) {
        f.localGet(out).localGet(acc[r]![v]!).localGet(lowv).f32x4Max().localGet(highv).f32x4Min().v128Store(FLOAT * LANES * v, UNALIGNED);
      }
      addTo(f, out, { local: plane });
    }
  };

  /** Every panel's tile over the `vectors` * 4 positions from `column` (input) and `outColumn` (output). */
  const panelsAt = (vectors: number): void => {
    f.localGet(p.packed).localSet(panel);
    f.localGet(p.bias).localSet(biasAt);
    f.localGet(outColumn).localSet(out);
    f.localGet(p.panels).localSet(t);
    countDown(f, t, () => {
      startTile(vectors);
      f.localGet(panel).localSet(a);
      f.localGet(column).localSet(b);
      kLoop(vectors, { local: plane });
      storeTile(vectors);
      addTo(f, panel, { local: panelBytes });
      addTo(f, biasAt, { constant: FLOAT * POINTWISE_PANEL });
    });
    addTo(f, column, { constant: FLOAT * LANES * vectors });
    addTo(f, outColumn, { constant: FLOAT * LANES * vectors });
  };

  /**
   * The 16 positions from `column`: their C x 16 inputs copied into two chunks of C rows of 8
   * (scratch, then scratch + chunkBytes), then, per panel, the tile of each chunk in turn, so
   * the panel's weights are read from L1 the second time and each output row of 16 floats is
   * written whole.
   */
  const blockAt = (): void => {
    f.localGet(column).localSet(b);
    f.localGet(p.scratch).localSet(a);
    f.localGet(p.channels).localSet(k);
    countDown(f, k, () => {
      for (let v = 0; v < 2; v++) f.localGet(a).localGet(b).v128Load(FLOAT * LANES * v, UNALIGNED).v128Store(FLOAT * LANES * v);
      f.localGet(a).localGet(chunkBytes).i32Add();
      f.localGet(b).v128Load(FLOAT * LANES * 2, UNALIGNED).v128Store(0);
      f.localGet(a).localGet(chunkBytes).i32Add();
      f.localGet(b).v128Load(FLOAT * LANES * 3, UNALIGNED).v128Store(FLOAT * LANES);
      addTo(f, a, { constant: CHUNK_ROW });
      addTo(f, b, { local: plane });
    });
    f.localGet(p.packed).localSet(panel);
    f.localGet(p.bias).localSet(biasAt);
    f.localGet(outColumn).localSet(out);
    f.localGet(p.panels).localSet(t);
    countDown(f, t, () => {
      for (let chunk = 0; chunk < 2; chunk++) {
        startTile(2);
        f.localGet(panel).localSet(a);
        f.localGet(p.scratch).localSet(b);
        if (chunk === 1) addTo(f, b, { local: chunkBytes });
        kLoop(2, { constant: CHUNK_ROW });
        storeTile(2);
        // storeTile moved `out` four planes on: back to the panel's first plane, 8 positions on, or on to the next panel's.
        f.localGet(out).localGet(plane).i32Const(POINTWISE_PANEL).i32Mul().i32Sub().localSet(out);
        addTo(f, out, { constant: chunk === 0 ? CHUNK_ROW : -CHUNK_ROW });
      }
      f.localGet(plane).i32Const(POINTWISE_PANEL).i32Mul().localGet(out).i32Add().localSet(out);
      addTo(f, panel, { local: panelBytes });
      addTo(f, biasAt, { constant: FLOAT * POINTWISE_PANEL });
    });
    addTo(f, column, { constant: FLOAT * BLOCK });
    addTo(f, outColumn, { constant: FLOAT * BLOCK });
  };

  f.localGet(p.x).localSet(column);
  f.localGet(p.y).localSet(outColumn);
  f.localGet(p.channels).i32Const(CHUNK_ROW).i32Mul().localSet(chunkBytes);
  f.localGet(p.copied).if(
    () => {
      f.localGet(p.positions).i32Const(BLOCK).i32DivU().localSet(groups);
      countDown(f, groups, blockAt);
      f.localGet(p.positions).i32Const(2 * LANES).i32And().if(() => panelsAt(2));
    },
    () => {
      f.localGet(p.positions).i32Const(2 * LANES).i32DivU().localSet(groups);
      countDown(f, groups, () => panelsAt(2));
    },
  );
  f.localGet(p.positions).i32Const(LANES).i32And().if(() => panelsAt(1));

  // Locals holding q panels' bytes, q < 4: the offsets of a quad's packed panels from its first.
  const panelOffsets = [0, 1, 2, 3].map((q) => {
    const offset = f.local(i32);
    f.localGet(panelBytes).i32Const(q).i32Mul().localSet(offset);
    return offset;
  });

  /**
   * The position at `column` through `n` panels from `a`, `biasAt` and `out`: panel q's four
   * outputs in the lanes of acc[q][0]. One panel's sum would wait on its own last multiply-add
   * at every channel; four panels' sums are four independent chains.
   */
  const restPanels = (n: number): void => {
    for (let q = 0; q < n; q++) f.localGet(biasAt).v128Load(FLOAT * POINTWISE_PANEL * q, UNALIGNED).v128Zero().localGet(p.hasBias).select().localSet(acc[q]![0]!);
    f.localGet(column).localSet(b);
    f.localGet(p.channels).localSet(k);
    countDown(f, k, () => {
      f.localGet(b).v128Load32Splat().localSet(av);
      for (let q = 0; q < n; q++) {
        f.localGet(a);
        if (q > 0) f.localGet(panelOffsets[q]!).i32Add();
        f.v128Load(0).localSet(bv[0]);
        madd(f, fma, av, bv[0], acc[q]![0]!);
      }
      addTo(f, a, { constant: FLOAT * POINTWISE_PANEL });
      addTo(f, b, { local: plane });
    });
    // `a` is at the panel after the first: on past the others.
    if (n > 1) addTo(f, a, { local: panelOffsets[n - 1]! });
    for (let q = 0; q < n; q++) {
      const sum = acc[q]![0]!;
      f.localGet(sum).localGet(lowv).f32x4Max().localGet(highv).f32x4Min().localSet(sum);
      for (let r = 0; r < POINTWISE_PANEL; r++) {
        f.localGet(out).localGet(sum).f32x4ExtractLane(r).f32Store();
        addTo(f, out, { local: plane });
      }
    }
    addTo(f, biasAt, { constant: FLOAT * POINTWISE_PANEL * n });
  };

  // The last positions, one at a time, through four panels at a time, then the one to three left.
  f.localGet(p.positions).i32Const(LANES - 1).i32And().localSet(rest);
  countDown(f, rest, () => {
    f.localGet(p.packed).localSet(a);
    f.localGet(p.bias).localSet(biasAt);
    f.localGet(outColumn).localSet(out);
    f.localGet(p.panels).i32Const(4).i32DivU().localSet(t);
    countDown(f, t, () => restPanels(4));
    f.localGet(p.panels).i32Const(3).i32And().localSet(t);
    countDown(f, t, () => restPanels(1));
    addTo(f, column, { constant: FLOAT });
    addTo(f, outColumn, { constant: FLOAT });
  });
}
