import type { FloatArray } from '../storage.js';
import { FunctionBuilder, ValType, encodeModule, type CalleeSignature } from './encoder.js';
import { heapIndex, instantiateOnHeap } from './heap.js';
import { HEAP_IMPORT } from './kernel-module.js';

/*
 * WebAssembly kernels declared once: each names its parameters with their kinds, and from
 * that one list follow the wasm function's parameter types, the emitter's locals (by name),
 * the typed wrapper TypeScript calls, and the encoding of each argument:
 *
 *   array    a float32 array on the wasm heap, passed as its byte address; the wrapper does
 *            nothing and returns false when an array is elsewhere (float64, a caller's buffer)
 *   array?   the same, or undefined (passed as address 0, which the kernel must not read)
 *   floats   a distance or length in floats, passed in bytes (what addresses step by)
 *   i32      an integer, as it is
 *   f32      a number, rounded to float32
 *
 * A family's kernels make one module, compiled on first use in each thread over the one
 * shared heap (see heap.ts); pointers and strides inside are bytes.
 */

const FLOAT = 4;

export type ParamKind = 'array' | 'array?' | 'floats' | 'i32' | 'f32';

/** The TypeScript value of each kind. */
type ArgOf<K extends ParamKind> = K extends 'array' ? FloatArray : K extends 'array?' ? FloatArray | undefined : number;

/** A kernel's arguments by name. */
export type WasmArgs<P extends Record<string, ParamKind>> = { -readonly [K in keyof P]: ArgOf<P[K]> };

/** A kernel's parameters as the emitter sees them: the index of each one's local. */
export type WasmParams<P extends Record<string, ParamKind>> = { [K in keyof P]: number };

/** Another function of the same module, as `FunctionBuilder.call` needs it. */
export type Callee = CalleeSignature;

export interface WasmKernelSpec<P extends Record<string, ParamKind>> {
  /** The parameters in order, by name and kind (a record's keys keep their order). */
  params: P;
  /** Writes the body; `callees` are the module's functions by name (for `f.call`). */
  emit(f: FunctionBuilder, params: WasmParams<P>, callees: Record<string, Callee>): void;
}

/** A declared kernel: its typed wrapper, and its body for tests and for the text dump. */
export interface WasmKernel<P extends Record<string, ParamKind>> {
  readonly name: string;
  readonly params: P;
  /** Runs the kernel on this thread; false (and nothing done) when an array argument is not on the heap. */
  run(args: WasmArgs<P>): boolean;
}

/**
 * Declares the kernels of one module, named `module` in errors. Give `specs` as an object
 * literal; each entry's name is its export name.
 */
export function defineWasmKernels<T extends Record<string, Record<string, ParamKind>>>(
  module: string,
  specs: { [K in keyof T]: WasmKernelSpec<T[K]> },
): { [K in keyof T]: WasmKernel<T[K]> } & { bytes(): Uint8Array } {
  const names = Object.keys(specs) as (keyof T & string)[];
  const callees: Record<string, Callee> = {};
  names.forEach((name, index) => {
    const types = Object.values(specs[name].params).map(valType);
    callees[name] = { index, name, params: types, results: [] };
  });
  const bytes = (): Uint8Array =>
    encodeModule({
      functions: names.map((name) => {
        const spec = specs[name];
        const f = new FunctionBuilder(callees[name]!.params, [], `${module}.${name}`, Object.keys(spec.params));
        const params = Object.fromEntries(Object.keys(spec.params).map((param, i) => [param, i]));
        spec.emit(f, params as WasmParams<T[typeof name]>, callees);
        return { name, body: f };
      }),
      importedMemory: HEAP_IMPORT,
    });

  let exports: Record<string, (...args: number[]) => void> | undefined;
  const instance = () => (exports ??= instantiateOnHeap(bytes(), module) as Record<string, (...args: number[]) => void>);
  const kernels = { bytes } as { [K in keyof T]: WasmKernel<T[K]> } & { bytes(): Uint8Array };
  for (const name of names) {
    const params = specs[name].params;
    const keys = Object.keys(params);
    const kinds = Object.values(params);
    // One arguments array per kernel, refilled at each call (no thread runs a kernel twice at once).
    const values = new Array<number>(keys.length).fill(0);
    const run = (args: Record<string, unknown>): boolean => {
      for (let i = 0; i < keys.length; i++) {
        const value = encode(kinds[i]!, args[keys[i]!]);
        if (value === undefined) return false;
        values[i] = value;
      }
      instance()[name]!(...values);
      return true;
    };
    (kernels as Record<string, WasmKernel<Record<string, ParamKind>>>)[name] = { name, params, run: run as WasmKernel<Record<string, ParamKind>>['run'] };
  }
  return kernels;
}

function valType(kind: ParamKind): ValType {
  return kind === 'f32' ? ValType.f32 : ValType.i32;
}

/** An argument as the kernel takes it; undefined for an array off the heap. */
function encode(kind: ParamKind, value: unknown): number | undefined {
  switch (kind) {
    case 'array':
    case 'array?': {
      if (value === undefined && kind === 'array?') return 0;
      const at = heapIndex(value as FloatArray);
      return at < 0 ? undefined : at * FLOAT;
    }
    case 'floats':
      return (value as number) * FLOAT;
    default:
      return value as number;
  }
}

