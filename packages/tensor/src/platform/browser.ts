import { ArgumentError, WorkerError } from '../errors.js';
import { createFailureBuffer, readFailure } from '../pool/failure-buffer.js';
import { POOL_WORKER_NAME, type PoolWorkerHandle, type PoolWorkerInit } from '../pool/protocol.js';

/*
 * The host functions of platform/node.ts, in a web page: the core count from the navigator,
 * no environment variables, and pool workers as Web Workers. The part of the web API used is
 * typed here, so the package does not load TypeScript's DOM library (and leak its globals
 * into every user's Node code).
 */

/** A started Web Worker. */
interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: (() => void) | null;
  onerror: ((event: { message?: string }) => void) | null;
}

/** The globals read here; any may be missing. */
interface WebGlobals {
  Worker?: new (url: string, options: { type: 'module'; name: string }) => WebWorker;
  navigator?: { hardwareConcurrency?: number };
  location?: { href: string };
  crossOriginIsolated?: boolean;
  document?: unknown;
}

const web = globalThis as WebGlobals;

/** The number of logical cores the browser reports. */
export function coreCount(): number {
  return Math.max(1, web.navigator?.hardwareConcurrency ?? 1);
}

/** Browsers that have relaxed SIMD ship it enabled (Chrome 114, Firefox 145): nothing to switch on. */
export function enableRelaxedSimd(): void {}

/** A page is not told the machine's memory: no limit is checked there. */
export function physicalMemory(): number | undefined {
  return undefined;
}

/** A page has no environment: CNN_THREADS and CNN_BACKEND are set with setThreads and setBackend. */
export function environmentVariable(_name: string): string | undefined {
  return undefined;
}

/**
 * Starts one pool worker as a module Web Worker running this worker's own script, under the
 * name POOL_WORKER_NAME: the script must call `servePoolWorker` when `isPoolWorker()` (see
 * pool/web-worker.ts). The caller must itself be a worker, since the pool waits with
 * Atomics.wait, and the page cross-origin isolated, since jobs share memory.
 */
export function startPoolWorker(init: PoolWorkerInit): PoolWorkerHandle {
  if (web.crossOriginIsolated !== true) {
    throw new ArgumentError(
      'the thread pool needs SharedArrayBuffer, which a page has only when cross-origin isolated: serve it with ' +
        "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp', or setThreads(1)",
    );
  }
  if (web.document !== undefined || !web.Worker || !web.location) {
    throw new ArgumentError("the thread pool waits for its workers with Atomics.wait, which a page's main thread may not do: run the library in a Worker, or setThreads(1)");
  }
  const failure = createFailureBuffer();
  const worker = new web.Worker(web.location.href, { type: 'module', name: POOL_WORKER_NAME });
  // The worker's one message says it is serving (see pool/web-worker.ts).
  const started = new Promise<void>((resolve, reject) => {
    worker.onmessage = () => resolve();
    worker.onerror = (event) => reject(new WorkerError(`a pool worker could not start: ${event.message ?? 'no reason given'}`));
  });
  worker.postMessage({ ...init, failure });
  return {
    started,
    post: (job) => worker.postMessage(job),
    failure: () => readFailure(failure),
    close: async () => worker.terminate(),
  };
}
