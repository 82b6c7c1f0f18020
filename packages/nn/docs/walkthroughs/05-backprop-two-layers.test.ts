/*
 * Walkthrough 5: backpropagation through a two-layer net, by hand.
 *
 * Training asks one question of every weight: if I nudge you a little, does the loss
 * go up or down, and how fast? That rate is the gradient, dL/dw. Gradient descent
 * then moves every weight a small step against its gradient, w <- w - rate * dL/dw,
 * and the loss goes down. Everything hinges on getting these gradients for all the
 * weights at once, cheaply. Backpropagation does it.
 *
 * Backpropagation is the chain rule of calculus, applied layer by layer from the
 * loss back towards the input. Each layer is handed dL/d(its output) and answers two
 * questions: how should my own weights change (the parameter gradient), and how
 * should my input have been different (the input gradient, which it hands down to
 * the layer below, which then answers the same two questions). One backward pass
 * costs about as much as one or two forward passes, however many weights there are.
 *
 * Our net: 4 examples with 3 features each, x [4, 3], and 3 classes.
 *
 *     pre   = x W1^T + b1          InnerProduct, 4 hidden units   W1 [4, 3]
 *     h     = max(0, pre)          ReLU
 *     score = h W2^T + b2          InnerProduct, 3 classes        W2 [3, 4]
 *     L     = mean over examples of -log softmax(score)[label]     SoftmaxWithLoss
 *
 * and backward, each line one layer's rule (walkthrough 4 gave the first):
 *
 *     dscore = (p - onehot(label)) / N
 *     dW2    = dscore^T h,    db2 = column sums of dscore
 *     dh     = dscore W2
 *     dpre   = dh where pre > 0, else 0          (ReLU lets the gradient through only where it was on)
 *     dW1    = dpre^T x,      db1 = column sums of dpre
 *
 * We write all of it as plain loops, compare with the library's backward, and then
 * check both against the definition of a derivative: nudge one weight up by a tiny
 * h, then down by h, and divide the change in the loss by 2h (a central finite
 * difference). That takes two forward passes per weight (far too slow to train
 * with, CaffeNet has 61 million weights) but it is so simple it is hard to get
 * wrong, which makes it the standard check for a backward pass. Two precautions:
 * everything runs in float64, because subtracting two nearly equal losses would eat
 * most of float32's 7 digits; and no hidden unit may sit right at 0, where ReLU has
 * a kink and the slope from the left differs from the slope from the right.
 */
import { Net, Solver, type NetDef } from '@cnn/nn';
import { describe, expect, it } from 'vitest';

/** The weights of the net, as plain row-major matrices: W1 [hidden][input], W2 [class][hidden]. */
interface Weights {
  W1: number[][];
  b1: number[];
  W2: number[][];
  b2: number[];
}

/** Four examples of three features, and their classes. */
const X = [
  [1.0, -0.5, 0.3],
  [0.2, 0.8, -1.0],
  [-0.7, 0.1, 0.9],
  [0.5, 0.5, 0.5],
];
const LABELS = [0, 1, 2, 1];
const N = 4; // examples
const D = 3; // input features
const H = 4; // hidden units
const C = 3; // classes

const START: Weights = {
  W1: [
    [0.4, -0.2, 0.1],
    [-0.3, 0.5, 0.2],
    [0.1, 0.1, -0.6],
    [0.6, -0.4, 0.3],
  ],
  b1: [0.05, -0.1, 0.0, 0.1],
  W2: [
    [0.3, -0.6, 0.2, 0.5],
    [-0.4, 0.7, -0.1, 0.2],
    [0.2, 0.1, 0.8, -0.5],
  ],
  b2: [0.0, 0.1, -0.1],
};

interface ForwardPass {
  pre: number[][];
  h: number[][];
  score: number[][];
  p: number[][];
  loss: number;
}

/** The forward pass with explicit loops: n over examples, i over inputs, j over hidden units, k over classes. */
function forwardByHand(w: Weights): ForwardPass {
  const pre: number[][] = [];
  const h: number[][] = [];
  const score: number[][] = [];
  const p: number[][] = [];
  let loss = 0;
  for (let n = 0; n < N; n++) {
    pre.push([]);
    h.push([]);
    for (let j = 0; j < H; j++) {
      let sum = w.b1[j]!;
      for (let i = 0; i < D; i++) sum += X[n]![i]! * w.W1[j]![i]!;
      pre[n]!.push(sum);
      h[n]!.push(Math.max(0, sum));
    }
    score.push([]);
    for (let k = 0; k < C; k++) {
      let sum = w.b2[k]!;
      for (let j = 0; j < H; j++) sum += h[n]![j]! * w.W2[k]![j]!;
      score[n]!.push(sum);
    }
    const largest = Math.max(...score[n]!);
    const e = score[n]!.map((s) => Math.exp(s - largest));
    const total = e.reduce((a, b) => a + b, 0);
    p.push(e.map((v) => v / total));
    loss += -Math.log(p[n]![LABELS[n]!]!);
  }
  return { pre, h, score, p, loss: loss / N };
}

interface BackwardPass {
  dscore: number[][];
  dh: number[][];
  dpre: number[][];
  grads: Weights;
}

/** The backward pass with explicit loops, one block per layer, from the loss down. */
function backwardByHand(w: Weights, f: ForwardPass): BackwardPass {
  const zeros = (rows: number, cols: number): number[][] => Array.from({ length: rows }, () => new Array<number>(cols).fill(0));

  // SoftmaxWithLoss: dscore = (p - onehot) / N.
  const dscore = zeros(N, C);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < C; k++) dscore[n]![k] = (f.p[n]![k]! - (k === LABELS[n] ? 1 : 0)) / N;
  }

  // Second InnerProduct: dW2 = dscore^T h, db2 = column sums of dscore, dh = dscore W2.
  const dW2 = zeros(C, H);
  const db2 = new Array<number>(C).fill(0);
  const dh = zeros(N, H);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < C; k++) {
      db2[k]! += dscore[n]![k]!;
      for (let j = 0; j < H; j++) {
        dW2[k]![j]! += dscore[n]![k]! * f.h[n]![j]!;
        dh[n]![j]! += dscore[n]![k]! * w.W2[k]![j]!;
      }
    }
  }

  // ReLU: the gradient passes where the unit was on, and stops where it was off.
  const dpre = zeros(N, H);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < H; j++) dpre[n]![j] = f.pre[n]![j]! > 0 ? dh[n]![j]! : 0;
  }

  // First InnerProduct: dW1 = dpre^T x, db1 = column sums of dpre.
  const dW1 = zeros(H, D);
  const db1 = new Array<number>(H).fill(0);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < H; j++) {
      db1[j]! += dpre[n]![j]!;
      for (let i = 0; i < D; i++) dW1[j]![i]! += dpre[n]![j]! * X[n]![i]!;
    }
  }
  return { dscore, dh, dpre, grads: { W1: dW1, b1: db1, W2: dW2, b2: db2 } };
}

/** The same net in the library, in float64, with the weights above. */
function twoLayerNet(w: Weights): Net {
  const def: NetDef = {
    layers: [
      { name: 'data', type: 'Input', top: ['x', 'label'], input: { shape: [{ dim: [N, D] }, { dim: [N] }] } },
      { name: 'fc1', type: 'InnerProduct', bottom: ['x'], top: ['pre'], innerProduct: { numOutput: H } },
      { name: 'relu', type: 'ReLU', bottom: ['pre'], top: ['h'] },
      { name: 'fc2', type: 'InnerProduct', bottom: ['h'], top: ['score'], innerProduct: { numOutput: C } },
      { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['score', 'label'], top: ['loss'] },
    ],
  };
  const net = new Net(def, { phase: 'TRAIN', dtype: 'float64' });
  net.blob('x').data.data.set(X.flat());
  net.blob('label').data.data.set(LABELS);
  const [W1, b1] = net.layer('fc1').params;
  const [W2, b2] = net.layer('fc2').params;
  W1!.data.data.set(w.W1.flat());
  b1!.data.data.set(w.b1);
  W2!.data.data.set(w.W2.flat());
  b2!.data.data.set(w.b2);
  return net;
}

/** Reads the net's current weights back into plain matrices. */
function weightsOf(net: Net): Weights {
  const rows = (values: number[], cols: number): number[][] =>
    Array.from({ length: values.length / cols }, (_, r) => values.slice(r * cols, (r + 1) * cols));
  const [W1, b1] = net.layer('fc1').params;
  const [W2, b2] = net.layer('fc2').params;
  return { W1: rows(W1!.data.toFlatArray(), D), b1: b1!.data.toFlatArray(), W2: rows(W2!.data.toFlatArray(), H), b2: b2!.data.toFlatArray() };
}

/** Expects a library blob's values to equal a hand-computed matrix or vector. */
function expectClose(actual: number[], expected: number[][] | number[], digits = 12): void {
  const flat = (expected as (number | number[])[]).flat();
  expect(actual.length).toBe(flat.length);
  actual.forEach((value, index) => expect(value, `element ${index}`).toBeCloseTo(flat[index]!, digits));
}

/** dL/dw for one weight by central differences of the hand forward pass: (L(w + h) - L(w - h)) / 2h. */
function finiteDifference(name: keyof Weights, row: number, col: number, step = 1e-5): number {
  const nudged = (delta: number): number => {
    const w: Weights = structuredClone(START);
    const values = w[name];
    if (typeof values[0] === 'number') (values as number[])[row]! += delta;
    else (values as number[][])[row]![col]! += delta;
    return forwardByHand(w).loss;
  };
  return (nudged(step) - nudged(-step)) / (2 * step);
}

describe('Walkthrough 5: backprop through a two-layer net', () => {
  const forward = forwardByHand(START);
  const backward = backwardByHand(START, forward);

  /** The library's forward and backward, run once on the starting weights. */
  function libraryPass(): { net: Net; loss: number } {
    const net = twoLayerNet(START);
    net.clearParamDiffs();
    const loss = net.forwardBackward();
    return { net, loss };
  }

  it('runs forward by hand to the same hidden units, scores and loss as the library', () => {
    const { net, loss } = libraryPass();
    expectClose(net.blob('h').data.toFlatArray(), forward.h);
    expectClose(net.blob('score').data.toFlatArray(), forward.score);
    expect(loss).toBeCloseTo(forward.loss, 12);
    // Near log 3 = 1.0986: with small weights the net has barely an opinion yet.
    expect(forward.loss).toBeCloseTo(1.0248, 4);
  });

  it('has some hidden units off, and none sitting on the ReLU kink, so finite differences are fair', () => {
    const all = forward.pre.flat();
    expect(all.filter((value) => value <= 0).length).toBeGreaterThan(0);
    expect(Math.min(...all.map(Math.abs))).toBeGreaterThan(0.01);
  });

  it('starts at the loss with dscore = (p - onehot(label)) / N', () => {
    const { net } = libraryPass();
    expectClose(net.blob('score').diff.toFlatArray(), backward.dscore);
  });

  it('gets the output layer gradients as dW2 = dscore^T h and db2 = the column sums of dscore', () => {
    const { net } = libraryPass();
    const [W2, b2] = net.layer('fc2').params;
    expectClose(W2!.diff.toFlatArray(), backward.grads.W2);
    expectClose(b2!.diff.toFlatArray(), backward.grads.b2);
  });

  it('sends the gradient down through W2 (dh = dscore W2), and through the ReLU only where a unit was on', () => {
    const { net } = libraryPass();
    expectClose(net.blob('h').diff.toFlatArray(), backward.dh);
    expectClose(net.blob('pre').diff.toFlatArray(), backward.dpre);
    // Example 0, hidden unit 1 was off (pre = -0.59): whatever dh says, nothing gets through.
    expect(forward.pre[0]![1]).toBeCloseTo(-0.59, 12);
    expect(backward.dh[0]![1]).not.toBe(0);
    expect(net.blob('pre').diff.data[0 * H + 1]).toBe(0);
  });

  it('gets the hidden layer gradients as dW1 = dpre^T x and db1 = the column sums of dpre', () => {
    const { net } = libraryPass();
    const [W1, b1] = net.layer('fc1').params;
    expectClose(W1!.diff.toFlatArray(), backward.grads.W1);
    expectClose(b1!.diff.toFlatArray(), backward.grads.b1);
  });

  it('agrees with central finite differences on a few weights of each layer, by hand and in the library', () => {
    const { net } = libraryPass();
    const library = {
      W1: net.layer('fc1').params[0]!.diff.data, b1: net.layer('fc1').params[1]!.diff.data,
      W2: net.layer('fc2').params[0]!.diff.data, b2: net.layer('fc2').params[1]!.diff.data,
    };
    const cols = { W1: D, b1: 1, W2: H, b2: 1 };
    const samples: Array<[keyof Weights, number, number]> = [
      ['W1', 0, 1], ['W1', 1, 2], ['W1', 2, 0], ['W1', 3, 0], ['b1', 2, 0],
      ['W2', 0, 3], ['W2', 1, 1], ['W2', 2, 2], ['b2', 1, 0],
    ];
    for (const [name, row, col] of samples) {
      const numeric = finiteDifference(name, row, col);
      const hand = name === 'b1' || name === 'b2' ? backward.grads[name][row]! : backward.grads[name][row]![col]!;
      const fromLibrary = library[name][row * cols[name] + (name === 'b1' || name === 'b2' ? 0 : col)]!;
      expect(Math.abs(hand - numeric), `${name}[${row}][${col}] by hand`).toBeLessThan(1e-8);
      expect(Math.abs(fromLibrary - numeric), `${name}[${row}][${col}] in the library`).toBeLessThan(1e-8);
      expect(Math.abs(numeric)).toBeGreaterThan(1e-4);
    }
  });

  it('takes one SGD step as w <- w - rate * dL/dw, for every weight', () => {
    const rate = 0.5;
    const net = twoLayerNet(START);
    new Solver(net, { baseLr: rate }).step(1);
    const after = weightsOf(net);
    const g = backward.grads;
    // Plain SGD: no momentum, no weight decay. The solver keeps its step in float32, so the
    // new weights agree with the hand update to about 7 digits.
    expectClose(after.W1.flat(), START.W1.map((row, j) => row.map((w, i) => w - rate * g.W1[j]![i]!)), 7);
    expectClose(after.b1, START.b1.map((b, j) => b - rate * g.b1[j]!), 7);
    expectClose(after.W2.flat(), START.W2.map((row, k) => row.map((w, j) => w - rate * g.W2[k]![j]!)), 7);
    expectClose(after.b2, START.b2.map((b, k) => b - rate * g.b2[k]!), 7);
  });

  it('walks downhill: every SGD step lowers the loss, and the hand forward pass agrees at the end', () => {
    const net = twoLayerNet(START);
    const losses: number[] = [];
    new Solver(net, { baseLr: 0.5 }).step(20, ({ loss }) => losses.push(loss));
    expect(losses[0]).toBeCloseTo(forward.loss, 12);
    for (let t = 1; t < losses.length; t++) expect(losses[t]).toBeLessThan(losses[t - 1]!);

    const trained = forwardByHand(weightsOf(net));
    expect(net.forward()).toBeCloseTo(trained.loss, 12);
    expect(trained.loss).toBeLessThan(forward.loss / 2);
  });
});
