import { FunctionBuilder, HEAP_IMPORT, ValType, addTo, countDown, encodeModule, lanesThenRest, type Label } from '@cnn/tensor';

/*
 * The WebAssembly SIMD depthwise kernels (the TypeScript half is depthwise-wasm.ts), the
 * same tap-at-a-time row loops as depthwise.ts, one plane per call, on float32 arrays on
 * the wasm heap; pointers are byte addresses. Each tap multiplies a whole output row with
 * one weight, vectorised across four neighbouring outputs: at stride 1 they read four
 * consecutive inputs (one unaligned load), at stride 2 the even lanes of two loads (a
 * shuffle). Other strides, and the scatter of dx at stride 2, go a float at a time.
 *
 *   forwardPlane          y = clamp(bias + sum of taps), one output plane from its input plane
 *   inputGradientPlane    dx_row[ox * stride + shift] += w * dy_row[ox], added into a zeroed dx plane
 *   weightGradientPlane   dWeight[tap] += sum over rows and ox of dy_row[ox] * x_row[ox * stride + shift]
 *
 * Every one takes the geometry as (height, width, outH, outW, kernelH, kernelW, strideH,
 * strideW, padH, padW, dilationH, dilationW) after its pointers.
 */

const { i32, f32, v128 } = ValType;
const FLOAT = 4;
const LANES = 4;
/** Four floats, four bytes apart: an alignment hint of 2^2 (the loads are not 16-byte aligned). */
const UNALIGNED = 2;

/** Emits the module; it imports the wasm heap as `env.memory`. */
export function depthwiseKernelModule(): Uint8Array {
  return encodeModule({
    functions: [
      { name: 'forwardPlane', body: forwardPlane() },
      { name: 'inputGradientPlane', body: inputGradientPlane() },
      { name: 'weightGradientPlane', body: weightGradientPlane() },
    ],
    importedMemory: HEAP_IMPORT,
  });
}

/** The locals of the geometry, in the order every function takes them after its pointers. */
interface Geometry {
  height: number;
  width: number;
  outH: number;
  outW: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
}

const GEOMETRY_PARAMS = 12;

function geometry(first: number): Geometry {
  const [height, width, outH, outW, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW] = Array.from(
    { length: GEOMETRY_PARAMS },
    (_, i) => first + i,
  ) as [number, number, number, number, number, number, number, number, number, number, number, number];
  return { height, width, outH, outW, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW };
}

/** Locals for one tap on one row: its input row's first pointer, and the run of outputs it reaches. */
interface Tap {
  /** The tap's column offset, kx * dilationW - padW. */
  shift: number;
  /** The first output the tap reaches (see `tapRange` in depthwise.ts). */
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
  f.localGet(kx).localGet(g.dilationW).i32Mul().localGet(g.padW).i32Sub().localSet(t.shift);
  // (stride - 1 - shift) / stride is ceil(-shift / stride) for a negative shift; for others it is not used.
  f.localGet(g.strideW).i32Const(1).i32Sub().localGet(t.shift).i32Sub().localGet(g.strideW).i32DivU();
  f.i32Const(0);
  f.localGet(t.shift).i32Const(0).i32LtS().select().localSet(t.first);
  // The last input column the tap may read, width - 1 - shift; below 0 the tap reaches no output.
  f.localGet(g.width).i32Const(1).i32Sub().localGet(t.shift).i32Sub().localSet(scratch);
  f.localGet(scratch).localGet(g.strideW).i32DivU().i32Const(1).i32Add().localSet(scratch);
  f.localGet(g.outW).localGet(scratch).localGet(scratch).localGet(g.outW).i32GtS().select();
  f.i32Const(0);
  f.localGet(g.width).i32Const(1).i32Sub().localGet(t.shift).i32Sub().i32Const(0).i32GeS().select();
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
 * forwardPlane(x, weight, y, bias, low, high, geometry...): output plane y from input plane x
 * and the kernelH x kernelW filter at weight, every row first set to bias, then each tap added
 * over the outputs it reaches, then clamped to [low, high] (+-Infinity: not clamped).
 */
function forwardPlane(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, f32, f32, f32, ...new Array<ValType>(GEOMETRY_PARAMS).fill(i32)]);
  const [x, weight, y, bias, low, high] = [0, 1, 2, 3, 4, 5];
  const g = geometry(6);
  const [lowv, highv] = [f.local(v128), f.local(v128)];
  const [oy, ky, kx, iy, yRow, xp, yp, tapWeight, scratch] = [i32, i32, i32, i32, i32, i32, i32, i32, i32].map((type) => f.local(type));
  const w = f.local(f32);
  const wv = f.local(v128);
  const biasv = f.local(v128);
  const t = tapLocals(f);

  f.localGet(bias).f32x4Splat().localSet(biasv);
  f.localGet(low).f32x4Splat().localSet(lowv);
  f.localGet(high).f32x4Splat().localSet(highv);
  f.localGet(y).localSet(yRow);
  forUpTo(f, oy, g.outH, () => {
    f.localGet(yRow).localSet(yp);
    lanesThenRest(f, g.outW, [yp], () => f.localGet(yp).localGet(biasv).v128Store(0, UNALIGNED), () => f.localGet(yp).localGet(bias).f32Store());
    f.localGet(weight).localSet(tapWeight);
    forUpTo(f, ky, g.kernelH, () => {
      inputRow(f, g, oy, ky);
      f.localSet(iy);
      ifRowInside(f, g, iy, () => {
        forUpTo(f, kx, g.kernelW, () => {
          f.localGet(tapWeight).localGet(kx).i32Const(FLOAT).i32Mul().i32Add().f32Load().localTee(w).f32x4Splat().localSet(wv);
          tapRange(f, g, kx, t, scratch);
          // xp = x + (iy * width + shift + first * strideW) floats, yp = yRow + first floats.
          f.localGet(x).localGet(iy).localGet(g.width).i32Mul().localGet(t.shift).i32Add().localGet(t.first).localGet(g.strideW).i32Mul().i32Add();
          f.i32Const(FLOAT).i32Mul().i32Add().localSet(xp);
          f.localGet(yRow).localGet(t.first).i32Const(FLOAT).i32Mul().i32Add().localSet(yp);
          tapRun(
            f, g, t, xp, yp,
            (pairs) => {
              f.localGet(yp).localGet(yp).v128Load(0, UNALIGNED).localGet(wv);
              loadLanes(f, xp, pairs);
              f.f32x4Mul().f32x4Add().v128Store(0, UNALIGNED);
            },
            () => f.localGet(yp).localGet(yp).f32Load().localGet(w).localGet(xp).f32Load().f32Mul().f32Add().f32Store(),
          );
        });
      });
      f.localGet(tapWeight).localGet(g.kernelW).i32Const(FLOAT).i32Mul().i32Add().localSet(tapWeight);
    });
    // The finished row, clamped to [low, high] while it is in cache.
    f.localGet(yRow).localSet(yp);
    lanesThenRest(
      f, g.outW, [yp],
      () => f.localGet(yp).localGet(yp).v128Load(0, UNALIGNED).localGet(lowv).f32x4Max().localGet(highv).f32x4Min().v128Store(0, UNALIGNED),
      () => f.localGet(yp).localGet(yp).f32Load().localGet(low).f32Max().localGet(high).f32Min().f32Store(),
    );
    f.localGet(yRow).localGet(g.outW).i32Const(FLOAT).i32Mul().i32Add().localSet(yRow);
  });
  return f;
}

/**
 * inputGradientPlane(dx, weight, dy, geometry...): adds output plane dy's share of the input
 * gradient into plane dx (which the caller zeroed), the forward's taps in reverse: each tap
 * sends w * dy_row[ox] back to the input it read.
 */
function inputGradientPlane(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, ...new Array<ValType>(GEOMETRY_PARAMS).fill(i32)]);
  const [dx, weight, dy] = [0, 1, 2];
  const g = geometry(3);
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
  return f;
}

/**
 * weightGradientPlane(x, dy, dWeight, geometry...): adds to each tap of the filter at dWeight
 * the dot product of output plane dy with the inputs that tap read from plane x, summed in
 * four lanes and a float, added together at the end of the tap.
 */
function weightGradientPlane(): FunctionBuilder {
  const f = new FunctionBuilder([i32, i32, i32, ...new Array<ValType>(GEOMETRY_PARAMS).fill(i32)]);
  const [x, dy, dWeight] = [0, 1, 2];
  const g = geometry(3);
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
  return f;
}
