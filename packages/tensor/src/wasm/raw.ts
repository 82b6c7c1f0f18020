import { FunctionBuilder, ValType } from './encoder.js';

/*
 * WebAssembly functions declared once by their parameters, for modules whose callers pass byte
 * addresses they computed themselves (the GEMM's packed panels in a thread's scratch area):
 * the declaration gives the emitter its parameters' locals by name, the text dump their names,
 * and TypeScript the typed function it calls, with no per-call encoding (compare kernels.ts,
 * whose kernels take arrays and look each up on the heap).
 */

/** A wasm type a raw function's parameter may have. */
export type RawType = 'i32' | 'f32';

/**
 * A raw function's parameters in order, each its name and wasm type: for functions that take
 * byte addresses they computed themselves (into a thread's scratch area, say), where an
 * array argument would cost a lookup per call.
 */
export type RawParams = readonly (readonly [name: string, type: RawType])[];

/** A raw function as TypeScript calls it: one number per declared parameter, in order. */
export type RawFunction<P extends RawParams> = (...args: { -readonly [I in keyof P]: number }) => void;

/** A raw function's parameters as its emitter sees them: the index of each one's local, by name. */
export type RawLocals<P extends RawParams> = { [E in P[number] as E[0]]: number };

/**
 * A FunctionBuilder for the raw function `name` of module `module`, its parameters declared
 * by `params` (named in errors and in the text dump), with their locals by name.
 */
export function rawFunction<P extends RawParams>(module: string, name: string, params: P): { f: FunctionBuilder; p: RawLocals<P> } {
  const f = new FunctionBuilder(
    params.map(([, type]) => ValType[type]),
    [],
    `${module}.${name}`,
    params.map(([param]) => param),
  );
  return { f, p: Object.fromEntries(params.map(([param], i) => [param, i])) as RawLocals<P> };
}

/**
 * The functions `declared` of an instantiated module, typed from their declarations; throws
 * if the module lacks one (the declarations and the emitted module disagree: a bug).
 */
export function rawExports<T extends Record<string, RawParams>>(exports: Record<string, unknown>, declared: T): { [K in keyof T]: RawFunction<T[K]> } {
  for (const name of Object.keys(declared)) {
    const exported = exports[name];
    if (typeof exported !== 'function' || exported.length !== declared[name]!.length) {
      throw new Error(`wasm module: no function ${name} taking ${declared[name]!.length} arguments`);
    }
  }
  return exports as { [K in keyof T]: RawFunction<T[K]> };
}
