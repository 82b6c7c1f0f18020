import { allocate, dtypeOf, getBackend, type ConvGeometry, type FloatArray } from '@cnn/tensor';

/**
 * The sizes of a grouped 2-D convolution over a batch, NCHW:
 * input `num x channels x height x width`, weight `numOutput x (channels / group) x kernelH x kernelW`,
 * output `num x numOutput x outH x outW` (from `convOutputSize`). Group g maps input channels
 * [g * C/group, (g + 1) * C/group) to outputs [g * O/group, (g + 1) * O/group).
 */
export interface ConvolutionShape extends ConvGeometry {
  num: number;
  numOutput: number;
  group: number;
}

/** A shape as the scalars of a pool job: `ConvolutionShape` by name. */
export const shapeScalars = [
  'num', 'channels', 'height', 'width', 'numOutput', 'group', 'kernelH', 'kernelW', 'strideH', 'strideW', 'padH', 'padW', 'dilationH', 'dilationW',
] as const satisfies readonly (keyof ConvolutionShape)[];

/**
 * Scratch buffers per use, dtype and backend, shared by every convolution (the kernels run
 * one at a time) and grown on demand, so a net allocates each once. 'bands' holds each
 * thread's working band: the unfolded image of im2col or the transformed tiles of Winograd
 * (a convolution uses one or the other, so they share it); 'filters' the transformed
 * filters; 'turned filters' those of the input gradient's convolution; 'phase filters' those
 * of a strided convolution's phases (winograd/phases.ts); 'packed filters' the
 * 1x1 weights of the pointwise kernel. They live on shared memory so the pool's threads read and write them in place;
 * with the wasm backend that is the wasm heap, which its kernels need (workers cannot
 * allocate there themselves).
 */
const scratch = new Map<string, FloatArray>();

export function convolutionScratch(use: 'bands' | 'filters' | 'turned filters' | 'phase filters' | 'packed filters', length: number, like: FloatArray): FloatArray {
  const dtype = dtypeOf(like);
  const key = `${use} ${dtype} ${getBackend().name}`;
  const current = scratch.get(key);
  if (current && current.length >= length) return current;
  const grown = allocate(length, { dtype, shared: true });
  scratch.set(key, grown);
  return grown;
}
