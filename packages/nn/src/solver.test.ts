import { Rng } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Net, Solver, decodeSnapshot, encodeSnapshot, loadSnapshot, saveSnapshot, type NetDef, type SolverParams } from './index.js';

/** A net with one InnerProduct (2 weights, 1 bias) whose gradients the tests set by hand. */
function oneParamNet(): Net {
  const def: NetDef = {
    layers: [
      { name: 'data', type: 'Input', top: ['x'], input: { shape: [{ dim: [1, 2] }] } },
      { name: 'fc', type: 'InnerProduct', bottom: ['x'], top: ['y'], param: [{ lrMult: 1, decayMult: 1 }, { lrMult: 2, decayMult: 0 }], innerProduct: { numOutput: 1 } },
    ],
  };
  return new Net(def, { phase: 'TRAIN' });
}

/** Sets the weights and gradients of `fc` to known values. */
function setState(net: Net, weights: number[], bias: number, weightGrad: number[], biasGrad: number): void {
  const [w, b] = net.layer('fc').params;
  w!.data.data.set(weights);
  b!.data.data.set([bias]);
  w!.diff.data.set(weightGrad);
  b!.diff.data.set([biasGrad]);
}

/** A separable 2-D problem: points from two Gaussian blobs, labels 0 and 1. */
function twoBlobs(n: number, seed: number): { x: number[]; labels: number[] } {
  const rng = new Rng(seed);
  const x: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    x.push(rng.normal(label ? 1.5 : -1.5, 0.5), rng.normal(label ? -1 : 1, 0.5));
    labels.push(label);
  }
  return { x, labels };
}

function mlp(batch: number, frozenFirst = false): NetDef {
  return {
    layers: [
      { name: 'data', type: 'Input', top: ['x', 'label'], input: { shape: [{ dim: [batch, 2] }, { dim: [batch] }] } },
      {
        name: 'fc1', type: 'InnerProduct', bottom: ['x'], top: ['h'],
        param: frozenFirst ? [{ lrMult: 0 }, { lrMult: 0 }] : [],
        innerProduct: { numOutput: 8, weightFiller: { type: 'gaussian', std: 0.5 } },
      },
      { name: 'relu', type: 'ReLU', bottom: ['h'], top: ['h'] },
      { name: 'fc2', type: 'InnerProduct', bottom: ['h'], top: ['score'], innerProduct: { numOutput: 2, weightFiller: { type: 'gaussian', std: 0.5 } } },
      { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['score', 'label'], top: ['loss'] },
    ],
  };
}

function load(net: Net, data: { x: number[]; labels: number[] }): void {
  net.blob('x').data.data.set(data.x);
  net.blob('label').data.data.set(data.labels);
}

function predictAccuracy(net: Net, data: { x: number[]; labels: number[] }): number {
  load(net, data);
  net.forward();
  const scores = net.blob('score').data.data;
  let correct = 0;
  data.labels.forEach((label, i) => {
    const predicted = scores[2 * i + 1]! > scores[2 * i]! ? 1 : 0;
    if (predicted === label) correct++;
  });
  return correct / data.labels.length;
}

describe('SGD update, by hand', () => {
  it('applies momentum, weight decay with decay_mult and lr_mult over two steps', () => {
    const net = oneParamNet();
    const solver = new Solver(net, { baseLr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    setState(net, [1, -2], 0.5, [0.2, 0.4], 1);
    solver.applyUpdate();
    // weights: g = 0.2 + 0.01 * 1 = 0.21 -> v = 0.1 * 0.21 = 0.021 -> w = 0.979
    //          g = 0.4 + 0.01 * -2 = 0.38 -> v = 0.038 -> w = -2.038
    // bias (lr_mult 2, decay_mult 0): v = 0.2 * 1 = 0.2 -> b = 0.3
    const [w, b] = net.layer('fc').params;
    expect(w!.data.data[0]).toBeCloseTo(0.979, 6);
    expect(w!.data.data[1]).toBeCloseTo(-2.038, 6);
    expect(b!.data.data[0]).toBeCloseTo(0.3, 6);
    // second step, same gradient: g = 0.2 + 0.01 * 0.979 = 0.20979; v = 0.9 * 0.021 + 0.1 * 0.20979 = 0.039879
    w!.diff.data.set([0.2, 0.4]);
    b!.diff.data.set([1]);
    solver.applyUpdate();
    expect(w!.data.data[0]).toBeCloseTo(0.979 - 0.039879, 6);
  });

  it('Nesterov and Adam follow their definitions for one step', () => {
    const nesterov = oneParamNet();
    setState(nesterov, [1, 1], 0, [0.5, 0], 0);
    new Solver(nesterov, { type: 'Nesterov', baseLr: 0.1, momentum: 0.9 }).applyUpdate();
    // v' = 0.1 * 0.5 = 0.05; w -= 1.9 * 0.05 - 0.9 * 0 = 0.095
    expect(nesterov.layer('fc').params[0]!.data.data[0]).toBeCloseTo(0.905, 6);

    const adam = oneParamNet();
    setState(adam, [1, 1], 0, [0.5, 0], 0);
    new Solver(adam, { type: 'Adam', baseLr: 0.01, momentum: 0.9, momentum2: 0.999, delta: 1e-8 }).applyUpdate();
    // m = 0.05, s = 0.00025, correction = sqrt(0.001) / 0.1; step = 0.01 * correction * 0.05 / (sqrt(0.00025) + 1e-8) ~= 0.01
    expect(adam.layer('fc').params[0]!.data.data[0]).toBeCloseTo(1 - 0.01, 6);
  });

  it('computes every lr policy as Caffe does', () => {
    const net = oneParamNet();
    const rate = (params: Omit<SolverParams, 'baseLr'>, iter: number): number => new Solver(net, { baseLr: 0.01, ...params }).learningRate(iter);
    expect(rate({ lrPolicy: 'fixed' }, 500)).toBe(0.01);
    expect(rate({ lrPolicy: 'step', gamma: 0.1, stepsize: 100 }, 250)).toBeCloseTo(0.0001, 12);
    expect(rate({ lrPolicy: 'multistep', gamma: 0.5, stepvalue: [10, 20] }, 15)).toBeCloseTo(0.005, 12);
    expect(rate({ lrPolicy: 'exp', gamma: 0.9 }, 2)).toBeCloseTo(0.0081, 12);
    expect(rate({ lrPolicy: 'inv', gamma: 0.0001, power: 0.75 }, 10000)).toBeCloseTo(0.01 * 2 ** -0.75, 12);
    expect(rate({ lrPolicy: 'poly', power: 2, maxIter: 100 }, 50)).toBeCloseTo(0.0025, 12);
    expect(() => new Solver(net, { baseLr: 0.01, lrPolicy: 'step' })).toThrow(/needs stepsize/);
  });

  it('clips the global gradient norm', () => {
    const net = oneParamNet();
    setState(net, [0, 0], 0, [3, 4], 0);
    new Solver(net, { baseLr: 1, clipGradients: 1 }).applyUpdate();
    // |g| = 5 -> g scaled to [0.6, 0.8]; w = -g
    expect([...net.layer('fc').params[0]!.data.data]).toEqual([-0.6, -0.8].map(Math.fround));
  });
});

describe('training', () => {
  it('learns two separable blobs to 100% and is deterministic for a seed', () => {
    const train = twoBlobs(64, 1);
    const test = twoBlobs(64, 2);
    const run = (): { accuracy: number; weights: number[] } => {
      const net = new Net(mlp(64), { phase: 'TRAIN', seed: 7 });
      load(net, train);
      new Solver(net, { baseLr: 0.1, momentum: 0.9, weightDecay: 5e-4 }).step(60);
      return { accuracy: predictAccuracy(net, test), weights: [...net.params[0]!.data.data] };
    };
    const first = run();
    expect(first.accuracy).toBe(1);
    expect(run().weights).toEqual(first.weights);
  });

  it('leaves frozen weights bit-identical while the rest learns', () => {
    const net = new Net(mlp(64, true), { phase: 'TRAIN', seed: 7 });
    load(net, twoBlobs(64, 1));
    const frozen = net.layer('fc1').params.map((p) => Float32Array.from(p.data.data));
    const head = Float32Array.from(net.layer('fc2').params[0]!.data.data);
    new Solver(net, { baseLr: 0.1, momentum: 0.9, weightDecay: 5e-4 }).step(20);
    net.layer('fc1').params.forEach((p, i) => expect(Float32Array.from(p.data.data)).toEqual(frozen[i]));
    expect(Float32Array.from(net.layer('fc2').params[0]!.data.data)).not.toEqual(head);
  });

  it('accumulates iter_size batches into one averaged update', () => {
    const data = twoBlobs(8, 3);
    const once = new Net(mlp(8), { phase: 'TRAIN', seed: 9 });
    load(once, data);
    new Solver(once, { baseLr: 0.1 }).step(1);
    const twice = new Net(mlp(8), { phase: 'TRAIN', seed: 9 });
    load(twice, data);
    new Solver(twice, { baseLr: 0.1, iterSize: 2 }).step(1);
    // The same batch twice, averaged, is the same gradient.
    twice.params.forEach((p, i) => {
      for (let k = 0; k < p.count; k++) expect(p.data.data[k]).toBeCloseTo(once.params[i]!.data.data[k]!, 6);
    });
  });

  it('resumes exactly from a snapshot (weights, momentum history, iteration)', () => {
    const data = twoBlobs(16, 4);
    const params: SolverParams = { baseLr: 0.05, momentum: 0.9, lrPolicy: 'step', gamma: 0.5, stepsize: 5 };
    const straight = new Net(mlp(16), { phase: 'TRAIN', seed: 11 });
    load(straight, data);
    new Solver(straight, params).step(10);

    const first = new Net(mlp(16), { phase: 'TRAIN', seed: 11 });
    load(first, data);
    const firstSolver = new Solver(first, params);
    firstSolver.step(4);
    const bytes = encodeSnapshot(firstSolver.snapshot());

    const resumed = new Net(mlp(16), { phase: 'TRAIN', seed: 99 });
    load(resumed, data);
    const solver = new Solver(resumed, params);
    solver.restore(decodeSnapshot(bytes));
    expect(solver.iter).toBe(4);
    solver.step(6);
    resumed.params.forEach((p, i) => expect(Float32Array.from(p.data.data)).toEqual(Float32Array.from(straight.params[i]!.data.data)));
  });

  it('resumes exactly through Dropout too: the snapshot carries the random generator', () => {
    const withDropout = (): NetDef => {
      const def = mlp(16);
      def.layers.splice(3, 0, { name: 'drop', type: 'Dropout', bottom: ['h'], top: ['h'], dropout: { dropoutRatio: 0.5 } });
      return def;
    };
    const data = twoBlobs(16, 5);
    const params: SolverParams = { baseLr: 0.05, momentum: 0.9 };
    const straight = new Net(withDropout(), { phase: 'TRAIN', seed: 3 });
    load(straight, data);
    new Solver(straight, params).step(8);
    const first = new Net(withDropout(), { phase: 'TRAIN', seed: 3 });
    load(first, data);
    const firstSolver = new Solver(first, params);
    firstSolver.step(3);
    const resumed = new Net(withDropout(), { phase: 'TRAIN', seed: 42 });
    load(resumed, data);
    const solver = new Solver(resumed, params);
    solver.restore(decodeSnapshot(encodeSnapshot(firstSolver.snapshot())));
    solver.step(5);
    resumed.params.forEach((p, i) => expect(Float32Array.from(p.data.data)).toEqual(Float32Array.from(straight.params[i]!.data.data)));
  });

  it('saves and loads a snapshot file with every value intact', () => {
    const net = new Net(mlp(4), { phase: 'TRAIN', seed: 2 });
    load(net, twoBlobs(4, 6));
    const solver = new Solver(net, { baseLr: 0.1, momentum: 0.9 });
    solver.step(2);
    const path = join(mkdtempSync(join(tmpdir(), 'cnn-snap-')), 'run', 'head.snapshot');
    const snapshot = solver.snapshot();
    saveSnapshot(path, snapshot);
    expect(loadSnapshot(path)).toEqual(snapshot);
  });

  it('refuses a snapshot whose values were damaged at the same length, naming the file', () => {
    const solver = new Solver(new Net(mlp(4), { phase: 'TRAIN', seed: 2 }), { baseLr: 0.1, momentum: 0.9 });
    const bytes = encodeSnapshot(solver.snapshot());
    bytes[bytes.length - 3]! ^= 0x40;
    expect(() => decodeSnapshot(bytes, 'run/head.snapshot')).toThrow('run/head.snapshot: not a solver snapshot: its checksum does not match its values');
  });

  it('refuses a snapshot of another net, naming the sizes', () => {
    const small = new Solver(oneParamNet(), { baseLr: 0.1 });
    const other = new Solver(new Net(mlp(4), { phase: 'TRAIN' }), { baseLr: 0.1 });
    expect(() => other.restore(small.snapshot())).toThrow(/holds 2 weights .* has 4 parameters/);
    expect(() => decodeSnapshot(new Uint8Array([1, 2, 3]), 'bad.snap')).toThrow(/bad.snap: not a solver snapshot/);
  });
});
