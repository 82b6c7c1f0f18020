import * as tensor from '@cnn/tensor';
import * as nn from '@cnn/nn';
import { getBackend, getThreads, isPoolWorker, servePoolWorker, setBackend, setThreads, simdSupported, startPool } from '@cnn/tensor';
import { classifyImage, openModel } from './engine-classify.js';
import { convolutionSteps, learn } from './engine-learn.js';
import type { EngineEvent, EngineInfo, Reply, Request } from './messages.js';

/*
 * The engine worker of the pages: runs the library on the page's requests. The library's pool
 * starts its workers from this same script (platform/browser.ts), so a pool worker serves the
 * kernels exported by the packages' entry points instead.
 */

interface WorkerScope {
  onmessage: ((event: MessageEvent<{ id: number; request: Request }>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
  crossOriginIsolated: boolean;
  navigator: { hardwareConcurrency: number };
}

const scope = self as unknown as WorkerScope;

if (isPoolWorker()) servePoolWorker({ ...tensor, ...nn });
else scope.onmessage = ({ data }) => void answer(data.id, data.request);

async function answer(id: number, request: Request): Promise<void> {
  let reply: Reply;
  try {
    reply = { id, ok: true, result: await run(request) };
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    reply = { id, ok: false, error: { name: err.name, message: err.message } };
  }
  scope.postMessage(reply);
}

function emit(event: EngineEvent): void {
  scope.postMessage(event);
}

async function run(request: Request): Promise<unknown> {
  switch (request.type) {
    case 'configure':
      setThreads(request.settings.threads);
      setBackend(request.settings.backend);
      await startPool();
      return info();
    case 'open-model':
      return openModel(request.files);
    case 'classify':
      return classifyImage(request.image);
    case 'convolution':
      return convolutionSteps();
    case 'learn':
      return learn(request.seed, request.iterations, (progress) => emit({ type: 'learn-progress', progress }));
  }
}

function info(): EngineInfo {
  return {
    backend: getBackend().name,
    threads: getThreads(),
    simd: simdSupported(),
    cores: scope.navigator.hardwareConcurrency,
    crossOriginIsolated: scope.crossOriginIsolated,
  };
}
