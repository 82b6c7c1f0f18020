import type { FloatArray } from '../storage.js';
import { getBackend, setBackend } from '../backend.js';
import { heapView } from '../wasm/heap.js';
import type { PartKernel } from './pool.js';
import type { HeapArray, Job } from './protocol.js';

/** Runs a job's part on this worker, with the caller's backend (both hosts' workers do this). */
export function runJob(job: Job, kernel: PartKernel): void {
  if (getBackend().name !== job.backend) setBackend(job.backend);
  kernel(job.arrays.map(received), job.scalars, job.part, job.parts);
}

/** A posted array as this thread sees it: one on the wasm heap becomes a view of this thread's handle on it. */
function received(array: FloatArray | HeapArray): FloatArray {
  return 'heapAt' in array ? heapView(array.heapAt, array.length) : array;
}
