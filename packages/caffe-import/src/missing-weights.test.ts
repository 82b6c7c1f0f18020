import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaffeFormatError } from './errors.js';
import { loadModel } from './model.js';
import { fixtureBytes, fixturePath } from './testing/fixtures.js';

/**
 * LeNet's model cut at byte 102678 ends exactly after layer conv2: the protobuf is well formed,
 * only ip1 and ip2 are missing. Loading it must not leave them at their fillers unasked.
 */
function cutLenet(): { prototxt: string; weights: string } {
  const weights = path.join(mkdtempSync(path.join(tmpdir(), 'cnn-cut-')), 'cut.caffemodel');
  writeFileSync(weights, fixtureBytes('real/lenet/model.caffemodel').subarray(0, 102678));
  return { prototxt: fixturePath('real/lenet/deploy.prototxt'), weights };
}

describe('a trained model without weights for some layers', () => {
  it('is a CaffeFormatError naming the file, the layers without weights and the last layer it holds', () => {
    const model = cutLenet();
    expect(() => loadModel(model)).toThrow(CaffeFormatError);
    expect(() => loadModel(model)).toThrow(
      `${model.weights}: holds no weights for layers ip1, ip2, which have parameters in ${model.prototxt}; its last layer with weights is conv2: ` +
        'a file cut short, or the weights of another net. To start those layers from their fillers on purpose (fine-tuning), allow missing weights (cnn: --allow-missing-weights)',
    );
  });

  it('loads when missing weights are allowed, reporting the layers left at their fillers', () => {
    const { net, weights } = loadModel({ ...cutLenet(), allowMissingWeights: true });
    expect(weights.copied).toEqual(['conv1', 'conv2']);
    expect(weights.initialised).toEqual(['ip1', 'ip2']);
    expect(net.layer('ip2').params[0]!.shape).toEqual([10, 500]);
  });

  it('the whole file loads with every layer copied', () => {
    const { weights } = loadModel({ prototxt: fixturePath('real/lenet/deploy.prototxt'), weights: fixturePath('real/lenet/model.caffemodel') });
    expect(weights.initialised).toEqual([]);
    expect(weights.copied).toEqual(['conv1', 'conv2', 'ip1', 'ip2']);
  });
});
