import type { InferenceSession, Tensor } from 'onnxruntime-web';
import { netOnnx, onnxInput } from './onnx-net.js';
import type { Runner, RunnerSetup } from './runner.js';

/**
 * The part of the API onnxruntime-web and onnxruntime-node share (both re-export
 * onnxruntime-common's classes), so one runner serves both.
 */
interface OnnxRuntime {
  InferenceSession: { create(model: Uint8Array, options: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;
}

async function onnxRunner(ort: OnnxRuntime, options: InferenceSession.SessionOptions, setup: RunnerSetup): Promise<Runner> {
  const { model } = setup;
  const session = await ort.InferenceSession.create(netOnnx(model, setup.ops), { graphOptimizationLevel: 'all', ...options });
  const feeds = { [onnxInput]: new ort.Tensor('float32', setup.images, [setup.batch, ...model.imageShape]) };
  const read = (tensor: Tensor | undefined): Float32Array => {
    if (!(tensor?.data instanceof Float32Array)) throw new Error('onnxruntime returned no float32 output');
    return tensor.data;
  };
  return {
    async: true,
    async forward() {
      await session.run(feeds, [model.prob]);
    },
    async outputs() {
      const result = await session.run(feeds, [model.logits, model.prob]);
      return { logits: read(result[model.logits]), prob: read(result[model.prob]) };
    },
    dispose: () => session.release(),
  };
}

/**
 * onnxruntime-web's WebAssembly backend (SIMD, threads through worker_threads). Its thread count
 * is read once, when the first session starts the WebAssembly module: one count per process.
 */
export async function onnxruntimeWeb(setup: RunnerSetup): Promise<Runner> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = setup.threads;
  return onnxRunner(ort, { executionProviders: ['wasm'] }, setup);
}

/** onnxruntime-node: the native CPU build bundled in the package, intra-op threads per session. */
export async function onnxruntimeNode(setup: RunnerSetup): Promise<Runner> {
  const ort = await import('onnxruntime-node');
  return onnxRunner(ort, { executionProviders: ['cpu'], intraOpNumThreads: setup.threads, interOpNumThreads: 1, executionMode: 'sequential' }, setup);
}
