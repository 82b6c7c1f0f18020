import { addTo, countDown, lanesThenRest, type FunctionBuilder } from '@cnn/tensor';

/*
 * Emitter pieces the register-blocked wasm kernels share (pointwise/, direct/, depthwise/wasm-3x3.ts).
 */

/** Rows and planes are not 16-byte aligned: an alignment hint of 2^2. */
export const UNALIGNED = 2;

/** acc += x * y (v128 locals), one fused multiply-add where the engine has relaxed SIMD (`fma`). */
export function madd(f: FunctionBuilder, fma: boolean, x: number, y: number, acc: number): void {
  if (fma) f.localGet(x).localGet(y).localGet(acc).f32x4RelaxedMadd().localSet(acc);
  else f.localGet(acc).localGet(x).localGet(y).f32x4Mul().f32x4Add().localSet(acc);
}

/**
 * Copies a plane of `rows` rows of `width` floats (i32 locals) from `src`, rows `srcRow` bytes
 * apart, to `dst`, rows `dstRow` bytes apart: into a band's interior, whose zero border then
 * stands for the padding. Moves `src` and `dst` past the plane; `from` and `to` are scratch.
 */
export function copyPlane(
  f: FunctionBuilder,
  locals: { src: number; dst: number; rows: number; width: number; srcRow: number; dstRow: number; from: number; to: number },
): void {
  const { src, dst, rows, width, srcRow, dstRow, from, to } = locals;
  countDown(f, rows, () => {
    f.localGet(src).localSet(from);
    f.localGet(dst).localSet(to);
    lanesThenRest(
      f, width, [from, to],
      () => f.localGet(to).localGet(from).v128Load(0, UNALIGNED).v128Store(0, UNALIGNED),
      () => f.localGet(to).localGet(from).f32Load().f32Store(),
    );
    addTo(f, src, { local: srcRow });
    addTo(f, dst, { local: dstRow });
  });
}
