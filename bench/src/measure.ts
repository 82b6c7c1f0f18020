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

/**
 * `measure` for a function that returns a promise (onnxruntime's `run()`): benchmark.js's
 * deferred mode times each call from its start to the promise's settlement. A rejection is
 * kept and thrown once benchmark.js has finished, since a deferred test cannot throw into it.
 */
export async function measureAsync(name: string, fn: () => Promise<void>, options: CaseOptions = {}): Promise<Measurement> {
  options.before?.();
  await fn(); // warm-up, as in `measure`; most failures show here, before any timing
  let failure: unknown;
  const bench = new Benchmark(name, {
    defer: true,
    fn: (deferred: Benchmark.Deferred) => {
      fn().then(
        () => deferred.resolve(),
        (error: unknown) => {
          failure ??= error;
          deferred.resolve();
        },
      );
    },
    maxTime: options.maxTime ?? 3,
    minSamples: options.minSamples ?? 5,
    async: true,
  });
  await new Promise<void>((resolve) => {
    bench.on('complete', () => resolve());
    bench.run();
  });
  if (failure !== undefined) throw failure;
  if (bench.error) throw bench.error;
  return { name, seconds: bench.stats.mean, rme: bench.stats.rme, samples: bench.stats.sample.length };
}
