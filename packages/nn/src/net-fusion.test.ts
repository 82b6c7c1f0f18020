import { Tensor, getBackend, setBackend, setThreads, shutdownPool } from '@cnn/tensor';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ClipLayer, Net, ReLULayer, type NetDef } from './index.js';

const initialBackend = getBackend().name;
afterEach(() => {
  setBackend(initialBackend);
  setThreads(1);
  vi.restoreAllMocks();
});
afterAll(() => shutdownPool());

const filler = { weightFiller: { type: 'gaussian', std: 0.4 } as const, biasFiller: { type: 'uniform', min: -0.5, max: 0.5 } as const };

/**
 * Every path of the convolution kernel followed by an in-place activation: im2col + GEMM
 * (conv1, 3 x 3 stride 2), depthwise (dw), a 1 x 1 GEMM on the image itself (sep), and
 * Winograd (wino, 3 x 3 stride 1 at batch 8), with ReLU and Clip (ReLU6) after them.
 */
function fusionNet(batch: number): NetDef {
  return {
    name: 'fusion',
    layers: [
      { name: 'data', type: 'Input', top: ['data'], input: { shape: [{ dim: [batch, 3, 13, 13] }] } },
      { name: 'conv1', type: 'Convolution', bottom: ['data'], top: ['conv1'], convolution: { numOutput: 8, kernelSize: 3, stride: 2, pad: 1, ...filler } },
      { name: 'relu1', type: 'Clip', bottom: ['conv1'], top: ['conv1'], clip: { min: 0, max: 0.6 } },
      { name: 'dw', type: 'Convolution', bottom: ['conv1'], top: ['dw'], convolution: { numOutput: 8, group: 8, kernelSize: 3, pad: 1, ...filler } },
      { name: 'relu_dw', type: 'Clip', bottom: ['dw'], top: ['dw'], clip: { min: 0, max: 0.6 } },
      { name: 'sep', type: 'Convolution', bottom: ['dw'], top: ['sep'], convolution: { numOutput: 16, kernelSize: 1, ...filler } },
      { name: 'relu_sep', type: 'ReLU', bottom: ['sep'], top: ['sep'] },
      { name: 'wino', type: 'Convolution', bottom: ['sep'], top: ['wino'], convolution: { numOutput: 8, kernelSize: 3, pad: 1, ...filler } },
      { name: 'relu_wino', type: 'ReLU', bottom: ['wino'], top: ['wino'] },
      { name: 'fc', type: 'InnerProduct', bottom: ['wino'], top: ['fc'], innerProduct: { numOutput: 5, weightFiller: { type: 'xavier' } } },
    ],
  };
}

/** The net's output and every parameter gradient after a forward (watched or not) and a backward of dy = 1. */
function run(net: Net, watched: boolean): { fc: number[]; grads: number[][] } {
  net.blob('data').data.data.set(Tensor.uniform(net.blob('data').shape, 3, -1, 1).data);
  for (const param of net.params) param.diff.data.fill(0);
  net.forward(watched ? { afterLayer: () => {} } : {});
  const fc = [...net.blob('fc').data.data.subarray(0, net.blob('fc').count)];
  net.blob('fc').diff.data.fill(1);
  net.backward();
  return { fc, grads: net.params.map((param) => [...param.diff.data.subarray(0, param.count)]) };
}

describe('Convolution + in-place ReLU/Clip: the activation runs in the convolution epilogue', () => {
  for (const backend of ['js', 'wasm'] as const) {
    for (const threads of [1, 2]) {
      it(`gives the same outputs and gradients as the separate layers, ${backend} backend, ${threads} thread(s), batch 8`, () => {
        setBackend(backend);
        setThreads(threads);
        const net = new Net(fusionNet(8), { phase: 'TRAIN', seed: 4 });
        const separate = run(net, true);
        const relu = vi.spyOn(ReLULayer.prototype, 'forward');
        const clip = vi.spyOn(ClipLayer.prototype, 'forward');
        const fused = run(net, false);
        // Every activation here sits in place after a convolution: none runs as a layer.
        expect(relu).not.toHaveBeenCalled();
        expect(clip).not.toHaveBeenCalled();
        expect(fused.fc).toEqual(separate.fc);
        expect(fused.grads).toEqual(separate.grads);
        // The activations did happen: the clamps bind somewhere (outputs at 0 and at 0.6).
        const dw = net.blob('dw').data.toFlatArray();
        expect(dw.some((v) => v === 0) && dw.some((v) => Math.abs(v - 0.6) < 1e-7)).toBe(true);
      });
    }
  }

  it('runs the activation as a layer when the forward stops at the convolution, or a caller watches each layer', () => {
    const net = new Net(fusionNet(2), { phase: 'TEST', seed: 4 });
    const relu = vi.spyOn(ReLULayer.prototype, 'forward');
    net.forward({ to: 'sep' });
    expect(net.blob('sep').data.toFlatArray().some((v) => v < 0)).toBe(true);
    net.forward({ from: 'relu_sep', to: 'relu_sep' });
    expect(relu).toHaveBeenCalledTimes(1);
    expect(net.blob('sep').data.toFlatArray().every((v) => v >= 0)).toBe(true);
  });

  it('leaves an activation that is not in place, or a leaky ReLU, as a layer of its own', () => {
    const def = fusionNet(2);
    def.layers[6] = { name: 'relu_sep', type: 'ReLU', bottom: ['sep'], top: ['sep'], relu: { negativeSlope: 0.1 } };
    def.layers[2] = { name: 'relu1', type: 'Clip', bottom: ['conv1'], top: ['conv1_clipped'], clip: { min: 0, max: 0.6 } };
    def.layers[3] = { ...def.layers[3]!, bottom: ['conv1_clipped'] };
    const net = new Net(def, { phase: 'TEST', seed: 4 });
    const relu = vi.spyOn(ReLULayer.prototype, 'forward');
    const clip = vi.spyOn(ClipLayer.prototype, 'forward');
    net.forward();
    expect(relu).toHaveBeenCalledTimes(1);
    expect(clip).toHaveBeenCalledTimes(1);
  });
});
