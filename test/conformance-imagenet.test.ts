import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '@cnn/caffe-import';
import { mobilenetRecipe, toNetInput } from '@cnn/experiment/data';
import { getBackend, setBackend, shutdownPool, type BackendName } from '@cnn/tensor';
import { fixture } from './helpers/shared.js';

/**
 * A real ImageNet-trained net end to end: both MobileNet v1 fixtures (Caffe conversions of
 * Google's Coral models) on all 13 photos. The inputs are the fixtures' exact resized pixels
 * (raw uint8, HWC, RGB), preprocessed as their README says, RGB, (pixel - 128) * 0.0078125, no
 * crop, through the experiment's own input recipe; the expected top-5 come from a float64
 * reference forward of the original graph. Both run on the default backend, and the smaller one
 * on the reference backend too (every layer's plain loop, about 1 G multiply-adds in all).
 */

interface Photo {
  name: string;
  input_file: string;
  top5_indices: number[];
  top5_probs: number[];
}

interface Expected {
  input: { shape: number[] };
  photos: Photo[];
}

const MODELS = ['mobilenet_v1_0.5_160', 'mobilenet_v1_0.75_192'];
/** Each model on the default backend, and the smaller one on the reference kernels. */
const RUNS: { name: string; backend: BackendName | 'default' }[] = [
  ...MODELS.map((name) => ({ name, backend: 'default' as const })),
  { name: 'mobilenet_v1_0.5_160', backend: 'reference' },
];
const PROB_TOLERANCE = 1e-4;
let photosChecked = 0;
let worstProbDiff = { diff: 0, where: '' };

afterAll(async () => {
  await shutdownPool();
});

describe.each(RUNS)('$name, $backend backend', ({ name, backend }) => {
  const dir = fixture('imagenet', name);
  const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
  const side = expected.input.shape[2]!;
  let probs: Float32Array | undefined;

  /** One forward over all 13 photos as a batch, run once for the tests below. */
  function batchProbabilities(): Float32Array {
    if (probs) return probs;
    const initial = getBackend().name;
    if (backend !== 'default') setBackend(backend);
    try {
      probs = forwardAll();
    } finally {
      setBackend(initial);
    }
    return probs;
  }

  function forwardAll(): Float32Array {
    const { net } = loadModel({ prototxt: path.join(dir, 'deploy.prototxt'), weights: path.join(dir, `${name}.caffemodel`) });
    net.setBatchSize(expected.photos.length);
    const recipe = mobilenetRecipe(side);
    const data = net.blob('data').data.data;
    expected.photos.forEach((photo, n) => {
      const pixels = new Uint8Array(readFileSync(path.join(dir, photo.input_file)));
      expect(pixels.length, photo.input_file).toBe(side * side * 3);
      data.set(toNetInput({ width: side, height: side, channels: 3, data: pixels }, recipe), n * 3 * side * side);
    });
    net.forward();
    const prob = net.blob('prob');
    expect(prob.shape).toEqual([expected.photos.length, 1001]);
    return Float32Array.from(prob.data.data.subarray(0, prob.count));
  }

  it('preprocesses a photo to (pixel - 128) / 128 in RGB planes, as the README says', () => {
    const photo = expected.photos[0]!;
    const pixels = new Uint8Array(readFileSync(path.join(dir, photo.input_file)));
    const input = toNetInput({ width: side, height: side, channels: 3, data: pixels }, mobilenetRecipe(side));
    for (const [y, x, c] of [[0, 0, 0], [7, 3, 1], [side - 1, side - 2, 2]] as const) {
      expect(input[(c * side + y) * side + x]).toBe((pixels[(y * side + x) * 3 + c]! - 128) * 0.0078125);
    }
  });

  it.each(expected.photos)('$name: top-5 $top5_indices, probabilities within 1e-4', (photo) => {
    const all = batchProbabilities();
    const n = expected.photos.indexOf(photo);
    const row = Array.from(all.subarray(n * 1001, (n + 1) * 1001));
    const top5 = row
      .map((p, index) => ({ p, index }))
      .sort((a, b) => b.p - a.p)
      .slice(0, 5);
    expect(top5.map((t) => t.index)).toEqual(photo.top5_indices);
    top5.forEach((t, k) => {
      const diff = Math.abs(t.p - photo.top5_probs[k]!);
      if (diff > worstProbDiff.diff) worstProbDiff = { diff, where: `${name} (${backend}) ${photo.name} rank ${k + 1}` };
      expect(Math.abs(t.p - photo.top5_probs[k]!), `${photo.name} rank ${k + 1} (class ${t.index})`).toBeLessThanOrEqual(PROB_TOLERANCE);
    });
    photosChecked++;
  });
});

describe('imagenet conformance summary', () => {
  it(`checked all ${RUNS.length} x 13 photos`, () => {
    console.log(`conformance-imagenet: ${photosChecked} photos, top-5 equal; largest |p - expected| ${worstProbDiff.diff.toExponential(2)} (${worstProbDiff.where})`);
    expect(photosChecked).toBe(RUNS.length * 13);
  });
});
