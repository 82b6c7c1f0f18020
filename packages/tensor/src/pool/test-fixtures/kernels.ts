import type { PartKernel } from '../pool.js';
import { partRange } from '../partition.js';

/** Writes part + 1 into its share of the array, so a test can see which thread did what. */
export const markParts: PartKernel = ([out], _scalars, part, parts) => {
  const [start, end] = partRange(out!.length, part, parts);
  for (let i = start; i < end; i++) out![i] = part + 1;
};

/** Fails on every worker part. */
export const failOnWorkers: PartKernel = (_arrays, _scalars, part) => {
  if (part > 0) throw new Error(`part ${part} refuses`);
};
