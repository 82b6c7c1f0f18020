import type { FloatArray } from '../storage.js';
import { isShared } from '../storage.js';
import { getPool, type PartKernel } from './pool.js';
import { getThreads } from './settings.js';

/*
 * A pool job declared once: the names of its arrays and scalars, and the part each thread
 * runs. The pool carries arrays and numbers by position (`PartKernel`); the declaration is the
 * one place those positions are written, so the caller passes and the part receives records
 * by name, and the encoding between them cannot drift.
 */

/** A job's arrays by name: those in `optional` may be left out. */
export type JobArrays<A extends string, O extends string> = Record<A, FloatArray> & Partial<Record<O, FloatArray>>;
/** A job's scalars by name. */
export type JobScalars<S extends string> = Record<S, number>;

export interface PoolJobSpec<A extends string, O extends string, S extends string> {
  /** `import.meta.url` of the module that exports the job: a worker imports it from there. */
  module: string;
  /** The name the job is exported under from `module`. */
  name: string;
  arrays: readonly A[];
  /** Arrays that may be missing (a bias), after `arrays` in the job. */
  optional?: readonly O[];
  scalars: readonly S[];
  /** Part `part` of `parts` of the work. */
  part(arrays: JobArrays<A, O>, scalars: JobScalars<S>, part: number, parts: number): void;
}

/**
 * A declared job: a `PartKernel` (what a worker imports and runs) that also runs itself on the
 * pool with `run`.
 */
export type PoolJob<A extends string, O extends string, S extends string> = PartKernel & {
  readonly jobName: string;
  /**
   * Runs the job as `parts` parts, on the pool if parts > 1 (every array must then be on shared
   * memory) and here if 1.
   */
  run(arrays: JobArrays<A, O>, scalars: JobScalars<S>, parts: number): void;
};

/** Declares a pool job (see `PoolJobSpec`); export the result under `spec.name` from `spec.module`. */
export function definePoolJob<A extends string, O extends string = never, S extends string = never>(spec: PoolJobSpec<A, O, S>): PoolJob<A, O, S> {
  const optional = spec.optional ?? [];
  const ref = { module: spec.module, name: spec.name };
  // Arrays travel as [...arrays, ...present optional arrays]; the last scalar holds a bit per optional array present.
  const encode = (arrays: JobArrays<A, O>, scalars: JobScalars<S>): [FloatArray[], number[]] => {
    const list: FloatArray[] = spec.arrays.map((name) => arrays[name]);
    let present = 0;
    optional.forEach((name, bit) => {
      const array = (arrays as Partial<Record<O, FloatArray>>)[name];
      if (array) {
        list.push(array);
        present |= 1 << bit;
      }
    });
    return [list, [...spec.scalars.map((name) => scalars[name]), present]];
  };
  const runPart: PartKernel = (list, values, part, parts) => {
    const arrays = {} as Record<string, FloatArray>;
    spec.arrays.forEach((name, i) => (arrays[name] = list[i]!));
    const present = values[spec.scalars.length]!;
    let next = spec.arrays.length;
    optional.forEach((name, bit) => {
      if (present & (1 << bit)) arrays[name] = list[next++]!;
    });
    const scalars = {} as Record<string, number>;
    spec.scalars.forEach((name, i) => {
      // A whole number is stored as one (`| 0`): read from an array that also holds a fraction
      // or an infinity (a clamp bound), it comes out as a double, and V8 would then keep that
      // field as a double in every record whose names begin alike (a convolution's and a
      // pooling's num, channels, height, width), making their index arithmetic floating-point.
      const value = values[i]!;
      scalars[name] = Object.is(value | 0, value) ? value | 0 : value;
    });
    spec.part(arrays as JobArrays<A, O>, scalars as JobScalars<S>, part, parts);
  };
  const run = (arrays: JobArrays<A, O>, scalars: JobScalars<S>, parts: number): void => {
    // This thread's part takes the caller's records as they are: only workers need the encoding.
    if (parts <= 1) return spec.part(arrays, scalars, 0, 1);
    const [list, values] = encode(arrays, scalars);
    getPool().run(ref, (_list, _values, part, count) => spec.part(arrays, scalars, part, count), list, values, parts);
  };
  return Object.assign(runPart, { jobName: spec.name, run });
}

/**
 * How many parts to cut `work` units into (at most one per `items` item and per thread): 1
 * below `minPerPart` units, or when an array is off shared memory (workers could not see it).
 */
export function partsFor(work: number, minPerPart: number, items: number, arrays: readonly (FloatArray | undefined)[]): number {
  const threads = getThreads();
  if (threads === 1 || work < minPerPart || !arrays.every((array) => array === undefined || isShared(array))) return 1;
  return Math.max(1, Math.min(threads, items, Math.ceil(work / minPerPart)));
}
