import { ValType, defineWasmKernels, definePoolJob, lanesThenRest, partRange, type FloatArray, type FunctionBuilder, type WasmParams } from '@cnn/tensor';
import { constantScalars, constantsOf, runUpdate, type UpdateJob } from './fast.js';
import { updateRange, type UpdateConstants } from './reference.js';

/*
 * Plain SGD with L2 weight decay in 128-bit SIMD, four weights at a time; the other rules
 * (and L1) run the TypeScript loop. (The division by iterSize is a multiplication by its
 * inverse, exact when iterSize is a power of two.)
 */

const { f32, v128 } = ValType;

const sgdParams = { w: 'array', g: 'array', v: 'array', count: 'i32', inverseIterSize: 'f32', decay: 'f32', momentum: 'f32', rate: 'f32' } as const;

/** The wasm kernels of the solver's update (exported for tests). */
export const updateWasmKernels = defineWasmKernels('wasm solver update', { sgdUpdate: { params: sgdParams, emit: sgdUpdate } });

/** `updateJob` with plain SGD and L2 decay in wasm where the arrays are on the heap. */
export const updateWasmJob: UpdateJob = definePoolJob({
  module: import.meta.url,
  name: 'updateWasmJob',
  arrays: ['w', 'g', 'v', 's'],
  scalars: constantScalars,
  part: ({ w, g, v, s }, scalars, part, parts) => {
    const c = constantsOf(scalars);
    const [start, end] = partRange(scalars.count, part, parts);
    const sgd = c.rule === 'SGD' && !c.l1;
    const range = (array: FloatArray) => array.subarray(start, end);
    const args = { w: range(w), g: range(g), v: range(v), count: end - start, inverseIterSize: 1 / c.iterSize, decay: c.decay, momentum: c.momentum, rate: c.rate };
    if (!(sgd && updateWasmKernels.sgdUpdate.run(args))) updateRange(w, g, v, s, c, start, end);
  },
});

/** `updateParameterFast` with plain SGD in 128-bit SIMD when the arrays are on the wasm heap. */
export function updateParameterWasm(w: FloatArray, g: FloatArray, v: FloatArray, s: FloatArray | undefined, count: number, c: UpdateConstants): void {
  runUpdate(updateWasmJob, w, g, v, s, count, c);
}

/**
 * sgdUpdate(w, g, v, count, inverseIterSize, decay, momentum, rate): for count floats,
 * g = g * inverseIterSize + decay * w (stored back), v = momentum * v + rate * g, w -= v.
 */
function sgdUpdate(f: FunctionBuilder, p: WasmParams<typeof sgdParams>): void {
  const { w, g, v, count, inverseIterSize, decay, momentum, rate } = p;
  const [scales, decays, momenta, rates] = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const [weight, grad, step] = [f.local(v128), f.local(v128), f.local(v128)];
  const [weight1, grad1, step1] = [f.local(f32), f.local(f32), f.local(f32)];
  f.localGet(inverseIterSize).f32x4Splat().localSet(scales);
  f.localGet(decay).f32x4Splat().localSet(decays);
  f.localGet(momentum).f32x4Splat().localSet(momenta);
  f.localGet(rate).f32x4Splat().localSet(rates);
  lanesThenRest(
    f,
    count,
    [w, g, v],
    () => {
      f.localGet(w).v128Load(0, 0).localSet(weight);
      f.localGet(g).v128Load(0, 0).localGet(scales).f32x4Mul().localGet(weight).localGet(decays).f32x4Mul().f32x4Add().localSet(grad);
      f.localGet(g).localGet(grad).v128Store(0, 0);
      f.localGet(v).v128Load(0, 0).localGet(momenta).f32x4Mul().localGet(grad).localGet(rates).f32x4Mul().f32x4Add().localSet(step);
      f.localGet(v).localGet(step).v128Store(0, 0);
      f.localGet(w).localGet(weight).localGet(step).f32x4Sub().v128Store(0, 0);
    },
    () => {
      f.localGet(w).f32Load().localSet(weight1);
      f.localGet(g).f32Load().localGet(inverseIterSize).f32Mul().localGet(weight1).localGet(decay).f32Mul().f32Add().localSet(grad1);
      f.localGet(g).localGet(grad1).f32Store();
      f.localGet(v).f32Load().localGet(momentum).f32Mul().localGet(grad1).localGet(rate).f32Mul().f32Add().localSet(step1);
      f.localGet(v).localGet(step1).f32Store();
      f.localGet(w).localGet(weight1).localGet(step1).f32Sub().f32Store();
    },
  );
}
