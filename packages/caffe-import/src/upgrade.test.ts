import { describe, expect, it } from 'vitest';
import { readCaffemodel } from './caffemodel.js';
import { CaffeFormatError } from './errors.js';
import { parseNetPrototxt } from './prototxt.js';
import { V1_TYPE_TO_V2, enumDef, type NetParameter } from './schema.js';
import { fixtureBytes, fixtureText } from './testing/fixtures.js';
import { upgradeNetParameter, upgradeSolverParameter } from './upgrade.js';

describe('upgradeNetParameter', () => {
  it('turns the V1 caffenet_tiny deploy into the V2 deploy (Input layer named "input", as Caffe names it)', () => {
    const v1 = upgradeNetParameter(parseNetPrototxt(fixtureText('caffenet_tiny/deploy_v1.prototxt')));
    const v2 = upgradeNetParameter(parseNetPrototxt(fixtureText('caffenet_tiny/deploy.prototxt')));
    expect(v1.sourceFormat).toBe('V1');
    expect(v2.sourceFormat).toBe('V2');
    const [input, ...rest] = v1.net.layer!;
    expect(input).toEqual({ name: 'input', type: 'Input', top: ['data'], input_param: { shape: [{ dim: [1, 3, 227, 227] }] } });
    expect({ ...v2.net.layer![0], name: 'input' }).toEqual(input);
    expect(rest).toEqual(v2.net.layer!.slice(1));
    expect(v1.net.input).toBeUndefined();
    expect(v1.net.input_dim).toBeUndefined();
    expect(v1.net.layers).toBeUndefined();
  });

  it('maps enum types to type strings and blobs_lr / weight_decay to lr_mult / decay_mult (cifar10 V1 model)', () => {
    const { net, notes } = upgradeNetParameter(readCaffemodel(fixtureBytes('real/cifar10_quick/model.caffemodel')));
    expect(net.layer!.map((l) => l.type)).toEqual([
      'Data', 'Convolution', 'Pooling', 'ReLU', 'Convolution', 'ReLU', 'Pooling', 'Convolution', 'ReLU', 'Pooling',
      'InnerProduct', 'InnerProduct', 'SoftmaxWithLoss',
    ]);
    expect(net.layer![1].param).toEqual([{ lr_mult: 1 }, { lr_mult: 2 }]);
    expect(net.layer![0].transform_param).toEqual({ mean_file: 'examples/cifar10/mean.binaryproto' });
    expect(notes[0]).toMatch(/upgraded 13 V1 'layers'/);
  });

  it('moves deprecated data_param transformation fields into transform_param (caffenet_tiny V1)', () => {
    const { net, notes } = upgradeNetParameter(readCaffemodel(fixtureBytes('caffenet_tiny/caffenet_tiny_v1.caffemodel')));
    const data = net.layer![0];
    expect(data.transform_param).toEqual({ mean_file: '../../data/ilsvrc12/imagenet_mean.binaryproto', crop_size: 227, mirror: true });
    expect(data.data_param).toEqual({ source: 'ilsvrc12_train_leveldb', batch_size: 256 });
    expect(notes.some((n) => /data_param fields mean_file, crop_size, mirror/.test(n))).toBe(true);
    expect(net.layer![1].param).toEqual([{ lr_mult: 1, decay_mult: 1 }, { lr_mult: 2, decay_mult: 0 }]);
  });

  it('knows every V1 layer type of the enum', () => {
    for (const name of Object.keys(enumDef('V1LayerType').values)) expect(Object.hasOwn(V1_TYPE_TO_V2, name), name).toBe(true);
    const net = parseNetPrototxt('layers { name: "a" type: SOFTMAX_LOSS } layers { name: "b" type: TANH } layers { type: IMAGE_DATA }');
    expect(upgradeNetParameter(net).net.layer!.map((l) => l.type)).toEqual(['SoftmaxWithLoss', 'TanH', 'ImageData']);
  });

  it('keeps param names and share modes, and include/exclude rules', () => {
    const net = parseNetPrototxt(
      'layers { name: "a" param: "w" param: "b" blob_share_mode: PERMISSIVE blobs_lr: 0 exclude { phase: TEST } }',
    );
    const l = upgradeNetParameter(net).net.layer![0];
    expect(l.param).toEqual([{ name: 'w', share_mode: 'PERMISSIVE', lr_mult: 0 }, { name: 'b' }]);
    expect(l.exclude).toEqual([{ phase: 'TEST' }]);
  });

  it('converts input_shape and several inputs, and leaves a V2 net as it is', () => {
    const net = parseNetPrototxt('input: "a" input: "b" input_shape { dim: 2 dim: 5 } input_shape { dim: 1 } layer { name: "x" }');
    const up = upgradeNetParameter(net);
    expect(up.sourceFormat).toBe('V2');
    expect(up.net.layer).toEqual([
      { name: 'input', type: 'Input', top: ['a', 'b'], input_param: { shape: [{ dim: [2, 5] }, { dim: [1] }] } },
      { name: 'x' },
    ]);
    const plain = parseNetPrototxt('name: "n" layer { name: "x" }');
    expect(upgradeNetParameter(plain)).toEqual({ net: plain, sourceFormat: 'V2', notes: [] });
  });

  it('does not modify its input', () => {
    const net = parseNetPrototxt(fixtureText('caffenet_tiny/deploy_v1.prototxt'));
    const copy = structuredClone(net);
    upgradeNetParameter(net);
    expect(net).toEqual(copy);
  });

  it.each([
    ['both layer and layers', { layer: [{ name: 'a' }], layers: [{ name: 'b' }] }, /both V2 'layer' \(1\) and legacy V1 'layers' \(1\)/],
    ['input_dim not in groups of 4', { input: ['data'], input_dim: [1, 3, 32] }, /1 input\(s\) but 3 input_dim/],
    ['input_shape count mismatch', { input: ['a', 'b'], input_shape: [{ dim: [1] }] }, /2 input\(s\) but 1 input_shape/],
    ['a V0 layer', { layers: [{ name: 'old', layer: {} }] }, /V0 layer definitions/],
  ] as [string, NetParameter, RegExp][])('refuses %s with a CaffeFormatError', (_label, net, message) => {
    expect(() => upgradeNetParameter(net, 'net.prototxt')).toThrow(CaffeFormatError);
    expect(() => upgradeNetParameter(net, 'net.prototxt')).toThrow(message);
    expect(() => upgradeNetParameter(net, 'net.prototxt')).toThrow(/^net\.prototxt: /);
  });
});

describe('upgradeSolverParameter', () => {
  it('turns the solver_type enum into the type string', () => {
    expect(upgradeSolverParameter({ solver_type: 'NESTEROV', base_lr: 0.1 })).toEqual({ type: 'Nesterov', base_lr: 0.1 });
    expect(upgradeSolverParameter({ type: 'Adam' })).toEqual({ type: 'Adam' });
    expect(() => upgradeSolverParameter({ type: 'SGD', solver_type: 'SGD' })).toThrow(CaffeFormatError);
  });
});
