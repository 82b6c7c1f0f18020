import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  Rng,
  allocate,
  gemmParallel,
  gemmReference,
  getBackend,
  resolveBackend,
  setBackend,
  setThreads,
  sgemm,
  shutdownPool,
  relaxedSimdSupported,
  simdSupported,
  wasmGemm,
  wasmGemmSerial,
  type GemmKernel,
} from '../index.js';
import { signedLeb, unsignedLeb } from './encoder.js';
import { gemmKernelModule, type TileShape } from './kernel-module.js';
import { allocateOnHeap, heapIndex } from './heap.js';

afterAll(() => shutdownPool());

interface Case {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra columns in each leading dimension, and elements before each matrix. */
  pad: number;
  shared?: boolean;
  dtype?: 'float32' | 'float64';
  /** Where A, B and C live (float32 only): the wasm heap, or a buffer of their own; overrides `shared`. */
  places?: [Place, Place, Place];
}

type Place = 'heap' | 'own';

/** A float32 array of n elements on the heap, or on a plain buffer of its own. */
function placed(n: number, place: Place): Float32Array {
  if (place === 'own') return new Float32Array(n);
  const array = allocateOnHeap(n);
  if (!array || heapIndex(array) < 0) throw new Error('no wasm heap');
  return array;
}

/** Runs `kernel` on seeded operands in [-1, 1] laid out as `c` says; returns the whole C array. */
function run(kernel: GemmKernel, c: Case, seed = 1): Float32Array | Float64Array {
  const rng = new Rng(seed);
  const [rowsA, colsA] = c.transA ? [c.K, c.M] : [c.M, c.K];
  const [rowsB, colsB] = c.transB ? [c.N, c.K] : [c.K, c.N];
  const lda = colsA + c.pad;
  const ldb = colsB + c.pad;
  const ldc = c.N + c.pad;
  let operand = 0;
  const random = (n: number) => {
    const place = c.places?.[operand++];
    const a = place ? placed(n, place) : allocate(n, { shared: c.shared, dtype: c.dtype });
    for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
    return a;
  };
  const A = random(c.pad + rowsA * lda);
  const B = random(c.pad + rowsB * ldb);
  const C = random(c.pad + c.M * ldc);
  kernel(c.transA, c.transB, c.M, c.N, c.K, c.alpha, A, c.pad, lda, B, c.pad, ldb, c.beta, C, c.pad, ldc);
  return C;
}

/**
 * The wasm kernel sums in float32, the reference in float64: with |a|, |b| <= 1 the
 * difference grows with the number of terms, well inside 1e-5 per term.
 */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, K: number, perTerm = 1e-5): void {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThanOrEqual(perTerm * Math.max(1, K));
}

const sizes = [1, 3, 17, 129];
const cases: Case[] = [];
for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    for (const [M, N, K] of [
      [1, 1, 1],
      [3, 17, 129],
      [129, 3, 17],
      [17, 129, 3],
      [129, 129, 129],
      [5, 7, 0],
      // K past one 256-deep slice, so later slices accumulate into W
      [9, 11, 300],
    ] as const) {
      cases.push({ transA, transB, M, N, K, alpha: 1, beta: 0, pad: 0 });
    }
    for (const M of sizes) cases.push({ transA, transB, M, N: 17, K: 129, alpha: -0.5, beta: 0.75, pad: 3 });
  }
}

describe('wasm gemm against the reference triple loop', () => {
  it.each(cases)('transA=$transA transB=$transB M=$M N=$N K=$K alpha=$alpha beta=$beta pad=$pad', (c) => {
    setThreads(2);
    expectClose(run(wasmGemm, c), run(gemmReference, c), c.K);
  });

  it('leaves elements outside C untouched (offsets and leading dimensions)', () => {
    const c: Case = { transA: false, transB: true, M: 17, N: 3, K: 5, alpha: 1, beta: 0, pad: 4 };
    const untouched = run(() => undefined, c);
    const result = run(wasmGemm, c);
    const ldc = c.N + c.pad;
    for (let i = 0; i < c.pad; i++) expect(result[i]).toBe(untouched[i]);
    for (let row = 0; row < c.M; row++) {
      for (let j = c.N; j < ldc; j++) expect(result[c.pad + row * ldc + j]).toBe(untouched[c.pad + row * ldc + j]);
    }
  });

  it('writes C with beta = 0 even where C held NaN', () => {
    const C = new Float32Array([NaN, NaN]);
    wasmGemm(false, false, 1, 2, 1, 1, new Float32Array([2]), 0, 1, new Float32Array([3, 4]), 0, 2, 0, C, 0, 2);
    expect([...C]).toEqual([6, 8]);
  });

  it('scales C by beta alone when alpha = 0 or K = 0', () => {
    const C = new Float32Array([1, 2]);
    wasmGemm(false, false, 1, 2, 1, 0, new Float32Array([NaN]), 0, 1, new Float32Array([1, 1]), 0, 2, 0.5, C, 0, 2);
    expect([...C]).toEqual([0.5, 1]);
    wasmGemm(false, false, 1, 2, 0, 1, new Float32Array(0), 0, 1, new Float32Array(0), 0, 2, 0, C, 0, 2);
    expect([...C]).toEqual([0, 0]);
  });

  it('computes a small product known by hand through sgemm on the wasm backend', () => {
    setBackend('wasm');
    // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]
    const C = new Float32Array(4);
    sgemm(false, false, 2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), 2, new Float32Array([5, 6, 7, 8]), 2, 0, C, 2);
    expect([...C]).toEqual([19, 22, 43, 50]);
    sgemm(true, true, 2, 2, 2, 1, new Float32Array([1, 3, 2, 4]), 2, new Float32Array([5, 7, 6, 8]), 2, 0, C, 2);
    expect([...C]).toEqual([19, 22, 43, 50]);
  });

  it('sends float64 operands to the TypeScript kernel (same bits as gemmParallel)', () => {
    setThreads(2);
    const c: Case = { transA: true, transB: false, M: 33, N: 20, K: 70, alpha: 1.5, beta: 0.5, pad: 1, dtype: 'float64' };
    const result = run(wasmGemm, c);
    expect(result).toBeInstanceOf(Float64Array);
    expect(result).toEqual(run(gemmParallel, c));
    expectClose(result, run(gemmReference, c), c.K, 1e-12);
  });
});

describe('wasm gemm with operands on the wasm heap', () => {
  const placements: [Place, Place, Place][] = [];
  for (const a of ['heap', 'own'] as const) for (const b of ['heap', 'own'] as const) for (const c of ['heap', 'own'] as const) placements.push([a, b, c]);

  it.each(placements.flatMap((places) => [1, 2].map((threads) => ({ places, threads }))))(
    'A, B, C on $places, $threads thread(s): the reference, and C outside its block untouched',
    ({ places, threads }) => {
      setThreads(threads);
      for (const shape of [
        { transA: false, transB: false, M: 130, N: 301, K: 520, alpha: 1.5, beta: 0.5, pad: 2 },
        { transA: true, transB: true, M: 37, N: 9, K: 300, alpha: 1, beta: 0, pad: 5 },
        // One row of C: streamed (dot products with the rows of B, or rows of B added up)
        { transA: false, transB: true, M: 1, N: 301, K: 37, alpha: 0.5, beta: 0.25, pad: 3 },
        { transA: true, transB: false, M: 1, N: 45, K: 67, alpha: 1, beta: 0, pad: 2 },
        { transA: false, transB: false, M: 1, N: 302, K: 9, alpha: -1, beta: 1, pad: 0 },
        { transA: true, transB: true, M: 1, N: 33, K: 17, alpha: 1, beta: 0.5, pad: 1 },
      ]) {
        const c: Case = { ...shape, places };
        const untouched = run(() => undefined, c);
        const result = run(wasmGemm, c);
        const expected = run(gemmReference, c);
        const ldc = c.N + c.pad;
        for (let i = 0; i < c.pad + c.M * ldc; i++) {
          const inside = i >= c.pad && (i - c.pad) % ldc < c.N;
          if (inside) expect(Math.abs(result[i]! - expected[i]!)).toBeLessThanOrEqual(1e-5 * c.K);
          else expect(result[i]).toBe(untouched[i]);
        }
      }
    },
  );
});

describe('parallel wasm gemm', () => {
  // 2 M N K is twice the single-thread threshold, so these split over two threads.
  const big: Case = { transA: false, transB: false, M: 130, N: 301, K: 520, alpha: 1.5, beta: 0.5, pad: 2 };

  it.each([
    { ...big, shared: true },
    { ...big, shared: false },
    { ...big, M: 301, N: 130, transA: true, transB: true, shared: true },
    { ...big, M: 301, N: 130, transA: false, transB: true, beta: 0, shared: false },
  ])('gives the same bits on 2 threads as on 1 (M=$M N=$N transA=$transA transB=$transB shared=$shared)', (c) => {
    setThreads(1);
    const serial = run(wasmGemm, c);
    setThreads(2);
    const parallel = run(wasmGemm, c);
    expect(parallel).toEqual(serial);
    expectClose(parallel, run(gemmReference, c), c.K);
  });

  it.each([0, 0.5])('writes only its own band of C, never the gaps between its rows (beta=%s)', (beta) => {
    // A part computes a band of C's columns while another thread writes the neighbouring band,
    // so it must not copy back a span that covers those columns, even with the values it read.
    const [M, N, K, n0, n1] = [64, 480, 70, 160, 400];
    const rng = new Rng(3);
    const random = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
    const [A, B, C] = [random(M * K), random(K * N), random(M * N)];
    const writes: [number, number][] = [];
    const set = vi.spyOn(Float32Array.prototype, 'set').mockImplementation(function (this: Float32Array, source, offset = 0) {
      if (this === C) writes.push([offset, offset + (source as ArrayLike<number>).length]);
      return Reflect.apply(Object.getPrototypeOf(Float32Array.prototype).set, this, [source, offset]);
    });
    try {
      wasmGemmSerial(false, false, M, n1 - n0, K, 1, A, 0, K, B, n0, N, beta, C, n0, N);
    } finally {
      set.mockRestore();
    }
    expect(writes.length).toBeGreaterThan(0);
    for (const [start, end] of writes) {
      for (let index = start; index < end; index++) {
        const column = index % N;
        if (column < n0 || column >= n1) throw new Error(`C[${Math.floor(index / N)}][${column}] is outside the band [${n0}, ${n1})`);
      }
    }
  });

  it('survives many calls in a row and interleaved with async work', async () => {
    setThreads(2);
    const c: Case = { transA: false, transB: false, M: 64, N: 600, K: 520, alpha: 1, beta: 0, pad: 0, shared: true };
    const expected = run(gemmReference, c);
    const results = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i % 3));
        return run(wasmGemm, c);
      }),
    );
    for (const result of results) expectClose(result, expected, c.K);
  });
});

/** An instance of a kernel module over a fresh shared memory of its own (1 MiB), and a float view of that memory. */
function instantiate(bytes: Uint8Array): { instance: WebAssembly.Instance; heap: Float32Array } {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return { instance, heap: new Float32Array(memory.buffer) };
}

describe('relaxed SIMD', () => {
  it('is on in Node 20 once the probe sets V8 flag, so the GEMM above ran with f32x4.relaxed_madd', () => {
    expect(relaxedSimdSupported()).toBe(true);
  });

  it('is off with CNN_RELAXED_SIMD=0: the plain SIMD kernel, in a fresh process', () => {
    const script = `import { relaxedSimdSupported } from ${JSON.stringify(new URL('../index.ts', import.meta.url).href)}; console.log(relaxedSimdSupported())`;
    const run = (value: string | undefined) =>
      spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        env: { ...process.env, CNN_RELAXED_SIMD: value },
      }).stdout.trim();
    expect(run('0')).toBe('false');
    expect(run('1')).toBe('true');
  });
});

describe('the generated wasm functions', () => {
  /**
   * Packs small A (m x k) and B (k x n) by hand in the layout kernel-module.ts documents,
   * runs gemmBlock twice (overwrite, then accumulate) and compares with 2 * A * B.
   */
  // Relaxed SIMD's fused multiply-add where this engine has it (Node 20: behind a V8 flag, switched on by the probe), and the plain mul + add.
  const fmaChoices = relaxedSimdSupported() ? [false, true] : [false];
  it.each([
    { mr: 4, nr: 8, unroll: 4 },
    { mr: 3, nr: 12, unroll: 2 },
    { mr: 1, nr: 4, unroll: 1 },
    { mr: 5, nr: 4, unroll: 3 },
  ].flatMap((shape) => fmaChoices.map((fma) => ({ ...shape, fma }))))('computes every tile of a block for MR=$mr NR=$nr unroll=$unroll fma=$fma', ({ fma, ...shape }: TileShape & { fma: boolean }) => {
    const { mr, nr } = shape;
    const { instance, heap } = instantiate(gemmKernelModule(shape, fma));
    const gemmBlock = instance.exports.gemmBlock as (...args: number[]) => void;
    const [mTiles, nTiles, kc] = [3, 2, 7];
    const [m, n] = [mTiles * mr, nTiles * nr];
    const a = (i: number, p: number) => ((i * 7 + p * 3) % 11) - 5;
    const b = (p: number, j: number) => ((p * 5 + j * 2) % 9) - 4;
    const [aPtr, bPtr, wPtr] = [0, 4096, 8192];
    for (let t = 0; t < mTiles; t++) {
      for (let p = 0; p < kc; p++) for (let r = 0; r < mr; r++) heap[aPtr / 4 + (t * kc + p) * mr + r] = a(t * mr + r, p);
    }
    for (let t = 0; t < nTiles; t++) {
      for (let p = 0; p < kc; p++) for (let c = 0; c < nr; c++) heap[bPtr / 4 + (t * kc + p) * nr + c] = b(p, t * nr + c);
    }
    heap.fill(NaN, wPtr / 4, wPtr / 4 + m * n);
    gemmBlock(mTiles, nTiles, kc, aPtr, bPtr, wPtr, n * 4, 0);
    gemmBlock(mTiles, nTiles, kc, aPtr, bPtr, wPtr, n * 4, 1);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let p = 0; p < kc; p++) dot += a(i, p) * b(p, j);
        // small integers: float32 sums are exact
        expect(heap[wPtr / 4 + i * n + j]).toBe(2 * dot);
      }
    }
  });

  it.each([3, 4, 8, 12])('packs panels of width %i from rows of steps and from rows of lanes', (w) => {
    const { instance, heap } = instantiate(gemmKernelModule({ mr: w, nr: 8, unroll: 1 }));
    const [panels, steps, lds] = [3, 5, 3 * w + 2];
    const src = 16;
    const dst = 4096;
    const value = (lane: number, step: number) => lane * 100 + step;
    // rows of steps: source row p holds step p of every lane
    for (let p = 0; p < steps; p++) for (let l = 0; l < panels * w; l++) heap[src + p * lds + l] = value(l, p);
    (instance.exports[`packSteps${w}`] as (...args: number[]) => void)(src * 4, lds * 4, steps, panels, dst * 4);
    const packed = (t: number, p: number, r: number) => heap[dst + (t * steps + p) * w + r];
    for (let t = 0; t < panels; t++) for (let p = 0; p < steps; p++) for (let r = 0; r < w; r++) expect(packed(t, p, r)).toBe(value(t * w + r, p));
    // rows of lanes: source row l holds every step of lane l
    heap.fill(-1, dst, dst + panels * steps * w);
    for (let l = 0; l < panels * w; l++) for (let p = 0; p < steps; p++) heap[src + l * (steps + 1) + p] = value(l, p);
    (instance.exports[`packLanes${w}`] as (...args: number[]) => void)(src * 4, (steps + 1) * 4, steps, panels, dst * 4);
    for (let t = 0; t < panels; t++) for (let p = 0; p < steps; p++) for (let r = 0; r < w; r++) expect(packed(t, p, r)).toBe(value(t * w + r, p));
  });

  it('finishes C = alpha W + beta C over odd widths, not reading C when beta is 0', () => {
    const { instance, heap } = instantiate(gemmKernelModule());
    const finish = instance.exports.finish as (...args: number[]) => void;
    const [rows, cols, ldw, ldc, w, c] = [3, 7, 8, 9, 0, 1024];
    for (let i = 0; i < rows * ldw; i++) heap[w + i] = i;
    heap.fill(2, c, c + rows * ldc);
    finish(w * 4, ldw * 4, c * 4, ldc * 4, rows, cols, 0.5, 0.25, 0);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < ldc; j++) expect(heap[c + i * ldc + j]).toBe(j < cols ? 0.5 * (i * ldw + j) + 0.5 : 2);
    }
    heap.fill(NaN, c, c + rows * ldc);
    finish(w * 4, ldw * 4, c * 4, ldc * 4, rows, cols, 2, 0, 1);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) expect(heap[c + i * ldc + j]).toBe(2 * (i * ldw + j));
  });

  it('encodes LEB128 integers as the specification does', () => {
    expect(unsignedLeb(0)).toEqual([0x00]);
    expect(unsignedLeb(127)).toEqual([0x7f]);
    expect(unsignedLeb(128)).toEqual([0x80, 0x01]);
    expect(unsignedLeb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(signedLeb(-1)).toEqual([0x7f]);
    expect(signedLeb(63)).toEqual([0x3f]);
    expect(signedLeb(64)).toEqual([0xc0, 0x00]);
    expect(signedLeb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });
});

describe('choosing the backend', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('finds WebAssembly SIMD in this Node and defaults to wasm', () => {
    expect(simdSupported()).toBe(true);
    expect(resolveBackend(undefined, 'CNN_BACKEND').name).toBe('wasm');
    expect(resolveBackend('', 'CNN_BACKEND').name).toBe('wasm');
  });

  it('parses CNN_BACKEND values and names the variable in errors', () => {
    expect(resolveBackend('js', 'CNN_BACKEND').name).toBe('js');
    expect(resolveBackend('wasm', 'CNN_BACKEND').name).toBe('wasm');
    expect(resolveBackend('reference', 'CNN_BACKEND').name).toBe('reference');
    expect(() => resolveBackend('gpu', 'CNN_BACKEND')).toThrow("CNN_BACKEND: unknown backend 'gpu'; available: reference, js, wasm");
    expect(() => resolveBackend('WASM', 'CNN_BACKEND')).toThrow(/unknown backend 'WASM'/);
  });

  it('reads CNN_BACKEND on first use', async () => {
    vi.stubEnv('CNN_BACKEND', 'js');
    vi.resetModules();
    const fresh = await import('../index.js');
    expect(fresh.getBackend().name).toBe('js');
    fresh.setBackend('wasm');
    expect(fresh.getBackend().name).toBe('wasm');
  });

  it('without SIMD: defaults to js, and refuses wasm with the reason', () => {
    expect(resolveBackend(undefined, 'CNN_BACKEND', false).name).toBe('js');
    expect(resolveBackend('js', 'CNN_BACKEND', false).name).toBe('js');
    expect(() => resolveBackend('wasm', 'CNN_BACKEND', false)).toThrow(
      /CNN_BACKEND: backend 'wasm' needs WebAssembly 128-bit SIMD, which this engine does not support/,
    );
  });

  it('without SIMD: a fresh load of the package runs sgemm on the TypeScript kernel, correctly', async () => {
    vi.stubEnv('CNN_BACKEND', '');
    vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    vi.resetModules();
    const fresh = await import('../index.js');
    try {
      expect(fresh.simdSupported()).toBe(false);
      const backend = fresh.getBackend();
      expect(backend.name).toBe('js');
      expect(backend.gemm).toBe(fresh.gemmParallel);
      expect(() => fresh.setBackend('wasm')).toThrow(/setBackend: backend 'wasm' needs WebAssembly 128-bit SIMD/);
      // Shared tensors get buffers of their own.
      expect(backend.allocateShared).toBeUndefined();
      const shared = fresh.allocate(8, { shared: true });
      expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(fresh.isOnWasmHeap(shared)).toBe(false);

      const c: Case = { transA: false, transB: true, M: 40, N: 70, K: 90, alpha: 1, beta: 0.5, pad: 1 };
      const viaSgemm: GemmKernel = (tA, tB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc) =>
        fresh.sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, { a: offA, b: offB, c: offC });
      const result = run(viaSgemm, c);
      // the TypeScript kernel's float64 sums: the JS tolerance, and its exact bits
      expectClose(result, run(gemmReference, c), c.K, 1e-6);
      expect(result).toEqual(run(fresh.gemmParallel, c));
    } finally {
      await fresh.shutdownPool();
    }
  });

  it('setBackend switches the kernel sgemm runs', () => {
    setBackend('js');
    expect(getBackend().gemm).toBe(gemmParallel);
    setBackend('wasm');
    expect(getBackend().gemm).toBe(wasmGemm);
  });
});
