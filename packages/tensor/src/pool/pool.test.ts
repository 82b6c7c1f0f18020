import { afterAll, describe, expect, it } from 'vitest';
import { ThreadPool, WorkerError, allocate, getPool, getThreads, setThreads, shutdownPool } from '../index.js';
import { failOnWorkers, markParts, namedJob } from './test-fixtures/kernels.js';

const fixtures = new URL('./test-fixtures/kernels.ts', import.meta.url).href;

afterAll(() => shutdownPool());

describe('ThreadPool', () => {
  it('runs part 0 on the caller and the other parts on workers, over shared memory', async () => {
    const pool = new ThreadPool(3);
    const out = allocate(10, { shared: true });
    pool.run({ module: fixtures, name: 'markParts' }, markParts, [out], [], 3);
    expect([...out]).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3]);
    await pool.close();
  });

  it('rethrows a worker failure as a WorkerError and keeps working afterwards', async () => {
    const pool = new ThreadPool(2);
    const out = allocate(4, { shared: true });
    expect(() => pool.run({ module: fixtures, name: 'failOnWorkers' }, failOnWorkers, [out], [])).toThrow(WorkerError);
    expect(() => pool.run({ module: fixtures, name: 'failOnWorkers' }, failOnWorkers, [out], [])).toThrow(/part 1 refuses/);
    pool.run({ module: fixtures, name: 'markParts' }, markParts, [out], []);
    expect([...out]).toEqual([1, 1, 2, 2]);
    await pool.close();
  });

  it('refuses arrays that are not on shared memory', async () => {
    const pool = new ThreadPool(2);
    expect(() => pool.run({ module: fixtures, name: 'markParts' }, markParts, [new Float32Array(4)], [])).toThrow(/SharedArrayBuffer/);
    await pool.close();
  });

  it('follows setThreads and restarts after a shutdown', async () => {
    setThreads(2);
    expect(getThreads()).toBe(2);
    expect(getPool().size).toBe(2);
    await shutdownPool();
    const out = allocate(4, { shared: true });
    getPool().run({ module: fixtures, name: 'markParts' }, markParts, [out], []);
    expect([...out]).toEqual([1, 1, 2, 2]);
    setThreads(1);
    expect(getPool().size).toBe(1);
    expect(() => setThreads(0)).toThrow(/integer >= 1/);
  });
});

describe('a declared pool job (definePoolJob)', () => {
  it('hands every thread its arrays and scalars by name, an optional array only when given', () => {
    setThreads(2);
    const out = allocate(2, { shared: true });
    namedJob.run({ out }, { scale: 10, shift: 1 }, 2);
    expect([...out]).toEqual([11, 21]);
    const extra = allocate(1, { shared: true }).fill(100);
    namedJob.run({ out, extra }, { scale: 10, shift: 2 }, 2);
    expect([...out]).toEqual([112, 122]);
    // Fractions reach the workers as they are (whole numbers are stored as integers there).
    namedJob.run({ out }, { scale: 0.25, shift: 0.5 }, 2);
    expect([...out]).toEqual([0.75, 1]);
    // One part runs here, without the pool.
    namedJob.run({ out }, { scale: 3, shift: 0 }, 1);
    expect([...out]).toEqual([3, 1]);
    setThreads(1);
  });
});
