import { describe, expect, it } from 'vitest';
import { CaffeFormatError } from './errors.js';
import { decodeTextFile, parseNetPrototxt, parsePrototxt, parseSolverPrototxt, readNetPrototxtFile } from './prototxt.js';
import type { NetParameter } from './schema.js';
import { fixtureBytes, fixturePath, fixtureText, PROTOTXTS } from './testing/fixtures.js';
import { formatPrototxt } from './writer.js';

/** Runs `fn`, expecting a CaffeFormatError, and returns it. */
function caffeError(fn: () => unknown): CaffeFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CaffeFormatError);
    return err as CaffeFormatError;
  }
  throw new Error('expected a CaffeFormatError, but the call succeeded');
}

describe('parsePrototxt on the fixture files', () => {
  it.each(PROTOTXTS)('$file parses as $type and formats back to the same message', ({ file, type }) => {
    const msg = parsePrototxt(fixtureText(file), file, type);
    expect(Object.keys(msg).length).toBeGreaterThan(0);
    expect(parsePrototxt(formatPrototxt(msg, type), 'formatted', type)).toEqual(msg);
  });

  it('reads BVLC train_val.prototxt: both data layers, phases, transform and lr_mult', () => {
    const net = readNetPrototxtFile(fixturePath('bvlc_reference_caffenet/train_val.prototxt'));
    expect(net.name).toBe('CaffeNet');
    expect(net.layer!.map((l) => l.name)).toEqual([
      'data', 'data', 'conv1', 'relu1', 'pool1', 'norm1', 'conv2', 'relu2', 'pool2', 'norm2', 'conv3', 'relu3', 'conv4',
      'relu4', 'conv5', 'relu5', 'pool5', 'fc6', 'relu6', 'drop6', 'fc7', 'relu7', 'drop7', 'fc8', 'accuracy', 'loss',
    ]);
    const [train, test] = net.layer!;
    expect(train.include).toEqual([{ phase: 'TRAIN' }]);
    expect(test.include).toEqual([{ phase: 'TEST' }]);
    expect(train.transform_param).toEqual({ mirror: true, crop_size: 227, mean_file: 'data/ilsvrc12/imagenet_mean.binaryproto' });
    expect(test.data_param).toEqual({ source: 'examples/imagenet/ilsvrc12_val_lmdb', batch_size: 50, backend: 'LMDB' });
    const conv2 = net.layer!.find((l) => l.name === 'conv2')!;
    expect(conv2.param).toEqual([{ lr_mult: 1, decay_mult: 1 }, { lr_mult: 2, decay_mult: 0 }]);
    expect(conv2.convolution_param).toMatchObject({ num_output: 256, pad: [2], kernel_size: [5], group: 2 });
    expect(conv2.convolution_param!.weight_filler).toEqual({ type: 'gaussian', std: Math.fround(0.01) });
    expect(net.layer!.find((l) => l.name === 'norm1')!.lrn_param).toEqual({
      local_size: 5,
      alpha: Math.fround(0.0001),
      beta: 0.75,
    });
    // Unset fields stay absent, so "has" and "default" are distinguishable.
    expect(conv2.convolution_param!.stride).toBeUndefined();
    expect('bias_term' in conv2.convolution_param!).toBe(false);
  });

  it('reads BVLC solver.prototxt with every value and the GPU enum', () => {
    const solver = parseSolverPrototxt(fixtureText('bvlc_reference_caffenet/solver.prototxt'));
    expect(solver).toEqual({
      net: 'models/bvlc_reference_caffenet/train_val.prototxt',
      test_iter: [1000],
      test_interval: 1000,
      base_lr: Math.fround(0.01),
      lr_policy: 'step',
      gamma: Math.fround(0.1),
      stepsize: 100000,
      display: 20,
      max_iter: 450000,
      momentum: Math.fround(0.9),
      weight_decay: Math.fround(0.0005),
      snapshot: 10000,
      snapshot_prefix: 'models/bvlc_reference_caffenet/caffenet_train',
      solver_mode: 'GPU',
    });
  });

  it('reads the V1 cifar10 deploy.prototxt: input/input_dim and enum layer types', () => {
    const net = parseNetPrototxt(fixtureText('real/cifar10_quick/deploy.prototxt'));
    expect(net.input).toEqual(['data']);
    expect(net.input_dim).toEqual([1, 3, 32, 32]);
    expect(net.layer).toBeUndefined();
    expect(net.layers!.map((l) => l.type)).toEqual([
      'CONVOLUTION', 'POOLING', 'RELU', 'CONVOLUTION', 'RELU', 'POOLING', 'CONVOLUTION', 'RELU', 'POOLING',
      'INNER_PRODUCT', 'INNER_PRODUCT', 'SOFTMAX',
    ]);
    expect(net.layers![0].blobs_lr).toEqual([1, 2]);
    expect(net.layers![5].pooling_param).toEqual({ pool: 'AVE', kernel_size: 3, stride: 2 });
  });

  it('reads the upstream V1 example with `include: { phase: TEST }` and a tab-indented field', () => {
    const net = parseNetPrototxt(fixtureText('real/cifar10_quick/upstream_prediction_example.prototxt'));
    expect(net.layers![0].image_data_param!.source).toBe('./examples/prediction_example/file_list.txt');
    const argmax = net.layers!.find((l) => l.name === 'argmax')!;
    expect(argmax.type).toBe('ARGMAX');
    expect(argmax.argmax_param).toEqual({ top_k: 5 });
    expect(argmax.include).toEqual([{ phase: 'TEST' }]);
  });
});

describe('parsePrototxt syntax', () => {
  it('accepts comments, <> blocks, optional colons, separators, lists and string concatenation', () => {
    const text = [
      '# a comment',
      'name: "a" \'b\' "c"  # trailing comment',
      'input: "data"; input_dim: [1, 3, 0x10, 010]',
      'layer < name: "l1", type: "Convolution" convolution_param: { kernel_size: [3, 5] pad: 1 } >',
      'layer { name: "l2" include [{ phase: TRAIN }, { phase: TEST stage: "s" }] }',
    ].join('\n');
    const net = parseNetPrototxt(text);
    expect(net.name).toBe('abc');
    expect(net.input_dim).toEqual([1, 3, 16, 8]);
    expect(net.layer![0]).toEqual({ name: 'l1', type: 'Convolution', convolution_param: { kernel_size: [3, 5], pad: [1] } });
    expect(net.layer![1].include).toEqual([{ phase: 'TRAIN' }, { phase: 'TEST', stage: ['s'] }]);
  });

  it('reads numbers: exponents, leading dot, f suffix, inf, nan, negatives, and rounds float fields to float32', () => {
    const blob = parsePrototxt(
      'num: 1 channels: 1 height: 1 width: 8 data: [1e-3, .5, 2.5f, -inf, Infinity, nan, -0, 3]',
      't',
      'BlobProto',
    ) as { data: Float32Array };
    expect(Array.from(blob.data)).toEqual([Math.fround(1e-3), 0.5, 2.5, -Infinity, Infinity, NaN, -0, 3]);
    expect(Object.is(blob.data[6], -0)).toBe(true);
    const solver = parseSolverPrototxt('delta: 1e-8 random_seed: -1 base_lr: 0.1');
    expect(solver.delta).toBe(Math.fround(1e-8));
    expect(solver.random_seed).toBe(-1);
    expect(solver.base_lr).toBe(Math.fround(0.1));
  });

  it('decodes string escapes (octal, hex, unicode, quotes) as UTF-8', () => {
    const net = parseNetPrototxt('name: "a\\tb\\n\\"q\\" \\303\\251 \\xc3\\xa9 \\u00e9 é" \'"\' "\'"');
    expect(net.name).toBe('a\tb\n"q" é é é é"\'');
  });

  it('accepts enums given by number and bools as 0/1/t/f', () => {
    const net = parseNetPrototxt('layer { phase: 1 propagate_down: 1 propagate_down: f propagate_down: True }');
    expect(net.layer![0].phase).toBe('TEST');
    expect(net.layer![0].propagate_down).toEqual([true, false, true]);
  });

  it('double_data becomes data and diff is dropped, like the binary reader', () => {
    const blob = parsePrototxt('shape { dim: 2 } double_data: 0.1 double_data: 2 diff: 5 diff: 6', 't', 'BlobProto');
    expect(blob).toEqual({ shape: { dim: [2] }, data: new Float32Array([0.1, 2]) });
  });

  it('skips the content of an uninterpreted V0 layer block', () => {
    const net = parseNetPrototxt('layers { layer { name: "x" type: "conv" weight_filler { std: 1 } } }');
    expect(net.layers![0].layer).toEqual({});
  });
});

describe('parsePrototxt errors name the file, line, column and field path', () => {
  const cases: [string, string, number, number, RegExp][] = [
    ['unknown field', 'name: "n"\nlayer {\n  nme: "x"\n}', 3, 3, /unknown field "nme" in LayerParameter.*layer\[0\]/],
    ['V1 field in a V2 layer', 'layer {\n  name: "c"\n  blobs_lr: 1\n}', 3, 3, /blobs_lr is a V1 'layers' field.*lr_mult/],
    ['V2 field in a V1 layer', 'layers {\n  propagate_down: true\n}', 2, 3, /it is a V2 'layer' field/],
    ['V2 ParamSpec in a V1 layer', 'layers {\n  param { lr_mult: 1 }\n}', 2, 9, /"param" is a string field.*blobs_lr/],
    ['bad enum value', 'layer {\n  phase: TRAINING\n}', 2, 10, /unknown value TRAINING for LayerParameter.phase/],
    ['bad V1 layer type', 'layers { type: CONV }', 1, 16, /unknown value CONV .*V1LayerType/],
    ['string for an int', 'input_dim: "3"', 1, 12, /expected an integer for NetParameter.input_dim/],
    ['float for an int', 'layer { convolution_param { num_output: 2.5 } }', 1, 41, /expected an integer/],
    ['negative unsigned', 'layer { convolution_param { num_output: -4 } }', 1, 41, /negative value for unsigned/],
    ['int32 overflow', 'input_dim: 3000000000', 1, 12, /out of range/],
    ['field set twice', 'name: "a"\nname: "b"', 2, 1, /not repeated but is set again \(first at line 1\)/],
    ['missing colon', 'name "a"', 1, 6, /expected ':' after field name "name"/],
    ['unterminated string', 'name: "abc\nlayer {}', 1, 7, /unterminated string/],
    ['missing closing brace', 'layer {\n  name: "a"\n', 3, 1, /missing '}' to close the block opened at line 1, column 7/],
    ['stray closing brace', 'name: "a"\n}', 2, 1, /expected a field name, found '}'/],
    ['bad character', 'name: "a"\n@', 2, 1, /unexpected character '@'/],
    ['malformed number', 'input_dim: 12abc', 1, 12, /malformed number "12abc"/],
    ['list for a singular field', 'name: ["a"]', 1, 7, /expected a string/],
    ['bad escape', 'name: "a\\q"', 1, 9, /unknown escape/],
  ];
  it.each(cases)('%s', (_label, text, line, column, message) => {
    const err = caffeError(() => parsePrototxt(text, 'bad.prototxt'));
    expect(err.file).toBe('bad.prototxt');
    expect([err.line, err.column]).toEqual([line, column]);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`bad.prototxt:${line}:${column}:`);
  });

  it('names the layer when an error is inside one', () => {
    const err = caffeError(() => parsePrototxt('layer { name: "conv9" convolution_param { kernel: 3 } }', 'x.prototxt'));
    expect(err.layer).toBe('conv9');
    expect(err.message).toMatch(/layer\[0\]\.convolution_param/);
  });

  it('refuses a net mixing V2 layer and V1 layers, pointing at the later one', () => {
    const err = caffeError(() => parsePrototxt('layer { name: "a" }\nlayer { name: "b" }\nlayers { name: "c" }', 'mix.prototxt'));
    expect(err.line).toBe(3);
    expect(err.message).toMatch(/mixes V2 'layer' \(first at line 1\) and legacy V1 'layers' \(first at line 3\)/);
  });

  it('recognises binary data, an HTML page and a Git LFS pointer given as a prototxt', () => {
    const bin = caffeError(() => decodeTextFile(fixtureBytes('real/lenet/model.caffemodel'), 'model.caffemodel'));
    expect(bin.message).toMatch(/binary data.*readCaffemodel/);
    expect(bin.offset).toBeGreaterThanOrEqual(0);
    const latin1 = caffeError(() => decodeTextFile(new Uint8Array([0x6e, 0x3a, 0x20, 0xff, 0x41]), 'latin1.prototxt'));
    expect(latin1.offset).toBe(3);
    expect(caffeError(() => parsePrototxt('<!DOCTYPE html>\n<html><body>Sign in</body></html>', 'page.prototxt')).message).toMatch(
      /HTML page/,
    );
    const lfs = 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 2878\n';
    expect(caffeError(() => parsePrototxt(lfs, 'deploy.prototxt')).message).toMatch(/Git LFS pointer.*2878-byte/);
    expect(caffeError(() => parsePrototxt('name: "x"\u0000\u0001', 'nul.prototxt')).message).toMatch(/binary data/);
  });

  it('refuses a solver field in a net and a net field in a solver', () => {
    expect(caffeError(() => parseNetPrototxt('base_lr: 0.1')).message).toMatch(/unknown field "base_lr" in NetParameter/);
    expect(caffeError(() => parseSolverPrototxt('layer { }')).message).toMatch(/unknown field "layer" in SolverParameter/);
  });

  it('does not treat inherited object keys as enum values or field names', () => {
    expect(caffeError(() => parseNetPrototxt('layer { phase: toString }')).message).toMatch(/unknown value toString/);
    expect(caffeError(() => parseNetPrototxt('constructor: 1')).message).toMatch(/unknown field "constructor"/);
  });
});

describe('formatPrototxt', () => {
  it('writes fields in field-number order, like the structure dumps of Caffe nets', () => {
    const net: NetParameter = { layer: [{ phase: 'TRAIN', top: ['t'], type: 'ReLU', name: 'r' }], name: 'n' };
    expect(formatPrototxt(net)).toBe('name: "n"\nlayer {\n  name: "r"\n  type: "ReLU"\n  top: "t"\n  phase: TRAIN\n}\n');
  });

  it('prints float32 values as their shortest exact decimal', () => {
    const text = formatPrototxt({ base_lr: Math.fround(0.01), delta: Math.fround(1e-8), gamma: Math.fround(1 / 3) }, 'SolverParameter');
    expect(text).toBe('base_lr: 0.01\ngamma: 0.33333334\ndelta: 1e-8\n');
  });

  it('round-trips awkward strings and special floats exactly', () => {
    const data = new Float32Array([NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, Math.fround(Math.PI)]);
    const net: NetParameter = {
      name: 'q"\\\n\t\u0001é',
      layer: [{ name: 'l', blobs: [{ shape: { dim: [7] }, data }] }],
    };
    const back = parseNetPrototxt(formatPrototxt(net));
    expect(back).toEqual(net);
    const got = back.layer![0].blobs![0].data;
    expect(Buffer.from(got.buffer).equals(Buffer.from(data.buffer))).toBe(true);
  });

  it('omits blobs on request (for a prototxt beside a .caffemodel)', () => {
    const net: NetParameter = { layer: [{ name: 'l', blobs: [{ shape: { dim: [1] }, data: new Float32Array([1]) }] }] };
    expect(formatPrototxt(net, 'NetParameter', { omitBlobs: true })).toBe('layer {\n  name: "l"\n}\n');
  });
});
