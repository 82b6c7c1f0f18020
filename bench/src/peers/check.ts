import type { Outputs } from './runner.js';

/**
 * Largest fc8 difference allowed, relative to the largest |fc8| of the reference. The systems sum
 * in different orders (and ours through im2col + GEMM, the peers through direct, Winograd or
 * packed kernels), so float32 rounding differs; a wrong layout or hyperparameter changes fc8 at
 * the order of its own size.
 */
export const fc8Tolerance = 1e-4;

/** How one system's batch-1 outputs compare with this project's on the same image and weights. */
export interface CheckResult {
  /** max |fc8 - fc8 reference|. */
  fc8MaxAbs: number;
  /** fc8MaxAbs / max |fc8 reference|. */
  fc8Relative: number;
  /** max |prob - prob reference| / prob reference. */
  probRelative: number;
  /** The five largest classes, in order, are the same. */
  top5Same: boolean;
  passed: boolean;
}

function top5(values: Float32Array): number[] {
  return [...values.keys()].sort((a, b) => values[b]! - values[a]!).slice(0, 5);
}

/** Compares the first image's outputs of `theirs` with `ours` (each [batch, classes]). */
export function compareOutputs(ours: Outputs, theirs: Outputs, classes: number): CheckResult {
  const ourFc8 = ours.fc8.subarray(0, classes);
  const theirFc8 = theirs.fc8.subarray(0, classes);
  let fc8MaxAbs = 0;
  let scale = 0;
  let probRelative = 0;
  for (let i = 0; i < classes; i++) {
    fc8MaxAbs = Math.max(fc8MaxAbs, Math.abs(theirFc8[i]! - ourFc8[i]!));
    scale = Math.max(scale, Math.abs(ourFc8[i]!));
    probRelative = Math.max(probRelative, Math.abs(theirs.prob[i]! - ours.prob[i]!) / ours.prob[i]!);
  }
  const fc8Relative = fc8MaxAbs / scale;
  const top5Same = top5(ourFc8).join() === top5(theirFc8).join();
  return { fc8MaxAbs, fc8Relative, probRelative, top5Same, passed: top5Same && fc8Relative <= fc8Tolerance };
}
