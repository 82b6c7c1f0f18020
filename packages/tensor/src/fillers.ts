import { ArgumentError, formatShape } from './errors.js';
import { Rng } from './rng.js';
import type { Tensor } from './tensor.js';

/** How xavier and msra pick the `n` in their variance: Caffe's `variance_norm`. */
export type VarianceNorm = 'FAN_IN' | 'FAN_OUT' | 'AVERAGE';

/** Caffe's FillerParameter, in camelCase. Missing fields take Caffe's defaults. */
export type FillerSpec =
  | { type: 'constant'; value?: number }
  | { type: 'uniform'; min?: number; max?: number }
  | { type: 'gaussian'; mean?: number; std?: number }
  | { type: 'xavier'; varianceNorm?: VarianceNorm }
  | { type: 'msra'; varianceNorm?: VarianceNorm };

/**
 * Fills a contiguous parameter blob in place as Caffe's fillers do, drawing from `rng`
 * in element order (so the result depends only on the seed, never on threads).
 *
 * - constant: every element `value` (default 0).
 * - uniform: U(min, max), default U(0, 1).
 * - gaussian: N(mean, std^2), default N(0, 1).
 * - xavier: U(-a, a) with a = sqrt(3 / n).
 * - msra: N(0, 2 / n).
 *
 * For xavier and msra, as in Caffe's filler.hpp: fan_in = count / shape[0]
 * (for a conv weight O x C x kh x kw, C * kh * kw), fan_out = count / shape[1]
 * (O * kh * kw); n = fan_in, fan_out, or their mean, by `varianceNorm` (FAN_IN default).
 */
export function fill(blob: Tensor, spec: FillerSpec, rng: Rng): void {
  if (!blob.isContiguous()) throw new ArgumentError(`fill needs a contiguous blob, got ${blob}`);
  const { data, offset } = blob;
  const end = offset + blob.size;
  switch (spec.type) {
    case 'constant':
      data.fill(spec.value ?? 0, offset, end);
      return;
    case 'uniform': {
      const min = spec.min ?? 0;
      const max = spec.max ?? 1;
      for (let i = offset; i < end; i++) data[i] = rng.uniform(min, max);
      return;
    }
    case 'gaussian': {
      const mean = spec.mean ?? 0;
      const std = spec.std ?? 1;
      for (let i = offset; i < end; i++) data[i] = rng.normal(mean, std);
      return;
    }
    case 'xavier': {
      const scale = Math.sqrt(3 / fanNumber(blob.shape, spec.varianceNorm ?? 'FAN_IN'));
      for (let i = offset; i < end; i++) data[i] = rng.uniform(-scale, scale);
      return;
    }
    case 'msra': {
      const std = Math.sqrt(2 / fanNumber(blob.shape, spec.varianceNorm ?? 'FAN_IN'));
      for (let i = offset; i < end; i++) data[i] = rng.normal(0, std);
      return;
    }
    default:
      throw new ArgumentError(`unknown filler type '${(spec as { type: string }).type}'`);
  }
}

/** The `n` of xavier/msra for a blob shape (Caffe's fan-in/fan-out conventions). */
export function fanNumber(shape: readonly number[], norm: VarianceNorm): number {
  const count = shape.reduce((p, d) => p * d, 1);
  if (shape.length === 0 || count === 0) throw new ArgumentError(`cannot compute fan-in of shape ${formatShape(shape)}`);
  const fanIn = count / shape[0]!;
  const fanOut = shape.length > 1 ? count / shape[1]! : count;
  if (norm === 'FAN_OUT') return fanOut;
  if (norm === 'AVERAGE') return (fanIn + fanOut) / 2;
  return fanIn;
}
