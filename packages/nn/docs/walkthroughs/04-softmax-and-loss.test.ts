/*
 * Walkthrough 4: softmax and the loss.
 *
 * The last layer of a classifier produces one score per class, any real numbers:
 * say 2.0 for "normal kidney", 1.0 for "hydronephrosis" and 0.1 for "cyst". Scores
 * are hard to read and impossible to compare between images. Softmax turns them into
 * probabilities: it exponentiates every score (so every value becomes positive and
 * a larger score stays larger) and divides by the total (so they add up to 1):
 *
 *     p_c = exp(s_c) / (exp(s_1) + ... + exp(s_C))
 *
 * Only the differences between scores matter: adding the same number to every score
 * multiplies every exp by the same factor, which the division cancels. Libraries use
 * this to subtract the largest score first, so that exp never overflows.
 *
 * To learn, the network needs a single number that says how wrong it was: the loss.
 * For classification it is the negative log of the probability given to the correct
 * class, L = -log p_label (the "cross-entropy"). A confident right answer (p near 1)
 * costs almost nothing, a confident wrong one (p near 0) costs a lot, and a network
 * that guesses uniformly among C classes pays log C.
 *
 * Training needs the slope of the loss with respect to every score. Written out,
 * L = -s_label + log(exp(s_1) + ... + exp(s_C)); the slope of the second term with
 * respect to s_c is exactly p_c, and the first term adds -1 for the correct class:
 *
 *     dL/ds_c = p_c - 1   for the correct class,   p_c   for every other class
 *
 * or in short, p - onehot(label). The correct score is pushed up, and every wrong
 * score is pushed down in proportion to the probability it took. This is why Caffe
 * has one SoftmaxWithLoss layer rather than a Softmax followed by a log: the
 * combined gradient is this simple and numerically well behaved.
 */
import { Blob, SoftmaxWithLossLayer } from '@cnn/nn';
import { Rng } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';

interface SoftmaxLoss {
  layer: SoftmaxWithLossLayer;
  scores: Blob;
  labels: Blob;
  loss: Blob;
  prob: Blob;
}

/**
 * A SoftmaxWithLoss layer run forward on `scores` (one row per example) and `labels`.
 * Its optional second top gives the probabilities.
 */
function softmaxLoss(scoreRows: number[][], labelValues: number[]): SoftmaxLoss {
  const scores = new Blob('scores', [scoreRows.length, scoreRows[0]!.length], 'float64');
  scores.data.data.set(scoreRows.flat());
  const labels = new Blob('labels', [labelValues.length], 'float64');
  labels.data.data.set(labelValues);
  const loss = new Blob('loss', [], 'float64');
  const prob = new Blob('prob', [], 'float64');
  const layer = new SoftmaxWithLossLayer('loss');
  layer.setup([scores, labels], [loss, prob], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape([scores, labels], [loss, prob]);
  layer.forward([scores, labels], [loss, prob]);
  return { layer, scores, labels, loss, prob };
}

/** Runs backward as a net would: the loss's own gradient is its loss weight, 1. */
function backward({ layer, scores, labels, loss, prob }: SoftmaxLoss): number[] {
  loss.diff.data[0] = 1;
  layer.backward([loss, prob], [true, false], [scores, labels]);
  return scores.diff.toFlatArray();
}

describe('Walkthrough 4: softmax and the loss', () => {
  // Softmax of [2.0, 1.0, 0.1], by hand.
  const e0 = Math.exp(2.0); // 7.389
  const e1 = Math.exp(1.0); // 2.718
  const e2 = Math.exp(0.1); // 1.105
  const total = e0 + e1 + e2; // 11.213
  const p = [e0 / total, e1 / total, e2 / total]; // [0.659, 0.242, 0.099]

  it('turns three scores into probabilities: exponentiate each, divide by the total', () => {
    expect(p[0]).toBeCloseTo(0.659, 3);
    expect(p[1]).toBeCloseTo(0.2424, 4);
    expect(p[2]).toBeCloseTo(0.0986, 4);

    const { prob } = softmaxLoss([[2.0, 1.0, 0.1]], [0]);
    prob.data.toFlatArray().forEach((value, c) => expect(value).toBeCloseTo(p[c]!, 12));
  });

  it('gives positive probabilities that add up to 1 and keep the order of the scores', () => {
    const [a, b, c] = softmaxLoss([[2.0, 1.0, 0.1]], [0]).prob.data.toFlatArray() as [number, number, number];
    expect(a + b + c).toBeCloseTo(1, 12);
    expect(a > b && b > c && c > 0).toBe(true);
  });

  it('ignores a constant added to every score, which keeps it finite for huge scores', () => {
    // Done naively, exp(1002) overflows and the division gives nonsense.
    expect(Math.exp(1002)).toBe(Infinity);
    expect(Math.exp(1002) / (Math.exp(1002) + Math.exp(1001) + Math.exp(1000.1))).toBeNaN();
    // Subtracting the largest score first leaves exp(0), exp(-1), exp(-1.9): the same ratios as above.
    const shifted = [Math.exp(0), Math.exp(-1), Math.exp(-1.9)];
    const shiftedTotal = shifted[0]! + shifted[1]! + shifted[2]!;
    shifted.forEach((value, c) => expect(value / shiftedTotal).toBeCloseTo(p[c]!, 12));

    const { prob, loss } = softmaxLoss([[1002, 1001, 1000.1]], [0]);
    prob.data.toFlatArray().forEach((value, c) => expect(value).toBeCloseTo(p[c]!, 10));
    expect(Number.isFinite(loss.data.data[0])).toBe(true);
  });

  it('charges -log of the probability given to the correct class: 0.417 when the answer is class 0', () => {
    const { loss } = softmaxLoss([[2.0, 1.0, 0.1]], [0]);
    const byHand = -Math.log(p[0]!);
    expect(byHand).toBeCloseTo(0.417, 3);
    expect(loss.data.data[0]).toBeCloseTo(byHand, 12);
  });

  it('charges much more for a confident wrong answer: 2.317 when the answer is class 2', () => {
    const { loss } = softmaxLoss([[2.0, 1.0, 0.1]], [2]);
    const byHand = -Math.log(p[2]!);
    expect(byHand).toBeCloseTo(2.317, 3);
    expect(loss.data.data[0]).toBeCloseTo(byHand, 12);
  });

  it('charges log 3 = 1.0986 for a network with no opinion (equal scores): where an untrained classifier starts', () => {
    const { loss } = softmaxLoss([[0, 0, 0]], [1]);
    expect(loss.data.data[0]).toBeCloseTo(-Math.log(1 / 3), 12);
    expect(-Math.log(1 / 3)).toBeCloseTo(1.0986, 4);
  });

  it('has the gradient p - onehot(label): the correct score is pushed up, the others down', () => {
    const gradient = backward(softmaxLoss([[2.0, 1.0, 0.1]], [0]));
    const byHand = [p[0]! - 1, p[1]! - 0, p[2]! - 0]; // [-0.341, 0.242, 0.099]
    gradient.forEach((value, c) => expect(value).toBeCloseTo(byHand[c]!, 12));
    // A negative slope for the correct class: a step against the gradient raises its score.
    expect(gradient[0]).toBeLessThan(0);
    // The pushes balance: raising every score together would change nothing.
    expect(gradient[0]! + gradient[1]! + gradient[2]!).toBeCloseTo(0, 12);
  });

  it('averages the loss over a batch, so each example gradient is divided by the batch size', () => {
    // A second example, scores [0.5, 2.5, -1] with correct class 1, by hand.
    const f = [Math.exp(0.5), Math.exp(2.5), Math.exp(-1)];
    const fTotal = f[0]! + f[1]! + f[2]!;
    const q = [f[0]! / fTotal, f[1]! / fTotal, f[2]! / fTotal];

    const run = softmaxLoss([[2.0, 1.0, 0.1], [0.5, 2.5, -1]], [0, 1]);
    expect(run.loss.data.data[0]).toBeCloseTo((-Math.log(p[0]!) - Math.log(q[1]!)) / 2, 12);

    const gradient = backward(run);
    const byHand = [
      (p[0]! - 1) / 2, p[1]! / 2, p[2]! / 2,
      q[0]! / 2, (q[1]! - 1) / 2, q[2]! / 2,
    ];
    gradient.forEach((value, i) => expect(value).toBeCloseTo(byHand[i]!, 12));
  });
});
