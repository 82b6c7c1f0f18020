import type { Outputs } from './runner.js';

/**
 * Largest logits difference allowed, relative to the largest |logit| of the reference. The systems
 * sum in different orders (and ours through im2col + GEMM, the peers through direct, Winograd or
 * packed kernels), so float32 rounding differs; a wrong layout or hyperparameter changes the
 * logits at the order of their own size.
 */
export const logitsTolerance = 1e-4;

/** How one system's batch-1 outputs compare with this project's on the same image and weights. */
export interface CheckResult {
  /** max |logits - logits of the reference|. */
  logitsMaxAbs: number;
  /** logitsMaxAbs / max |logits of the reference|. */
  logitsRelative: number;
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
  const ourLogits = ours.logits.subarray(0, classes);
  const theirLogits = theirs.logits.subarray(0, classes);
  let logitsMaxAbs = 0;
  let scale = 0;
  let probRelative = 0;
  for (let i = 0; i < classes; i++) {
    logitsMaxAbs = Math.max(logitsMaxAbs, Math.abs(theirLogits[i]! - ourLogits[i]!));
    scale = Math.max(scale, Math.abs(ourLogits[i]!));
    probRelative = Math.max(probRelative, Math.abs(theirs.prob[i]! - ours.prob[i]!) / ours.prob[i]!);
  }
  const logitsRelative = logitsMaxAbs / scale;
  const top5Same = top5(ourLogits).join() === top5(theirLogits).join();
  return { logitsMaxAbs, logitsRelative, probRelative, top5Same, passed: top5Same && logitsRelative <= logitsTolerance };
}
