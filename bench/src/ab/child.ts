import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as CaffeImport from '@cnn/caffe-import';
import type * as Nn from '@cnn/nn';
import type * as Tensor from '@cnn/tensor';
import type { ChildRequest, LayerTime } from './protocol.js';

/*
 * One side of an A/B comparison, in a process of its own: builds a net with that checkout's
 * packages (loaded from its folder by path, never from this checkout's) and times each layer's
 * forward and backward. It uses only the public API both old and new commits share: Net,
 * caffeNet, loadModel, setBackend, setThreads, net.layers, net.blobsOf, layer.forward/backward.
 * The request comes as a JSON argument; the times go to stdout as one JSON line.
 */

const request = JSON.parse(process.argv[2]!) as ChildRequest;

/** The checkout's package `name` (tensor, nn, caffe-import), from its TypeScript sources. */
async function load<T>(name: string): Promise<T> {
  const entry = path.join(request.root, 'packages', name, 'src', 'index.ts');
  if (!existsSync(entry)) throw new Error(`${request.root} has no ${path.relative(request.root, entry)}: this harness needs packages/${name} with its sources`);
  return (await import(pathToFileURL(entry).href)) as T;
}

const tensor = await load<typeof Tensor>('tensor');
const nn = await load<typeof Nn>('nn');
for (const [name, value] of Object.entries({ setBackend: tensor.setBackend, setThreads: tensor.setThreads, Net: nn.Net, caffeNet: nn.caffeNet })) {
  if (typeof value !== 'function') throw new Error(`${request.root}: the packages export no ${name}, which the A/B harness drives each side through`);
}

tensor.setBackend(request.backend);
tensor.setThreads(request.threads);
const net = await buildNet();
const times: LayerTime[] = [];
const selected = new RegExp(request.layers ?? '');
for (const batch of request.batches) {
  net.setBatchSize(batch);
  fillUniform(net.blob('data').data.data, request.net === 'caffenet' ? 128 : 1, 3);
  net.forward(); // an untimed pass at the new size: memory and scratch grown, the JIT warm
  net.layers.forEach((layer, index) => {
    if (layer.type === 'Input' || !selected.test(layer.name)) return;
    const { bottoms, tops } = net.blobsOf(index);
    times.push({ layer: layer.name, type: layer.type, batch, direction: 'forward', seconds: timePerCall(() => layer.forward(bottoms, tops)) });
    if (layer.type === 'Softmax') return;
    for (const [i, top] of tops.entries()) fillUniform(top.diff.data, 1, 10 + index + i);
    // The image needs no gradient, as in training: conv1 computes only its parameter gradients.
    const propagate = bottoms.map((bottom) => bottom.name !== 'data');
    times.push({ layer: layer.name, type: layer.type, batch, direction: 'backward', seconds: timePerCall(() => layer.backward(tops, propagate, bottoms)) });
  });
}
process.stdout.write(`${JSON.stringify(times)}\n`);
await tensor.shutdownPool?.();

async function buildNet(): Promise<Nn.Net> {
  if (request.net === 'caffenet') return new nn.Net(nn.caffeNet({ batch: 1 }), { phase: 'TRAIN', seed: 1 });
  const caffe = await load<typeof CaffeImport>('caffe-import');
  const folder = path.join(request.fixtures, request.net);
  return caffe.loadModel({ prototxt: path.join(folder, 'deploy.prototxt'), weights: path.join(folder, `${request.net}.caffemodel`) }).net;
}

/**
 * Seconds per call of `fn`: CPU time (process.cpuUsage, user + system, all threads) on one
 * thread, wall time on more. Calls run in blocks of at least `request.blockSeconds`; the result
 * is the median block's time per call, after one untimed call.
 */
function timePerCall(fn: () => void): number {
  const clock = request.threads === 1 ? cpuSeconds : () => performance.now() / 1000;
  fn();
  let calls = 1;
  const perBlock: number[] = [];
  while (perBlock.length < request.blocks) {
    const start = clock();
    for (let i = 0; i < calls; i++) fn();
    const elapsed = clock() - start;
    // Grow the block until it is long enough for the clock, then keep its size.
    if (elapsed < request.blockSeconds && perBlock.length === 0 && calls < 1 << 16) {
      calls = Math.max(calls * 2, Math.ceil((calls * request.blockSeconds) / Math.max(elapsed, 1e-6)));
      continue;
    }
    perBlock.push(elapsed / calls);
  }
  return perBlock.sort((a, b) => a - b)[Math.floor(perBlock.length / 2)]!;
}

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Uniform values in [-scale, scale) from a small fixed generator, the same on both sides. */
function fillUniform(data: Float32Array | Float64Array, scale: number, seed: number): void {
  let state = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[i] = ((state >>> 0) / 2 ** 32 * 2 - 1) * scale;
  }
}
