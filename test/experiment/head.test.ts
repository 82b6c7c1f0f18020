import { loadModel } from '@cnn/caffe-import';
import { Rng } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, planTransfer, predictViews, trainHead, type HeadTraining } from '@cnn/experiment';
import { mobilenet } from './paths.js';

/** The default head settings of config.ts, as cnn experiment passes them to trainHead. */
const DEFAULT_HEAD: HeadTraining = {
  batchSize: DEFAULTS.batchSize,
  maxIter: DEFAULTS.maxIter,
  validationInterval: DEFAULTS.validationInterval,
  patience: DEFAULTS.patience,
  keepBest: DEFAULTS.keepBest,
  seed: 1,
  solver: { baseLr: DEFAULTS.baseLr, momentum: DEFAULTS.momentum, weightDecay: DEFAULTS.weightDecay, lrPolicy: DEFAULTS.lrPolicy },
};

/** Non-negative rows like pooled ReLU6 maps, the class shifting a few of the dimensions; overlapping classes. */
function rows(count: number, dimension: number, seed: number): { data: Float32Array; count: number; dimension: number; labels: number[] } {
  const rng = new Rng(seed);
  const labels = Array.from({ length: count }, (_, i) => i % 3);
  const data = new Float32Array(count * dimension);
  for (let i = 0; i < count; i++) for (let d = 0; d < dimension; d++) data[i * dimension + d] = Math.max(0, rng.normal(d % 7 === labels[i] ? 0.8 : 0.3, 0.5));
  return { data, count, dimension, labels };
}

/** d/dW and d/db of mean softmax cross-entropy + (lambda / 2) |W|^2 (bias not decayed), W as [3, dimension]. */
function objectiveGradient(train: ReturnType<typeof rows>, weights: Float64Array, bias: Float64Array, lambda: number): { weights: Float64Array; bias: Float64Array } {
  const { count, dimension, data, labels } = train;
  const gradW = new Float64Array(3 * dimension);
  const gradB = new Float64Array(3);
  for (let i = 0; i < count; i++) {
    const scores = [0, 1, 2].map((c) => {
      let s = bias[c]!;
      for (let d = 0; d < dimension; d++) s += weights[c * dimension + d]! * data[i * dimension + d]!;
      return s;
    });
    const top = Math.max(...scores);
    const exps = scores.map((s) => Math.exp(s - top));
    const sum = exps.reduce((a, b) => a + b);
    for (let c = 0; c < 3; c++) {
      const residual = (exps[c]! / sum - (labels[i] === c ? 1 : 0)) / count;
      gradB[c] += residual;
      for (let d = 0; d < dimension; d++) gradW[c * dimension + d] += residual * data[i * dimension + d]!;
    }
  }
  for (let k = 0; k < gradW.length; k++) gradW[k] += lambda * weights[k]!;
  return { weights: gradW, bias: gradB };
}

describe('the default head', () => {
  const model = loadModel({ ...mobilenet(), allowMissingWeights: true });
  const plan = planTransfer(model.def, model.net, 3);

  it('is solved to convergence: the gradient of mean cross-entropy + (weight decay / 2) |W|^2, computed here in float64, is ~0', () => {
    expect(plan.headLayers.map((layer) => layer.name)).toEqual([plan.newClassifier]);
    const train = rows(90, plan.featureShape[0]!, 1);
    const head = trainHead(plan, { features: train, labels: train.labels }, { features: rows(12, train.dimension, 2), labels: rows(12, train.dimension, 2).labels }, DEFAULT_HEAD, () => undefined);
    expect(head.loss).toHaveLength(DEFAULTS.maxIter);
    const [weights, bias] = head.net.layer(plan.newClassifier).params.map((p) => Float64Array.from(p.data.data));
    const atOptimum = objectiveGradient(train, weights!, bias!, DEFAULTS.weightDecay);
    const atStart = objectiveGradient(train, new Float64Array(weights!.length), new Float64Array(3), DEFAULTS.weightDecay);
    const largest = (values: Float64Array): number => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    // A thousandth of the gradient at zero weights remains, and the stationarity condition
    // lambda w = -(data gradient) holds to within 5% of its largest term.
    expect(largest(atOptimum.weights)).toBeLessThan(1e-3 * largest(atStart.weights));
    expect(largest(atOptimum.weights)).toBeLessThan(0.05 * DEFAULTS.weightDecay * largest(weights!));
    // (The classes are balanced: at zero weights the bias gradient is exactly 0, so its bound is absolute.)
    expect(largest(atOptimum.bias)).toBeLessThan(1e-4);
  }, 60_000);

  it('averages the class probabilities of the two views', () => {
    const train = rows(30, plan.featureShape[0]!, 3);
    const head = trainHead(plan, { features: train, labels: train.labels }, { features: train, labels: train.labels }, { ...DEFAULT_HEAD, maxIter: 20 }, () => undefined);
    const a = rows(4, train.dimension, 4);
    const b = rows(4, train.dimension, 5);
    const one = predictViews(head.net, plan, { features: a }).probabilities;
    const other = predictViews(head.net, plan, { features: b }).probabilities;
    const both = predictViews(head.net, plan, { features: a, mirrored: b }).probabilities;
    both.forEach((p, i) => expect(p).toBeCloseTo((one[i]! + other[i]!) / 2, 6));
  });
});
