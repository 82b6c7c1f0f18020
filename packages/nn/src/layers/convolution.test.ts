import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob, type ParamSpec } from '../blob.js';
import { LayerError } from '../errors.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { ConvolutionLayer, type ConvolutionParams } from './convolution.js';

const random: ConvolutionParams = { weightFiller: { type: 'uniform', min: -1, max: 1 }, biasFiller: { type: 'uniform', min: -1, max: 1 } };

function setUp(layer: ConvolutionLayer, bottom: Blob, dtype: 'float32' | 'float64' = 'float64'): Blob {
  const top = new Blob('y', [], dtype);
  layer.setup([bottom], [top], { dtype, rng: new Rng(7) });
  layer.reshape([bottom], [top]);
  return top;
}

/** Sets a layer's weights (and bias) to the given values. */
function setParams(layer: ConvolutionLayer, weight: number[], bias?: number[]): void {
  layer.params[0]!.data.data.set(weight);
  if (bias) layer.params[1]!.data.data.set(bias);
}

/** A [N,C,H,W] blob whose element [n][c][i][j] is `value(n, c, i, j)`. */
function images(shape: [number, number, number, number], value: (n: number, c: number, i: number, j: number) => number): Blob {
  const [N, C, H, W] = shape;
  const values: number[] = [];
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) values.push(value(n, c, i, j));
  return blobOf('x', Tensor.fromArray(values, shape, { dtype: 'float64' }));
}

const x3x3 = (): Blob => blobOf('x', Tensor.fromArray([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], undefined, { dtype: 'float64' }));

describe('Convolution: values by hand', () => {
  it('x=[1,1,3,3] k=2 s=1 p=0: cross-correlation (no flip) plus bias, and its gradients', () => {
    const conv = new ConvolutionLayer('conv', { numOutput: 1, kernelSize: 2 });
    const x = x3x3();
    const y = setUp(conv, x);
    setParams(conv, [1, 2, 3, 4], [0.5]);
    conv.forward([x], [y]);
    // x = [1 2 3; 4 5 6; 7 8 9], w = [1 2; 3 4]
    // y[0][0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, y[0][1] = 2 + 6 + 15 + 24 = 47
    // y[1][0] = 4 + 10 + 21 + 32 = 67,      y[1][1] = 5 + 12 + 24 + 36 = 77; each + 0.5
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(y.data.toFlatArray()).toEqual([37.5, 47.5, 67.5, 77.5]);

    // dy = all ones: dx[i][j] sums the w taps that touched pixel (i, j);
    // dW[ky][kx] sums the 2x2 window of x at (ky, kx); db = 4 positions.
    y.diff.data.fill(1);
    x.diff.data.fill(NaN);
    conv.backward([y], [true], [x]);
    expect(x.diff.toFlatArray()).toEqual([1, 3, 2, 4, 10, 6, 3, 7, 4]);
    expect(conv.params[0]!.diff.toFlatArray()).toEqual([12, 16, 24, 28]);
    expect(conv.params[1]!.diff.toFlatArray()).toEqual([4]);
  });

  it('x=[1,1,3,3] k=2 s=2 p=1: zero padding and stride', () => {
    const conv = new ConvolutionLayer('conv', { numOutput: 1, kernelSize: 2, stride: 2, pad: 1, biasTerm: false });
    const x = x3x3();
    const y = setUp(conv, x);
    setParams(conv, [1, 2, 3, 4]);
    conv.forward([x], [y]);
    // out = floor((3 + 2 - 2) / 2) + 1 = 2; windows start at rows/cols -1 and 1
    // y[0][0] = x[0][0]*4 = 4;  y[0][1] = x[0][1]*3 + x[0][2]*4 = 18
    // y[1][0] = x[1][0]*2 + x[2][0]*4 = 36;  y[1][1] = 5*1 + 6*2 + 8*3 + 9*4 = 77
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(y.data.toFlatArray()).toEqual([4, 18, 36, 77]);
    expect(conv.params).toHaveLength(1);
  });

  it('x=[1,4,1,2] k=1 g=2: groups are contiguous channel blocks', () => {
    const conv = new ConvolutionLayer('conv', { numOutput: 2, kernelSize: 1, group: 2, biasTerm: false });
    // channel c holds [c + 1, 10 (c + 1)]
    const x = images([1, 4, 1, 2], (_, c, __, j) => (c + 1) * (j === 0 ? 1 : 10));
    const y = setUp(conv, x);
    expect(conv.params[0]!.shape).toEqual([2, 2, 1, 1]);
    setParams(conv, [1, 1, 10, 100]);
    conv.forward([x], [y]);
    // output 0 sees channels 0, 1: 1 + 2 = 3 (and 30); output 1 sees channels 2, 3: 10*3 + 100*4 = 430 (and 4300)
    expect(y.data.toFlatArray()).toEqual([3, 30, 430, 4300]);
  });

  it('x=[1,1,5,5] k=2 d=2: dilation spreads the taps two pixels apart', () => {
    const conv = new ConvolutionLayer('conv', { numOutput: 1, kernelSize: 2, dilation: 2, biasTerm: false });
    const x = images([1, 1, 5, 5], (_, __, i, j) => 5 * i + j);
    const y = setUp(conv, x);
    setParams(conv, [1, 2, 3, 4]);
    conv.forward([x], [y]);
    // out = 5 - (2 * 1 + 1) + 1 = 3; with v = x[oy][ox] = 5 oy + ox:
    // y = v + 2 x[oy][ox+2] + 3 x[oy+2][ox] + 4 x[oy+2][ox+2] = v + 2(v + 2) + 3(v + 10) + 4(v + 12) = 10 v + 82
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expect(y.data.toFlatArray()).toEqual([0, 1, 2, 5, 6, 7, 10, 11, 12].map((v) => 10 * v + 82));
  });

  it('x=[1,1,4,5] kh=3 kw=1 sh=1 sw=2 ph=0 pw=1: non-square kernel, stride and pad', () => {
    const conv = new ConvolutionLayer('conv', { numOutput: 1, kernelH: 3, kernelW: 1, strideH: 1, strideW: 2, padH: 0, padW: 1, biasTerm: false });
    const x = images([1, 1, 4, 5], (_, __, i, j) => 5 * i + j);
    const y = setUp(conv, x);
    setParams(conv, [1, 1, 1]);
    conv.forward([x], [y]);
    // outH = 4 - 3 + 1 = 2, outW = floor((5 + 2 - 1) / 2) + 1 = 4; output column ox reads input column 2 ox - 1:
    // -1 and 5 are padding (0); column 1: 1 + 6 + 11 = 18, column 3: 3 + 8 + 13 = 24 (next row: +15)
    expect(y.shape).toEqual([1, 1, 2, 4]);
    expect(y.data.toFlatArray()).toEqual([0, 18, 24, 0, 0, 33, 39, 0]);
  });

  it('the same non-square geometry from the repeated fields: kernelSize=[3,1] stride=[1,2] pad=[0,1]', () => {
    const a = new ConvolutionLayer('a', { numOutput: 1, kernelSize: [3, 1], stride: [1, 2], pad: [0, 1] });
    const b = new ConvolutionLayer('b', { numOutput: 1, kernelH: 3, kernelW: 1, strideH: 1, strideW: 2, padH: 0, padW: 1 });
    for (const key of ['kernelH', 'kernelW', 'strideH', 'strideW', 'padH', 'padW', 'dilationH', 'dilationW'] as const) expect(a[key]).toBe(b[key]);
  });

  it('x=[2,1,3,3] k=2: each image of a batch on its own', () => {
    const conv = new ConvolutionLayer('conv', { numOutput: 1, kernelSize: 2, biasTerm: false });
    const x = images([2, 1, 3, 3], (n, _, i, j) => (n === 0 ? 1 : -2) * (3 * i + j + 1));
    const y = setUp(conv, x);
    setParams(conv, [1, 2, 3, 4]);
    conv.forward([x], [y]);
    expect(y.data.toFlatArray()).toEqual([37, 47, 67, 77, -74, -94, -134, -154]);
  });

  it('CaffeNet conv2: x=[1,96,27,27] o=256 k=5 p=2 g=2 has weight [256,48,5,5], bias [256] and 224 M multiply-adds', () => {
    const conv = new ConvolutionLayer('conv2', { numOutput: 256, kernelSize: 5, pad: 2, group: 2 }, [{ lrMult: 1 }, { lrMult: 2 }]);
    const x = new Blob('pool1', [1, 96, 27, 27]);
    const y = setUp(conv, x, 'float32');
    expect(conv.params.map((p) => p.shape)).toEqual([[256, 48, 5, 5], [256]]);
    expect(conv.params.map((p) => p.lrMult)).toEqual([1, 2]);
    expect(y.shape).toEqual([1, 256, 27, 27]);
    expect(conv.multiplyAdds([x], [y])).toBe(223_948_800);
  });

  it('fills with Caffe defaults (constant 0) and with the given fillers', () => {
    const x = new Blob('x', [1, 3, 5, 5], 'float64');
    const plain = new ConvolutionLayer('conv', { numOutput: 2, kernelSize: 3 });
    setUp(plain, x);
    expect(plain.params[0]!.data.toFlatArray().every((v) => v === 0)).toBe(true);
    const filled = new ConvolutionLayer('conv', { numOutput: 2, kernelSize: 3, weightFiller: { type: 'gaussian', std: 0.01 }, biasFiller: { type: 'constant', value: 1 } });
    setUp(filled, x);
    expect(filled.params[0]!.data.toFlatArray().some((v) => v !== 0)).toBe(true);
    expect(filled.params[1]!.data.toFlatArray()).toEqual([1, 1]);
  });
});

interface GradCase {
  x: [number, number, number, number];
  params: ConvolutionParams;
}

const gradCases: GradCase[] = [];
for (const stride of [1, 2]) {
  for (const pad of [0, 1, 2]) {
    for (const group of [1, 2]) gradCases.push({ x: [2, 4, 7, 7], params: { numOutput: 4, kernelSize: 3, stride, pad, group } });
  }
}
gradCases.push(
  { x: [2, 4, 7, 7], params: { numOutput: 2, kernelSize: 2, dilation: 2, pad: 1, group: 2 } },
  { x: [1, 3, 6, 5], params: { numOutput: 3, kernelH: 3, kernelW: 2, strideH: 2, strideW: 1, padH: 1, padW: 0, biasTerm: false } },
  { x: [2, 2, 5, 5], params: { numOutput: 3, kernelSize: 1 } },
  { x: [1, 2, 5, 6], params: { numOutput: 2, kernelSize: 1, stride: 2, pad: 1 } },
  // Batches of 8: the forward and the input gradient go through Winograd's F(2x2, 3x3).
  { x: [8, 2, 5, 5], params: { numOutput: 2, kernelSize: 3, pad: 1 } },
  { x: [8, 4, 4, 5], params: { numOutput: 2, kernelSize: 3, group: 2 } },
);

const describeCase = ({ x, params: p }: GradCase): string => {
  const k = p.kernelSize ?? `${p.kernelH}x${p.kernelW}`;
  const s = p.strideH !== undefined ? `${p.strideH}x${p.strideW}` : (p.stride ?? 1);
  const pad = p.padH !== undefined ? `${p.padH}x${p.padW}` : (p.pad ?? 0);
  return `x=[${x.join(',')}] o=${p.numOutput} k=${k} s=${s} p=${pad} d=${p.dilation ?? 1} g=${p.group ?? 1} bias=${p.biasTerm ?? true}`;
};

describe('Convolution: float64 gradient check', () => {
  it.each(gradCases.map((c) => [describeCase(c), c] as const))('%s', (_, c) => {
    const x = randomBlob('x', c.x, 3);
    const conv = new ConvolutionLayer('conv', { ...random, ...c.params });
    const y = setUp(conv, x);
    const result = checkGradients(conv, [x], [y]);
    expect(result.report).toBe('');
    const elements = x.count + conv.params.reduce((sum, p) => sum + p.count, 0);
    expect(result.checked).toBeGreaterThan(0.95 * elements);
  });
});

describe('Convolution: backward contract', () => {
  const build = (paramSpecs: ParamSpec[] = []) => {
    const x = randomBlob('x', [2, 4, 5, 5], 5);
    const conv = new ConvolutionLayer('conv', { ...random, numOutput: 4, kernelSize: 3, pad: 1, group: 2 }, paramSpecs);
    const y = setUp(conv, x);
    conv.forward([x], [y]);
    y.diff.data.set(Tensor.uniform(y.shape, 9, -1, 1, { dtype: 'float64' }).data);
    return { x, conv, y };
  };

  it.each([
    { spec: [{ lrMult: 0 }, { lrMult: 1 }], frozen: [true, false] },
    { spec: [{ lrMult: 1 }, { lrMult: 0 }], frozen: [false, true] },
    { spec: [{ lrMult: 0 }, { lrMult: 0 }], frozen: [true, true] },
  ])('a frozen param (lrMult 0) gets no gradient, x=[2,4,5,5] k=3 p=1 g=2, frozen=$frozen', ({ spec, frozen }) => {
    const { x, conv, y } = build(spec);
    conv.backward([y], [true], [x]);
    conv.params.forEach((param, i) => {
      const touched = param.diff.toFlatArray().some((v) => v !== 0);
      expect(touched).toBe(!frozen[i]);
    });
    expect(x.diff.toFlatArray().some((v) => v !== 0)).toBe(true);
  });

  it('adds into param diffs and overwrites the bottom diff (two backward passes: params double, x stays)', () => {
    const { x, conv, y } = build();
    conv.backward([y], [true], [x]);
    const once = conv.params.map((p) => p.diff.toFlatArray());
    const dx = x.diff.toFlatArray();
    conv.backward([y], [true], [x]);
    conv.params.forEach((p, i) => p.diff.toFlatArray().forEach((v, j) => expect(v).toBeCloseTo(2 * once[i]![j]!, 12)));
    expect(x.diff.toFlatArray()).toEqual(dx);
  });

  it('propagateDown false leaves the bottom diff alone', () => {
    const { x, conv, y } = build();
    x.diff.data.fill(42);
    conv.backward([y], [false], [x]);
    expect(x.diff.toFlatArray().every((v) => v === 42)).toBe(true);
    expect(conv.params[0]!.diff.toFlatArray().some((v) => v !== 0)).toBe(true);
  });

  it('runs two bottoms through the same weights, x=[1,2,4,4] twice', () => {
    const conv = new ConvolutionLayer('conv', { ...random, numOutput: 3, kernelSize: 3 });
    const a = randomBlob('a', [1, 2, 4, 4], 1);
    const b = randomBlob('b', [1, 2, 4, 4], 2);
    const tops = [new Blob('ya', [], 'float64'), new Blob('yb', [], 'float64')];
    conv.setup([a, b], tops, { dtype: 'float64', rng: new Rng(1) });
    conv.reshape([a, b], tops);
    conv.forward([a, b], tops);
    const single = new ConvolutionLayer('single', { numOutput: 3, kernelSize: 3 });
    const yb = setUp(single, b);
    conv.params.forEach((p, i) => single.params[i]!.data.data.set(p.data.data));
    single.forward([b], [yb]);
    expect(tops[1]!.data.toFlatArray()).toEqual(yb.data.toFlatArray());
    expect(checkGradients(conv, [a, b], tops).report).toBe('');
  });
});

describe('Convolution: errors name the layer and the shapes', () => {
  const x = (shape: number[]): Blob => new Blob('data', shape, 'float64');
  const tryBuild = (params: ConvolutionParams, shape: number[]): (() => void) => () => setUp(new ConvolutionLayer('conv1', params), x(shape));

  it('channels not divisible by group: x=[1,3,5,5] g=2', () => {
    expect(tryBuild({ numOutput: 4, kernelSize: 3, group: 2 }, [1, 3, 5, 5])).toThrow(ShapeError);
    expect(tryBuild({ numOutput: 4, kernelSize: 3, group: 2 }, [1, 3, 5, 5])).toThrow(/Convolution layer 'conv1'.*'data' has shape \[1,3,5,5\].*3 channels.*group 2/);
  });

  it('numOutput not divisible by group: o=5 g=2', () => {
    expect(() => new ConvolutionLayer('conv1', { numOutput: 5, kernelSize: 3, group: 2 })).toThrow(LayerError);
    expect(() => new ConvolutionLayer('conv1', { numOutput: 5, kernelSize: 3, group: 2 })).toThrow(/Convolution layer 'conv1'.*numOutput 5.*group 2/);
  });

  it('a kernel larger than the padded input: x=[1,1,2,2] k=3', () => {
    expect(tryBuild({ numOutput: 1, kernelSize: 3 }, [1, 1, 2, 2])).toThrow(/Convolution layer 'conv1'.*\[1,1,2,2\].*3 x 3 kernel/);
  });

  it('not a 4-axis batch: x=[3,5,5]', () => {
    expect(tryBuild({ numOutput: 1, kernelSize: 3 }, [3, 5, 5])).toThrow(/Convolution layer 'conv1'.*\[3,5,5\].*4 axes/);
  });

  it('a reshape to another channel count than at setup: [1,3,5,5] then [1,4,5,5]', () => {
    const conv = new ConvolutionLayer('conv1', { numOutput: 2, kernelSize: 3 });
    const top = new Blob('y', [], 'float64');
    conv.setup([x([1, 3, 5, 5])], [top], { dtype: 'float64', rng: new Rng(1) });
    expect(() => conv.reshape([x([1, 4, 5, 5])], [top])).toThrow(/Convolution layer 'conv1'.*\[1,4,5,5\].*3 channels \(weight \[2,3,3,3\]/);
  });

  it('an axis other than 1', () => {
    expect(tryBuild({ numOutput: 1, kernelSize: 1, axis: 2 }, [1, 1, 3, 3])).toThrow(/Convolution layer 'conv1'.*axis 2 is not supported/);
    expect(tryBuild({ numOutput: 1, kernelSize: 1, axis: -3 }, [1, 1, 3, 3])).not.toThrow();
  });

  it.each([
    [{ numOutput: 1 }, /kernelSize is required/],
    [{ kernelSize: 3 }, /numOutput is required/],
    [{ numOutput: 1, kernelSize: 3, kernelH: 3, kernelW: 3 }, /either kernelSize or kernelH\/kernelW/],
    [{ numOutput: 1, kernelH: 3 }, /kernelH and kernelW must be given together/],
    [{ numOutput: 1, kernelSize: [3, 3, 3] }, /kernelSize takes 1 value or 2/],
    [{ numOutput: 1, kernelSize: 3, stride: 0 }, /stride must be an integer > 0/],
    [{ numOutput: 1, kernelSize: 3, pad: -1 }, /pad must be an integer >= 0/],
    [{ numOutput: 1, kernelSize: 3, group: 0 }, /group must be an integer > 0/],
  ] as [ConvolutionParams, RegExp][])('rejects bad parameters %j', (params, message) => {
    expect(() => new ConvolutionLayer('conv1', params)).toThrow(message);
    expect(() => new ConvolutionLayer('conv1', params)).toThrow(/Convolution layer 'conv1'/);
  });
});
