import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaffeFormatError, loadModel, toNetParameter, writeCaffemodelFile } from '@cnn/caffe-import';
import { Net } from '@cnn/nn';
import { findNonFinite } from '@cnn/tensor';
import { formatInspect, miniCaffeNet, planTransfer, runInspect } from '@cnn/experiment';
import { mobilenetRecipe } from '@cnn/experiment/data';
import { extractFeatures } from '@cnn/experiment/transfer';
import { fixture } from './helpers/shared.js';

const LENET = () => fixture('caffe', 'real', 'lenet');

/** LeNet's weights with ip1's weight 17 set to NaN and ip2's bias 3 to -Infinity, written as a new caffemodel. */
function poisonedLenet(): { prototxt: string; weights: string } {
  const prototxt = path.join(LENET(), 'deploy.prototxt');
  const model = loadModel({ prototxt, weights: path.join(LENET(), 'model.caffemodel') });
  const weights = path.join(mkdtempSync(path.join(tmpdir(), 'cnn-nan-')), 'nan.caffemodel');
  const parameter = toNetParameter(model.def, model.net);
  const blobs = (name: string) => parameter.layer!.find((layer) => layer.name === name)!.blobs!;
  blobs('ip1')[0]!.data[17] = NaN;
  blobs('ip2')[1]!.data[3] = -Infinity;
  writeCaffemodelFile(weights, parameter);
  return { prototxt, weights };
}

describe('non-finite weights', () => {
  it('findNonFinite counts NaN and both infinities and gives the first', () => {
    expect(findNonFinite(Float32Array.from([1, -2, 3e38, 0]))).toBeUndefined();
    expect(findNonFinite(Float32Array.from([1, Infinity, NaN, -Infinity]))).toEqual({ count: 3, first: 1, value: Infinity });
  });

  it('are a CaffeFormatError at load naming the file, layer and blob', () => {
    const model = poisonedLenet();
    expect(() => loadModel(model)).toThrow(CaffeFormatError);
    expect(() => loadModel(model)).toThrow(
      `${model.weights}: holds 1 non-finite value of 400000 (NaN at index 17): a damaged or diverged model, every output it reaches would be NaN (layer "ip1", blob 0)`,
    );
  });

  it('are counted per blob by cnn inspect, which still shows the file', () => {
    const { prototxt, weights } = poisonedLenet();
    const report = runInspect(weights, { prototxt });
    const blob = (layer: string, index: number) => report.layers.find((l) => l.name === layer)!.blobs[index]!;
    expect(blob('ip1', 0).nonFinite).toBe(1);
    expect(blob('ip2', 1).nonFinite).toBe(1);
    expect(blob('conv1', 0).nonFinite).toBe(0);
    expect(formatInspect(report)).toContain('non-finite values: ip1 blob 0: 1 of 400000 (NaN at index 17); ip2 blob 1: 1 of 10 (-Infinity at index 3)');
  });

  it('reaching the features stop the experiment before head training, naming the image and the blob', async () => {
    const def = miniCaffeNet(1, false);
    const net = new Net(def, { phase: 'TEST', seed: 3 });
    const plan = planTransfer(def, net, 2);
    net.layer('conv3').params[1]!.data.data[5] = Infinity;
    const images = [1, 2].map((k) => ({ width: 64, height: 64, channels: 1 as const, data: new Uint8Array(64 * 64).map((_, i) => (i * k * 7) % 251) }));
    await expect(extractFeatures(net, plan, mobilenetRecipe(64), images, { quiet: true, names: ['a/one.png', 'b/two.png'] })).rejects.toThrow(
      /^features at pool5 of a\/one\.png hold \d+ non-finite values? of 288 \((NaN|Infinity) at index \d+\): the model or the input recipe overflows; head training would learn nothing from them$/,
    );
  });
});
