import { Rng, Tensor, formatShape } from '@cnn/tensor';
import { Blob } from '../blob.js';
import type { Layer } from '../layer.js';

/** Settings of `checkGradients`. */
export interface GradientCheckOptions {
  /** Step of the central difference. */
  step?: number;
  /** Allowed |analytic - numeric| is `tolerance * max(1, |analytic|, |numeric|)`. */
  tolerance?: number;
  /** Seed of the random projection that turns the tops into a scalar loss. */
  seed?: number;
  /** Bottoms whose gradient is checked (all by default). Labels, for example, are not. */
  checkBottoms?: readonly boolean[];
  /** Re-run before every forward, so a stochastic layer (Dropout) draws the same mask each time. */
  beforeForward?: () => void;
}

/** One element whose analytic and numeric gradients disagree. */
export interface GradientMismatch {
  /** `bottom 0 'x'` or `param 1 'conv/bias'`. */
  blob: string;
  index: number;
  analytic: number;
  numeric: number;
}

/** What `checkGradients` compared. */
export interface GradientCheckResult {
  /** Elements compared. */
  checked: number;
  /** Elements skipped because the loss has a kink there (ReLU at 0, ties in max pooling). */
  skippedKinks: number;
  mismatches: GradientMismatch[];
  /** A line per mismatch (at most 10), naming layer, blob, index, analytic and numeric values. */
  report: string;
}

/**
 * Checks a layer's backward against central differences of its forward, in float64,
 * for every element of every checked bottom and every parameter.
 *
 * The loss is a fixed random projection of the tops, L = sum_t sum_i r_ti * top_t[i],
 * never a plain sum (a softmax's outputs always sum to 1, and a plain sum would hide
 * its gradient). So the analytic gradient comes from one backward pass with
 * top.diff = r, and the numeric one from (L(x + h) - L(x - h)) / 2h per element.
 *
 * Points near a kink are skipped: there the one-sided slopes (L(x + h) - L(x)) / h
 * and (L(x) - L(x - h)) / h disagree, and no finite difference is meaningful.
 *
 * The layer must be set up with float64 blobs; `bottoms` are copied into them.
 */
export function checkGradients(
  layer: Layer,
  bottoms: readonly Blob[],
  tops: readonly Blob[],
  options: GradientCheckOptions = {},
): GradientCheckResult {
  const step = options.step ?? 1e-4;
  const tolerance = options.tolerance ?? 1e-5;
  const rng = new Rng(options.seed ?? 1701);
  const forward = (): void => {
    options.beforeForward?.();
    layer.reshape(bottoms, tops);
    layer.forward(bottoms, tops);
  };

  forward();
  const projections = tops.map((top) => Tensor.uniform(top.shape, rng.nextUint32(), -1, 1, { dtype: 'float64' }));
  const loss = (): number => {
    forward();
    let total = 0;
    tops.forEach((top, t) => {
      const r = projections[t]!.data;
      const y = top.data.data;
      for (let i = 0; i < top.count; i++) total += r[i]! * y[i]!;
    });
    return total;
  };

  // Analytic gradients: one backward pass with top.diff = r.
  forward();
  tops.forEach((top, t) => top.diff.data.set(projections[t]!.data.subarray(0, top.count)));
  const checkBottoms = bottoms.map((_, i) => options.checkBottoms?.[i] ?? true);
  for (const param of layer.params) param.zeroDiff();
  for (const [i, bottom] of bottoms.entries()) if (checkBottoms[i] && !tops.includes(bottom)) bottom.zeroDiff();
  layer.backward(tops, checkBottoms, bottoms);

  const targets: { label: string; blob: Blob; analytic: Float64Array }[] = [];
  bottoms.forEach((bottom, i) => {
    if (checkBottoms[i]) targets.push({ label: `bottom ${i} '${bottom.name}'`, blob: bottom, analytic: Float64Array.from(bottom.diff.data.subarray(0, bottom.count)) });
  });
  layer.params.forEach((param, i) => {
    if (!param.frozen) targets.push({ label: `param ${i} '${param.name}'`, blob: param, analytic: Float64Array.from(param.diff.data.subarray(0, param.count)) });
  });

  const center = loss();
  let checked = 0;
  let skippedKinks = 0;
  const mismatches: GradientMismatch[] = [];
  for (const { label, blob, analytic } of targets) {
    const x = blob.data.data;
    for (let index = 0; index < blob.count; index++) {
      const original = x[index]!;
      x[index] = original + step;
      const plus = loss();
      x[index] = original - step;
      const minus = loss();
      x[index] = original;
      const right = (plus - center) / step;
      const left = (center - minus) / step;
      const scale = Math.max(1, Math.abs(right), Math.abs(left));
      if (Math.abs(right - left) > 100 * tolerance * scale) {
        skippedKinks++;
        continue;
      }
      checked++;
      const numeric = (plus - minus) / (2 * step);
      const a = analytic[index]!;
      if (Math.abs(a - numeric) > tolerance * Math.max(1, Math.abs(a), Math.abs(numeric))) {
        mismatches.push({ blob: label, index, analytic: a, numeric });
      }
    }
  }
  forward();

  const report = mismatches
    .slice(0, 10)
    .map((m) => `${layer.type} layer '${layer.name}' ${m.blob} [${m.index}]: analytic ${m.analytic}, numeric ${m.numeric}`)
    .join('\n');
  return { checked, skippedKinks, mismatches, report };
}

/** A float64 blob holding `tensor`'s values (for gradient checks and small tests). */
export function blobOf(name: string, tensor: Tensor): Blob {
  const blob = new Blob(name, tensor.shape, 'float64');
  blob.data.data.set(tensor.toFlatArray());
  return blob;
}

/** A float64 blob of seeded uniform values in [low, high). */
export function randomBlob(name: string, shape: readonly number[], seed: number, low = -1, high = 1): Blob {
  return blobOf(name, Tensor.uniform(shape, seed, low, high, { dtype: 'float64' }));
}

/** `name [shape]` of each blob, for test names. */
export function describeBlobs(blobs: readonly Blob[]): string {
  return blobs.map((b) => `${b.name}=${formatShape(b.shape)}`).join(' ');
}
