import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

/**
 * A head trained without a break (`straight`), and the same training with a checkpoint at every
 * 10 iterations, cut off at iteration 24: `resume(key)` picks it up under that key.
 */
function interruptedRun() {
  const def = miniCaffeNet(1, false);
  const base = new Net(def, { phase: 'TEST', seed: 1 });
  const plan = planTransfer(def, base, 3);
  const train = features(48, 288, 1);
  const validation = features(12, 288, 2);
  const settings: HeadTraining = { batchSize: 16, maxIter: 30, validationInterval: 10, patience: 0, keepBest: true, seed: 4, solver: { baseLr: 0.01, momentum: 0.9, weightDecay: 5e-4 } };
  const pretrained = (layer: string, index: number) => (layer === plan.newClassifier ? undefined : base.layer(layer).params[index]!.data.data);

  const straight = trainHead(plan, train, validation, settings, pretrained);
  const path = join(mkdtempSync(join(tmpdir(), 'cnn-ckpt-')), 'head');
  const key = 'same-data-and-settings';
  expect(() =>
    trainHead(plan, train, validation, settings, pretrained, (iter) => {
      if (iter === 24) throw new Error('power cut');
    }, { path, key, resume: false }),
  ).toThrow('power cut');
  const resume = (notes: string[] = [], resumeKey = key) =>
    trainHead(plan, train, validation, settings, pretrained, undefined, { path, key: resumeKey, resume: true, note: (line) => notes.push(line) });
  return { plan, straight, path, resume };
}

describe('head training checkpoints', () => {
  it('an interrupted run resumes from its last checkpoint and ends exactly as an uninterrupted one', () => {
    const { plan, straight, resume } = interruptedRun();
    const resumed = resume();

    expect(resumed.resumedAt).toBe(20);
    const firstDifference = resumed.loss.findIndex((v, i) => v !== straight.loss[i]);
    expect(firstDifference).toBe(-1);
    expect(resumed.validation).toEqual(straight.validation);
    const weights = (result: typeof straight) => Float32Array.from(result.net.layer(plan.newClassifier).params[0]!.data.data);
    expect(weights(resumed)).toEqual(weights(straight));

    const otherKey = resume([], 'other settings');
    expect(otherKey.resumedAt).toBe(0);
  });
});

describe('a damaged head checkpoint', () => {
  it('with values damaged at the same length is not resumed from: training starts over, with a note naming the file', () => {
    const { path, straight, resume } = interruptedRun();
    const bytes = readFileSync(`${path}.snapshot`);
    bytes[bytes.length - 5]! ^= 0x40;
    writeFileSync(`${path}.snapshot`, bytes);
    const notes: string[] = [];
    const resumed = resume(notes);
    expect(resumed.resumedAt).toBe(0);
    expect(resumed.loss).toEqual(straight.loss);
    expect(notes).toEqual([`head checkpoint: ${path}.snapshot: not a solver snapshot: its checksum does not match its values; training starts from iteration 0`]);
  });

  it('with an empty JSON part is named, not a bare SyntaxError, and training starts over', () => {
    const { path, straight, resume } = interruptedRun();
    writeFileSync(`${path}.json`, '');
    const notes: string[] = [];
    const resumed = resume(notes);
    expect(resumed.resumedAt).toBe(0);
    expect(resumed.loss).toEqual(straight.loss);
    expect(notes).toEqual([`head checkpoint: ${path}.json is not JSON (Unexpected end of JSON input); training starts from iteration 0`]);
  });
});
