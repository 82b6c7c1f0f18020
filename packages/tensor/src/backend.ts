import { ArgumentError } from './errors.js';
import { gemmParallel } from './gemm/parallel.js';
import type { GemmKernel } from './gemm/types.js';
import { setSharedFloat32Allocator } from './storage.js';
import { gemmScratchFloats, wasmGemm } from './wasm/gemm.js';
import { allocateOnHeap, reserveScratch } from './wasm/heap.js';
import type { ConvGeometry } from './im2col.js';
import type { FloatArray } from './storage.js';
import {
  wasmCol2im,
  wasmIm2col,
  wasmLrnAcross,
  wasmLrnAcrossBackward,
  wasmMaxPool,
  wasmReluBackward,
  wasmReluForward,
  wasmSgdUpdate,
  wasmWinogradFilters,
  wasmWinogradOutputs,
  wasmWinogradTiles,
  type LrnRun,
  type PoolPlanes,
  type SgdStep,
  type WinogradInput,
  type WinogradOutput,
} from './wasm/layers.js';
import { simdProbeModule } from './wasm/kernel-module.js';
import { webAssemblyApi } from './wasm/runtime.js';

/** The names a backend can be chosen by (API or the `CNN_BACKEND` environment variable). */
export type BackendName = 'js' | 'wasm';

/** The kernels that carry the arithmetic, as one backend provides them. */
export interface Backend {
  readonly name: BackendName;
  /** Multi-threaded GEMM (see `GemmKernel`). */
  readonly gemm: GemmKernel;
  /**
   * Readies threads 0 .. threads-1 to run GEMMs of up to M x N x K each, inside a kernel
   * of their own on the pool (a batch of convolutions, one image per thread): the wasm
   * backend sizes each thread's scratch area, which a worker cannot do for itself.
   */
  readonly prepareGemms: (threads: number, M: number, N: number, K: number) => void;
  /** Where tensors on shared memory are allocated: their own buffers, or the wasm heap. */
  readonly allocateShared: ((length: number) => Float32Array | undefined) | undefined;
  /** The layer loops this backend runs itself (see `LayerKernels`). */
  readonly layers: LayerKernels;
}

/**
 * Loops of the layers and the solver (in @cnn/nn) that a backend may run faster than their
 * TypeScript kernels. Each returns whether it did the work (the LRN: how many pixels): false when it
 * cannot take the arrays given (the wasm backend needs float32 arrays on its heap), and the
 * caller then runs its own TypeScript loop. The js backend takes nothing.
 */
export interface LayerKernels {
  /** `im2col` (im2col.ts). */
  im2col(x: FloatArray, xOffset: number, g: ConvGeometry, col: FloatArray, colOffset?: number): boolean;
  /** `col2im` (im2col.ts): the image region is overwritten. */
  col2im(col: FloatArray, colOffset: number, g: ConvGeometry, x: FloatArray, xOffset?: number): boolean;
  /** y = max(x, 0) + slope * min(x, 0) over `count` elements. */
  reluForward(x: FloatArray, y: FloatArray, count: number, slope: number): boolean;
  /** dx = y > 0 ? dy : slope * dy over `count` elements. */
  reluBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, count: number, slope: number): boolean;
  /** MAX pooling forward of whole planes, with the offset of each maximum in `maskBits` (int32 bits). */
  maxPool(x: FloatArray, y: FloatArray, maskBits: FloatArray, planes: PoolPlanes): boolean;
  /** Cross-channel LRN forward of a run of pixels; returns how many it did, from the start. */
  lrnAcross(x: FloatArray, scale: FloatArray, y: FloatArray, run: LrnRun): number;
  /** Its backward: dx of a run of pixels; returns how many it did, from the start. */
  lrnAcrossBackward(x: FloatArray, y: FloatArray, scale: FloatArray, dy: FloatArray, dx: FloatArray, run: LrnRun): number;
  /** The solver's SGD step with momentum and L2 weight decay (g = g / iterSize + decay w; v = m v + rate g; w -= v). */
  sgdUpdate(w: FloatArray, g: FloatArray, v: FloatArray, count: number, step: SgdStep): boolean;
  /** Winograd F(2x2, 3x3): U = G g G^T of consecutive 3 x 3 filters, position xi `stride` floats apart. */
  winogradFilters(weight: FloatArray, weightOffset: number, u: FloatArray, uOffset: number, count: number, stride: number): boolean;
  /** Winograd F(2x2, 3x3): V = B^T d B of every tile of a run of input planes. */
  winogradTiles(x: FloatArray, xOffset: number, padded: FloatArray, v: FloatArray, vOffset: number, run: WinogradInput): boolean;
  /** Winograd F(2x2, 3x3): Y = A^T M A + bias of every tile of a run of output planes. */
  winogradOutputs(m: FloatArray, mOffset: number, y: FloatArray, yOffset: number, bias: FloatArray | undefined, biasOffset: number, run: WinogradOutput): boolean;
}

const typeScriptOnly: LayerKernels = {
  im2col: () => false,
  col2im: () => false,
  reluForward: () => false,
  reluBackward: () => false,
  maxPool: () => false,
  lrnAcross: () => 0,
  lrnAcrossBackward: () => 0,
  sgdUpdate: () => false,
  winogradFilters: () => false,
  winogradTiles: () => false,
  winogradOutputs: () => false,
};

/** The plain TypeScript kernels: blocked GEMM over the worker pool. The reference and the fallback. */
const jsBackend: Backend = { name: 'js', gemm: gemmParallel, prepareGemms: () => {}, allocateShared: undefined, layers: typeScriptOnly };

/**
 * WebAssembly 128-bit SIMD kernels generated by the project's own encoder (src/wasm/),
 * over the same worker pool and one shared wasm heap, where float32 tensors on shared
 * memory are allocated. Float32 only: calls on float64 arrays run the `js` kernels.
 */
const wasmBackend: Backend = {
  name: 'wasm',
  gemm: wasmGemm,
  prepareGemms: (threads, M, N, K) => void reserveScratch(threads, gemmScratchFloats(M, N, K)),
  allocateShared: allocateOnHeap,
  layers: {
    im2col: wasmIm2col,
    col2im: wasmCol2im,
    reluForward: wasmReluForward,
    reluBackward: wasmReluBackward,
    maxPool: wasmMaxPool,
    lrnAcross: wasmLrnAcross,
    lrnAcrossBackward: wasmLrnAcrossBackward,
    sgdUpdate: wasmSgdUpdate,
    winogradFilters: wasmWinogradFilters,
    winogradTiles: wasmWinogradTiles,
    winogradOutputs: wasmWinogradOutputs,
  },
};

const backends: Record<BackendName, Backend> = { js: jsBackend, wasm: wasmBackend };

let current: Backend | undefined;
let simd: boolean | undefined;

/**
 * True when the engine runs WebAssembly with 128-bit SIMD (Node >= 16.4, current browsers):
 * `WebAssembly.validate` accepts a module that uses the `v128` type. Probed once.
 */
export function simdSupported(): boolean {
  simd ??= webAssemblyApi()?.validate(simdProbeModule()) ?? false;
  return simd;
}

/**
 * The backend in use: the one set with `setBackend`, else `CNN_BACKEND` (`js` or `wasm`),
 * else `wasm` when the engine supports WebAssembly SIMD and `js` when it does not.
 * This is the one place a backend is chosen.
 */
export function getBackend(): Backend {
  current ??= use(resolveBackend(process.env.CNN_BACKEND, 'CNN_BACKEND'));
  return current;
}

/** Chooses the backend for every later kernel call; throws if the engine cannot run it. */
export function setBackend(name: BackendName): void {
  current = use(resolveBackend(name, 'setBackend'));
}

function use(backend: Backend): Backend {
  setSharedFloat32Allocator(backend.allocateShared);
  return backend;
}

// Until a backend is chosen, the first shared allocation chooses it (from CNN_BACKEND), so
// tensors made before any kernel call already go where the backend wants them.
setSharedFloat32Allocator((length) => getBackend().allocateShared?.(length));

/**
 * The backend for a requested name: `js`, `wasm`, or the default for undefined or '' (`wasm`
 * if `simd`, else `js`). Asking for `wasm` without SIMD, or for an unknown name, throws an
 * `ArgumentError` naming `source` (the option or variable the name came from). `simd` is the
 * engine's answer by default; tests pass false to see what an engine without SIMD gets.
 */
export function resolveBackend(name: string | undefined, source: string, simd = simdSupported()): Backend {
  if (name === undefined || name === '') return simd ? wasmBackend : jsBackend;
  const backend = (backends as Record<string, Backend | undefined>)[name];
  if (!backend) {
    throw new ArgumentError(`${source}: unknown backend '${name}'; available: ${Object.keys(backends).join(', ')}`);
  }
  if (backend === wasmBackend && !simd) {
    throw new ArgumentError(
      `${source}: backend 'wasm' needs WebAssembly 128-bit SIMD, which this engine does not support ` +
        `(WebAssembly.validate rejects a v128 module); use 'js'`,
    );
  }
  return backend;
}
