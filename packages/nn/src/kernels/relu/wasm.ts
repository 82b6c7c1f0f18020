import { ValType, defineWasmKernels, lanesThenRest, type FloatArray, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import { reluBackwardFast, reluForwardFast } from './fast.js';

/*
 * ReLU in 128-bit SIMD, four floats a time: the forward as max(x, 0) + slope * min(x, 0),
 * the backward as a lane mask (y > 0) choosing between dy and slope * dy (bitselect).
 */

const { f32, v128 } = ValType;

const forwardParams = { x: 'array', y: 'array', count: 'i32', slope: 'f32' } as const;
const backwardParams = { y: 'array', dy: 'array', dx: 'array', count: 'i32', slope: 'f32' } as const;

const kernels = defineWasmKernels('wasm relu', {
  reluForward: { params: forwardParams, emit: reluForward },
  reluBackward: { params: backwardParams, emit: reluBackward },
});

/** The module's bytes (for tests and the text dump). */
export const reluModule = kernels.bytes;

/** `reluForwardReference` in wasm when both arrays are float32 on the heap, else the TypeScript kernel. */
export function reluForwardWasm(x: FloatArray, y: FloatArray, count: number, slope: number): void {
  if (!kernels.reluForward.run({ x, y, count, slope })) reluForwardFast(x, y, count, slope);
}

/** `reluBackwardReference` in wasm when the arrays are float32 on the heap, else the TypeScript kernel. */
export function reluBackwardWasm(y: FloatArray, dy: FloatArray, dx: FloatArray, count: number, slope: number): void {
  if (!kernels.reluBackward.run({ y, dy, dx, count, slope })) reluBackwardFast(y, dy, dx, count, slope);
}

/** reluForward(x, y, count, slope): y = max(x, 0) + slope * min(x, 0) over count floats (y may be x). */
function reluForward(f: FunctionBuilder, { x, y, count, slope }: WasmParams<typeof forwardParams>): void {
  const slopes = f.local(v128);
  const value = f.local(v128);
  const one = f.local(f32);
  f.localGet(slope).f32x4Splat().localSet(slopes);
  lanesThenRest(
    f,
    count,
    [x, y],
    () => {
      f.localGet(x).v128Load(0, 0).localSet(value);
      f.localGet(y);
      f.localGet(value).v128Zero().f32x4Max();
      f.localGet(value).v128Zero().f32x4Min().localGet(slopes).f32x4Mul();
      f.f32x4Add().v128Store(0, 0);
    },
    () => {
      f.localGet(x).f32Load().localSet(one);
      f.localGet(y);
      f.localGet(one).f32Const(0).f32Max();
      f.localGet(one).f32Const(0).f32Min().localGet(slope).f32Mul();
      f.f32Add().f32Store();
    },
  );
}

/** reluBackward(y, dy, dx, count, slope): dx = y > 0 ? dy : slope * dy over count floats. */
function reluBackward(f: FunctionBuilder, { y, dy, dx, count, slope }: WasmParams<typeof backwardParams>): void {
  const slopes = f.local(v128);
  const grad = f.local(v128);
  const one = f.local(f32);
  f.localGet(slope).f32x4Splat().localSet(slopes);
  lanesThenRest(
    f,
    count,
    [y, dy, dx],
    () => {
      f.localGet(dy).v128Load(0, 0).localSet(grad);
      f.localGet(dx);
      f.localGet(grad);
      f.localGet(grad).localGet(slopes).f32x4Mul();
      f.localGet(y).v128Load(0, 0).v128Zero().f32x4Gt();
      f.v128Bitselect().v128Store(0, 0);
    },
    () => {
      f.localGet(dy).f32Load().localSet(one);
      f.localGet(dx);
      f.localGet(one);
      f.localGet(one).localGet(slope).f32Mul();
      f.localGet(y).f32Load().f32Const(0).f32Gt();
      f.select().f32Store();
    },
  );
}
