import { afterAll, describe, expect, it } from 'vitest';
import { ThreadPool, allocate, getBackend, setBackend, shutdownPool } from '../index.js';
import { reportBackend, touchOnHeap } from '../pool/test-fixtures/kernels.js';
import { Allocator, allocateOnHeap, heapFloats, heapIndex, heapMemory, reserveScratch, threadScratch } from './heap.js';
import type { WasmMemory } from './runtime.js';

const fixtures = new URL('../pool/test-fixtures/kernels.ts', import.meta.url).href;

afterAll(() => shutdownPool());

/** A stand-in memory for the allocator: it only needs `buffer.byteLength` and `grow`. */
function fakeMemory(pages: number): WasmMemory & { grown: number } {
  const memory = {
    grown: 0,
    buffer: { byteLength: pages * 65536 } as ArrayBuffer,
    grow(delta: number): number {
      memory.grown += delta;
      memory.buffer = { byteLength: (pages + memory.grown) * 65536 } as ArrayBuffer;
      return pages;
    },
  };
  return memory;
}

describe('the heap allocator', () => {
  const at = (block: { at: number } | undefined) => block?.at;

  it('hands out 64-byte aligned blocks from the base up, growing the memory by whole pages', () => {
    const memory = fakeMemory(1);
    const allocator = new Allocator(memory, 100);
    expect(at(allocator.allocate(10))).toBe(128); // base 100 rounded up to 64
    expect(at(allocator.allocate(64))).toBe(192);
    expect(at(allocator.allocate(65))).toBe(256); // takes 128 bytes
    expect(at(allocator.allocate(1))).toBe(384);
    expect(memory.grown).toBe(0);
    expect(at(allocator.allocate(100_000))).toBe(448);
    // 448 + 100032 bytes end at 100480: two pages
    expect(memory.grown).toBe(1);
  });

  it('reuses freed blocks first-fit, merges neighbours and gives the top back', () => {
    const allocator = new Allocator(fakeMemory(4), 0);
    const [a, b, c, d] = [allocator.allocate(64), allocator.allocate(128), allocator.allocate(64), allocator.allocate(64)].map(at);
    expect([a, b, c, d]).toEqual([0, 64, 192, 256]);
    allocator.free(b!);
    expect(at(allocator.allocate(64))).toBe(64); // first fit, inside b's 128 bytes
    expect(at(allocator.allocate(64))).toBe(128); // the rest of b
    allocator.free(64);
    allocator.free(128);
    allocator.free(a!);
    // a and b merged: 192 bytes from 0
    expect(at(allocator.allocate(192))).toBe(0);
    allocator.free(0);
    allocator.free(d!); // the top block: the top comes down to c's end
    expect(at(allocator.allocate(256))).toBe(256);
    allocator.free(256);
    allocator.free(c!); // merges with [0, 192) and then reaches the top: everything is free
    expect(at(allocator.allocate(320))).toBe(0);
    allocator.free(12345); // not a block: ignored
  });

  it('says which bytes of a block were handed out before: only those need zeroing', () => {
    const allocator = new Allocator(fakeMemory(4), 0);
    expect(allocator.allocate(640)).toEqual({ at: 0, dirty: 0 }); // fresh memory
    allocator.free(0); // the top comes back down to 0, but those bytes held values
    expect(allocator.allocate(64)).toEqual({ at: 0, dirty: 64 });
    expect(allocator.allocate(1024)).toEqual({ at: 64, dirty: 576 }); // 64 .. 640 used before, the rest fresh
    allocator.free(0);
    expect(allocator.allocate(64)).toEqual({ at: 0, dirty: 64 }); // from the free list: all of it
  });

  it('refuses what does not fit in 4 GiB', () => {
    const allocator = new Allocator(fakeMemory(1), 0);
    expect(at(allocator.allocate(2 ** 32 - 64))).toBe(0);
    expect(at(allocator.allocate(64))).toBe(2 ** 32 - 64);
    expect(allocator.allocate(1)).toBeUndefined();
  });
});

describe('the wasm heap', () => {
  it('is one shared WebAssembly.Memory that zero-filled float32 tensors are allocated in', () => {
    const memory = heapMemory()!;
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const first = allocateOnHeap(1000)!;
    const second = allocateOnHeap(10)!;
    expect(first.every((value) => value === 0)).toBe(true);
    expect(heapIndex(first) % 16).toBe(0);
    expect(heapIndex(second)).toBeGreaterThanOrEqual(heapIndex(first) + 1000);
    first[999] = 7;
    expect(heapFloats()[heapIndex(first) + 999]).toBe(7);
    expect(heapIndex(new Float32Array(10))).toBe(-1);
    expect(heapIndex(new Float32Array(new SharedArrayBuffer(40)))).toBe(-1);
    expect(heapIndex(new Float64Array(new SharedArrayBuffer(40)))).toBe(-1);
  });

  it('keeps earlier views valid when it grows', () => {
    const early = allocateOnHeap(16)!;
    early[3] = 42;
    const before = heapMemory()!.buffer.byteLength;
    const big = allocateOnHeap(before / 4 + 65536)!;
    expect(heapMemory()!.buffer.byteLength).toBeGreaterThan(before);
    expect(early[3]).toBe(42);
    big[big.length - 1] = 5;
    expect(heapFloats()[heapIndex(big) + big.length - 1]).toBe(5);
    expect(heapIndex(early)).toBeGreaterThan(0);
  });

  it('is where shared float32 tensors go on the wasm backend, and not on the js backend', () => {
    const initial = getBackend().name;
    try {
      setBackend('wasm');
      expect(heapIndex(allocate(8, { shared: true }))).toBeGreaterThan(0);
      expect(heapIndex(allocate(8))).toBe(-1);
      expect(allocate(8, { shared: true, dtype: 'float64' }).buffer).not.toBe(heapMemory()!.buffer);
      setBackend('js');
      expect(heapIndex(allocate(8, { shared: true }))).toBe(-1);
    } finally {
      setBackend(initial);
    }
  });

  it('gives every thread a scratch area on request, and keeps it when it is big enough', () => {
    expect(reserveScratch(3, 1000)).toBe(true);
    const scratch = threadScratch();
    expect(scratch.floats).toBeGreaterThanOrEqual(1000);
    reserveScratch(3, 10);
    expect(threadScratch()).toEqual(scratch);
    reserveScratch(1, 5000);
    expect(threadScratch().floats).toBeGreaterThanOrEqual(5000);
  });

  it('is used in place by the pool workers: same heap address, writes seen by every thread', async () => {
    const pool = new ThreadPool(3);
    try {
      const values = allocateOnHeap(300)!;
      const seen = allocate(3, { shared: true, dtype: 'float64' });
      pool.run({ module: fixtures, name: 'touchOnHeap' }, touchOnHeap, [values, seen], [], 3);
      expect([...seen]).toEqual([heapIndex(values), heapIndex(values), heapIndex(values)]);
      expect(values.every((value) => value === 1)).toBe(true);
    } finally {
      await pool.close();
    }
  });
});

describe('the backend on pool workers', () => {
  it("is the caller's, not the worker's own default", async () => {
    const initial = getBackend().name;
    const pool = new ThreadPool(2);
    try {
      const out = allocate(2, { shared: true, dtype: 'float64' });
      setBackend('js');
      pool.run({ module: fixtures, name: 'reportBackend' }, reportBackend, [out], [], 2);
      expect([...out]).toEqual([1, 1]);
      setBackend('wasm');
      pool.run({ module: fixtures, name: 'reportBackend' }, reportBackend, [out], [], 2);
      expect([...out]).toEqual([2, 2]);
    } finally {
      setBackend(initial);
      await pool.close();
    }
  });
});
