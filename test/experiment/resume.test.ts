import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Net } from '@cnn/nn';
import { Rng } from '@cnn/tensor';
import { describe, expect, it } from 'vitest';
import { miniCaffeNet, planTransfer, trainHead, type HeadTraining } from '@cnn/experiment';

function features(count: number, dimension: number, seed: number): { features: { data: Float32Array; count: number; dimension: number }; labels: number[] } {
  const rng = new Rng(seed);
  const labels = Array.from({ length: count }, (_, i) => i % 3);
  const data = new Float32Array(count * dimension);
  for (let i = 0; i < count; i++) for (let d = 0; d < dimension; d++) data[i * dimension + d] = Math.max(0, rng.normal(labels[i] === d % 3 ? 1 : 0, 0.5));
  return { features: { data, count, dimension }, labels };
}

describe('head training checkpoints', () => {
  it('an interrupted run resumes from its last checkpoint and ends exactly as an uninterrupted one', () => {
    const def = miniCaffeNet(1, false);
    const base = new Net(def, { phase: 'TEST', seed: 1 });
    const plan = planTransfer(def, base, 3);
    const train = features(48, 288, 1);
    const validation = features(12, 288, 2);
    const settings: HeadTraining = { batchSize: 16, maxIter: 30, validationInterval: 10, patience: 0, seed: 4, solver: { baseLr: 0.01, momentum: 0.9, weightDecay: 5e-4 } };
    const pretrained = (layer: string, index: number) => (layer === plan.newClassifier ? undefined : base.layer(layer).params[index]!.data.data);

    const straight = trainHead(plan, train, validation, settings, pretrained);

    const path = join(mkdtempSync(join(tmpdir(), 'cnn-ckpt-')), 'head');
    const checkpoint = { path, key: 'same-data-and-settings', resume: false };
    expect(() =>
      trainHead(plan, train, validation, settings, pretrained, (iter) => {
        if (iter === 24) throw new Error('power cut');
      }, checkpoint),
    ).toThrow('power cut');
    const resumed = trainHead(plan, train, validation, settings, pretrained, undefined, { ...checkpoint, resume: true });

    expect(resumed.resumedAt).toBe(20);
    const firstDifference = resumed.loss.findIndex((v, i) => v !== straight.loss[i]);
    expect(firstDifference).toBe(-1);
    expect(resumed.validation).toEqual(straight.validation);
    const weights = (result: typeof straight) => Float32Array.from(result.net.layer(plan.newClassifier).params[0]!.data.data);
    expect(weights(resumed)).toEqual(weights(straight));

    const otherKey = trainHead(plan, train, validation, settings, pretrained, undefined, { path, key: 'other settings', resume: true });
    expect(otherKey.resumedAt).toBe(0);
  });
});
