/*
 * Walkthrough 3: one artificial neuron.
 *
 * An artificial neuron is a very small machine. It takes some numbers x_1 ... x_n,
 * multiplies each by a weight w_i, adds the products and a bias b, and passes the
 * total through a function g:
 *
 *     y = g(w_1 x_1 + ... + w_n x_n + b)
 *
 * The weights say how much each input matters and in which direction (a negative
 * weight is evidence against); the bias says how much total evidence is needed
 * before the neuron responds. Learning means nothing more than adjusting w and b.
 *
 * Almost every modern network uses the rectified linear unit, ReLU, for g:
 * g(z) = max(0, z). A positive sum passes through unchanged, a negative sum becomes
 * 0. Why bother with g at all? Without it every layer would be a weighted sum of
 * weighted sums, which is still one weighted sum: a hundred layers would be no more
 * expressive than one. The bend at zero is what lets stacked layers build up complex
 * decisions. ReLU is popular because it is cheap and because, where it is on, it
 * passes the gradient back undimmed, which keeps deep networks trainable.
 *
 * The library's InnerProduct layer computes the weighted sums of many neurons at
 * once (a "fully connected" layer); with numOutput 1 it is exactly one neuron. We
 * follow it with a ReLU layer and feed it two examples, one that makes the neuron
 * fire and one that does not. Then we see that a convolution output pixel from
 * walkthrough 2 is the very same neuron, and that a neuron can only learn from the
 * examples on which it fired.
 */
import { Net, type NetDef } from '@cnn/nn';
import { describe, expect, it } from 'vitest';
import { KIDNEY_PATCH } from './kidney-patch.js';

/**
 * One neuron: an InnerProduct with one output (pre-activation `z`) and a ReLU (output `y`).
 * The ReLU output counts as the loss (lossWeight 1), so backward gives d(sum of y)/d(w, b).
 */
function oneNeuron(inputs: number, batch: number, weights: number[], bias: number): Net {
  const def: NetDef = {
    layers: [
      { name: 'data', type: 'Input', top: ['x'], input: { shape: [{ dim: [batch, inputs] }] } },
      { name: 'neuron', type: 'InnerProduct', bottom: ['x'], top: ['z'], innerProduct: { numOutput: 1 } },
      { name: 'relu', type: 'ReLU', bottom: ['z'], top: ['y'], lossWeight: [1] },
    ],
  };
  const net = new Net(def, { dtype: 'float64' });
  const [w, b] = net.layer('neuron').params;
  w!.data.data.set(weights);
  b!.data.data.set([bias]);
  return net;
}

/** The neuron as a formula: max(0, sum_i w_i x_i + b). */
function neuronByHand(weights: readonly number[], inputs: readonly number[], bias: number): number {
  let z = bias;
  for (let i = 0; i < weights.length; i++) z += weights[i]! * inputs[i]!;
  return Math.max(0, z);
}

describe('Walkthrough 3: one neuron with ReLU', () => {
  const weights = [0.5, -1, 0.25];
  const bias = 0.1;
  // Two examples of three inputs each, one per row.
  const fires = [4, 1, 2];
  const silent = [1, 2, 3];

  it('adds up its weighted inputs and the bias', () => {
    const net = oneNeuron(3, 2, weights, bias);
    net.blob('x').data.data.set([...fires, ...silent]);
    net.forward();
    const z = net.blob('z').data;
    expect(z.shape).toEqual([2, 1]);
    expect(z.get(0, 0)).toBeCloseTo(0.5 * 4 + -1 * 1 + 0.25 * 2 + 0.1, 12); // = 1.6
    expect(z.get(1, 0)).toBeCloseTo(0.5 * 1 + -1 * 2 + 0.25 * 3 + 0.1, 12); // = -0.65
  });

  it('passes a positive sum through ReLU unchanged', () => {
    const net = oneNeuron(3, 2, weights, bias);
    net.blob('x').data.data.set([...fires, ...silent]);
    net.forward();
    expect(net.blob('y').data.get(0, 0)).toBeCloseTo(1.6, 12);
  });

  it('turns a negative sum into 0: the neuron stays silent', () => {
    const net = oneNeuron(3, 2, weights, bias);
    net.blob('x').data.data.set([...fires, ...silent]);
    net.forward();
    expect(net.blob('z').data.get(1, 0)).toBeCloseTo(-0.65, 12);
    expect(net.blob('y').data.get(1, 0)).toBe(0);
  });

  it('fires on the second example too once a larger bias lowers the bar', () => {
    // With b = 0.8 instead of 0.1 the same evidence, -0.75, is enough: -0.75 + 0.8 = 0.05 > 0.
    const net = oneNeuron(3, 2, weights, 0.8);
    net.blob('x').data.data.set([...fires, ...silent]);
    net.forward();
    expect(net.blob('y').data.get(1, 0)).toBeCloseTo(0.5 * 1 + -1 * 2 + 0.25 * 3 + 0.8, 12); // = 0.05
  });

  it('is what a convolution computes at one position: the Sobel neuron fires on dark-to-bright edges only', () => {
    // Nine inputs: a 3 x 3 window of the patch, row by row. Nine weights: the vertical Sobel filter.
    const sobel = [-1, 0, 1, -2, 0, 2, -1, 0, 1];
    const windowAt = (row: number, col: number): number[] =>
      [0, 1, 2].flatMap((ky) => KIDNEY_PATCH[row + ky]!.slice(col, col + 3));
    const darkToBright = windowAt(2, 2); // the boundary of walkthrough 2: response 272
    const brightToDark = windowAt(4, 8); // the opposite boundary: response -169
    expect(darkToBright).toEqual([71, 115, 128, 84, 138, 156, 77, 127, 148]);

    const net = oneNeuron(9, 2, sobel, 0);
    net.blob('x').data.data.set([...darkToBright, ...brightToDark]);
    net.forward();
    expect(net.blob('z').data.toFlatArray()).toEqual([272, -169]);
    expect(net.blob('y').data.get(0, 0)).toBe(neuronByHand(sobel, darkToBright, 0));
    expect(net.blob('y').data.get(1, 0)).toBe(neuronByHand(sobel, brightToDark, 0));
    expect(net.blob('y').data.toFlatArray()).toEqual([272, 0]);
  });

  it('learns only from the examples on which it fired', () => {
    // Take the sum of the outputs as the quantity to change. Its gradient with respect to w is
    // x for each example where z > 0, and nothing where ReLU cut the signal off: the silent
    // example contributes 0. A neuron that is silent on every example gets no gradient at all
    // and never recovers (a "dead" ReLU), which is why biases are often started slightly positive.
    const net = oneNeuron(3, 2, weights, bias);
    net.blob('x').data.data.set([...fires, ...silent]);
    net.clearParamDiffs();
    const total = net.forwardBackward();
    expect(total).toBeCloseTo(1.6 + 0, 12);

    const [w, b] = net.layer('neuron').params;
    expect(w!.diff.toFlatArray()).toEqual([4, 1, 2].map((xi) => 1 * xi)); // dy/dz = 1, dz/dw_i = x_i
    expect(b!.diff.toFlatArray()).toEqual([1]); // one example fired
  });
});
