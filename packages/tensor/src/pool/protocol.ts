import type { FloatArray } from '../storage.js';

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

/** One part of a parallel kernel call, as posted to a worker. */
export interface Job {
  module: string;
  name: string;
  arrays: FloatArray[];
  scalars: number[];
  part: number;
  parts: number;
}

/** What a failed worker posts back before setting its state to Failed. */
export interface WorkerReply {
  message: string;
  stack?: string;
}
