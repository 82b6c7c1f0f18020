import { definePoolJob, partRange, partsFor, type FloatArray, type JobScalars, type PoolJob } from '@cnn/tensor';
import { updateRange, type UpdateConstants, type UpdateRule } from './reference.js';

/** Below this many elements an update runs on one thread. */
const MIN_PARALLEL_ELEMENTS = 1 << 18;

const rules: readonly UpdateRule[] = ['SGD', 'Nesterov', 'Adam'];

/** An update's constants as a pool job carries them: `UpdateConstants` by name (rule and l1 as numbers), and the count. */
export const constantScalars = ['rule', 'count', 'rate', 'decay', 'l1', 'iterSize', 'momentum', 'momentum2', 'epsilon', 'correction'] as const;
type ConstantScalars = JobScalars<(typeof constantScalars)[number]>;

export function constantsOf(scalars: ConstantScalars): UpdateConstants {
  return { ...scalars, rule: rules[scalars.rule]!, l1: scalars.l1 !== 0 };
}

/** An update job: arrays w, g, v and s (v again when there is no s). */
export type UpdateJob = PoolJob<'w' | 'g' | 'v' | 's', never, (typeof constantScalars)[number]>;

export const updateJob: UpdateJob = definePoolJob({
  module: import.meta.url,
  name: 'updateJob',
  arrays: ['w', 'g', 'v', 's'],
  scalars: constantScalars,
  part: ({ w, g, v, s }, scalars, part, parts) => updateRange(w, g, v, s, constantsOf(scalars), ...partRange(scalars.count, part, parts)),
});

/**
 * `updateParameterReference` in a single pass over the elements (one read and write of each
 * array instead of a pass for the regularization and another for the step), shared out
 * over the thread pool when large.
 */
export function updateParameterFast(w: FloatArray, g: FloatArray, v: FloatArray, s: FloatArray | undefined, count: number, c: UpdateConstants): void {
  runUpdate(updateJob, w, g, v, s, count, c);
}

/** Runs an update job: on the pool when the parameter is large and every array is shared. */
export function runUpdate(job: UpdateJob, w: FloatArray, g: FloatArray, v: FloatArray, s: FloatArray | undefined, count: number, c: UpdateConstants): void {
  const arrays = { w, g, v, s: s ?? v };
  const scalars = { ...c, count, rule: rules.indexOf(c.rule), l1: c.l1 ? 1 : 0 };
  job.run(arrays, scalars, partsFor(count, MIN_PARALLEL_ELEMENTS, count, Object.values(arrays)));
}
