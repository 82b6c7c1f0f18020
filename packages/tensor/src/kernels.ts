import { backendName, type BackendName } from './backend-name.js';

/*
 * Kernels declared once, each as an entry of a typed table keyed by its name, with its
 * implementations per backend; the backend in use picks one at each call. A kernel's family
 * (its folder) declares its table, so adding a kernel or a backend's version of one touches
 * that folder only, and no interface here widens with it.
 */

/** Any function: every function type is assignable to this one. */
type AnyFunction = (...args: never[]) => unknown;

/** One kernel's implementations, all with the same signature. */
export interface KernelImplementations<F extends AnyFunction> {
  /**
   * The plain loop written as the formula, with named indices: what `CNN_BACKEND=reference`
   * runs, what the others are tested against, and what a student reads first.
   */
  reference: F;
  /** The fast TypeScript kernel (blocked, multi-threaded, ...); the reference if absent. */
  js?: F;
  /**
   * The WebAssembly kernel; the js kernel if absent. It must take every argument the others
   * take, running the js kernel itself for arrays it cannot use (off the wasm heap, float64).
   */
  wasm?: F;
}

/** A table of kernels by name. */
export type KernelTable<T extends Record<string, AnyFunction>> = { [K in keyof T]: KernelImplementations<T[K]> };

/** A declared kernel: it runs the current backend's implementation, and keeps them all for tests. */
export type Kernel<F extends AnyFunction> = F & {
  readonly kernelName: string;
  readonly implementations: Readonly<Record<BackendName, F>>;
};

/**
 * Declares a family's kernels: for each entry of `table`, a function that calls the
 * implementation of the backend in use (see `KernelImplementations` for the fallbacks).
 */
export function defineKernels<T extends Record<string, AnyFunction>>(table: KernelTable<T>): { [K in keyof T]: Kernel<T[K]> } {
  const kernels = {} as { [K in keyof T]: Kernel<T[K]> };
  for (const name of Object.keys(table) as (keyof T & string)[]) {
    const { reference, js = reference, wasm = js } = table[name];
    const implementations: Record<BackendName, T[typeof name]> = { reference, js, wasm };
    const dispatch = (...args: never[]): unknown => implementations[backendName()](...args);
    kernels[name] = Object.assign(dispatch as T[typeof name], { kernelName: name, implementations });
  }
  return kernels;
}
