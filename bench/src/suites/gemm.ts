import { Rng, allocate, gemmParallel, gemmReference, getThreads, setThreads, simdSupported, wasmGemm, type GemmKernel } from '@cnn/tensor';
import { measure } from '../measure.js';
import { markdownTable, writeSection } from '../results.js';

/** A GEMM shape: C (M x N) = A (M x K) * B (K x N). */
interface Shape {
  name: string;
  M: number;
  N: number;
  K: number;
}

/**
 * 1024^3 and the GEMMs CaffeNet does at batch 1 (a convolution is weights
 * [out x in*k*k] times im2col [in*k*k x outH*outW], per group), fc6 at batch 64, and one
 * of the 16 Winograd GEMMs of conv3-conv5 at batch 64 (transformed filters [out x in]
 * times transformed tiles [in x 49 tiles * 5 images], per group).
 */
const shapes: Shape[] = [
  { name: '1024^3', M: 1024, N: 1024, K: 1024 },
  { name: 'conv1', M: 96, N: 3025, K: 363 },
  { name: 'conv2 (per group)', M: 128, N: 729, K: 1200 },
  { name: 'conv3', M: 384, N: 169, K: 2304 },
  { name: 'conv4 (per group)', M: 192, N: 169, K: 1728 },
  { name: 'conv5 (per group)', M: 128, N: 169, K: 1728 },
  { name: 'fc6 (batch 64)', M: 64, N: 4096, K: 9216 },
  { name: 'conv3 Winograd (1 of 16)', M: 384, N: 245, K: 256 },
  { name: 'conv4 Winograd (1 of 16, per group)', M: 192, N: 245, K: 192 },
  { name: 'conv5 Winograd (1 of 16, per group)', M: 128, N: 245, K: 192 },
];

function gflops(shape: Shape, seconds: number): number {
  return (2 * shape.M * shape.N * shape.K) / seconds / 1e9;
}

/** Times one kernel on one shape with operands on shared memory. */
function time(kernel: GemmKernel, shape: Shape, threads: number, slow = false): number {
  const { M, N, K } = shape;
  const rng = new Rng(1);
  const random = (n: number): Float32Array => {
    const a = allocate(n, { shared: true }) as Float32Array;
    for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
    return a;
  };
  const A = random(M * K);
  const B = random(K * N);
  const C = allocate(M * N, { shared: true });
  const result = measure(
    `${kernel.name} ${shape.name} ${threads}t`,
    () => kernel(false, false, M, N, K, 1, A, 0, K, B, 0, N, 0, C, 0, N),
    slow ? { before: () => setThreads(threads), minSamples: 1, maxTime: 1 } : { before: () => setThreads(threads) },
  );
  const rate = gflops(shape, result.seconds);
  console.log(`  ${result.name.padEnd(40)} ${rate.toFixed(2).padStart(7)} GFLOP/s  (±${result.rme.toFixed(1)}%, ${result.samples} samples)`);
  return rate;
}

/**
 * The GEMM suite: the TypeScript reference vs the blocked kernel, and the WebAssembly
 * SIMD kernel (when the engine has SIMD), each on one thread and on all threads.
 */
export async function gemmSuite(): Promise<void> {
  const all = getThreads();
  const simd = simdSupported();
  console.log(`GEMM suite (GFLOP/s = 2 M N K / time), ${all} threads available, WebAssembly SIMD ${simd ? 'available' : 'not available'}`);
  const rows: string[][] = [];
  for (const shape of shapes) {
    const reference = time(gemmReference, shape, 1, true);
    const blocked = time(gemmParallel, shape, 1);
    const parallel = time(gemmParallel, shape, all);
    const row = [shape.name, `${shape.M} x ${shape.N} x ${shape.K}`, reference.toFixed(2), blocked.toFixed(2), parallel.toFixed(2), `${(parallel / blocked).toFixed(2)}x`];
    if (simd) {
      const wasmOne = time(wasmGemm, shape, 1);
      const wasmAll = time(wasmGemm, shape, all);
      row.push(wasmOne.toFixed(2), wasmAll.toFixed(2), `${(wasmAll / wasmOne).toFixed(2)}x`);
    }
    rows.push(row);
  }
  setThreads(all);
  const columns = ['shape', 'M x N x K', 'js reference, 1 thread', 'js blocked, 1 thread', `js blocked, ${all} threads`, 'js threads speed-up'];
  if (simd) columns.push('wasm SIMD, 1 thread', `wasm SIMD, ${all} threads`, 'wasm threads speed-up');
  const table = markdownTable(columns, rows);
  console.log(`\n${table}\n`);
  const note =
    'The wasm kernel runs a GEMM of fewer than 2e7 flops (2 M N K) on one thread, where waking a worker would cost more than it saves: ' +
    'hence the conv4 and conv5 Winograd rows at one thread\'s speed. Inside a convolution at batch 64 each thread runs its own images\' GEMMs.';
  writeSection('gemm', 'GEMM (GFLOP/s, float32): TypeScript kernels and the WebAssembly SIMD kernel', `${table}\n\n${note}`);
}
