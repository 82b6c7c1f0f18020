import { ValType, defineWasmKernels, lanesThenRest, type FloatArray, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import { clipBackwardFast } from './fast.js';

/*
 * Clip's backward in 128-bit SIMD, four floats a time: two lane masks, y > min and max > y,
 * each choosing between dy and zero (bitselect).
 */

const { f32, v128 } = ValType;

const params = { y: 'array', dy: 'array', dx: 'array', count: 'i32', low: 'f32', high: 'f32' } as const;

const kernels = defineWasmKernels('wasm clip', {
  clipBackward: { params, emit: clipBackward },
});

/** The module's bytes (for tests and the text dump). */
export const clipModule = kernels.bytes;

/** `clipBackwardReference` in wasm when the arrays are float32 on the heap, else the TypeScript kernel. */
export function clipBackwardWasm(y: FloatArray, dy: FloatArray, dx: FloatArray, count: number, min: number, max: number): void {
  if (!kernels.clipBackward.run({ y, dy, dx, count, low: min, high: max })) clipBackwardFast(y, dy, dx, count, min, max);
}

/** clipBackward(y, dy, dx, count, low, high): dx = low < y < high ? dy : 0 over count floats. */
function clipBackward(f: FunctionBuilder, { y, dy, dx, count, low, high }: WasmParams<typeof params>): void {
  const [lows, highs, value] = [f.local(v128), f.local(v128), f.local(v128)];
  const one = f.local(f32);
  f.localGet(low).f32x4Splat().localSet(lows);
  f.localGet(high).f32x4Splat().localSet(highs);
  lanesThenRest(
    f,
    count,
    [y, dy, dx],
    () => {
      f.localGet(y).v128Load(0, 0).localSet(value);
      f.localGet(dx);
      f.localGet(dy).v128Load(0, 0).v128Zero().localGet(value).localGet(lows).f32x4Gt().v128Bitselect();
      f.v128Zero().localGet(highs).localGet(value).f32x4Gt().v128Bitselect();
      f.v128Store(0, 0);
    },
    () => {
      f.localGet(y).f32Load().localSet(one);
      f.localGet(dx);
      f.localGet(dy).f32Load().f32Const(0);
      f.localGet(one).localGet(low).f32Gt().localGet(high).localGet(one).f32Gt().i32And().select();
      f.f32Store();
    },
  );
}
