/** The element types a tensor can hold: float32 for work, float64 for gradient checks. */
export type DType = 'float32' | 'float64';

/** A typed array a tensor can live on. */
export type FloatArray = Float32Array | Float64Array;

/** Options for allocating tensor storage. */
export interface AllocOptions {
  /** Element type; `float32` unless said otherwise. */
  dtype?: DType;
  /**
   * Put the elements on a `SharedArrayBuffer`, so that worker threads can read and
   * write them without a copy. The thread pool does this for the tensors it works on.
   */
  shared?: boolean;
}

/** Allocates a zero-filled typed array of `length` elements. */
export function allocate(length: number, options: AllocOptions = {}): FloatArray {
  if (options.dtype === 'float64') {
    return options.shared ? new Float64Array(new SharedArrayBuffer(length * 8)) : new Float64Array(length);
  }
  return allocateFloat32(length, options.shared);
}

/** Allocates a zero-filled Float32Array, on shared memory when `shared` is set. */
export function allocateFloat32(length: number, shared = false): Float32Array {
  if (!shared) return new Float32Array(length);
  return sharedFloat32Allocator?.(length) ?? new Float32Array(new SharedArrayBuffer(length * 4));
}

/**
 * Where shared float32 storage comes from, when not from a `SharedArrayBuffer` of its own:
 * the backend in use sets it (the wasm backend puts tensors on its heap, see wasm/heap.ts).
 * It returns undefined when it cannot serve a request, which then gets its own buffer.
 */
let sharedFloat32Allocator: ((length: number) => Float32Array | undefined) | undefined;

/** Sets (or, with undefined, clears) the source of shared float32 storage. */
export function setSharedFloat32Allocator(allocator: ((length: number) => Float32Array | undefined) | undefined): void {
  sharedFloat32Allocator = allocator;
}

/** The current source of shared float32 storage (see `setSharedFloat32Allocator`), to tell whether storage made earlier came from it. */
export function sharedFloat32Source(): unknown {
  return sharedFloat32Allocator;
}

/** The dtype of a typed array. */
export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

/** True when the array's elements live on a `SharedArrayBuffer`. */
export function isShared(data: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer;
}
