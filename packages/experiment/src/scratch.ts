import { Net, Solver, type NetDef } from '@cnn/nn';
import { Rng } from '@cnn/tensor';
import { resize, type StoredImage } from './data/index.js';
import { bootstrapAccuracyCI } from './report/index.js';
import { argmaxRows } from './transfer/head.js';

/** Side of the images the baseline sees: the study's 256 x 256 images, shrunk by area averaging. */
const SIZE = 64;
const BATCH = 32;

/** The baseline's architecture, for the report. */
export const SCRATCH_ARCHITECTURE =
  'conv 16 5x5/2 - ReLU - max pool 2/2 - conv 32 3x3 - ReLU - max pool 2/2 - fc 64 - ReLU - dropout 0.5 - fc classes, on 64 x 64 gray';

function scratchNet(batch: number, classes: number, phase: 'TRAIN' | 'TEST'): NetDef {
  const xavier = { type: 'xavier' } as const;
  return {
    name: 'from-scratch',
    layers: [
      { name: 'data', type: 'Input', top: ['data', 'label'], input: { shape: [{ dim: [batch, 1, SIZE, SIZE] }, { dim: [batch] }] } },
      { name: 'conv1', type: 'Convolution', bottom: ['data'], top: ['conv1'], convolution: { numOutput: 16, kernelSize: 5, stride: 2, weightFiller: xavier } },
      { name: 'relu1', type: 'ReLU', bottom: ['conv1'], top: ['conv1'] },
      { name: 'pool1', type: 'Pooling', bottom: ['conv1'], top: ['pool1'], pooling: { pool: 'MAX', kernelSize: 2, stride: 2 } },
      { name: 'conv2', type: 'Convolution', bottom: ['pool1'], top: ['conv2'], convolution: { numOutput: 32, kernelSize: 3, weightFiller: xavier } },
      { name: 'relu2', type: 'ReLU', bottom: ['conv2'], top: ['conv2'] },
      { name: 'pool2', type: 'Pooling', bottom: ['conv2'], top: ['pool2'], pooling: { pool: 'MAX', kernelSize: 2, stride: 2 } },
      { name: 'fc3', type: 'InnerProduct', bottom: ['pool2'], top: ['fc3'], innerProduct: { numOutput: 64, weightFiller: xavier } },
      { name: 'relu3', type: 'ReLU', bottom: ['fc3'], top: ['fc3'] },
      { name: 'drop3', type: 'Dropout', bottom: ['fc3'], top: ['fc3'], dropout: { dropoutRatio: 0.5 } },
      { name: 'fc4', type: 'InnerProduct', bottom: ['fc3'], top: ['fc4'], innerProduct: { numOutput: classes, weightFiller: xavier } },
      phase === 'TRAIN'
        ? { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['fc4', 'label'], top: ['loss'] }
        : { name: 'prob', type: 'Softmax', bottom: ['fc4'], top: ['prob'] },
    ],
  };
}

/** What the baseline reached on the test split. */
export interface ScratchResult {
  accuracy: number;
  ci95: [number, number];
  iterations: number;
  architecture: string;
  seconds: number;
  /** Whether each test image (in the order of `split.test`) was classified right. */
  correct: boolean[];
}

/**
 * The baseline transfer must beat: a small CNN trained from random weights on the
 * same split (same seed), with random mirroring, keeping the weights of its best
 * validation accuracy, evaluated once on the test split.
 */
export function trainFromScratch(
  images: readonly StoredImage[],
  labels: readonly number[],
  split: { train: readonly number[]; val: readonly number[]; test: readonly number[] },
  classes: number,
  options: { iterations: number; seed: number; studies: readonly string[] },
): ScratchResult {
  const started = performance.now();
  const pixels = images.map((image) => {
    const small = resize(image, SIZE, SIZE);
    return Float32Array.from(small.data, (v) => (v - 128) / 64);
  });
  const batch = Math.min(BATCH, split.train.length);
  const net = new Net(scratchNet(batch, classes, 'TRAIN'), { phase: 'TRAIN', seed: options.seed });
  const evaluator = new Net(scratchNet(batch, classes, 'TEST'), {
    phase: 'TEST',
    pretrained: (layer, index) => net.layer(layer).params[index]!.data.data,
  });
  const solver = new Solver(net, { baseLr: 0.01, momentum: 0.9, weightDecay: 5e-4, lrPolicy: 'step', gamma: 0.1, stepsize: Math.max(1, Math.floor(options.iterations * 0.7)) });
  const rng = new Rng(options.seed);
  const order: number[] = [];
  const data = net.blob('data').data.data;
  const target = net.blob('label').data.data;
  const plane = SIZE * SIZE;

  const predictAll = (indices: readonly number[]): number[] => {
    const predicted: number[] = [];
    const input = evaluator.blob('data');
    for (let start = 0; start < indices.length; start += batch) {
      const chunk = indices.slice(start, start + batch);
      if (input.shape[0] !== chunk.length) evaluator.setBatchSize(chunk.length);
      chunk.forEach((i, n) => input.data.data.set(pixels[i]!, n * plane));
      evaluator.forward();
      predicted.push(...argmaxRows(evaluator.blob('prob').data.data.subarray(0, chunk.length * classes) as Float32Array, classes));
    }
    return predicted;
  };
  const accuracyOn = (indices: readonly number[]): number => {
    const predicted = predictAll(indices);
    return indices.length === 0 ? 0 : predicted.filter((p, k) => p === labels[indices[k]!]).length / indices.length;
  };

  let best = { accuracy: -1, snapshot: solver.snapshot() };
  const interval = Math.max(1, Math.floor(options.iterations / 10));
  for (let iter = 0; iter < options.iterations; iter++) {
    for (let n = 0; n < batch; n++) {
      if (order.length === 0) order.push(...rng.shuffle([...split.train]));
      const i = order.pop()!;
      const image = pixels[i]!;
      if (rng.bernoulli(0.5)) {
        for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) data[n * plane + y * SIZE + x] = image[y * SIZE + (SIZE - 1 - x)]!;
      } else {
        data.set(image, n * plane);
      }
      target[n] = labels[i]!;
    }
    solver.step(1);
    if ((iter + 1) % interval === 0 || iter + 1 === options.iterations) {
      const accuracy = accuracyOn(split.val.length > 0 ? split.val : split.train);
      if (accuracy > best.accuracy) best = { accuracy, snapshot: solver.snapshot() };
    }
  }
  solver.restore(best.snapshot);
  const predicted = predictAll(split.test);
  const correct = predicted.map((p, k) => p === labels[split.test[k]!]);
  const ci = bootstrapAccuracyCI(correct, split.test.map((i) => options.studies[i]!), { seed: options.seed });
  return {
    accuracy: correct.filter(Boolean).length / Math.max(1, correct.length),
    ci95: [ci.low, ci.high],
    iterations: options.iterations,
    architecture: SCRATCH_ARCHITECTURE,
    seconds: (performance.now() - started) / 1000,
    correct,
  };
}
