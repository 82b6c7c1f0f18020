import { enableRelaxedSimd, environmentVariable } from '#platform';
import { ArgumentError } from './errors.js';
import { relaxedSimdProbeModule, simdProbeModule } from './wasm/kernel-module.js';
import { webAssemblyApi } from './wasm/runtime.js';

/*
 * Which backend is in use, by name only. The backends themselves (backend.ts) hold kernels
 * that run on the thread pool, and the pool must know the caller's backend to hand it to its
 * workers: keeping the choice here, below both, is what keeps the pool from importing the
 * kernels that import the pool.
 */

/** The names a backend can be chosen by (API or the `CNN_BACKEND` environment variable). */
export const backendNames = ['reference', 'js', 'wasm'] as const;
export type BackendName = (typeof backendNames)[number];

let chosen: BackendName | undefined;
let simd: boolean | undefined;

/**
 * True when the engine runs WebAssembly with 128-bit SIMD (Node >= 16.4, current browsers):
 * `WebAssembly.validate` accepts a module that uses the `v128` type. Probed once.
 */
export function simdSupported(): boolean {
  simd ??= webAssemblyApi()?.validate(simdProbeModule()) ?? false;
  return simd;
}

let relaxed: boolean | undefined;

/**
 * True when the wasm kernels may use relaxed SIMD's fused multiply-add: the engine validates a
 * module with `f32x4.relaxed_madd` once it is switched on (Node 20: a V8 flag, set here before
 * any kernel is compiled), and `CNN_RELAXED_SIMD` is not 0 (which keeps the plain SIMD kernels,
 * the fallback, for comparison). Probed once per thread.
 */
export function relaxedSimdSupported(): boolean {
  if (relaxed === undefined) {
    if (environmentVariable('CNN_RELAXED_SIMD') === '0') relaxed = false;
    else {
      enableRelaxedSimd();
      relaxed = webAssemblyApi()?.validate(relaxedSimdProbeModule()) ?? false;
    }
  }
  return relaxed;
}

/** The backend in use: the one chosen with `chooseBackend`, else the one `CNN_BACKEND` names (see `resolveBackendName`). */
export function backendName(): BackendName {
  chosen ??= resolveBackendName(environmentVariable('CNN_BACKEND'), 'CNN_BACKEND');
  return chosen;
}

/** Makes `name` the backend of every later kernel call; throws, naming `source`, if the engine cannot run it. */
export function chooseBackend(name: string, source: string): BackendName {
  chosen = resolveBackendName(name, source);
  return chosen;
}

/**
 * The backend for a requested name: one of `backendNames`, or the default for undefined or ''
 * (`wasm` if `simd`, else `js`). Asking for `wasm` without SIMD, or for an unknown name, throws
 * an `ArgumentError` naming `source` (the option or variable the name came from). `simd` is the
 * engine's answer by default; tests pass false to see what an engine without SIMD gets.
 */
export function resolveBackendName(name: string | undefined, source: string, simd = simdSupported()): BackendName {
  if (name === undefined || name === '') return simd ? 'wasm' : 'js';
  if (!(backendNames as readonly string[]).includes(name)) {
    throw new ArgumentError(`${source}: unknown backend '${name}'; available: ${backendNames.join(', ')}`);
  }
  if (name === 'wasm' && !simd) {
    throw new ArgumentError(
      `${source}: backend 'wasm' needs WebAssembly 128-bit SIMD, which this engine does not support ` +
        `(WebAssembly.validate rejects a v128 module); use 'js'`,
    );
  }
  return name as BackendName;
}
