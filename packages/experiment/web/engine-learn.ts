import { Net, Solver, type NetDef } from '@cnn/nn';
import { convOutputSize, im2col, Rng, type ConvGeometry } from '@cnn/tensor';
import { KIDNEY_PATCH } from '../../nn/docs/walkthroughs/kidney-patch.js';
import { softmax } from '../src/commands/scores.js';
import type { ConvolutionSteps, LearnProgress, Plane } from './messages.js';

/*
 * The /learn page's numbers, all computed by the library: a convolution over the kidney patch
 * of the walkthroughs, and a small CNN trained on generated pictures, with what it learns and
 * what backprop sends back.
 */

/** Sobel filter for vertical edges, as in walkthrough 2. */
const SOBEL_VERTICAL = [
  [-1, 0, 1],
  [-2, 0, 2],
  [-1, 0, 1],
];

/**
 * Walkthrough 2 by the library: a one-filter Convolution layer with the Sobel weights over
 * the kidney patch, and the windows it multiplies, from im2col (the layer's own lowering).
 */
export function convolutionSteps(): ConvolutionSteps {
  const height = KIDNEY_PATCH.length;
  const width = KIDNEY_PATCH[0]!.length;
  const def: NetDef = {
    name: 'walkthrough',
    layers: [
      { name: 'data', type: 'Input', top: ['data'], input: { shape: [{ dim: [1, 1, height, width] }] } },
      { name: 'conv', type: 'Convolution', bottom: ['data'], top: ['conv'], convolution: { numOutput: 1, kernelSize: 3, biasTerm: false } },
    ],
  };
  const net = new Net(def);
  net.blob('data').data.data.set(KIDNEY_PATCH.flat());
  net.layer('conv').params[0]!.data.data.set(SOBEL_VERTICAL.flat());
  net.forward();
  const geometry: ConvGeometry = { channels: 1, height, width, kernelH: 3, kernelW: 3, padH: 0, padW: 0, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1 };
  const [outH, outW] = convOutputSize(geometry);
  // im2col's rows are the 9 filter taps, its columns the output positions.
  const columns = new Float32Array(9 * outH * outW);
  im2col(Float32Array.from(KIDNEY_PATCH.flat()), 0, geometry, columns);
  const positions = outH * outW;
  const output = net.blob('conv').data.data;
  return {
    patch: KIDNEY_PATCH.map((row) => [...row]),
    filter: SOBEL_VERTICAL,
    output: Array.from({ length: outH }, (_, oy) => Array.from(output.subarray(oy * outW, (oy + 1) * outW))),
    windows: Array.from({ length: positions }, (_, p) => Array.from({ length: 9 }, (_, k) => columns[k * positions + p]!)),
  };
}

/** The generated pictures: a bright bar, upright, lying or slanted, somewhere in a noisy square. */
const SIDE = 16;
const CLASSES = ['upright bar', 'lying bar', 'slanted bar'];
const BATCH = 16;
/** Iterations between two reports to the page. */
const REPORT_EVERY = 5;
/** The shortest time between two reports: slow enough to watch the net change, not a limit on a slow machine. */
const REPORT_PACE_MS = 40;

/** One picture of class `label`: a faint bar (+0.5) in strong noise (standard deviation 0.8), so learning takes a while. */
function picture(label: number, rng: Rng): Float32Array {
  const pixels = new Float32Array(SIDE * SIDE);
  const at = 3 + rng.int(SIDE - 6);
  const offset = rng.int(5) - 2;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const along = label === 0 ? x - at : label === 1 ? y - at : x - y - offset;
      pixels[y * SIDE + x] = (Math.abs(along) <= 1 ? 0.5 : 0) + rng.normal(0, 0.8);
    }
  }
  return pixels;
}

function learnNet(): NetDef {
  const xavier = { type: 'xavier' } as const;
  return {
    name: 'learn',
    layers: [
      { name: 'data', type: 'Input', top: ['data', 'label'], input: { shape: [{ dim: [BATCH, 1, SIDE, SIDE] }, { dim: [BATCH] }] } },
      { name: 'conv1', type: 'Convolution', bottom: ['data'], top: ['conv1'], convolution: { numOutput: 4, kernelSize: 5, weightFiller: xavier } },
      { name: 'relu1', type: 'ReLU', bottom: ['conv1'], top: ['conv1'] },
      { name: 'pool1', type: 'Pooling', bottom: ['conv1'], top: ['pool1'], pooling: { pool: 'MAX', kernelSize: 2, stride: 2 } },
      { name: 'ip1', type: 'InnerProduct', bottom: ['pool1'], top: ['ip1'], innerProduct: { numOutput: CLASSES.length, weightFiller: xavier } },
      { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['ip1', 'label'], top: ['loss'] },
      { name: 'accuracy', type: 'Accuracy', bottom: ['ip1', 'label'], top: ['accuracy'] },
    ],
  };
}

/**
 * Trains the small CNN for `iterations` SGD steps on fresh generated batches, reporting every
 * REPORT_EVERY steps (at most one report per REPORT_PACE_MS). Example 0 of each batch is the
 * chosen picture, so its activations and the gradients backprop sends back are those of the
 * step just taken.
 */
export async function learn(seed: number, iterations: number, report: (progress: LearnProgress) => void): Promise<{ iter: number }> {
  const rng = new Rng(seed);
  const net = new Net(learnNet(), { phase: 'TRAIN', seed });
  const solver = new Solver(net, { baseLr: 0.01, momentum: 0.9, weightDecay: 5e-4, lrPolicy: 'fixed' });
  const example = { label: 2, pixels: picture(2, rng) };
  const data = net.blob('data').data.data;
  const labels = net.blob('label').data.data;
  let losses: number[] = [];
  let accuracies: number[] = [];
  let since = performance.now();
  for (let iter = 1; iter <= iterations; iter++) {
    for (let n = 0; n < BATCH; n++) {
      const label = n === 0 ? example.label : rng.int(CLASSES.length);
      data.set(n === 0 ? example.pixels : picture(label, rng), n * SIDE * SIDE);
      labels[n] = label;
    }
    losses.push(solver.step(1));
    accuracies.push(net.blob('accuracy').data.data[0]!);
    if (iter % REPORT_EVERY === 0 || iter === iterations) {
      const ip1 = net.blob('ip1').data.data;
      report({
        iter,
        losses,
        accuracies,
        classes: CLASSES,
        example: { image: { width: SIDE, height: SIDE, values: example.pixels }, label: example.label, probabilities: softmax(Array.from(ip1.subarray(0, CLASSES.length))) },
        filters: planesOf(net.layer('conv1').params[0]!.data.data, [4, 5, 5]),
        activations: ['conv1', 'pool1'].map((layer) => ({ layer, planes: examplePlanes(net, layer, 'data') })),
        gradients: ['ip1', 'pool1', 'conv1'].map((blob) => ({ blob, planes: examplePlanes(net, blob, 'diff') })),
        millisecondsPerIteration: (performance.now() - since) / losses.length,
      });
      losses = [];
      accuracies = [];
      const wait = REPORT_PACE_MS - (performance.now() - since);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      since = performance.now();
    }
  }
  return { iter: iterations };
}

/** Example 0's channels of a blob's data or diff, as planes (a `[N, C]` blob gives one 1 x C plane). */
function examplePlanes(net: Net, name: string, which: 'data' | 'diff'): Plane[] {
  const blob = net.blob(name);
  const values = blob[which].data;
  const [, channels = 1, height = 1, width = 1] = blob.shape;
  if (blob.shape.length === 2) return [{ width: channels, height: 1, values: Float32Array.from(values.subarray(0, channels)) }];
  return planesOf(values, [channels, height, width]);
}

/** The first `channels` planes of `height x width` values (example 0's, in an NCHW blob). */
function planesOf(values: ArrayLike<number> & { subarray(start: number, end: number): Float32Array | Float64Array }, [channels, height, width]: number[]): Plane[] {
  return Array.from({ length: channels! }, (_, c) => {
    const start = c * height! * width!;
    return { width: width!, height: height!, values: Float32Array.from(values.subarray(start, start + height! * width!)) };
  });
}
