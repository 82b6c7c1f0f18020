import { startPoolWorker } from '#platform';
import { ArgumentError, WorkerError } from '../errors.js';
import type { FloatArray } from '../storage.js';
import { isShared } from '../storage.js';
import { getThreads } from './settings.js';
import { SLOT, State, type HeapArray, type Job, type PoolWorkerHandle } from './protocol.js';
import { heapIndex, heapMemory } from '../wasm/heap.js';
import { backendName } from '../backend-name.js';

/**
 * A kernel the pool can split: it does part `part` of `parts` of the work. The pool
 * runs part 0 on the calling thread and the others on workers, so the same function
 * runs everywhere, and must be exported from a module the workers can import.
 */
export type PartKernel = (arrays: FloatArray[], scalars: number[], part: number, parts: number) => void;

/** Where a worker finds a `PartKernel`: the module URL and the export name. */
export interface KernelRef {
  module: string;
  name: string;
}

/** How long the caller polls for a worker's part to end before sleeping on it (see worker.ts). */
const POLL_MS = 0.5;

/**
 * A persistent pool of worker threads (Node's worker_threads, or Web Workers in a page: see
 * platform/), created once and woken per job through
 * `Atomics.wait/notify` on a shared control array. Jobs carry typed arrays that
 * live on `SharedArrayBuffer`s, so the workers read and write the caller's memory
 * directly: nothing is copied, and no thread is started per call.
 *
 * `run` is synchronous, like a BLAS call: it returns when every part is done.
 */
export class ThreadPool {
  private readonly workers: PoolWorkerHandle[] = [];
  /** One Int32 state per worker, each on its own cache line (SLOT ints apart). */
  private readonly control: Int32Array;
  private busy = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new ArgumentError(`ThreadPool size ${size}: need an integer >= 1`);
    this.control = new Int32Array(new SharedArrayBuffer(Math.max(1, size - 1) * SLOT * 4));
    for (let index = 0; index < size - 1; index++) {
      // The wasm heap goes along, so the worker's kernels can use the same memory (its thread
      // number picks its row of the heap's scratch table; the main thread is thread 0).
      this.workers.push(startPoolWorker({ control: this.control, slot: index * SLOT, heap: heapMemory(), thread: index + 1 }));
    }
  }

  /**
   * Runs `kernel` as `parts` parts (at most the pool size): part 0 here, the rest on
   * workers. Every array must be on shared memory. A worker's exception is rethrown
   * here as a `WorkerError`.
   */
  run(kernel: KernelRef, local: PartKernel, arrays: FloatArray[], scalars: number[], parts = this.size): void {
    parts = Math.max(1, Math.min(parts, this.size));
    if (parts === 1 || this.busy) {
      // Re-entrant calls (a kernel calling a kernel) run on the calling thread.
      local(arrays, scalars, 0, 1);
      return;
    }
    for (const array of arrays) {
      if (!isShared(array)) throw new ArgumentError('ThreadPool.run: every array must live on a SharedArrayBuffer');
    }
    this.busy = true;
    try {
      const posted = arrays.map(toPosted);
      const backend = backendName();
      for (let part = 1; part < parts; part++) {
        const job: Job = { module: kernel.module, name: kernel.name, arrays: posted, scalars, part, parts, backend };
        this.workers[part - 1]!.post(job);
        const slot = (part - 1) * SLOT;
        Atomics.store(this.control, slot, State.Pending);
        Atomics.notify(this.control, slot);
      }
      let localError: unknown;
      try {
        local(arrays, scalars, 0, parts);
      } catch (error) {
        localError = error;
      }
      const workerError = this.waitForParts(parts);
      if (localError !== undefined) throw localError;
      if (workerError) throw workerError;
    } finally {
      this.busy = false;
    }
  }

  /** Settles once every worker takes jobs (see PoolWorkerHandle.started); a page awaits it before the first job. */
  async started(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.started));
  }

  /** Stops the workers. Called by `shutdownPool`; the process can also just exit. */
  async close(): Promise<void> {
    for (let index = 0; index < this.workers.length; index++) {
      Atomics.store(this.control, index * SLOT, State.Quit);
      Atomics.notify(this.control, index * SLOT);
    }
    await Promise.all(this.workers.map((worker) => worker.close()));
    this.workers.length = 0;
  }

  private waitForParts(parts: number): WorkerError | undefined {
    let firstError: WorkerError | undefined;
    for (let part = 1; part < parts; part++) {
      const slot = (part - 1) * SLOT;
      // The parts end at about the same time: poll a little before sleeping, which costs a wake-up.
      const pollUntil = performance.now() + POLL_MS;
      while (Atomics.load(this.control, slot) === State.Pending && performance.now() < pollUntil);
      while (Atomics.load(this.control, slot) === State.Pending) Atomics.wait(this.control, slot, State.Pending);
      if (Atomics.load(this.control, slot) === State.Failed) {
        const reply = this.workers[part - 1]!.failure();
        firstError ??= new WorkerError(`worker ${part} failed: ${reply?.message ?? 'unknown error'}`, {
          cause: reply?.stack,
        });
      }
    }
    return firstError;
  }
}

/** An array as a job carries it: one on the wasm heap goes as its place there. */
function toPosted(array: FloatArray): FloatArray | HeapArray {
  const at = heapIndex(array);
  return at >= 0 ? { heapAt: at, length: array.length } : array;
}

let sharedPool: ThreadPool | undefined;

/** The process-wide pool with `getThreads()` threads (the caller counts as one). */
export function getPool(): ThreadPool {
  const threads = getThreads();
  if (!sharedPool || sharedPool.size !== threads) {
    const old = sharedPool;
    sharedPool = new ThreadPool(threads);
    void old?.close();
  }
  return sharedPool;
}

/**
 * The process-wide pool, once its workers run. In a page, call it after setThreads and before
 * the first parallel kernel: a browser starts workers only while their creator is idle, and
 * the kernels block it.
 */
export async function startPool(): Promise<ThreadPool> {
  const pool = getPool();
  await pool.started();
  return pool;
}

/** Stops the process-wide pool's workers; the next parallel call starts a new pool. */
export async function shutdownPool(): Promise<void> {
  const pool = sharedPool;
  sharedPool = undefined;
  await pool?.close();
}
