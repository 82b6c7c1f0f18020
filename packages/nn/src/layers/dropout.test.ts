import { Rng } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { Blob } from '../blob.js';
import { LayerError } from '../errors.js';
import type { Phase } from '../layer.js';
import { checkGradients, randomBlob } from '../testing/gradient-check.js';
import { DropoutLayer } from './dropout.js';

function setUp(layer: DropoutLayer, bottom: Blob, phase: Phase, top = new Blob('y', [], 'float64')): Blob {
  layer.phase = phase;
  layer.setup([bottom], [top], { dtype: 'float64', rng: new Rng(1) });
  layer.reshape([bottom], [top]);
  return top;
}

describe('Dropout', () => {
  it('keeps each element with probability 1 - p and scales it by 1 / (1 - p), x=[100,100] p=0.3', () => {
    const x = randomBlob('x', [100, 100], 2, 1, 2);
    const dropout = new DropoutLayer('drop', { dropoutRatio: 0.3 });
    const y = setUp(dropout, x, 'TRAIN');
    dropout.forward([x], [y]);
    let kept = 0;
    for (let i = 0; i < x.count; i++) {
      const v = y.data.data[i]!;
      if (v !== 0) {
        kept++;
        expect(v).toBeCloseTo(x.data.data[i]! / 0.7, 12);
      }
    }
    // 10,000 Bernoulli(0.7) draws: mean 7000, standard deviation 46.
    expect(Math.abs(kept - 7000)).toBeLessThan(250);
  });

  it('passes values and gradients through unchanged in TEST, x=[3,4]', () => {
    const x = randomBlob('x', [3, 4], 3);
    const dropout = new DropoutLayer('drop');
    const y = setUp(dropout, x, 'TEST');
    dropout.forward([x], [y]);
    expect(y.data.toFlatArray()).toEqual(x.data.toFlatArray());
    y.diff.data.fill(0.5);
    dropout.backward([y], [true], [x]);
    expect(x.diff.toFlatArray()).toEqual(new Array(12).fill(0.5));
  });

  it('draws the same mask again after reseed, and backward uses the forward mask, x=[4,5]', () => {
    const x = randomBlob('x', [4, 5], 4, 1, 2);
    const dropout = new DropoutLayer('drop');
    const y = setUp(dropout, x, 'TRAIN');
    dropout.reseed(9);
    dropout.forward([x], [y]);
    const first = y.data.toFlatArray();
    dropout.forward([x], [y]);
    expect(y.data.toFlatArray()).not.toEqual(first);
    dropout.reseed(9);
    dropout.forward([x], [y]);
    expect(y.data.toFlatArray()).toEqual(first);
    y.diff.data.fill(1);
    dropout.backward([y], [true], [x]);
    // dx = mask / (1 - p) = 2 where the element was kept, 0 where dropped.
    expect(x.diff.toFlatArray()).toEqual(first.map((v) => (v === 0 ? 0 : 2)));
  });

  it.each([
    { shape: [2, 3, 4, 5], dropoutRatio: 0.5, phase: 'TRAIN' },
    { shape: [7, 3], dropoutRatio: 0.2, phase: 'TRAIN' },
    { shape: [7, 3], dropoutRatio: 0.5, phase: 'TEST' },
  ] as const)('passes the float64 gradient check with a fixed mask, x=$shape p=$dropoutRatio $phase', ({ shape, dropoutRatio, phase }) => {
    const x = randomBlob('x', shape, 5);
    const dropout = new DropoutLayer('drop', { dropoutRatio });
    const y = setUp(dropout, x, phase);
    const result = checkGradients(dropout, [x], [y], { beforeForward: () => dropout.reseed(17) });
    expect(result.report).toBe('');
    expect(result.checked).toBe(x.count);
  });

  it('runs in place with the same values and gradient, x=[3,5]', () => {
    const x = randomBlob('x', [3, 5], 6);
    const dropout = new DropoutLayer('drop');
    const separate = setUp(dropout, x, 'TRAIN');
    dropout.reseed(3);
    dropout.forward([x], [separate]);
    separate.diff.data.fill(1);
    const xGrad = new Blob('xg', x.shape, 'float64');
    dropout.backward([separate], [true], [xGrad]);
    dropout.reseed(3);
    dropout.forward([x], [x]);
    x.diff.data.fill(1);
    dropout.backward([x], [true], [x]);
    expect(x.data.toFlatArray()).toEqual(separate.data.toFlatArray());
    expect(x.diff.toFlatArray()).toEqual(xGrad.diff.toFlatArray());
  });

  it('rejects a dropout ratio outside [0, 1)', () => {
    const x = randomBlob('x', [2, 2], 1);
    expect(() => setUp(new DropoutLayer('drop', { dropoutRatio: 1 }), x, 'TRAIN')).toThrow(LayerError);
  });
});
