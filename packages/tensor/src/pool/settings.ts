import { coreCount, environmentVariable } from '#platform';
import { ArgumentError } from '../errors.js';

/** Set in the pool's own workers, which must never start pools of their own. */
let insidePoolWorker = false;
let threadCount: number | undefined;

/** Marks this thread as one of the pool's workers: its kernels then run single-threaded. */
export function markPoolWorker(): void {
  insidePoolWorker = true;
}

/**
 * The number of threads kernels may use: `setThreads(n)` if called, else the
 * environment variable `CNN_THREADS`, else every available core. 1 means no workers.
 */
export function getThreads(): number {
  if (insidePoolWorker) return 1;
  threadCount ??= threadsFromEnvironment();
  return threadCount;
}

/** Sets the number of threads (1 = run everything on the calling thread). */
export function setThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new ArgumentError(`setThreads(${threads}): need an integer >= 1`);
  threadCount = threads;
}

function threadsFromEnvironment(): number {
  const raw = environmentVariable('CNN_THREADS');
  if (raw === undefined || raw === '') return coreCount();
  const threads = Number(raw);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ArgumentError(`CNN_THREADS='${raw}' is not a thread count: use an integer >= 1`);
  }
  return threads;
}
