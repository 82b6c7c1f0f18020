import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatPrototxt, loadModel, toNetParameter, writeCaffemodel } from '@cnn/caffe-import';
import { shutdownPool } from '@cnn/tensor';
import { REPO_ROOT, deviation, fixture, readF32 } from './helpers/shared.js';

/**
 * A model written by this package must load in another Caffe reader and give the same outputs:
 * caffenet_tiny (read from its V1 files) and LeNet are loaded, written back as a caffemodel (V2
 * and the legacy V1 layout) plus a prototxt, and run by OpenCV's dnn module (the runtime that
 * made the fixtures' reference outputs) through test/opencv/forward.py. Every layer OpenCV
 * reports is compared with our own forward under the conformance tolerance.
 *
 * OpenCV comes from Debian's python3-opencv (`apt-get install -y python3-opencv`, as .ci/run
 * does). Without it this test fails and says so: it never skips.
 */

const SCRIPT = path.join(REPO_ROOT, 'test/opencv/forward.py');
const work = mkdtempSync(path.join(tmpdir(), 'cnn-opencv-'));

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await shutdownPool();
});

let python: string | undefined;

/** A Python that can import cv2: $CNN_PYTHON, else python3 on the PATH, else Debian's /usr/bin/python3. */
function pythonWithOpenCv(): string {
  if (python) return python;
  const candidates = [process.env.CNN_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => Boolean(c));
  const tried: string[] = [];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import cv2, numpy; print(cv2.__version__)'], { encoding: 'utf8' });
    if (probe.status === 0) {
      python = candidate;
      return candidate;
    }
    tried.push(`${candidate}: ${(probe.error?.message ?? probe.stderr.trim().split('\n').at(-1)) || `exit ${probe.status}`}`);
  }
  throw new Error(
    `OpenCV's Python module (cv2) is not importable, so the OpenCV round trip cannot run. ` +
      `Install it with 'apt-get install -y python3-opencv' (Debian), or point CNN_PYTHON at a Python that has it. Tried: ${tried.join('; ')}`,
  );
}

interface Case {
  name: string;
  dir: string;
  prototxt: string;
  weights: string;
  input: string;
  shape: number[];
}

const CASES: Case[] = [
  {
    name: 'caffenet_tiny',
    dir: 'caffe/caffenet_tiny',
    prototxt: 'deploy_v1.prototxt',
    weights: 'caffenet_tiny_v1.caffemodel',
    input: 'inputs/ultrasound_liver_0051.f32',
    shape: [1, 3, 227, 227],
  },
  { name: 'lenet', dir: 'caffe/real/lenet', prototxt: 'deploy.prototxt', weights: 'model.caffemodel', input: 'inputs/digit_4_4.f32', shape: [1, 1, 28, 28] },
];

describe.each(CASES)('$name written by writeCaffemodel and run by OpenCV dnn', (c) => {
  it.each(['V2', 'V1'] as const)('%s caffemodel + prototxt: every OpenCV layer output equals ours', (format) => {
    const interpreter = pythonWithOpenCv();
    const source = loadModel({ prototxt: fixture(c.dir, c.prototxt), weights: fixture(c.dir, c.weights) });
    const out = path.join(work, `${c.name}-${format}`);
    const prototxt = `${out}.prototxt`;
    const model = `${out}.caffemodel`;
    writeFileSync(prototxt, formatPrototxt(toNetParameter(source.def)));
    writeFileSync(model, writeCaffemodel(toNetParameter(source.def, source.net), { format }));

    // Our outputs, from the written files (so the round trip is what is compared).
    const input = readF32(fixture(c.dir, c.input));
    const ours = new Map<string, Float32Array>();
    const { net } = loadModel({ prototxt, weights: model });
    net.blob('data').data.data.set(input);
    net.forward({ afterLayer: (_i, layer, tops) => void ours.set(layer.name, Float32Array.from(tops[0]!.data.data.subarray(0, tops[0]!.count))) });

    const inputFile = `${out}.input.f32`;
    writeFileSync(inputFile, new Uint8Array(input.buffer));
    const run = spawnSync(interpreter, [SCRIPT, prototxt, model, inputFile, c.shape.join(','), out], { encoding: 'utf8' });
    expect(run.status, `forward.py failed: ${run.stderr}`).toBe(0);
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')) as { opencv: string; layers: { layer: string; shape: number[]; file: string }[] };

    const compared: string[] = [];
    for (const layer of index.layers) {
      const mine = ours.get(layer.layer);
      if (!mine) continue; // OpenCV's own input layer
      const theirs = readF32(path.join(out, layer.file));
      const d = deviation(mine, theirs);
      expect(d.worstRatio, `${layer.layer}: max |a - e| ${d.maxAbs}, ${d.worstRatio} x tolerance`).toBeLessThanOrEqual(1);
      compared.push(layer.layer);
    }
    const expectedLayers = net.layers.filter((l) => l.type !== 'Input').map((l) => l.name);
    expect(compared).toEqual(expectedLayers);
    console.log(`opencv-roundtrip: ${c.name} ${format}: ${compared.length} layers equal in OpenCV ${index.opencv}`);
  });
});
