import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, readCaffemodel, readFileShared } from '@cnn/caffe-import';
import {
  convolutionForwardReference,
  innerProductForwardReference,
  lrnForwardReference,
  pooledSize,
  poolingForwardReference,
} from '@cnn/nn';
import { shutdownPool } from '@cnn/tensor';
import { writeRandomCaffeNet, type GeneratedParam } from '../bench/src/caffenet-file.js';
import { caffenetRecipe, toNetInput } from '@cnn/experiment/data';
import { deviation, fixture } from './helpers/shared.js';

/**
 * The whole path at full size: a 244 MB CaffeNet caffemodel with seeded random weights, written
 * in the legacy V1 layout of the real 2014 file by the package's writer, loaded with loadModel,
 * and run on one 227 x 227 image. pool5 and prob are compared with a float64 forward that
 * chains the naive reference kernels (no im2col, no GEMM, no threads) over the weights as they
 * were generated, before any file existed: so the writer, the reader, the V1 upgrade, the
 * legacy blob shapes and the fast kernels are all checked at once.
 */

const work = mkdtempSync(path.join(tmpdir(), 'cnn-caffenet-full-'));
const modelFile = path.join(work, 'caffenet_random_v1.caffemodel');
const prototxtFile = path.join(work, 'deploy.prototxt');

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await shutdownPool();
});

/** A real photo (the imagenet fixtures' cat, 192 x 192 RGB) through CaffeNet's recipe: resize 256, mean, crop 227, BGR. */
function catInput(): Float32Array {
  const dir = fixture('imagenet/mobilenet_v1_0.75_192/inputs');
  const pixels = new Uint8Array(readFileSync(path.join(dir, 'cat.rgb')));
  return toNetInput({ width: 192, height: 192, channels: 3, data: pixels }, caffenetRecipe());
}

/** CaffeNet forward in float64 with the reference kernels, layer by layer as in deploy.prototxt. */
function referenceForward(input: Float32Array, weights: Map<string, GeneratedParam[]>): { pool5: Float64Array; prob: Float64Array } {
  let x = Float64Array.from(input);
  let [channels, height, width] = [3, 227, 227];
  const params = (layer: string): [Float64Array, Float64Array] => {
    const [w, b] = weights.get(layer)!;
    return [Float64Array.from(w!.data), Float64Array.from(b!.data)];
  };
  const conv = (layer: string, numOutput: number, kernel: number, stride: number, pad: number, group: number): void => {
    const geometry = { channels, height, width, kernelH: kernel, kernelW: kernel, strideH: stride, strideW: stride, padH: pad, padW: pad, dilationH: 1, dilationW: 1 };
    const outH = Math.floor((height + 2 * pad - kernel) / stride) + 1;
    const outW = Math.floor((width + 2 * pad - kernel) / stride) + 1;
    const y = new Float64Array(numOutput * outH * outW);
    const [w, b] = params(layer);
    convolutionForwardReference(x, w, b, y, { ...geometry, num: 1, numOutput, group });
    for (let i = 0; i < y.length; i++) y[i] = Math.max(0, y[i]!);
    [x, channels, height, width] = [y, numOutput, outH, outW];
  };
  const pool = (): void => {
    const pooledH = pooledSize(height, 3, 2, 0);
    const pooledW = pooledSize(width, 3, 2, 0);
    const y = new Float64Array(channels * pooledH * pooledW);
    const g = { num: 1, channels, height, width, pooledH, pooledW, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padH: 0, padW: 0 };
    poolingForwardReference('MAX', x, y, new Int32Array(y.length), g);
    [x, height, width] = [y, pooledH, pooledW];
  };
  const lrn = (): void => {
    const y = new Float64Array(x.length);
    lrnForwardReference(x, new Float64Array(x.length), y, { region: 'ACROSS_CHANNELS', num: 1, channels, height, width, localSize: 5, alpha: 1e-4, beta: 0.75, k: 1 });
    x = y;
  };
  const fc = (layer: string, numOutput: number, relu: boolean): void => {
    const y = new Float64Array(numOutput);
    const [w, b] = params(layer);
    innerProductForwardReference(x, w, b, y, { m: 1, k: x.length, numOutput, transpose: false });
    if (relu) for (let i = 0; i < y.length; i++) y[i] = Math.max(0, y[i]!);
    x = y;
  };
  conv('conv1', 96, 11, 4, 0, 1);
  pool();
  lrn();
  conv('conv2', 256, 5, 1, 2, 2);
  pool();
  lrn();
  conv('conv3', 384, 3, 1, 1, 1);
  conv('conv4', 384, 3, 1, 1, 2);
  conv('conv5', 256, 3, 1, 1, 2);
  pool();
  const pool5 = x;
  // Dropout passes through at test time.
  fc('fc6', 4096, true);
  fc('fc7', 4096, true);
  fc('fc8', 1000, false);
  const max = Math.max(...x);
  const exps = Array.from(x, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return { pool5, prob: Float64Array.from(exps, (e) => e / sum) };
}

function top5(values: ArrayLike<number>): number[] {
  return Array.from(values, (p, index) => ({ p, index }))
    .sort((a, b) => b.p - a.p)
    .slice(0, 5)
    .map((t) => t.index);
}

describe('full-size CaffeNet (244 MB, legacy V1 layout, random weights)', () => {
  it('is written by the writer, loaded, and its forward matches float64 reference kernels on pool5 and prob', () => {
    const generated = writeRandomCaffeNet(modelFile, { seed: 2014, format: 'V1' });
    writeFileSync(prototxtFile, generated.prototxt);
    expect(generated.parameters).toBe(60_965_224);
    const bytes = statSync(modelFile).size;
    expect(bytes).toBeGreaterThan(243_000_000);

    // The file is laid out as the 2014 reference model: V1 `layers`, enum types, legacy 4-D dims.
    const stored = readCaffemodel(readFileShared(modelFile), modelFile);
    expect(stored.layer).toBeUndefined();
    const fc6 = stored.layers!.find((l) => l.name === 'fc6')!;
    expect(fc6.type).toBe('INNER_PRODUCT');
    expect(fc6.blobs!.map((b) => [b.num, b.channels, b.height, b.width])).toEqual([[1, 1, 4096, 9216], [1, 1, 1, 4096]]);

    const started = performance.now();
    const { net, weights } = loadModel({ prototxt: prototxtFile, weights: modelFile });
    const loadMs = performance.now() - started;
    console.log(`caffenet-full: loaded ${(bytes / 1e6).toFixed(1)} MB V1 caffemodel into a ready net in ${loadMs.toFixed(0)} ms`);
    expect(weights.copied).toEqual(['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'fc6', 'fc7', 'fc8']);
    expect(loadMs).toBeLessThan(10_000);

    const input = catInput();
    net.blob('data').data.data.set(input);
    const forwardStarted = performance.now();
    net.forward();
    const forwardMs = performance.now() - forwardStarted;
    const pool5 = net.blob('pool5');
    const prob = net.blob('prob');
    expect(pool5.shape).toEqual([1, 256, 6, 6]);
    expect(prob.shape).toEqual([1, 1000]);

    const referenceStarted = performance.now();
    const reference = referenceForward(input, generated.weights);
    const referenceMs = performance.now() - referenceStarted;
    const dPool5 = deviation(pool5.data.data.subarray(0, pool5.count), reference.pool5);
    const dProb = deviation(prob.data.data.subarray(0, prob.count), reference.prob);
    console.log(
      `caffenet-full: forward ${forwardMs.toFixed(0)} ms (float64 reference ${referenceMs.toFixed(0)} ms); ` +
        `pool5 max |a - e| ${dPool5.maxAbs.toExponential(2)} (${dPool5.worstRatio.toFixed(3)} x tolerance), ` +
        `prob max |a - e| ${dProb.maxAbs.toExponential(2)} (${dProb.worstRatio.toFixed(3)} x tolerance), top-1 p = ${Math.max(...reference.prob).toFixed(3)}`,
    );
    // Neither vanished nor saturated: a comparison that means something.
    expect(Math.max(...reference.pool5)).toBeGreaterThan(1);
    expect(Math.max(...reference.prob)).toBeGreaterThan(0.01);
    expect(Math.max(...reference.prob)).toBeLessThan(0.99);
    expect(dPool5.worstRatio).toBeLessThanOrEqual(1);
    expect(dProb.worstRatio).toBeLessThanOrEqual(1);
    expect(top5(prob.data.data.subarray(0, 1000))).toEqual(top5(reference.prob));
    // 20 s on an idle 2-core machine, nearly 60 under load: the float64 reference forward dominates.
  }, 180_000);
});
