import { describe, expect, it } from 'vitest';
import { allocateOnHeap, heapMemory, heapView, reserveScratch, threadScratch } from './heap.js';

/**
 * A heap past 2 GiB (a net at a 3000 x 3000 input gets there): the scratch table's byte
 * addresses must stay positive. Held in int32 they wrapped negative, and the GEMM that staged
 * into its scratch died with a bare `RangeError: offset is out of bounds`. The 2.25 GiB block is
 * never written, so the system never commits its pages: the test costs address space, not memory.
 */
describe('the wasm heap above 2 GiB', () => {
  it('gives a scratch area past 2 GiB a positive address that views and writes work at', () => {
    expect(heapMemory()).toBeDefined();
    const filler = allocateOnHeap(9 * 2 ** 26);
    expect(filler).toBeDefined();
    expect(reserveScratch(1, 4096)).toBe(true);
    const scratch = threadScratch();
    expect(scratch.floats).toBeGreaterThanOrEqual(4096);
    expect(scratch.at * 4).toBeGreaterThan(2 ** 31);
    const view = heapView(scratch.at, 4096);
    view.fill(3);
    expect(view[4095]).toBe(3);
    expect(filler!.length).toBe(9 * 2 ** 26);
  });
});
