import type { FloatArray } from '../storage.js';
import type { BackendName } from '../backend-name.js';

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
