import { Tensor, ThreadPool, getBackend, setBackend, setThreads, shutdownPool } from '@cnn/tensor';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Net, ReLULayer, supportedLayerTypes, type NetDef } from './index.js';

const initialBackend = getBackend().name;
afterEach(() => {
  setBackend(initialBackend);
  setThreads(1);
  vi.restoreAllMocks();
});
afterAll(() => shutdownPool());

const filler = { weightFiller: { type: 'gaussian', std: 0.3 } as const, biasFiller: { type: 'uniform', min: -0.2, max: 0.2 } as const };

/** A small net with every layer type this package builds (Split comes in where `conv1` feeds two layers). */
const everyLayer: NetDef = {
  name: 'every layer',
  layers: [
    { name: 'data', type: 'Input', top: ['data', 'label'], input: { shape: [{ dim: [4, 3, 12, 12] }, { dim: [4] }] } },
    { name: 'conv1', type: 'Convolution', bottom: ['data'], top: ['conv1'], convolution: { numOutput: 8, kernelSize: 3, stride: 1, pad: 1, ...filler } },
    { name: 'relu1', type: 'ReLU', bottom: ['conv1'], top: ['conv1'] },
    { name: 'pool1', type: 'Pooling', bottom: ['conv1'], top: ['pool1'], pooling: { pool: 'MAX', kernelSize: 3, stride: 2 } },
    { name: 'norm1', type: 'LRN', bottom: ['pool1'], top: ['norm1'], lrn: { localSize: 3, alpha: 0.1, beta: 0.75 } },
    { name: 'conv2', type: 'Convolution', bottom: ['conv1'], top: ['conv2'], convolution: { numOutput: 8, kernelSize: 3, stride: 2, pad: 1, group: 2, ...filler } },
    { name: 'bn2', type: 'BatchNorm', bottom: ['conv2'], top: ['conv2'] },
    { name: 'scale2', type: 'Scale', bottom: ['conv2'], top: ['conv2'], scale: { biasTerm: true } },
    { name: 'prelu2', type: 'PReLU', bottom: ['conv2'], top: ['conv2'] },
    { name: 'clip2', type: 'Clip', bottom: ['conv2'], top: ['conv2'], clip: { min: -1, max: 1 } },
    { name: 'sum', type: 'Eltwise', bottom: ['norm1', 'conv2'], top: ['sum'], eltwise: { operation: 'SUM', coeff: [1, -0.5] } },
    { name: 'cat', type: 'Concat', bottom: ['sum', 'norm1'], top: ['cat'] },
    { name: 'pool2', type: 'Pooling', bottom: ['cat'], top: ['pool2'], pooling: { pool: 'AVE', kernelSize: 2, stride: 2 } },
    { name: 'flat', type: 'Flatten', bottom: ['pool2'], top: ['flat'] },
    { name: 'drop', type: 'Dropout', bottom: ['flat'], top: ['flat'], dropout: { dropoutRatio: 0.25 } },
    { name: 'fc', type: 'InnerProduct', bottom: ['flat'], top: ['fc'], innerProduct: { numOutput: 5, ...filler } },
    { name: 'leaky', type: 'ReLU', bottom: ['fc'], top: ['fc'], relu: { negativeSlope: 0.1 } },
    { name: 'prob', type: 'Softmax', bottom: ['fc'], top: ['prob'] },
    { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['fc', 'label'], top: ['loss'] },
    { name: 'accuracy', type: 'Accuracy', bottom: ['fc', 'label'], top: ['accuracy'] },
  ],
};

/** Every blob's data and every parameter's gradient after one forward and backward on fixed inputs. */
function run(): { blobs: Map<string, number[]>; grads: number[][]; types: string[] } {
  const net = new Net(everyLayer, { phase: 'TRAIN', seed: 5 });
  net.blob('data').data.data.set(Tensor.uniform(net.blob('data').shape, 7, -1, 1).data);
  net.blob('label').data.data.set([0, 3, 1, 4]);
  net.forward();
  net.backward();
  const blobs = new Map(net.blobNames.map((name) => [name, [...net.blob(name).data.data.subarray(0, net.blob(name).count)]]));
  return { blobs, grads: net.params.map((param) => [...param.diff.data.subarray(0, param.count)]), types: net.layers.map((layer) => layer.type) };
}

describe('CNN_BACKEND=reference: every layer on its plain reference kernel', () => {
  it('runs a net of every layer type with no thread and no GEMM (so no im2col either), and agrees with the fast kernels', () => {
    setThreads(2);
    setBackend('js');
    const gemm = vi.spyOn(getBackend(), 'gemm');
    const relu = vi.spyOn(ReLULayer.prototype, 'forward');
    const fast = run();
    // The spies see the fast path at work (GEMMs, and relu1 run in conv1's epilogue: only the leaky ReLU runs as a
    // layer), so what they see below means something.
    expect(gemm).toHaveBeenCalled();
    expect(relu).toHaveBeenCalledTimes(1);
    relu.mockClear();
    expect(new Set(fast.types)).toEqual(new Set(supportedLayerTypes()));

    setBackend('reference');
    const pool = vi.spyOn(ThreadPool.prototype, 'run');
    const referenceGemm = vi.spyOn(getBackend(), 'gemm');
    const reference = run();
    expect(pool).not.toHaveBeenCalled();
    expect(referenceGemm).not.toHaveBeenCalled();
    // Every layer runs as written, the ReLU after a convolution too.
    expect(relu).toHaveBeenCalledTimes(2);

    for (const [name, values] of reference.blobs) {
      const expected = fast.blobs.get(name)!;
      values.forEach((value, i) => expect(Math.abs(value - expected[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(expected[i]!))));
    }
    reference.grads.forEach((grad, p) =>
      grad.forEach((value, i) => expect(Math.abs(value - fast.grads[p]![i]!), `param ${p} [${i}]`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(fast.grads[p]![i]!)))),
    );
  });
});
