import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Net, Solver, loadSnapshot, saveSnapshot, type LayerDef, type NetDef, type SolverParams, type SolverSnapshot } from '@cnn/nn';
import { Rng, type FloatArray } from '@cnn/tensor';
import type { FeatureSet } from './features.js';
import type { TransferPlan } from './plan.js';

/**
 * Settings of head training. The defaults (config.ts) solve the head as a converged, L2-regularised
 * logistic regression: full-batch SGD with momentum, a fixed rate, until the loss no longer moves.
 */
export interface HeadTraining {
  /** Rows per iteration; 0 or more than the training split: the whole split (full-batch gradient descent). */
  batchSize: number;
  maxIter: number;
  /** Validation accuracy is measured every this many iterations (and after the last). */
  validationInterval: number;
  /** Stop when validation accuracy has not improved for this many measurements (0: never). */
  patience: number;
  /**
   * Keep the weights of the best validation accuracy (early stopping) rather than the last ones.
   * A converged, regularised head needs no early stopping: the last weights are the solution.
   */
  keepBest: boolean;
  solver: SolverParams;
  seed: number;
}

/**
 * Where head training saves its progress at every validation, and whether to pick up
 * from there. `key` identifies the data, features and settings: a checkpoint made
 * under another key is ignored.
 */
export interface HeadCheckpoint {
  path: string;
  key: string;
  resume: boolean;
  /** Receives a line when a damaged checkpoint is set aside and training starts over (default: stderr). */
  note?: (line: string) => void;
}

/** The JSON part of a checkpoint; the weights and solver state sit beside it as snapshots. */
export interface CheckpointState {
  key: string;
  loss: number[];
  validation: HeadResult['validation'];
  best: { accuracy: number; iter: number };
  sinceBest: number;
}

/**
 * Labelled rows and, when test-time augmentation is on, the same rows' features of the mirrored
 * images: a prediction averages the class probabilities of both views.
 */
export interface LabelledFeatures {
  features: FeatureSet;
  mirrored?: FeatureSet;
  labels: readonly number[];
}

/** What head training produced. */
export interface HeadResult {
  /** The head in TEST phase, with the last weights or those of the best validation accuracy (`keepBest`). */
  net: Net;
  /** The iteration training resumed from (0 for a fresh start). */
  resumedAt: number;
  loss: number[];
  validation: { iter: number; accuracy: number; loss: number }[];
  bestIter: number;
  stoppedEarly: boolean;
  seconds: number;
}

/**
 * The head as a net of its own: an Input layer that takes features at the cut (and
 * labels), the model's layers after the cut with the new classifier, and then either
 * a SoftmaxWithLoss (TRAIN) or a Softmax named `prob` (TEST).
 */
export function headNetDef(plan: TransferPlan, batch: number, phase: 'TRAIN' | 'TEST'): NetDef {
  const classifierTop = plan.headLayers[plan.headLayers.length - 1]!.top![0]!;
  const input: LayerDef =
    phase === 'TRAIN'
      ? { name: 'features', type: 'Input', top: [plan.cutBlob, 'label'], input: { shape: [{ dim: [batch, ...plan.featureShape] }, { dim: [batch] }] } }
      : { name: 'features', type: 'Input', top: [plan.cutBlob], input: { shape: [{ dim: [batch, ...plan.featureShape] }] } };
  const output: LayerDef =
    phase === 'TRAIN'
      ? { name: 'loss', type: 'SoftmaxWithLoss', bottom: [classifierTop, 'label'], top: ['loss'] }
      : { name: 'prob', type: 'Softmax', bottom: [classifierTop], top: ['prob'] };
  return { name: 'head', layers: [input, ...plan.headLayers, output] };
}

/**
 * Trains the head on cached features with the nn solver: shuffled epochs of
 * `batchSize` rows (seeded; or every row at each iteration), training loss every iteration,
 * validation accuracy at intervals, optional early stopping that keeps the best weights. With a checkpoint,
 * progress is saved at every validation and an interrupted run resumes exactly.
 *
 * `pretrained(layer, index)` gives the model's weights for the head layers it keeps.
 */
export function trainHead(
  plan: TransferPlan,
  train: { features: FeatureSet; labels: readonly number[] },
  validation: LabelledFeatures,
  settings: HeadTraining,
  pretrained: (layer: string, index: number) => FloatArray | undefined,
  onIteration?: (iter: number, loss: number) => void,
  checkpoint?: HeadCheckpoint,
): HeadResult {
  const started = performance.now();
  const batch = settings.batchSize === 0 ? train.features.count : Math.min(settings.batchSize, train.features.count);
  const trainNet = new Net(headNetDef(plan, batch, 'TRAIN'), {
    phase: 'TRAIN',
    seed: settings.seed,
    pretrained: (layer, index, shape) => copyOf(pretrained(layer, index), shape),
  });
  // The TEST net reads the training net's parameters in place: it always sees the latest weights.
  const testNet = new Net(headNetDef(plan, Math.max(1, Math.min(256, validation.features.count)), 'TEST'), {
    phase: 'TEST',
    pretrained: (layer, index) => trainNet.layer(layer).params[index]!.data.data,
  });
  const solver = new Solver(trainNet, settings.solver);
  const features = trainNet.blob(plan.cutBlob).data.data;
  const labels = trainNet.blob('label').data.data;
  const dimension = train.features.dimension;
  const epochOrder = epochPermutations(train.features.count, settings.seed);

  let state: CheckpointState = { key: checkpoint?.key ?? '', loss: [], validation: [], best: { accuracy: -1, iter: 0 }, sinceBest: 0 };
  let bestWeights = solver.snapshot();
  const saved = checkpoint?.resume ? readCheckpoint(checkpoint) : undefined;
  if (saved) {
    state = saved.state;
    solver.restore(saved.current);
    bestWeights = saved.best;
  }
  const resumedAt = solver.iter;
  let stoppedEarly = false;
  while (solver.iter < settings.maxIter) {
    const iter = solver.iter;
    for (let n = 0; n < batch; n++) {
      const row = epochOrder(iter * batch + n);
      features.set(train.features.data.subarray(row * dimension, (row + 1) * dimension), n * dimension);
      labels[n] = train.labels[row]!;
    }
    const value = solver.step(1);
    state.loss.push(value);
    onIteration?.(iter, value);
    if ((iter + 1) % settings.validationInterval === 0 || iter + 1 === settings.maxIter) {
      const { probabilities, classes } = predictViews(testNet, plan, validation);
      const accuracy = accuracyOf(probabilities, validation.labels, classes);
      state.validation.push({ iter: iter + 1, accuracy, loss: meanLogLoss(probabilities, validation.labels, classes) });
      if (accuracy > state.best.accuracy) {
        state.best = { accuracy, iter: iter + 1 };
        bestWeights = solver.snapshot();
        state.sinceBest = 0;
      } else {
        state.sinceBest++;
      }
      if (checkpoint) writeCheckpoint(checkpoint, state, solver.snapshot(), bestWeights);
      if (settings.patience > 0 && state.sinceBest >= settings.patience) {
        stoppedEarly = true;
        break;
      }
    }
  }
  if (settings.keepBest) solver.restore(bestWeights);
  return {
    net: testNet,
    loss: state.loss,
    validation: state.validation,
    bestIter: state.best.iter,
    stoppedEarly,
    resumedAt,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The training row at a global position (iteration x batch + n): epochs are shuffles
 * of all rows, each drawn from its own seeded generator, so the order depends on the
 * position only and a resumed run sees the same batches.
 */
function epochPermutations(rows: number, seed: number): (position: number) => number {
  const cache = new Map<number, number[]>();
  return (position) => {
    const epoch = Math.floor(position / rows);
    let order = cache.get(epoch);
    if (!order) {
      order = new Rng(seed * 7919 + epoch + 1).shuffle([...Array(rows).keys()]);
      cache.clear();
      cache.set(epoch, order);
    }
    return order[position % rows]!;
  };
}

export function writeCheckpoint(checkpoint: HeadCheckpoint, state: CheckpointState, current: SolverSnapshot, best: SolverSnapshot): void {
  mkdirSync(dirname(checkpoint.path), { recursive: true });
  saveSnapshot(`${checkpoint.path}.snapshot`, current);
  saveSnapshot(`${checkpoint.path}.best.snapshot`, best);
  // The JSON goes last: a checkpoint counts only once its snapshots are complete.
  const temporary = `${checkpoint.path}.json.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(state));
  renameSync(temporary, `${checkpoint.path}.json`);
}

/**
 * The checkpoint to resume from, or `undefined` to start over: when there is none, when it
 * was made under another key, or when a part of it is damaged (then with a note naming the
 * file: a resumed run must never carry on from wrong weights).
 */
export function readCheckpoint(checkpoint: HeadCheckpoint): { state: CheckpointState; current: SolverSnapshot; best: SolverSnapshot } | undefined {
  const json = `${checkpoint.path}.json`;
  if (!existsSync(json)) return undefined;
  const startOver = (why: string): undefined => {
    (checkpoint.note ?? ((line) => process.stderr.write(`${line}\n`)))(`head checkpoint: ${why}; training starts from iteration 0`);
    return undefined;
  };
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(json, 'utf8')) as CheckpointState;
  } catch (error) {
    return startOver(`${json} is not JSON (${(error as Error).message})`);
  }
  if (state.key !== checkpoint.key) return undefined;
  if (!Array.isArray(state.loss) || !Array.isArray(state.validation) || typeof state.best?.iter !== 'number') return startOver(`${json} lacks the fields of a checkpoint`);
  try {
    const current = loadSnapshot(`${checkpoint.path}.snapshot`);
    // The snapshot may be newer than the JSON if a crash came between them: keep the JSON's view.
    if (current.iter !== state.loss.length) return undefined;
    return { state, current, best: loadSnapshot(`${checkpoint.path}.best.snapshot`) };
  } catch (error) {
    return startOver((error as Error).message);
  }
}

/**
 * Class probabilities for every row of `features` (and the penultimate features,
 * when `penultimate` is set), in batches of the TEST head's batch size.
 */
export function predict(net: Net, plan: TransferPlan, features: FeatureSet, penultimate = false): { probabilities: Float32Array; classes: number; penultimate?: FeatureSet } {
  const input = net.blob(plan.cutBlob);
  const capacity = input.shape[0]!;
  const dimension = features.dimension;
  let classes = 0;
  let probabilities = new Float32Array(0);
  let hidden: FeatureSet | undefined;
  for (let start = 0; start < features.count; start += capacity) {
    const count = Math.min(capacity, features.count - start);
    if (input.shape[0] !== count) net.setBatchSize(count);
    input.data.data.set(features.data.subarray(start * dimension, (start + count) * dimension));
    net.forward();
    const prob = net.blob('prob');
    classes = prob.shape[1]!;
    if (probabilities.length === 0) probabilities = new Float32Array(features.count * classes);
    probabilities.set(prob.data.data.subarray(0, count * classes), start * classes);
    if (penultimate) {
      const blob = net.blob(plan.penultimateBlob);
      const width = blob.count / count;
      hidden ??= { data: new Float32Array(features.count * width), count: features.count, dimension: width };
      hidden.data.set(blob.data.data.subarray(0, count * width), start * width);
    }
  }
  if (input.shape[0] !== capacity) net.setBatchSize(capacity);
  return { probabilities, classes, penultimate: hidden };
}

/** Class probabilities of labelled rows: those of `features`, averaged with the mirrored view's when there is one. */
export function predictViews(net: Net, plan: TransferPlan, rows: Omit<LabelledFeatures, 'labels'>): { probabilities: Float32Array; classes: number } {
  const plain = predict(net, plan, rows.features);
  if (!rows.mirrored) return plain;
  const mirrored = predict(net, plan, rows.mirrored).probabilities;
  return { probabilities: plain.probabilities.map((p, i) => (p + mirrored[i]!) / 2), classes: plain.classes };
}

/** The most probable class of each row. */
export function argmaxRows(probabilities: Float32Array, classes: number): number[] {
  const out: number[] = [];
  for (let row = 0; row < probabilities.length / classes; row++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[row * classes + c]! > probabilities[row * classes + best]!) best = c;
    out.push(best);
  }
  return out;
}

function accuracyOf(probabilities: Float32Array, labels: readonly number[], classes: number): number {
  const predicted = argmaxRows(probabilities, classes);
  return labels.length === 0 ? 0 : predicted.filter((p, i) => p === labels[i]).length / labels.length;
}

function meanLogLoss(probabilities: Float32Array, labels: readonly number[], classes: number): number {
  if (labels.length === 0) return 0;
  let sum = 0;
  labels.forEach((label, i) => (sum -= Math.log(Math.max(probabilities[i * classes + label]!, 1.17549435e-38))));
  return sum / labels.length;
}

/** A private copy of pretrained values, so training the head never changes the loaded model. */
function copyOf(values: FloatArray | undefined, shape: readonly number[]): FloatArray | undefined {
  if (!values) return undefined;
  const count = shape.reduce((p, d) => p * d, 1);
  const copy = new Float32Array(new SharedArrayBuffer(count * 4));
  copy.set(values.subarray(0, count));
  return copy;
}
