import type { FloatArray } from '../storage.js';
import type { BackendName } from '../backend-name.js';
import type { WasmMemory } from '../wasm/runtime.js';

/** Int32s between two workers' states in the control array: 16 x 4 bytes, one cache line each. */
export const SLOT = 16;

/** A worker's state in the control array. */
export const State = {
  Idle: 0,
  Pending: 1,
  Done: 2,
  Failed: 3,
  Quit: 4,
} as const;

/**
 * A float32 array on the wasm heap, as posted to a worker: its place in the heap, which the
 * worker views through its own handle on the same memory (see wasm/heap.ts).
 */
export interface HeapArray {
  heapAt: number;
  length: number;
}

/** One part of a parallel kernel call, as posted to a worker. */
export interface Job {
  module: string;
  name: string;
  arrays: (FloatArray | HeapArray)[];
  scalars: number[];
  part: number;
  parts: number;
  /** The caller's backend, which the worker's kernels must use too. */
  backend: BackendName;
}

/** What a failed worker posts back before setting its state to Failed. */
export interface WorkerReply {
  message: string;
  stack?: string;
}

/** What a pool worker gets at start: its control slot, the wasm heap to share, its thread number. */
export interface PoolWorkerInit {
  /** The pool's control array (one state per worker, see State). */
  control: Int32Array;
  /** This worker's index into `control`. */
  slot: number;
  /** The wasm heap, if the main thread has one: the worker's kernels use the same memory. */
  heap: WasmMemory | undefined;
  /** Picks the worker's row of the heap's scratch table (the main thread is 0). */
  thread: number;
}

/** The pool's handle on one started worker, whatever the host (see platform/). */
export interface PoolWorkerHandle {
  /**
   * Settles once the worker runs and takes jobs. A browser starts a worker only after the
   * thread that created it returns to its event loop, so a page must await this before the
   * first job (which blocks that thread); Node's workers start on their own.
   */
  started: Promise<void>;
  /** Sends a job; the caller then flips the worker's state to Pending. */
  post(job: Job): void;
  /** The report of a worker whose state is Failed, read while the caller waits. */
  failure(): WorkerReply | undefined;
  /** Ends the worker once its state is Quit. */
  close(): Promise<void>;
}

/** The name a page's pool workers are started under (see pool/web-worker.ts). */
export const POOL_WORKER_NAME = 'cnn-pool-worker';
