import { ArgumentError } from './errors.js';
import { gemmParallel } from './gemm/parallel.js';
import type { GemmKernel } from './gemm/types.js';

/** The names a backend can be chosen by (API or the `CNN_BACKEND` environment variable). */
export type BackendName = 'js';

/** The kernels that carry the arithmetic, as one backend provides them. */
export interface Backend {
  readonly name: BackendName;
  /** Multi-threaded GEMM (see `GemmKernel`). */
  readonly gemm: GemmKernel;
}

/** The plain TypeScript kernels: blocked GEMM over the worker pool. */
const jsBackend: Backend = { name: 'js', gemm: gemmParallel };

const backends: Record<BackendName, Backend> = { js: jsBackend };

let current: Backend | undefined;

/**
 * The backend in use: the one set with `setBackend`, else `CNN_BACKEND`, else the
 * fastest the engine supports. This is the one place a backend is chosen.
 */
export function getBackend(): Backend {
  current ??= byName(process.env.CNN_BACKEND || 'js', 'CNN_BACKEND');
  return current;
}

/** Chooses the backend for every later kernel call. */
export function setBackend(name: BackendName): void {
  current = byName(name, 'setBackend');
}

function byName(name: string, source: string): Backend {
  const backend = (backends as Record<string, Backend | undefined>)[name];
  if (!backend) {
    throw new ArgumentError(`${source}: unknown backend '${name}'; available: ${Object.keys(backends).join(', ')}`);
  }
  return backend;
}
