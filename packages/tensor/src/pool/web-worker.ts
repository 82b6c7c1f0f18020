import { State, POOL_WORKER_NAME, type Job, type PoolWorkerInit } from './protocol.js';
import type { PartKernel } from './pool.js';
import { runJob } from './job.js';
import { writeFailure } from './failure-buffer.js';
import { markPoolWorker } from './settings.js';
import { attachHeap, markHeapWorker } from '../wasm/heap.js';

/*
 * A page's pool worker (platform/browser.ts starts them). Jobs arrive as messages; each runs
 * once the caller has flipped the worker's state to Pending, then the state says Done or
 * Failed. A bundle cannot import a kernel by its module URL as Node's workers do (every
 * module of a bundle shares one URL), so kernels are looked up by name in the table the
 * worker script hands to servePoolWorker.
 */

/** The part of a dedicated worker's global scope used here. */
interface WorkerScope {
  name?: string;
  onmessage: ((event: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;

/** True in a pool worker the library started: its script must then call servePoolWorker. */
export function isPoolWorker(): boolean {
  return scope.name === POOL_WORKER_NAME;
}

/**
 * Serves the pool's jobs in this worker. `kernels` maps each kernel's name (KernelRef.name) to
 * its function; passing the namespaces of the packages' entry points serves all of them:
 * `servePoolWorker({ ...tensor, ...nn })`.
 */
export function servePoolWorker(kernels: Readonly<Record<string, unknown>>): void {
  markPoolWorker();
  markHeapWorker();
  let init: (PoolWorkerInit & { failure: Uint8Array }) | undefined;
  scope.onmessage = ({ data }) => {
    if (!init) {
      init = data as PoolWorkerInit & { failure: Uint8Array };
      if (init.heap) attachHeap(init.heap, init.thread);
      scope.postMessage('started');
      return;
    }
    const { control, slot, failure } = init;
    const job = data as Job;
    // The job is posted just before the state flips to Pending; finishing before that flip would be overwritten.
    while (Atomics.load(control, slot) !== State.Pending) Atomics.wait(control, slot, Atomics.load(control, slot), 1);
    try {
      const kernel = kernels[job.name];
      if (typeof kernel !== 'function') {
        throw new Error(`kernel '${job.name}' is not among the kernels this worker serves: export it from its package's entry point`);
      }
      runJob(job, kernel as PartKernel);
      Atomics.store(control, slot, State.Done);
    } catch (error) {
      writeFailure(failure, error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) });
      Atomics.store(control, slot, State.Failed);
    }
    Atomics.notify(control, slot);
  };
}
