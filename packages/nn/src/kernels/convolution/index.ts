import { defineKernels } from '@cnn/tensor';
import { convolutionBackwardFast, convolutionForwardFast } from './fast.js';
import { convolutionBackwardReference, convolutionForwardReference } from './reference.js';

export { convolutionBackwardFast, convolutionForwardFast, convolutionForwardJob, convolutionMultiplyAdds, convolutionWorkspace } from './fast.js';
export { convolutionBackwardReference, convolutionForwardReference, type Clamp, type ConvolutionGradients } from './reference.js';
export type { ConvolutionShape } from './shape.js';

/**
 * Convolution's kernels by backend: (x, weight, bias, y, shape) forward and
 * (x, weight, dy, gradients, shape) backward. The fast kernel serves js and wasm alike: the
 * pieces it is made of (GEMM, im2col, Winograd's transforms, the depthwise loops) choose
 * their own backend's version.
 */
export const { convolutionForward, convolutionBackward } = defineKernels({
  convolutionForward: { reference: convolutionForwardReference, js: convolutionForwardFast },
  convolutionBackward: { reference: convolutionBackwardReference, js: convolutionBackwardFast },
});
