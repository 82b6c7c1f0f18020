import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultBase, resolveConfig, SHIPPED_BASE } from '@cnn/experiment';
import { mobilenet, shared } from './paths.js';

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('the shipped ImageNet base', () => {
  it("is the shared fixture's MobileNet v1 0.75 192, byte for byte", () => {
    expect(sha256(SHIPPED_BASE.weights)).toBe(sha256(mobilenet('mobilenet_v1_0.75_192').weights));
    expect(sha256(SHIPPED_BASE.prototxt)).toBe(sha256(mobilenet('mobilenet_v1_0.75_192').prototxt));
    expect(SHIPPED_BASE.preset).toBe('mobilenet');
  });

  it('is what a run uses when no model is given (the CaffeNet weights are not fetched here), named in the config', () => {
    expect(defaultBase()).toEqual(SHIPPED_BASE);
    const config = resolveConfig({ data: shared('data/busi/manifest.csv') });
    expect([config.prototxt, config.weights, config.preset, config.base]).toEqual([SHIPPED_BASE.prototxt, SHIPPED_BASE.weights, 'mobilenet', SHIPPED_BASE.name]);
    // A preset given explicitly still wins over the base's.
    expect(resolveConfig({ data: 'd', preset: 'caffenet' }).preset).toBe('caffenet');
  });

  it('is not used when half a model is given', () => {
    expect(() => resolveConfig({ data: 'd', prototxt: SHIPPED_BASE.prototxt })).toThrow(/missing --weights/);
  });
});
