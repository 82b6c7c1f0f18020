/*
 * The part of the WebAssembly JavaScript API the wasm backend uses, typed here because
 * TypeScript declares `WebAssembly` only in its DOM and web-worker libraries, which this
 * project (lib ES2023, Node types) does not load.
 */

/**
 * A `WebAssembly.Memory`: its bytes, and growth by 64 KiB pages (which detaches the old
 * buffer of a memory that is not shared; a shared one's buffers stay valid).
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

/** A `WebAssembly.Instance`: its exported functions and memories. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

/** The constructors and the validator of the global `WebAssembly` object. */
export interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: Record<string, Record<string, unknown>>) => WasmInstance;
  validate(bytes: Uint8Array): boolean;
}

/** The engine's WebAssembly API, looked up when called (undefined in an engine without one). */
export function webAssemblyApi(): WebAssemblyApi | undefined {
  return (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
}
