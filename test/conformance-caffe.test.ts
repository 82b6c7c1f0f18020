import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '@cnn/caffe-import';
import { getBackend, setBackend, setThreads, shutdownPool, type BackendName } from '@cnn/tensor';
import { deviation, fixture, readF32, type Deviation } from './helpers/shared.js';

/**
 * Conformance of the importer and runtime with the fixtures' reference outputs (OpenCV 4.6 dnn,
 * checked against a float64 re-implementation of Caffe): every layer's output of every case of
 * the five real models and of caffenet_tiny (V1 and V2 caffemodel x V1 and V2 prototxt), read
 * through the public API only (loadModel, then net.forward with afterLayer, which sees each
 * in-place layer's result before the next layer overwrites it). Everything runs on the three
 * backends: the plain reference kernels, the fast TypeScript ones, and the wasm ones (with the
 * nets' blobs on the wasm heap).
 */

interface FixtureOutput {
  layer: string;
  type: string;
  top: string;
  shape: number[];
  file: string;
}

interface FixtureCase {
  id: string;
  input: { name: string; shape: number[]; file: string };
  outputs: FixtureOutput[];
}

interface Combination {
  label: string;
  dir: string;
  prototxt: string;
  weights: string;
  cases: FixtureCase[];
}

function casesOf(dir: string): FixtureCase[] {
  return (JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { cases: FixtureCase[] }).cases;
}

const realDir = fixture('caffe/real');
const real: Combination[] = readdirSync(realDir)
  .sort()
  .map((name) => {
    const dir = path.join(realDir, name);
    return { label: `real/${name}`, dir, prototxt: 'deploy.prototxt', weights: 'model.caffemodel', cases: casesOf(dir) };
  });
const tinyDir = fixture('caffe/caffenet_tiny');
const tiny: Combination[] = ['caffenet_tiny_v1.caffemodel', 'caffenet_tiny_v2.caffemodel'].flatMap((weights) =>
  ['deploy.prototxt', 'deploy_v1.prototxt'].map((prototxt) => ({
    label: `caffenet_tiny ${weights} + ${prototxt}`,
    dir: tinyDir,
    prototxt,
    weights,
    cases: casesOf(tinyDir),
  })),
);

/**
 * Every (model files, threads, backend) run: the whole set on one thread, on each backend;
 * caffenet_tiny again on two threads for the fast backends (the reference one uses one thread).
 */
const backends: BackendName[] = ['reference', 'js', 'wasm'];
const runs = backends.flatMap((backend) => [
  ...[...real, ...tiny].map((combination) => ({ combination, threads: 1, backend })),
  ...(backend === 'reference' ? [] : tiny.map((combination) => ({ combination, threads: 2, backend }))),
]);

const expectedTensors = runs.reduce((sum, run) => sum + run.combination.cases.reduce((n, c) => n + c.outputs.length, 0), 0);

let checked = 0;
let worst: (Deviation & { where: string }) | undefined;
let worstAbs: { maxAbs: number; where: string } | undefined;
const models = new Map<string, LoadedModel>();

/** The model for a combination, loaded under the backend in use (which decides where its tensors live). */
function model(combination: Combination): LoadedModel {
  const key = `${combination.dir}|${combination.prototxt}|${combination.weights}|${getBackend().name}`;
  let loaded = models.get(key);
  if (!loaded) {
    loaded = loadModel({ prototxt: path.join(combination.dir, combination.prototxt), weights: path.join(combination.dir, combination.weights) });
    models.set(key, loaded);
  }
  return loaded;
}

const initialBackend = getBackend().name;

afterAll(async () => {
  setBackend(initialBackend);
  setThreads(1);
  await shutdownPool();
});

describe.each(runs)('$combination.label, $threads thread(s), $backend backend', ({ combination, threads, backend }) => {
  it.each(combination.cases.map((c) => ({ ...c, count: c.outputs.length })))(
    'case $id: $count layer outputs within |a - e| <= 1e-5 max(1, max|e|) + 1e-4 |e|',
    (testCase) => {
      setThreads(threads);
      setBackend(backend);
      const { net } = model(combination);
      const input = net.blob(testCase.input.name);
      // Some cases change the input size (a P-Net pyramid level, an R-Net batch of 3).
      input.reshape(testCase.input.shape);
      net.reshape();
      input.data.data.set(readF32(path.join(combination.dir, testCase.input.file)));

      const wanted = new Set(testCase.outputs.map((o) => o.layer));
      const seen = new Map<string, { shape: number[]; values: Float32Array }>();
      net.forward({
        afterLayer: (_i, layer, tops) => {
          if (!wanted.has(layer.name)) return;
          const top = tops[0]!;
          seen.set(layer.name, { shape: [...top.shape], values: Float32Array.from(top.data.data.subarray(0, top.count)) });
        },
      });

      const failures: string[] = [];
      for (const output of testCase.outputs) {
        const got = seen.get(output.layer);
        if (!got) {
          failures.push(`${output.layer}: the net did not run this layer`);
          continue;
        }
        expect(got.shape, `${output.layer} shape`).toEqual(output.shape);
        const d = deviation(got.values, readF32(path.join(combination.dir, output.file)));
        checked++;
        const where = `${combination.label} / ${testCase.id} / ${output.layer} (${threads} thread(s), ${backend})`;
        if (!worst || d.worstRatio > worst.worstRatio) worst = { ...d, where };
        if (!worstAbs || d.maxAbs > worstAbs.maxAbs) worstAbs = { maxAbs: d.maxAbs, where };
        if (d.worstRatio > 1) {
          failures.push(`${output.layer} (${output.type}): max |a - e| ${d.maxAbs.toExponential(3)}, ${d.worstRatio.toFixed(2)} x the tolerance at index ${d.worstIndex}`);
        }
      }
      expect(failures, failures.join('\n')).toEqual([]);
    },
  );
});

/**
 * caffenet_tiny's three cases stacked, repeated, into one batch of 8: enough images per thread for
 * the forward of its 3 x 3, stride-1 layers (conv3-conv5) to take Winograd's F(2x2, 3x3), which
 * the single-image cases above never do, nor its conv1 (11 x 11, stride 4) over its phases (its
 * 5 x 5 conv2 takes F(2x2, 5x5) in both). Every image's outputs must still match its own case.
 */
describe.each(backends.filter((backend) => backend !== 'reference'))('caffenet_tiny as one batch of 8 images on 2 threads (Winograd over the phases in conv1, F(2x2, 5x5) in conv2, F(2x2, 3x3) in conv3-conv5), %s backend', (backend) => {
  it('every image matches its case, at every layer', () => {
    setThreads(2);
    setBackend(backend);
    const combination = tiny[0]!;
    const { net } = model(combination);
    const cases = combination.cases;
    const batch = 8;
    const input = net.blob(cases[0]!.input.name);
    input.reshape([batch, ...cases[0]!.input.shape.slice(1)]);
    net.reshape();
    const imageSize = input.count / batch;
    for (let n = 0; n < batch; n++) input.data.data.set(readF32(path.join(combination.dir, cases[n % cases.length]!.input.file)), n * imageSize);

    const wanted = new Set(cases[0]!.outputs.map((o) => o.layer));
    const seen = new Map<string, Float32Array>();
    net.forward({
      afterLayer: (_i, layer, tops) => {
        if (wanted.has(layer.name)) seen.set(layer.name, Float32Array.from(tops[0]!.data.data.subarray(0, tops[0]!.count)));
      },
    });
    const failures: string[] = [];
    for (let n = 0; n < batch; n++) {
      for (const output of cases[n % cases.length]!.outputs) {
        const expected = readF32(path.join(combination.dir, output.file));
        const got = seen.get(output.layer)!.subarray(n * expected.length, (n + 1) * expected.length);
        const d = deviation(got, expected);
        if (d.worstRatio > 1) failures.push(`image ${n}, ${output.layer}: ${d.worstRatio.toFixed(2)} x the tolerance at index ${d.worstIndex}`);
      }
    }
    expect(seen.has('conv4')).toBe(true);
    expect(failures, failures.join('\n')).toEqual([]);
  });
});

describe('conformance summary', () => {
  it(`checked all ${expectedTensors} reference tensors`, () => {
    expect(checked).toBe(expectedTensors);
    console.log(
      `conformance-caffe: ${checked} tensors checked; worst ${worst!.worstRatio.toFixed(3)} x tolerance ` +
        `(max |a - e| ${worst!.maxAbs.toExponential(2)}, atol ${worst!.atol.toExponential(2)}) at ${worst!.where}; ` +
        `largest absolute error ${worstAbs!.maxAbs.toExponential(2)} at ${worstAbs!.where}`,
    );
    expect(worst!.worstRatio).toBeLessThanOrEqual(1);
  });
});
