import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Net, caffeNet, type Layer } from '@cnn/nn';
import { Rng, getBackend, getThreads, setBackend, setThreads, simdSupported, type BackendName } from '@cnn/tensor';
import { measure } from '../measure.js';
import { peerModel, peerModels, type PeerModel } from '../peers/reference.js';
import { markdownTable, writeSection } from '../results.js';

/** Multiply-adds of one forward pass per image (CaffeNet at 227 x 227: the published 724 M), as the net counts them. */
function multiplyAddsPerImage(net: Net): number {
  return net.summary().reduce((sum, row) => sum + row.multiplyAdds, 0) / net.blob('data').shape[0]!;
}

function randomInput(net: Net, seed: number, [low, high]: readonly [number, number] = [-128, 128]): void {
  const data = net.blob('data').data.data;
  const rng = new Rng(seed);
  for (let i = 0; i < net.blob('data').count; i++) data[i] = rng.uniform(low, high);
}

/** Heavy cases get few samples: one CaffeNet pass at batch 64 takes seconds. */
const heavy = { minSamples: 2, maxTime: 0.5 };

/** The backends to compare: always the TypeScript kernels, and WebAssembly SIMD where the engine has it. */
function backends(): BackendName[] {
  return simdSupported() ? ['js', 'wasm'] : ['js'];
}

/**
 * Forward throughput of CaffeNet (random weights, 227 x 227) and the MobileNet v1 fixtures
 * (0.5 / 160 and 0.75 / 192, their real weights through the importer): images/s at batch 1 and
 * 64, on one thread and on all threads, on each backend, with the effective GFLOP/s (2 x the
 * direct convolution's multiply-adds, whatever the kernel does).
 */
export async function caffenetSuite(): Promise<void> {
  const all = getThreads();
  const initial = getBackend().name;
  // First, while this process is still small: a child's peak resident size starts from its
  // parent's at the fork, so measured after the nets below it would report this process's peak.
  const peaks = backends().map((backend) => `${backend} ${(peakForwardKiB(backend) / 1024).toFixed(0)} MiB`);
  const rows: string[][] = [];
  for (const model of peerModels) {
    for (const backend of backends()) {
      // A net built under the backend it runs on: with wasm, its tensors live on the wasm heap.
      setBackend(backend);
      const net = model.net(1);
      const macs = multiplyAddsPerImage(net);
      for (const batch of [1, 64]) {
        net.setBatchSize(batch);
        randomInput(net, 2, model.inputRange);
        // One untimed pass at the new size first (fresh memory, scratch grown), as in the peers suite.
        net.forward();
        for (const threads of [...new Set([1, all])]) {
          const result = measure(`${model.id} forward ${backend} batch ${batch}, ${threads} thread(s)`, () => net.forward(), { ...heavy, before: () => setThreads(threads) });
          const imagesPerSecond = batch / result.seconds;
          const gflops = (2 * macs * imagesPerSecond) / 1e9;
          console.log(`  ${result.name.padEnd(62)} ${imagesPerSecond.toFixed(2).padStart(8)} images/s  ${gflops.toFixed(2)} GFLOP/s`);
          rows.push([model.label, backend, String(batch), String(threads), imagesPerSecond.toFixed(2), gflops.toFixed(2), `${(result.seconds * 1000).toFixed(0)} ms`]);
        }
      }
    }
  }
  setThreads(all);
  setBackend(initial);
  const table = markdownTable(['net', 'backend', 'batch', 'threads', 'images/s', 'GFLOP/s', 'time per batch'], rows);
  const body = `${table}\n\nGFLOP/s counts each net's direct multiply-adds (CaffeNet 2 x 724 M per image; MobileNet v1 0.5 / 160 2 x 76 M, 0.75 / 192 2 x 233 M, of which the zero rows and columns of the 4 x 4 stride-2 kernels are a part). From 4 images per thread, CaffeNet's conv3-conv5 run Winograd's F(2x2, 3x3) and its conv1 the same over its input's phases, from 1 its conv2 F(2x2, 5x5); they need fewer, so at batch 64 its figure is an effective rate. The MobileNets' inputs are uniform in [-1, 1), CaffeNet's in [-128, 128).\n\nPeak resident memory of a process that builds CaffeNet at batch 64 and runs it forward (bench/src/forward-once.ts, one process per backend): ${peaks.join(', ')}.`;
  console.log(`\n${body}\n`);
  writeSection('caffenet', 'CaffeNet and MobileNet v1 forward (images/s)', body);
}

/** Peak resident size (KiB) of a fresh process running CaffeNet forward at batch 64 on `backend`. */
function peakForwardKiB(backend: BackendName): number {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`../forward-once.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  const args = [...(fromSource ? ['--conditions=source', '--import', 'tsx'] : []), script, backend];
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0) throw new Error(`forward-once ${backend} failed (exit ${result.status}): ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return (JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { maxRssKiB: number }).maxRssKiB;
}

/** Times one layer's forward and backward as it sits in the net. */
function timeLayer(net: Net, index: number, threads: number): { forward: number; backward: number | undefined } {
  const layer: Layer = net.layers[index]!;
  const { bottoms, tops } = net.blobsOf(index);
  setThreads(threads);
  const forward = measure(`${layer.name} forward`, () => layer.forward(bottoms, tops), heavy).seconds;
  let backward: number | undefined;
  if (layer.type !== 'Input' && layer.type !== 'Softmax') {
    const rng = new Rng(index);
    for (const top of tops) for (let i = 0; i < top.count; i++) top.diff.data[i] = rng.uniform(-1, 1);
    // The input image needs no gradient, as in training: conv1 computes only its parameter gradients.
    const propagate = bottoms.map((bottom) => bottom.name !== 'data');
    backward = measure(`${layer.name} backward`, () => layer.backward(tops, propagate, bottoms), heavy).seconds;
  }
  return { forward, backward };
}

/** Every layer's forward and backward time at batch 1 and 64, on all threads: CaffeNet's and MobileNet v1 0.5 / 160's. */
export async function layersSuite(): Promise<void> {
  const sections: string[] = [];
  for (const model of [peerModel('caffenet'), peerModel('mobilenet_v1_0.5_160')]) sections.push(`### ${model.label}\n\n${layerTable(model)}`);
  writeSection('layers', `Layers, forward and backward, ${getThreads()} threads, ${getBackend().name} backend`, sections.join('\n\n'));
}

/**
 * One net's layers. Each convolution is timed alone, so the in-place ReLU or Clip after it shows
 * as its own row, as it runs when a caller watches each layer (in a plain forward it is fused).
 */
function layerTable(model: PeerModel): string {
  const threads = getThreads();
  const rows: string[][] = [];
  const net = model.id === 'caffenet' ? new Net(caffeNet({ batch: 1 }), { phase: 'TRAIN', seed: 1 }) : model.net(1);
  const times = new Map<string, string[]>();
  for (const batch of [1, 64]) {
    net.setBatchSize(batch);
    randomInput(net, 3, model.inputRange);
    net.forward();
    net.layers.forEach((layer, index) => {
      if (layer.type === 'Input') return;
      const { forward, backward } = timeLayer(net, index, threads);
      const cells = times.get(layer.name) ?? [layer.name, layer.type];
      cells.push((forward * 1000).toFixed(2), backward === undefined ? '-' : (backward * 1000).toFixed(2));
      times.set(layer.name, cells);
      console.log(`  batch ${batch} ${layer.name.padEnd(8)} forward ${(forward * 1000).toFixed(2)} ms  backward ${backward === undefined ? '-' : (backward * 1000).toFixed(2)} ms`);
    });
  }
  rows.push(...times.values());
  const table = markdownTable(['layer', 'type', 'forward, batch 1 (ms)', 'backward, batch 1 (ms)', 'forward, batch 64 (ms)', 'backward, batch 64 (ms)'], rows);
  console.log(`\n${table}\n`);
  return table;
}
