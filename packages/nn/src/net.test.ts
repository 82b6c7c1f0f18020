import { Tensor } from '@cnn/tensor';
import { describe, expect, it, vi } from 'vitest';
import { LayerError, Net, NetError, caffeNet, alexNet, type LayerDef, type NetDef } from './index.js';

/** A small classifier: data [2,1,5,5] -> conv 3x3 (4) -> relu -> pool 2 -> fc 3 -> loss, plus accuracy in TEST. */
function smallNet(extra: Partial<Record<string, LayerDef[]>> = {}): NetDef {
  return {
    name: 'small',
    layers: [
      { name: 'data', type: 'Input', top: ['data', 'label'], input: { shape: [{ dim: [2, 1, 5, 5] }, { dim: [2] }] } },
      { name: 'conv', type: 'Convolution', bottom: ['data'], top: ['conv'], convolution: { numOutput: 4, kernelSize: 3, weightFiller: { type: 'gaussian', std: 0.3 } } },
      { name: 'relu', type: 'ReLU', bottom: ['conv'], top: ['conv'] },
      { name: 'pool', type: 'Pooling', bottom: ['conv'], top: ['pool'], pooling: { pool: 'MAX', kernelSize: 2, stride: 2 } },
      { name: 'fc', type: 'InnerProduct', bottom: ['pool'], top: ['fc'], innerProduct: { numOutput: 3, weightFiller: { type: 'xavier' } } },
      ...(extra.head ?? []),
      { name: 'accuracy', type: 'Accuracy', bottom: ['fc', 'label'], top: ['accuracy'], include: [{ phase: 'TEST' }] },
      { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['fc', 'label'], top: ['loss'] },
    ],
  };
}

function fillInputs(net: Net, seed = 5): void {
  net.blob('data').data.data.set(Tensor.uniform(net.blob('data').shape, seed, -1, 1).data);
  net.blob('label').data.data.set([0, 2]);
}

describe('Net construction', () => {
  it('chooses layers by phase and wires in-place layers to the same blob', () => {
    const train = new Net(smallNet(), { phase: 'TRAIN' });
    const test = new Net(smallNet(), { phase: 'TEST' });
    expect(train.layers.map((l) => l.name)).not.toContain('accuracy');
    expect(test.layers.map((l) => l.name)).toContain('accuracy');
    expect(train.blobsOf(train.layerIndex('relu')).tops[0]).toBe(train.blob('conv'));
    expect(train.blob('pool').shape).toEqual([2, 4, 2, 2]);
    expect(train.blob('fc').shape).toEqual([2, 3]);
    expect(train.inputNames).toEqual(['data', 'label']);
    expect(train.outputNames).toEqual(['loss']);
  });

  it('splits a blob read by two layers (fc feeds accuracy and loss in TEST)', () => {
    const net = new Net(smallNet(), { phase: 'TEST' });
    expect(net.layers.map((l) => l.type)).toContain('Split');
    expect(net.layerDefs.find((d) => d.name === 'loss')!.bottom![0]).toMatch(/^fc_fc_0_split_/);
  });

  it('names the layer and the missing blob, the duplicate top, and the unknown type', () => {
    const missing: NetDef = { layers: [{ name: 'relu', type: 'ReLU', bottom: ['nothing'], top: ['x'] }] };
    expect(() => new Net(missing)).toThrow(NetError);
    expect(() => new Net(missing)).toThrow(/layer 'relu' \(ReLU\) reads blob 'nothing', which no earlier layer produces/);
    const duplicate: NetDef = {
      layers: [
        { name: 'data', type: 'Input', top: ['x'], input: { shape: [{ dim: [1, 2] }] } },
        { name: 'again', type: 'Input', top: ['x'], input: { shape: [{ dim: [1, 2] }] } },
      ],
    };
    expect(() => new Net(duplicate)).toThrow(/top blob 'x' of layer 'again' is already produced/);
    const unknown: NetDef = { layers: [{ name: 'odd', type: 'Warp', top: ['x'] }] };
    expect(() => new Net(unknown)).toThrow(LayerError);
    expect(() => new Net(unknown)).toThrow(/unknown type 'Warp'; supported types: Accuracy, BatchNorm/);
  });
});

describe('Net forward and backward', () => {
  it('matches central differences of the whole net loss for every parameter (float64)', () => {
    const net = new Net(smallNet(), { phase: 'TRAIN', dtype: 'float64', seed: 3 });
    fillInputs(net);
    net.clearParamDiffs();
    net.forwardBackward();
    const step = 1e-5;
    let checked = 0;
    for (const param of net.params) {
      const analytic = Float64Array.from(param.diff.data.subarray(0, param.count));
      for (let i = 0; i < param.count; i += 3) {
        const w = param.data.data;
        const original = w[i]!;
        w[i] = original + step;
        const plus = net.forward();
        w[i] = original - step;
        const minus = net.forward();
        w[i] = original;
        const numeric = (plus - minus) / (2 * step);
        expect(Math.abs(analytic[i]! - numeric)).toBeLessThan(1e-6 * Math.max(1, Math.abs(numeric)));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('sums the gradients of a blob read by two layers (a split)', () => {
    // fc feeds both the loss and a second, scaled-down loss: d(total)/d(fc) is the sum of both.
    const twoLosses = smallNet({
      head: [{ name: 'loss2', type: 'SoftmaxWithLoss', bottom: ['fc', 'label'], top: ['loss2'], lossWeight: [0.5] }],
    });
    const net = new Net(twoLosses, { phase: 'TRAIN', dtype: 'float64', seed: 3 });
    const single = new Net(smallNet(), { phase: 'TRAIN', dtype: 'float64', seed: 3 });
    for (const n of [net, single]) {
      fillInputs(n);
      n.clearParamDiffs();
    }
    const loss = net.forwardBackward();
    const singleLoss = single.forwardBackward();
    expect(loss).toBeCloseTo(1.5 * singleLoss, 12);
    const fcWeight = net.layer('fc').params[0]!;
    const singleWeight = single.layer('fc').params[0]!;
    for (let i = 0; i < fcWeight.count; i++) expect(fcWeight.diff.data[i]).toBeCloseTo(1.5 * singleWeight.diff.data[i]!, 12);
  });

  it('skips backward entirely in a frozen base and never computes frozen gradients', () => {
    const def = smallNet();
    const conv = def.layers.find((l) => l.name === 'conv')!;
    conv.param = [{ lrMult: 0 }, { lrMult: 0 }];
    const net = new Net(def, { phase: 'TRAIN' });
    fillInputs(net);
    const convBackward = vi.spyOn(net.layer('conv'), 'backward');
    const poolBackward = vi.spyOn(net.layer('pool'), 'backward');
    net.clearParamDiffs();
    net.forwardBackward();
    expect(net.needsBackward(net.layerIndex('conv'))).toBe(false);
    expect(net.needsBackward(net.layerIndex('pool'))).toBe(false);
    expect(net.needsBackward(net.layerIndex('fc'))).toBe(true);
    expect(convBackward).not.toHaveBeenCalled();
    expect(poolBackward).not.toHaveBeenCalled();
    expect(net.layer('conv').params.every((p) => p.diff.toFlatArray().every((g) => g === 0))).toBe(true);
    expect(net.layer('fc').params[0]!.diff.toFlatArray().some((g) => g !== 0)).toBe(true);
  });

  it('runs a range of layers by name and exposes every blob', () => {
    const net = new Net(smallNet(), { phase: 'TEST' });
    fillInputs(net);
    net.blob('fc').data.data.fill(123);
    net.forward({ to: 'pool' });
    expect(net.blob('fc').data.data[0]).toBe(123);
    const visited: string[] = [];
    net.forward({ from: 'fc', afterLayer: (_, layer) => visited.push(layer.name) });
    expect(visited[0]).toBe('fc');
    expect(net.blob('fc').data.data[0]).not.toBe(123);
    expect(() => net.forward({ from: 'nope' })).toThrow(/has no layer 'nope'/);
  });

  it('reshapes to a new batch size and reuses storage when it fits', () => {
    const net = new Net(smallNet(), { phase: 'TEST' });
    const storage = net.blob('conv').data.data;
    net.setBatchSize(1);
    expect(net.blob('conv').shape).toEqual([1, 4, 3, 3]);
    expect(net.blob('conv').data.data).toBe(storage);
    net.setBatchSize(4);
    expect(net.blob('fc').shape).toEqual([4, 3]);
    expect(net.blob('label').shape).toEqual([4]);
  });
});

describe('Net summary', () => {
  it('reports CaffeNet at 227 x 227: 60,965,224 parameters and about 724 M multiply-adds', () => {
    const net = new Net(caffeNet(), { phase: 'TEST' });
    const rows = net.summary();
    const parameters = rows.reduce((sum, row) => sum + row.parameters, 0);
    const multiplyAdds = rows.reduce((sum, row) => sum + row.multiplyAdds, 0);
    expect(parameters).toBe(60_965_224);
    expect(multiplyAdds / 1e6).toBeGreaterThan(720);
    expect(multiplyAdds / 1e6).toBeLessThan(728);
    expect(net.blob('pool5').shape).toEqual([1, 256, 6, 6]);
    expect(rows.find((row) => row.name === 'conv2')!.multiplyAdds).toBe(223_948_800);
    expect(net.summaryTable()).toMatch(/total\s+60,965,224/);
  });

  it('builds AlexNet with normalisation before pooling, same parameter count', () => {
    const net = new Net(alexNet(), { phase: 'TEST' });
    const order = net.layers.map((l) => l.name);
    expect(order.indexOf('norm1')).toBeLessThan(order.indexOf('pool1'));
    expect(net.blob('pool1').shape).toEqual([1, 96, 27, 27]);
    expect(net.summary().reduce((sum, row) => sum + row.parameters, 0)).toBe(60_965_224);
  });
});
