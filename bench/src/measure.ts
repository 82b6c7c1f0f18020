import Benchmark from 'benchmark';

/** One measured case: seconds per call (benchmark.js mean) and its relative margin of error. */
export interface Measurement {
  name: string;
  seconds: number;
  rme: number;
  samples: number;
}

/** Options for one case: benchmark.js's own, plus a hook run before its timing starts. */
export interface CaseOptions {
  before?: () => void;
  maxTime?: number;
  minSamples?: number;
}

/**
 * Times `fn` with benchmark.js (warm-up, adaptive cycles, statistics) and returns
 * the mean seconds per call. Cases run one after another, never overlapping.
 */
export function measure(name: string, fn: () => void, options: CaseOptions = {}): Measurement {
  options.before?.();
  fn(); // warm the JIT (and the worker pool) before benchmark.js calibrates
  const bench = new Benchmark(name, fn, {
    maxTime: options.maxTime ?? 3,
    minSamples: options.minSamples ?? 5,
    async: false,
  });
  bench.run();
  if (bench.error) throw bench.error;
  return { name, seconds: bench.stats.mean, rme: bench.stats.rme, samples: bench.stats.sample.length };
}
