import { Rng, ShapeError, Tensor } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import type { Layer } from '../layer.js';
import { blobOf, checkGradients, randomBlob } from '../testing/gradient-check.js';
import { LRNLayer, type LRNParams } from './lrn.js';

function setUp(layer: Layer, bottom: Blob): Blob {
  const top = new Blob('y', [], bottom.dtype);
  layer.setup([bottom], [top], { dtype: bottom.dtype, rng: new Rng(1) });
  layer.reshape([bottom], [top]);
  return top;
}

function run(params: LRNParams, x: Blob, dy?: number[]): { y: number[]; dx: number[] } {
  const layer = new LRNLayer('norm', params);
  const y = setUp(layer, x);
  layer.forward([x], [y]);
  let dx: number[] = [];
  if (dy) {
    y.diff.data.set(dy);
    layer.backward([y], [true], [x]);
    dx = x.diff.toFlatArray();
  }
  return { y: y.data.toFlatArray(), dx };
}

const close = (actual: number[], expected: number[]): void => {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a, `element ${i}`).toBeCloseTo(expected[i]!, 12));
};

describe('LRN by hand', () => {
  it('ACROSS_CHANNELS x=[1,5,1,1] n=5 alpha=5 beta=0.5 k=2, forward and backward', () => {
    // x = [1, 2, 0, -1, 1], squares [1, 4, 0, 1, 1]; alpha / n = 1.
    // Channel windows (clipped): c0 {0,1,2} 5, c1 {0..3} 6, c2 {0..4} 7, c3 {1..4} 6, c4 {2,3,4} 2.
    // scale = 2 + sums = [7, 8, 9, 8, 4]; y = x / sqrt(scale) = [1/sqrt7, 2/sqrt8, 0, -1/sqrt8, 1/2].
    const x = blobOf('x', Tensor.fromArray([1, 2, 0, -1, 1], [1, 5, 1, 1], { dtype: 'float64' }));
    // Backward with dy = [1, 0, 0, 0, 0]: 2 alpha beta / n = 1 and only i = 0 has dy y / s != 0,
    // namely (1/sqrt7) / 7 = 7^-1.5, which reaches channels 0, 1, 2 (x2 = 0):
    //   dx0 = 7^-0.5 - 1 * 7^-1.5 = 6 / (7 sqrt7),  dx1 = -2 * 7^-1.5,  dx2 = dx3 = dx4 = 0.
    const { y, dx } = run({ localSize: 5, alpha: 5, beta: 0.5, k: 2 }, x, [1, 0, 0, 0, 0]);
    close(y, [1 / Math.sqrt(7), 2 / Math.sqrt(8), 0, -1 / Math.sqrt(8), 0.5]);
    close(dx, [6 / (7 * Math.sqrt(7)), -2 / (7 * Math.sqrt(7)), 0, 0, 0]);
  });

  it('ACROSS_CHANNELS divides alpha by n: CaffeNet settings x=[1,5,1,1] all 10', () => {
    // Centre channel: scale = 1 + (1e-4 / 5) * 5 * 100 = 1.01 (it would be 1.05 without the / n);
    // edge channels see 3 channels: 1 + (1e-4 / 5) * 300 = 1.006; next ones 4: 1.008.
    const x = blobOf('x', Tensor.fromArray([10, 10, 10, 10, 10], [1, 5, 1, 1], { dtype: 'float64' }));
    const { y } = run({ localSize: 5, alpha: 1e-4, beta: 0.75, k: 1 }, x);
    close(y, [1.006, 1.008, 1.01, 1.008, 1.006].map((s) => 10 * s ** -0.75));
  });

  it('WITHIN_CHANNEL x=[1,1,3,3] n=3 alpha=9 beta=1 uses shift 1 (not k) and the padded divisor n^2', () => {
    // x = [[1,0,0],[0,2,0],[0,0,0]]: squares 1 at (0,0), 4 at (1,1).
    // Every 3 x 3 window holds (1,1); those centred in rows 0-1 and columns 0-1 also hold (0,0):
    // sums [[5,5,4],[5,5,4],[4,4,4]]. Caffe's AVE pooling divides by 9 even at the corners
    // (the padding counts), and alpha / 9 = 1, so scale = 1 + sum = [[6,6,5],[6,6,5],[5,5,5]];
    // k = 100 plays no part. y = x / scale: 1/6 at (0,0), 2/6 at (1,1).
    const x = blobOf('x', Tensor.fromArray([1, 0, 0, 0, 2, 0, 0, 0, 0], [1, 1, 3, 3], { dtype: 'float64' }));
    // Backward with dy = 1 at (1,1): 2 alpha beta / n^2 = 2, and dy y / s = (1/3) / 6 = 1/18 at (1,1) only,
    // which lies in the window of every pixel: dx(1,1) = 1/6 - 2 * 2 * 1/18 = -1/18,
    // dx(0,0) = -2 * 1 * 1/18 = -1/9, all others have x = 0.
    const { y, dx } = run({ normRegion: 'WITHIN_CHANNEL', localSize: 3, alpha: 9, beta: 1, k: 100 }, x, [0, 0, 0, 0, 1, 0, 0, 0, 0]);
    close(y, [1 / 6, 0, 0, 0, 1 / 3, 0, 0, 0, 0]);
    close(dx, [-1 / 9, 0, 0, 0, -1 / 18, 0, 0, 0, 0]);
  });

  it('localSize 1 across channels is a pointwise x (k + alpha x^2)^-beta', () => {
    const x = randomBlob('x', [2, 3, 2, 2], 4);
    const { y } = run({ localSize: 1, alpha: 2, beta: 0.75, k: 1.5 }, x);
    close(y, x.data.toFlatArray().map((v) => v * (1.5 + 2 * v * v) ** -0.75));
  });
});

describe('LRN gradients (float64, central differences)', () => {
  const cases: { shape: number[]; params: LRNParams }[] = [
    { shape: [2, 7, 3, 3], params: { localSize: 5, alpha: 1, beta: 0.75, k: 1 } },
    { shape: [2, 7, 3, 3], params: { localSize: 3, alpha: 2, beta: 0.6, k: 2 } },
    { shape: [2, 3, 2, 5], params: { localSize: 5, alpha: 3, beta: 0.5, k: 1 } },
    { shape: [3, 4, 1, 3], params: { localSize: 1, alpha: 1.5, beta: 1, k: 0.5 } },
    { shape: [2, 2, 5, 5], params: { normRegion: 'WITHIN_CHANNEL', localSize: 3, alpha: 2, beta: 0.75 } },
    { shape: [2, 3, 2, 3], params: { normRegion: 'WITHIN_CHANNEL', localSize: 5, alpha: 5, beta: 0.75 } },
    { shape: [1, 1, 7, 4], params: { normRegion: 'WITHIN_CHANNEL', localSize: 5, alpha: 3, beta: 0.6 } },
    { shape: [2, 2, 3, 3], params: { normRegion: 'WITHIN_CHANNEL', localSize: 1, alpha: 1, beta: 1 } },
  ];
  it.each(cases)('x=$shape $params', ({ shape, params }) => {
    const x = randomBlob('x', shape, 12, -2, 2);
    const layer = new LRNLayer('norm', params);
    const y = setUp(layer, x);
    const result = checkGradients(layer, [x], [y]);
    expect(result.report).toBe('');
    expect(result.checked).toBe(x.count);
  });
});

describe('LRN errors name the layer and the shapes', () => {
  it('rejects a bottom that is not 4-D: x=[2,5]', () => {
    const x = new Blob('pool1', [2, 5], 'float64');
    const layer = new LRNLayer('norm1');
    expect(() => setUp(layer, x)).toThrow(ShapeError);
    expect(() => setUp(layer, x)).toThrow("LRN layer 'norm1': bottom 'pool1' has shape [2,5], expected 4 axes [N,C,H,W]");
  });

  it('rejects an even localSize, as Caffe does', () => {
    expect(() => new LRNLayer('norm1', { localSize: 4 })).toThrow(LayerError);
    expect(() => new LRNLayer('norm1', { localSize: 4 })).toThrow(/LRN layer 'norm1': localSize 4 must be an odd integer/);
  });

  it('takes Caffe defaults and has no parameters to learn or freeze', () => {
    const layer = new LRNLayer('norm1');
    expect([layer.localSize, layer.alpha, layer.beta, layer.normRegion, layer.k]).toEqual([5, 1, 0.75, 'ACROSS_CHANNELS', 1]);
    setUp(layer, new Blob('x', [1, 3, 2, 2], 'float64'));
    expect(layer.params).toEqual([]);
  });
});
