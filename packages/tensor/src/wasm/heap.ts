import { webAssemblyApi, type WasmMemory } from './runtime.js';

/*
 * The wasm heap: one shared WebAssembly.Memory for the whole process. Every thread's
 * kernel instance (the main thread's and each pool worker's) imports this same memory,
 * and with the wasm backend the tensors the pool works on are allocated in it, so a
 * kernel on any thread reads and writes them in place, by address: nothing is copied
 * into a kernel's memory and back, and nothing crosses a thread boundary.
 *
 *   bytes 0 .. HEADER          the scratch table: for thread t, [byte address, floats] of
 *                              its scratch area (packed GEMM panels and the like)
 *   HEADER .. top              blocks handed out by `allocateOnHeap` and the scratch areas,
 *                              64-byte aligned, freed blocks kept in a list for reuse
 *   top .. memory end          not yet used; the memory grows by whole 64 KiB pages
 *
 * Only the main thread allocates and frees (the allocator is JavaScript state); workers
 * read the scratch table, which the main thread fills before it starts a job. A shared
 * memory never detaches its buffer when it grows, so views made before a growth stay valid.
 *
 * Lifetime: a block is freed when the typed array `allocateOnHeap` returned is garbage
 * collected (a FinalizationRegistry). A `subarray` of it does not keep it alive: code that
 * keeps only a subarray must keep the array too, or pin it (`pinWhileViewed`). The tensor
 * code hands out whole arrays.
 */

const PAGE = 65536;
/** wasm32 addresses at most 4 GiB. */
const MAX_PAGES = 65536;
/** Blocks start on cache lines. */
const ALIGN = 64;
/** Threads the scratch table has room for (main thread + workers). */
export const MAX_HEAP_THREADS = 256;
/** The scratch table: two uint32 per thread (a byte address may pass 2 GiB: int32 would turn it negative). */
const HEADER = MAX_HEAP_THREADS * 2 * 4;
const FLOAT = 4;

/** A `WebAssembly.Memory` constructor that takes the threads proposal's `shared` flag. */
type SharedMemoryConstructor = new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;

/** This thread's view of the heap: the memory, and which of its buffers this thread has seen. */
interface ThreadHeap {
  memory: WasmMemory;
  /** Every SharedArrayBuffer object this thread got from `memory.buffer` (one per size the memory had). */
  buffers: WeakSet<ArrayBufferLike>;
  /** A float32 view of the whole memory as this thread last saw it. */
  floats: Float32Array;
  /** The scratch table. */
  table: Uint32Array;
  /** 0 on the main thread, 1 + the worker's index in a pool worker. */
  thread: number;
}

let threadHeap: ThreadHeap | undefined;
/** Cleared in the pool's workers (`markHeapWorker`): they never create a heap of their own. */
let mainThread = true;
/** Set once creating the heap failed (no shared WebAssembly memory in this engine). */
let unavailable = false;
let allocator: Allocator | undefined;

/**
 * The process's heap memory, created on first use on the main thread; `undefined` when
 * the engine cannot make a shared WebAssembly memory. In a pool worker it is the memory
 * the pool attached (see `attachHeap`).
 */
export function heapMemory(): WasmMemory | undefined {
  if (threadHeap) return threadHeap.memory;
  if (unavailable || !mainThread) return undefined;
  const Memory = (webAssemblyApi() as { Memory?: SharedMemoryConstructor } | undefined)?.Memory;
  try {
    if (!Memory) throw new Error('no WebAssembly.Memory');
    const memory = new Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    attach(memory, 0);
    allocator = new Allocator(memory, HEADER);
    return memory;
  } catch {
    unavailable = true;
    return undefined;
  }
}

/**
 * The exports of a new instance of a kernel module (`bytes`) that imports the heap as
 * `env.memory`; `user` names the kernels in the error an engine without shared memory gets.
 */
export function instantiateOnHeap(bytes: Uint8Array, user: string): Record<string, unknown> {
  const wasm = webAssemblyApi();
  const memory = heapMemory();
  if (!wasm || !memory) throw new Error(`${user}: this engine has no shared WebAssembly memory`);
  return new wasm.Instance(new wasm.Module(bytes), { env: { memory } }).exports;
}

/** Makes `memory` (the main thread's heap, passed to a pool worker) this worker's heap. */
export function attachHeap(memory: WasmMemory, thread: number): void {
  attach(memory, thread);
}

/** Called by the pool's workers at start. */
export function markHeapWorker(): void {
  mainThread = false;
}

function attach(memory: WasmMemory, thread: number): void {
  const buffer = memory.buffer;
  threadHeap = {
    memory,
    buffers: new WeakSet([buffer]),
    floats: new Float32Array(buffer),
    table: new Uint32Array(buffer, 0, HEADER / 4),
    thread,
  };
}

/** A float32 view of the whole heap as it is now (renewed after the memory grew). */
export function heapFloats(): Float32Array {
  const heap = threadHeap;
  if (!heap) throw new Error('wasm heap: not created on this thread');
  const buffer = heap.memory.buffer;
  if (buffer.byteLength !== heap.floats.byteLength) {
    heap.buffers.add(buffer);
    heap.floats = new Float32Array(buffer);
  }
  return heap.floats;
}

/**
 * The float index in the heap of `array[0]`, or -1 when `array` is not a float32 array on
 * this thread's heap.
 */
export function heapIndex(array: ArrayBufferView): number {
  const heap = threadHeap;
  if (!heap || !(array instanceof Float32Array)) return -1;
  if (!heap.buffers.has(array.buffer)) {
    // Made from a buffer this thread has not looked at yet (the memory grew since).
    if (array.buffer !== heap.memory.buffer) return -1;
    heapFloats();
  }
  return array.byteOffset / FLOAT;
}

/** Whether `array` lives on this thread's wasm heap (where the wasm backend's kernels use it in place). */
export function isOnWasmHeap(array: ArrayBufferView): boolean {
  return heapIndex(array) >= 0;
}

/** A float32 view of `length` floats of the heap from float index `at` (in any thread). */
export function heapView(at: number, length: number): Float32Array {
  return new Float32Array(heapFloats().buffer, at * FLOAT, length);
}

/**
 * A zero-filled Float32Array of `length` floats on the heap, freed when it is garbage
 * collected; `undefined` off the main thread, without a heap, or when the heap is full.
 */
export function allocateOnHeap(length: number): Float32Array | undefined {
  if (!heapMemory() || !allocator) return undefined;
  const block = allocator.allocate(Math.max(1, length) * FLOAT);
  if (block === undefined) return undefined;
  const view = heapView(block.at / FLOAT, length);
  // Memory never handed out before is zero already: filling it would only make the system
  // commit pages that a caller may never touch (a net's parameters, soon replaced by a file's).
  view.fill(0, 0, Math.min(length, block.dirty / FLOAT));
  released.register(view, block.at);
  return view;
}

const released = new FinalizationRegistry<number>((at) => allocator?.free(at));

/** Owners pinned by `pinWhileViewed`, with how many of their views are still alive. */
const pinned = new Map<object, number>();
const viewCollected = new FinalizationRegistry<object>((owner) => {
  const left = pinned.get(owner)! - 1;
  if (left === 0) pinned.delete(owner);
  else pinned.set(owner, left);
});

/**
 * Keeps `owner` (an array from `allocateOnHeap`) and so its heap memory alive for as long as
 * any of `views` (other views of parts of its memory, such as the weight arrays found in a
 * model file read into it) is alive. Arrays off the heap need no pin: their views keep their
 * buffer alive by themselves.
 */
export function pinWhileViewed(owner: ArrayBufferView, views: readonly ArrayBufferView[]): void {
  if (heapIndex(owner) < 0 || views.length === 0) return;
  pinned.set(owner, (pinned.get(owner) ?? 0) + views.length);
  for (const view of views) viewCollected.register(view, owner);
}

/** This thread's scratch area: float index and length in floats (0 floats if it has none). */
export function threadScratch(): { at: number; floats: number } {
  const heap = threadHeap;
  // Threads past the table's rows have no scratch: their GEMMs run the TypeScript kernel.
  if (!heap || heap.thread >= MAX_HEAP_THREADS) return { at: 0, floats: 0 };
  return { at: heap.table[2 * heap.thread]! / FLOAT, floats: heap.table[2 * heap.thread + 1]! };
}

/**
 * Gives threads 0 .. threads-1 scratch areas of at least `floats` floats each (main thread
 * only; it must not run while a pool job is in flight). Returns false without a heap or
 * when the heap is full.
 */
export function reserveScratch(threads: number, floats: number): boolean {
  if (!heapMemory() || !allocator || !threadHeap) return false;
  const table = threadHeap.table;
  for (let thread = 0; thread < Math.min(threads, MAX_HEAP_THREADS); thread++) {
    if (table[2 * thread + 1]! >= floats) continue;
    if (table[2 * thread + 1]! > 0) allocator.free(table[2 * thread]!);
    table[2 * thread + 1] = 0;
    const block = allocator.allocate(floats * FLOAT);
    if (block === undefined) return false;
    table[2 * thread] = block.at;
    table[2 * thread + 1] = floats;
  }
  return true;
}

/**
 * First-fit allocation of 64-byte-aligned blocks between `base` and the top of the used
 * part, growing the memory when nothing free fits. Freed neighbours are merged, and a
 * free block at the top lowers the top again. Each block comes with how many of its first
 * bytes were handed out before (and may hold old values); the rest is still zero.
 */
export class Allocator {
  /** Free blocks, sorted by address. */
  private readonly freeBlocks: { at: number; bytes: number }[] = [];
  /** Sizes of the blocks in use, by address. */
  private readonly used = new Map<number, number>();
  private top: number;
  /** The highest the top has been: memory from here on has never been handed out, and is still zero. */
  private usedBefore: number;

  constructor(
    private readonly memory: WasmMemory,
    base: number,
  ) {
    this.top = roundUp(base, ALIGN);
    this.usedBefore = this.top;
  }

  allocate(size: number): { at: number; dirty: number } | undefined {
    const bytes = roundUp(size, ALIGN);
    const index = this.freeBlocks.findIndex((block) => block.bytes >= bytes);
    if (index >= 0) {
      const block = this.freeBlocks[index]!;
      const at = block.at;
      if (block.bytes === bytes) this.freeBlocks.splice(index, 1);
      else this.freeBlocks[index] = { at: at + bytes, bytes: block.bytes - bytes };
      this.used.set(at, bytes);
      return { at, dirty: bytes };
    }
    const end = this.top + bytes;
    if (end > MAX_PAGES * PAGE) return undefined;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        return undefined; // the engine could not commit the memory
      }
    }
    const at = this.top;
    const dirty = Math.max(0, Math.min(bytes, this.usedBefore - at));
    this.top = end;
    this.usedBefore = Math.max(this.usedBefore, end);
    this.used.set(at, bytes);
    return { at, dirty };
  }

  free(at: number): void {
    const bytes = this.used.get(at);
    if (bytes === undefined) return;
    this.used.delete(at);
    let block = { at, bytes };
    let index = this.freeBlocks.findIndex((free) => free.at > at);
    if (index < 0) index = this.freeBlocks.length;
    const before = this.freeBlocks[index - 1];
    if (before && before.at + before.bytes === block.at) {
      block = { at: before.at, bytes: before.bytes + block.bytes };
      this.freeBlocks.splice(--index, 1);
    }
    const after = this.freeBlocks[index];
    if (after && block.at + block.bytes === after.at) {
      block = { at: block.at, bytes: block.bytes + after.bytes };
      this.freeBlocks.splice(index, 1);
    }
    if (block.at + block.bytes === this.top) this.top = block.at;
    else this.freeBlocks.splice(index, 0, block);
  }
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}
