import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '@cnn/caffe-import';
import { getBackend, isOnWasmHeap, setBackend, shutdownPool } from '@cnn/tensor';
import { fixture, readF32 } from './helpers/shared.js';

/*
 * loadModel reads the caffemodel into shared memory and adopts the weight payloads in place.
 * With the wasm backend that memory is the wasm heap, so its kernels use the weights where
 * they are (no copy per call); with js it is a buffer of the file's own.
 */

const initial = getBackend().name;
afterAll(async () => {
  setBackend(initial);
  await shutdownPool();
});

const dir = fixture('caffe/caffenet_tiny');

function load(backend: 'js' | 'wasm') {
  setBackend(backend);
  return loadModel({ prototxt: path.join(dir, 'deploy.prototxt'), weights: path.join(dir, 'caffenet_tiny_v1.caffemodel') });
}

describe('loadModel and the wasm heap', () => {
  it('puts the weights on the heap with the wasm backend, in place (views of the file), and off it with js', () => {
    const wasm = load('wasm');
    const params = wasm.net.params;
    expect(params.length).toBeGreaterThan(0);
    for (const param of params) expect(isOnWasmHeap(param.data.data), param.name).toBe(true);
    // All the weights are views of one buffer: the file's memory, not copies of their own.
    expect(new Set(params.map((param) => param.data.data.buffer)).size).toBe(1);
    const js = load('js');
    for (const param of js.net.params) expect(isOnWasmHeap(param.data.data), param.name).toBe(false);
  });

  it('puts a payload it must copy on the heap too: MobileNet v1 0.75 / 192, whose conv2_1/dw bias lies 3 bytes off alignment', () => {
    setBackend('wasm');
    const mobileNet = fixture('imagenet/mobilenet_v1_0.75_192');
    const { net } = loadModel({ prototxt: path.join(mobileNet, 'deploy.prototxt'), weights: path.join(mobileNet, 'mobilenet_v1_0.75_192.caffemodel') });
    expect(isOnWasmHeap(net.layer('conv2_1/dw').params[1]!.data.data)).toBe(true);
    for (const param of net.params) expect(isOnWasmHeap(param.data.data), param.name).toBe(true);
  });

  it('gives the same outputs from either placement', () => {
    const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as {
      cases: { input: { name: string; shape: number[]; file: string } }[];
    };
    const testCase = index.cases[0]!;
    const outputs = (['js', 'wasm'] as const).map((backend) => {
      const { net } = load(backend);
      const input = net.blob(testCase.input.name);
      input.reshape(testCase.input.shape);
      net.reshape();
      input.data.data.set(readF32(path.join(dir, testCase.input.file)));
      net.forward();
      const last = net.blob(net.outputNames[0]!);
      return Float32Array.from(last.data.data.subarray(0, last.count));
    });
    expect(outputs[1]!.length).toBe(outputs[0]!.length);
    for (let i = 0; i < outputs[0]!.length; i++) expect(Math.abs(outputs[1]![i]! - outputs[0]![i]!)).toBeLessThan(1e-5);
  });
});
