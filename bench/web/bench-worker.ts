import * as tensor from '@cnn/tensor';
import * as nn from '@cnn/nn';
import { buildNet, parseNetPrototxt, readCaffemodel } from '@cnn/caffe-import';
import * as ort from 'onnxruntime-web/wasm';
import type { BenchJob, BenchResult } from '../src/browser-protocol.js';

/*
 * The in-page bench's worker: times one system's forward pass of one net at batch 1, on the
 * image and weights the bench server hands out (the peers suite's: CaffeNet's seeded
 * fillers, MobileNet's fixture weights, the same random image). Our library runs here
 * because its pool waits with Atomics.wait; onnxruntime-web runs here too, for a like-for-like
 * comparison (its threads are its own Web Workers).
 */

/** At least this many timed passes, whatever minSeconds says. */
const MIN_RUNS = 3;

const scope = self as unknown as { onmessage: ((event: MessageEvent<BenchJob>) => void) | null; postMessage(message: unknown): void };

if (tensor.isPoolWorker()) tensor.servePoolWorker({ ...tensor, ...nn });
else scope.onmessage = ({ data }) => void bench(data).then((result) => scope.postMessage({ ok: true, result }), (error: Error) => scope.postMessage({ ok: false, error: `${error.name}: ${error.message}` }));

async function bytes(url: string): Promise<Uint8Array> {
  const answer = await fetch(url);
  if (!answer.ok) throw new Error(`${url}: ${answer.status}`);
  return new Uint8Array(await answer.arrayBuffer());
}

/** A forward pass of the job's system, and one that returns the probabilities. */
interface Runner {
  forward(): Promise<void> | void;
  prob(): Promise<Float32Array> | Float32Array;
  detail: string;
}

async function ours(job: BenchJob, image: Float32Array): Promise<Runner> {
  tensor.setBackend('wasm');
  tensor.setThreads(job.threads);
  await tensor.startPool();
  const net =
    job.model === 'caffenet'
      ? new nn.Net(nn.caffeNet({ batch: 1 }), { phase: 'TEST', seed: 1 })
      : buildNet(parseNetPrototxt(new TextDecoder().decode(await bytes(`/model/${job.model}.prototxt`)), 'deploy.prototxt'), readCaffemodel(await bytes(`/model/${job.model}.caffemodel`), 'model.caffemodel')).net;
  net.blob('data').data.data.set(image);
  const forward = (): void => void net.forward();
  const prob = (): Float32Array => {
    forward();
    return Float32Array.from(net.blob('prob').data.data);
  };
  return { forward, prob, detail: `${tensor.getBackend().name}, ${tensor.getThreads()} thread(s)` };
}

async function onnxruntime(job: BenchJob, image: Float32Array, shape: number[]): Promise<Runner> {
  ort.env.wasm.numThreads = job.threads;
  ort.env.wasm.wasmPaths = '/ort/';
  const session = await ort.InferenceSession.create(await bytes(`/model/${job.model}.onnx`), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { data: new ort.Tensor('float32', image, shape) };
  return {
    forward: async () => void (await session.run(feeds, ['prob'])),
    prob: async () => (await session.run(feeds, ['prob'])).prob!.data as Float32Array,
    detail: `wasm, numThreads ${ort.env.wasm.numThreads}`,
  };
}

async function bench(job: BenchJob): Promise<BenchResult> {
  const image = new Float32Array((await bytes(`/model/${job.model}.input.f32`)).slice().buffer);
  const side = job.model === 'caffenet' ? 227 : 160;
  const runner = job.system === 'ours' ? await ours(job, image) : await onnxruntime(job, image, [1, 3, side, side]);
  const prob = await runner.prob();
  // One untimed pass first (fresh memory, compiled kernels), as the Node suites do.
  await runner.forward();
  let runs = 0;
  const started = performance.now();
  while (runs < MIN_RUNS || performance.now() - started < job.minSeconds * 1000) {
    await runner.forward();
    runs++;
  }
  const seconds = (performance.now() - started) / 1000;
  return { imagesPerSecond: runs / seconds, runs, seconds, prob: Array.from(prob), detail: runner.detail };
}
