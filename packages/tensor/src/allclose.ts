import { ShapeError, formatShape } from './errors.js';
import { sameShape, type Tensor } from './tensor.js';

/** Tolerances for `allclose`: passes where |actual - expected| <= atol + rtol * |expected|. */
export interface Tolerance {
  atol?: number;
  rtol?: number;
}

/** The outcome of `allclose`, with the element that is furthest out of tolerance. */
export interface AllcloseResult {
  ok: boolean;
  /** Elements compared. */
  count: number;
  /** Elements out of tolerance (a NaN on either side counts). */
  failures: number;
  /** The largest |actual - expected|. */
  maxAbsDiff: number;
  /** Multi-index of the worst element: the largest excess over its tolerance. */
  worstIndex: number[];
  worstActual: number;
  worstExpected: number;
  /** One line naming the worst element, for test failures. */
  message: string;
}

/**
 * Compares two tensors of the same shape element by element (numpy's rule:
 * |a - e| <= atol + rtol * |e|). Throws a `ShapeError` when the shapes differ.
 */
export function allclose(actual: Tensor, expected: Tensor, { atol = 1e-6, rtol = 1e-5 }: Tolerance = {}): AllcloseResult {
  if (!sameShape(actual.shape, expected.shape)) {
    throw new ShapeError(`allclose: shapes differ, ${formatShape(actual.shape)} vs ${formatShape(expected.shape)}`);
  }
  const a = actual.toFlatArray();
  const e = expected.toFlatArray();
  let failures = 0;
  let maxAbsDiff = 0;
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i]! - e[i]!);
    const excess = Number.isNaN(diff) ? Infinity : diff - (atol + rtol * Math.abs(e[i]!));
    if (excess > 0) failures++;
    if (diff > maxAbsDiff || Number.isNaN(diff)) maxAbsDiff = Number.isNaN(diff) ? NaN : Math.max(maxAbsDiff, diff);
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  const worstIndex = worst < 0 ? [] : unravel(worst, actual.shape);
  const worstActual = worst < 0 ? NaN : a[worst]!;
  const worstExpected = worst < 0 ? NaN : e[worst]!;
  const message =
    `${failures} of ${a.length} elements out of tolerance (atol ${atol}, rtol ${rtol}); max |diff| ${maxAbsDiff}; ` +
    `worst at [${worstIndex.join(',')}]: actual ${worstActual}, expected ${worstExpected}`;
  return { ok: failures === 0, count: a.length, failures, maxAbsDiff, worstIndex, worstActual, worstExpected, message };
}

/** The multi-index of row-major position `flat` in `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = flat % shape[axis]!;
    flat = Math.floor(flat / shape[axis]!);
  }
  return index;
}
