import { ArgumentError, ShapeError, allocateFloat32, formatShape } from '@cnn/tensor';
import type { Param } from './blob.js';
import type { Net } from './net.js';
import { updateParameter } from './kernels/solver-update/index.js';

/** Caffe's learning-rate policies. */
export type LrPolicy = 'fixed' | 'step' | 'multistep' | 'exp' | 'inv' | 'poly' | 'sigmoid';

/** Solver settings: Caffe's SolverParameter fields in camelCase, with Caffe's defaults. */
export interface SolverParams {
  /** SGD (default), Nesterov or Adam. */
  type?: 'SGD' | 'Nesterov' | 'Adam';
  baseLr: number;
  lrPolicy?: LrPolicy;
  gamma?: number;
  power?: number;
  stepsize?: number;
  stepvalue?: number[];
  /** Needed by the poly policy; also the default length of `solve()`. */
  maxIter?: number;
  /** Momentum (Adam's beta1). */
  momentum?: number;
  /** Adam's beta2 (default 0.999). */
  momentum2?: number;
  /** Adam's epsilon (default 1e-8). */
  delta?: number;
  weightDecay?: number;
  regularizationType?: 'L2' | 'L1';
  /** Batches whose gradients are averaged into one update. */
  iterSize?: number;
  /** Rescale all gradients when their global L2 norm exceeds this (negative: off). */
  clipGradients?: number;
}

/** What one iteration reports. */
export interface IterationInfo {
  iter: number;
  loss: number;
  learningRate: number;
}

/** Everything needed to resume training exactly: iteration, weights and solver history. */
export interface SolverSnapshot {
  iter: number;
  /** One array per parameter of the net (all of them, frozen too), in `net.params` order. */
  weights: Float32Array[];
  /** Per learnable parameter: momentum history (and Adam's second moments after them). */
  history: Float32Array[];
  /** The net's random generator (Dropout masks), so the next iterations draw the same masks. */
  rngState?: number[];
}

/**
 * Stochastic gradient descent as Caffe's SGDSolver, NesterovSolver and AdamSolver
 * define it. Per update, for every parameter with lr_mult > 0 (frozen ones are not
 * touched at all):
 *
 *   rate  = learning rate of the policy at this iteration, times lr_mult
 *   g     = gradient averaged over iter_size, clipped by the global norm if asked,
 *           plus weight_decay * decay_mult * w (L2) or * sign(w) (L1)
 *   SGD:      v = momentum * v + rate * g;            w -= v
 *   Nesterov: v' = momentum * v + rate * g;           w -= (1 + momentum) v' - momentum v
 *   Adam:     m = b1 m + (1 - b1) g;  s = b2 s + (1 - b2) g^2;
 *             w -= rate * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(s) + eps)
 */
export class Solver {
  iter = 0;
  private readonly learnable: Param[];
  private readonly history: Float32Array[];
  private readonly secondMoments: Float32Array[];

  constructor(
    readonly net: Net,
    readonly params: SolverParams,
  ) {
    if (!(params.baseLr >= 0)) throw new ArgumentError(`solver: base_lr must be >= 0, got ${params.baseLr}`);
    if ((params.lrPolicy === 'step' || params.lrPolicy === 'sigmoid') && !(params.stepsize! > 0)) {
      throw new ArgumentError(`solver: lr_policy '${params.lrPolicy}' needs stepsize > 0`);
    }
    if (params.lrPolicy === 'poly' && !(params.maxIter! > 0)) throw new ArgumentError(`solver: lr_policy 'poly' needs max_iter > 0`);
    this.learnable = net.learnableParams;
    // On shared memory, so the update can be shared out over the thread pool.
    this.history = this.learnable.map((param) => allocateFloat32(param.count, true));
    this.secondMoments = params.type === 'Adam' ? this.learnable.map((param) => allocateFloat32(param.count, true)) : [];
  }

  /** The learning rate at the current iteration (Caffe's GetLearningRate). */
  learningRate(iter = this.iter): number {
    const { baseLr, gamma = 0, power = 0 } = this.params;
    switch (this.params.lrPolicy ?? 'fixed') {
      case 'fixed':
        return baseLr;
      case 'step':
        return baseLr * gamma ** Math.floor(iter / this.params.stepsize!);
      case 'multistep': {
        const steps = (this.params.stepvalue ?? []).filter((value) => iter >= value).length;
        return baseLr * gamma ** steps;
      }
      case 'exp':
        return baseLr * gamma ** iter;
      case 'inv':
        return baseLr * (1 + gamma * iter) ** -power;
      case 'poly':
        return baseLr * (1 - iter / this.params.maxIter!) ** power;
      case 'sigmoid':
        return baseLr / (1 + Math.exp(-gamma * (iter - this.params.stepsize!)));
      default:
        throw new ArgumentError(`solver: unknown lr_policy '${this.params.lrPolicy}'`);
    }
  }

  /**
   * Runs `iterations` updates (each over iter_size forward/backward passes) and
   * returns the last loss. `onIteration` sees every iteration's loss and rate.
   */
  step(iterations: number, onIteration?: (info: IterationInfo) => void): number {
    const iterSize = this.params.iterSize ?? 1;
    let loss = 0;
    for (let n = 0; n < iterations; n++) {
      this.net.clearParamDiffs();
      loss = 0;
      for (let k = 0; k < iterSize; k++) loss += this.net.forwardBackward();
      loss /= iterSize;
      const learningRate = this.learningRate();
      this.applyUpdate(learningRate);
      this.iter++;
      onIteration?.({ iter: this.iter, loss, learningRate });
    }
    return loss;
  }

  /** Applies one update from the gradients now in the parameters' diffs. */
  applyUpdate(learningRate = this.learningRate()): void {
    const { momentum = 0, weightDecay = 0, iterSize = 1 } = this.params;
    this.clipGradients();
    const rule = this.params.type ?? 'SGD';
    if (rule !== 'SGD' && rule !== 'Nesterov' && rule !== 'Adam') throw new ArgumentError(`solver: unknown type '${rule}'`);
    const momentum2 = this.params.momentum2 ?? 0.999;
    const t = this.iter + 1;
    this.learnable.forEach((param, p) => {
      updateParameter(param.data.data, param.diff.data, this.history[p]!, this.secondMoments[p], param.count, {
        rule,
        rate: learningRate * param.lrMult,
        decay: weightDecay * param.decayMult,
        l1: this.params.regularizationType === 'L1',
        iterSize,
        momentum,
        momentum2,
        epsilon: this.params.delta ?? 1e-8,
        correction: rule === 'Adam' ? Math.sqrt(1 - momentum2 ** t) / (1 - momentum ** t) : 1,
      });
    });
  }

  /** Copies of the weights and the solver state, to resume from later. */
  snapshot(): SolverSnapshot {
    return {
      iter: this.iter,
      weights: this.net.params.map((param) => Float32Array.from(param.data.data.subarray(0, param.count))),
      history: [...this.history, ...this.secondMoments].map((h) => Float32Array.from(h)),
      rngState: this.net.rng.getState(),
    };
  }

  /** Restores weights, history and iteration from a snapshot of the same net. */
  restore(snapshot: SolverSnapshot): void {
    const params = this.net.params;
    const state = [...this.history, ...this.secondMoments];
    if (snapshot.weights.length !== params.length || snapshot.history.length !== state.length) {
      throw new ShapeError(
        `solver snapshot holds ${snapshot.weights.length} weights and ${snapshot.history.length} history blobs; ` +
          `net '${this.net.name}' has ${params.length} parameters and ${state.length} history blobs`,
      );
    }
    params.forEach((param, p) => {
      const weights = snapshot.weights[p]!;
      if (weights.length !== param.count) {
        throw new ShapeError(`solver snapshot: parameter '${param.name}' ${formatShape(param.shape)} needs ${param.count} values, snapshot has ${weights.length}`);
      }
      param.data.data.set(weights);
    });
    state.forEach((h, i) => {
      if (snapshot.history[i]!.length !== h.length) throw new ShapeError(`solver snapshot: history blob ${i} has ${snapshot.history[i]!.length} values, expected ${h.length}`);
      h.set(snapshot.history[i]!);
    });
    if (snapshot.rngState) this.net.rng.setState(snapshot.rngState);
    this.iter = snapshot.iter;
  }

  /** Rescales every learnable gradient when their joint L2 norm exceeds clip_gradients. */
  private clipGradients(): void {
    const clip = this.params.clipGradients ?? -1;
    if (clip < 0) return;
    let sumSquares = 0;
    for (const param of this.learnable) {
      const g = param.diff.data;
      for (let i = 0; i < param.count; i++) sumSquares += g[i]! * g[i]!;
    }
    const norm = Math.sqrt(sumSquares);
    if (norm <= clip) return;
    const scale = clip / norm;
    for (const param of this.learnable) {
      const g = param.diff.data;
      for (let i = 0; i < param.count; i++) g[i] *= scale;
    }
  }
}
