import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { formatPrototxt, toNetParameter, writeCaffemodel } from '@cnn/caffe-import';
import { openCvPython } from './opencv-python.js';
import type { Runner, RunnerSetup } from './runner.js';

/** The Python half (kept beside the sources; the built bench reads it from there too). */
const script = fileURLToPath(new URL('../../src/peers/opencv_peer.py', import.meta.url));

/**
 * The model as OpenCV 4.6 reads it. CaffeNet (random weights) is written from the net: its
 * prototxt and a caffemodel with the net's parameters. A MobileNet uses its fixture files, with
 * every Clip layer written as OpenCV's ReLU6: OpenCV's caffe.proto predates Clip (the fixtures'
 * README says the same), and ReLU6 is Clip with bounds 0 and 6, which is checked here.
 */
function caffeFiles(setup: RunnerSetup, dir: string): { prototxt: string; caffemodel: string } {
  const prototxt = path.join(dir, 'deploy.prototxt');
  if (!setup.model.files) {
    const def = { name: setup.net.name, layers: setup.net.layerDefs };
    writeFileSync(prototxt, formatPrototxt(toNetParameter(def)));
    const caffemodel = path.join(dir, 'weights.caffemodel');
    writeFileSync(caffemodel, writeCaffemodel(toNetParameter(def, setup.net)));
    return { prototxt, caffemodel };
  }
  for (const op of setup.ops) {
    if (op.kind === 'clip' && (op.min !== 0 || op.max !== 6)) throw new Error(`${op.name}: OpenCV has no Clip, and ReLU6 clips to [0, 6], not [${op.min}, ${op.max}]`);
  }
  const text = readFileSync(setup.model.files.prototxt, 'utf8').replaceAll('type: "Clip"', 'type: "ReLU6"').replace(/clip_param\s*\{[^}]*\}/g, '');
  writeFileSync(prototxt, text);
  return { prototxt, caffemodel: setup.model.files.caffemodel };
}

/**
 * OpenCV's dnn module (Debian's python3-opencv, native code with its own threads) in a Python
 * child process that stays up: each timed forward is one line to it and one line back, a
 * round trip of well under a millisecond against forward passes of ten and more.
 */
export async function openCvRunner(setup: RunnerSetup): Promise<Runner> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cnn-opencv-peer-'));
  const { prototxt, caffemodel } = caffeFiles(setup, dir);
  const input = path.join(dir, 'input.f32');
  writeFileSync(input, setup.images);
  const shape = [setup.batch, ...setup.model.imageShape].join(',');
  const args = [script, prototxt, caffemodel, input, shape, String(setup.threads), setup.model.logits, setup.model.prob, dir];
  const python = openCvPython()?.python;
  if (!python) throw new Error("OpenCV's Python module (cv2) is not importable: apt-get install -y python3-opencv, or set CNN_PYTHON");
  const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`opencv_peer.py exited with code ${code}`))));
  const expect = async (word: string): Promise<void> => {
    const line = await Promise.race([lines.next(), exited]);
    if (line.done || line.value !== word) throw new Error(`opencv_peer.py: expected '${word}', got ${line.done ? 'the end of its output' : `'${line.value}'`}`);
  };
  const command = async (name: string): Promise<void> => {
    child.stdin.write(`${name}\n`);
    await expect('done');
  };
  await expect('ready');
  const read = (name: string): Float32Array => {
    const bytes = readFileSync(path.join(dir, `${name}.f32`));
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  };
  return {
    async: true,
    forward: () => command('forward'),
    async outputs() {
      await command('outputs');
      return { logits: read('logits'), prob: read('prob') };
    },
    async dispose() {
      child.stdin.end('quit\n');
      await exited.catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
