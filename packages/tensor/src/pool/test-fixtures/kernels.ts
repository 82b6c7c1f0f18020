import type { PartKernel } from '../pool.js';
import { definePoolJob } from '../typed-job.js';
import { partRange } from '../partition.js';
import { getBackend } from '../../backend.js';
import { heapIndex } from '../../wasm/heap.js';

/** Writes part + 1 into its share of the array, so a test can see which thread did what. */
export const markParts: PartKernel = ([out], _scalars, part, parts) => {
  const [start, end] = partRange(out!.length, part, parts);
  for (let i = start; i < end; i++) out![i] = part + 1;
};

/** Fails on every worker part. */
export const failOnWorkers: PartKernel = (_arrays, _scalars, part) => {
  if (part > 0) throw new Error(`part ${part} refuses`);
};

/** Writes into out[part]: 1 if this thread's backend is `js`, 2 if `wasm`. */
export const reportBackend: PartKernel = ([out], _scalars, part) => {
  out![part] = getBackend().name === 'js' ? 1 : 2;
};

/**
 * For arrays [values, out]: adds 1 to every element of `values` in this part's share, and
 * writes into out[part] the heap index this thread sees for `values` (-1 off the heap).
 */
export const touchOnHeap: PartKernel = ([values, out], _scalars, part, parts) => {
  const [start, end] = partRange(values!.length, part, parts);
  for (let i = start; i < end; i++) values![i] += 1;
  out![part] = heapIndex(values!);
};

/**
 * A declared job: out[part] = scale * (part + 1) + shift, plus extra[0] when the optional array
 * `extra` is given, so a test sees each thread receive the scalars and arrays by name.
 */
export const namedJob = definePoolJob({
  module: import.meta.url,
  name: 'namedJob',
  arrays: ['out'],
  optional: ['extra'],
  scalars: ['scale', 'shift'],
  part: ({ out, extra }, { scale, shift }, part) => {
    out[part] = scale * (part + 1) + shift + (extra ? extra[0]! : 0);
  },
});
