import { ValType, countDown, defineWasmKernels, lanesThenRest, type FloatArray, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import { biasClampPlanesFast } from './fast.js';

/*
 * The convolution epilogue in 128-bit SIMD, four floats at a time, one call per image (a call
 * per plane would cost more than a 10 x 10 plane's work).
 */

const { f32, v128 } = ValType;
const FLOAT = 4;
/** Planes are not 16-byte aligned (a 10 x 10 plane is 400 bytes): an alignment hint of 2^2. */
const UNALIGNED = 2;

const params = { y: 'array', start: 'floats', planes: 'i32', planeSize: 'i32', bias: 'array?', hasBias: 'i32', low: 'f32', high: 'f32' } as const;

const kernels = defineWasmKernels('wasm convolution epilogue', {
  biasClampPlanes: { params, emit: biasClampPlanes },
});

/** The module's bytes (for tests and the text dump). */
export const epilogueModule = kernels.bytes;

/** `biasClampPlanesFast` in wasm when the arrays are float32 on the heap, else the TypeScript loop. */
export function biasClampPlanesWasm(y: FloatArray, start: number, planes: number, planeSize: number, bias: FloatArray | undefined, min: number, max: number): void {
  const done = kernels.biasClampPlanes.run({ y, start, planes, planeSize, bias, hasBias: bias ? 1 : 0, low: min, high: max });
  if (!done) biasClampPlanesFast(y, start, planes, planeSize, bias, min, max);
}

/**
 * biasClampPlanes(y, start, planes, planeSize, bias, hasBias, low, high): for each of `planes`
 * planes of planeSize floats from y + start, y = min(max(y + b, low), high), b the plane's bias
 * (consecutive floats from `bias` when hasBias, else 0).
 */
function biasClampPlanes(f: FunctionBuilder, { y, start, planes, planeSize, bias, hasBias, low, high }: WasmParams<typeof params>): void {
  const b = f.local(f32);
  const [bv, lowv, highv] = [f.local(v128), f.local(v128), f.local(v128)];
  f.localGet(y).localGet(start).i32Add().localSet(y);
  f.localGet(low).f32x4Splat().localSet(lowv);
  f.localGet(high).f32x4Splat().localSet(highv);
  countDown(f, planes, () => {
    // Without a bias, `bias` is address 0: read, and ignored.
    f.localGet(bias).f32Load().f32Const(0).localGet(hasBias).select().localTee(b).f32x4Splat().localSet(bv);
    lanesThenRest(
      f, planeSize, [y],
      () => f.localGet(y).localGet(y).v128Load(0, UNALIGNED).localGet(bv).f32x4Add().localGet(lowv).f32x4Max().localGet(highv).f32x4Min().v128Store(0, UNALIGNED),
      () => f.localGet(y).localGet(y).f32Load().localGet(b).f32Add().localGet(low).f32Max().localGet(high).f32Min().f32Store(),
    );
    f.localGet(bias).i32Const(FLOAT).i32Add().localSet(bias);
  });
}
